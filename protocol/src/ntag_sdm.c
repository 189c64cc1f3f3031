/*
 * ntag_sdm.c - file settings (ChangeFileSettings / GetFileSettings bodies,
 * data sheet Table 69 and 10.7.2) and the SUN NDEF template.
 */
#include <string.h>

#include "tapaid/crypto.h"
#include "ntag_int.h"

static int sdm_meta_plain(const struct tp_sdm_settings *s)
{
	return s->sdm_meta_read == 0xE;
}

static int sdm_meta_enc(const struct tp_sdm_settings *s)
{
	return s->sdm_meta_read <= 4;
}

static int nibbles_ok(const struct tp_sdm_settings *s)
{
	uint8_t v[] = {s->ar_read,	s->ar_write,	s->ar_rw,
		       s->ar_change,	s->sdm_ctr_ret, s->sdm_meta_read,
		       s->sdm_file_read};

	for (size_t i = 0; i < sizeof(v); i++)
		if (v[i] > 0xF || (v[i] > 4 && v[i] < 0xE))
			return 0;
	return 1;
}

int tp_sdm_settings_encode(const struct tp_sdm_settings *s, uint8_t *out,
			   size_t cap, size_t *len)
{
	uint8_t b[3 + 3 + 3 * 8];
	size_t n = 0;

	if (s == NULL || out == NULL || len == NULL)
		return TP_ERR_ARG;
	if (!nibbles_ok(s) || (s->file_option & ~0x43) ||
	    (s->file_option & 3) == 2)
		return TP_ERR_VALUE;
	b[n++] = s->file_option;
	b[n++] = (uint8_t)(s->ar_rw << 4 | s->ar_change);
	b[n++] = (uint8_t)(s->ar_read << 4 | s->ar_write);
	if (s->file_option & TP_FILE_OPT_SDM) {
		uint32_t offs[8];
		size_t k = 0;

		b[n++] = s->sdm_options;
		b[n++] = (uint8_t)(0xF0 | s->sdm_ctr_ret);
		b[n++] = (uint8_t)(s->sdm_meta_read << 4 | s->sdm_file_read);
		if (sdm_meta_plain(s)) {
			if (s->sdm_options & TP_SDM_OPT_UID)
				offs[k++] = s->uid_off;
			if (s->sdm_options & TP_SDM_OPT_CTR)
				offs[k++] = s->ctr_off;
		} else if (sdm_meta_enc(s)) {
			offs[k++] = s->picc_off;
		}
		if (s->sdm_file_read != 0xF) {
			offs[k++] = s->mac_in_off;
			if (s->sdm_options & TP_SDM_OPT_ENC_FILE) {
				offs[k++] = s->enc_off;
				offs[k++] = s->enc_len;
			}
			offs[k++] = s->mac_off;
		}
		if (s->sdm_options & TP_SDM_OPT_CTR_LIMIT)
			offs[k++] = s->ctr_limit;
		for (size_t i = 0; i < k; i++) {
			if (offs[i] > TP_NTAG_CTR_MAX)
				return TP_ERR_VALUE;
			ntag_put24le(b + n, offs[i]);
			n += 3;
		}
	}
	if (n > cap)
		return TP_ERR_TOO_BIG;
	memcpy(out, b, n);
	*len = n;
	return TP_OK;
}

int tp_sdm_settings_encode_get(const struct tp_sdm_settings *s, uint8_t *out,
			       size_t cap, size_t *len)
{
	uint8_t b[40];
	size_t n;
	int rc;

	if (s == NULL || out == NULL || len == NULL)
		return TP_ERR_ARG;
	if (s->file_size > TP_NTAG_CTR_MAX)
		return TP_ERR_VALUE;
	rc = tp_sdm_settings_encode(s, b, sizeof(b), &n);
	if (rc != TP_OK)
		return rc;
	if (n + 4 > cap)
		return TP_ERR_TOO_BIG;
	out[0] = s->file_type;
	memcpy(out + 1, b, 3);
	ntag_put24le(out + 4, s->file_size);
	memcpy(out + 7, b + 3, n - 3);
	*len = n + 4;
	return TP_OK;
}

/* Decodes FileOption || AR || [FileSize] || SDM part. */
static int decode(const uint8_t *in, size_t len, int with_size,
		  struct tp_sdm_settings *s)
{
	size_t n = 0;

#define NEED(k)                                                                \
	do {                                                                   \
		if (n + (k) > len)                                             \
			return TP_ERR_LENGTH;                                  \
	} while (0)
#define GET24(f)                                                               \
	do {                                                                   \
		NEED(3);                                                       \
		(f) = ntag_get24le(in + n);                                    \
		n += 3;                                                        \
	} while (0)

	NEED(3);
	s->file_option = in[n++];
	s->ar_rw = in[n] >> 4;
	s->ar_change = in[n++] & 15;
	s->ar_read = in[n] >> 4;
	s->ar_write = in[n++] & 15;
	if (with_size)
		GET24(s->file_size);
	if (s->file_option & TP_FILE_OPT_SDM) {
		NEED(3);
		s->sdm_options = in[n++];
		s->sdm_ctr_ret = in[n++] & 15;
		s->sdm_meta_read = in[n] >> 4;
		s->sdm_file_read = in[n++] & 15;
		if (!nibbles_ok(s))
			return TP_ERR_VALUE;
		if (sdm_meta_plain(s)) {
			if (s->sdm_options & TP_SDM_OPT_UID)
				GET24(s->uid_off);
			if (s->sdm_options & TP_SDM_OPT_CTR)
				GET24(s->ctr_off);
		} else if (sdm_meta_enc(s)) {
			GET24(s->picc_off);
		}
		if (s->sdm_file_read != 0xF) {
			GET24(s->mac_in_off);
			if (s->sdm_options & TP_SDM_OPT_ENC_FILE) {
				GET24(s->enc_off);
				GET24(s->enc_len);
			}
			GET24(s->mac_off);
		}
		if (s->sdm_options & TP_SDM_OPT_CTR_LIMIT)
			GET24(s->ctr_limit);
	}
#undef GET24
#undef NEED
	if (n != len)
		return TP_ERR_LENGTH;
	return TP_OK;
}

int tp_sdm_settings_decode(const uint8_t *in, size_t len,
			   struct tp_sdm_settings *s)
{
	int rc;

	if (in == NULL || s == NULL)
		return TP_ERR_ARG;
	memset(s, 0, sizeof(*s));
	if (len < 1)
		return TP_ERR_LENGTH;
	s->file_type = in[0];
	rc = decode(in + 1, len - 1, 1, s);
	if (rc != TP_OK)
		memset(s, 0, sizeof(*s));
	return rc;
}

int tp_sdm_settings_decode_change(const uint8_t *in, size_t len,
				  struct tp_sdm_settings *s)
{
	int rc;

	if (in == NULL || s == NULL)
		return TP_ERR_ARG;
	memset(s, 0, sizeof(*s));
	rc = decode(in, len, 0, s);
	if (rc != TP_OK)
		memset(s, 0, sizeof(*s));
	return rc;
}

int tp_ntag_change_file_settings_cmd(const struct tp_ev2 *ev2, uint8_t fileno,
				     const struct tp_sdm_settings *s,
				     uint8_t *apdu, size_t cap, size_t *len)
{
	uint8_t body[32];
	size_t blen;
	int rc = tp_sdm_settings_encode(s, body, sizeof(body), &blen);

	if (rc == TP_OK)
		rc = tp_ev2_wrap(ev2, 0x5F, &fileno, 1, body, blen,
				 TP_COMM_FULL, apdu, cap, len);
	return rc;
}

int tp_ndef_sun_template(const char *base_url, uint8_t *file, size_t cap,
			 size_t *len, struct tp_sdm_settings *sdm)
{
	static const struct {
		const char *s;
		uint8_t code;
	} pre[] = {{"https://www.", 0x02},
		   {"http://www.", 0x01},
		   {"https://", 0x04},
		   {"http://", 0x03}};
	const char *rest = NULL;
	size_t rlen, plen, n, i;
	uint8_t code = 0;
	char sep;

	if (base_url == NULL || file == NULL || len == NULL || sdm == NULL)
		return TP_ERR_ARG;
	for (i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		size_t pl = strlen(pre[i].s);

		if (strncmp(base_url, pre[i].s, pl) == 0) {
			rest = base_url + pl;
			code = pre[i].code;
			break;
		}
	}
	if (rest == NULL)
		return TP_ERR_PARSE;
	rlen = strlen(rest);
	if (rlen == 0)
		return TP_ERR_PARSE;
	for (i = 0; i < rlen; i++)
		if (rest[i] <= ' ' || rest[i] > '~' || rest[i] == '#')
			return TP_ERR_PARSE;
	sep = strchr(rest, '?') ? '&' : '?';
	plen = 1 + rlen + 3 + 32 + 3 + 16;
	if (plen > 255)
		return TP_ERR_TOO_BIG;
	n = 2 + 4 + plen;
	if (n > cap || n > 256)
		return TP_ERR_TOO_BIG;
	file[0] = (uint8_t)((n - 2) >> 8);
	file[1] = (uint8_t)(n - 2);
	file[2] = 0xD1; /* MB ME SR, TNF well-known */
	file[3] = 0x01;
	file[4] = (uint8_t)plen;
	file[5] = 'U';
	file[6] = code;
	memcpy(file + 7, rest, rlen);
	i = 7 + rlen;
	file[i++] = (uint8_t)sep;
	file[i++] = 'p';
	file[i++] = '=';
	memset(file + i, '0', 32);
	i += 32;
	memcpy(file + i, "&c=", 3);
	i += 3;
	memset(file + i, '0', 16);
	i += 16;

	memset(sdm, 0, sizeof(*sdm));
	sdm->file_option = TP_FILE_OPT_SDM | TP_COMM_PLAIN;
	sdm->ar_read = TP_AR_FREE;
	sdm->ar_write = TP_KEY_APP_MASTER;
	sdm->ar_rw = TP_KEY_APP_MASTER;
	sdm->ar_change = TP_KEY_APP_MASTER;
	sdm->sdm_options = TP_SDM_OPT_UID | TP_SDM_OPT_CTR | TP_SDM_OPT_ASCII;
	sdm->sdm_ctr_ret = TP_KEY_APP_MASTER;
	sdm->sdm_meta_read = TP_KEY_SDM_META;
	sdm->sdm_file_read = TP_KEY_SDM_FILE;
	sdm->picc_off = (uint32_t)(7 + rlen + 3);
	sdm->mac_off = (uint32_t)(i - 16);
	sdm->mac_in_off = sdm->mac_off;
	*len = n;
	return TP_OK;
}
