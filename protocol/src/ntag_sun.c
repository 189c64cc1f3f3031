/*
 * ntag_sun.c - SUN (Secure Unique NFC) message parsing and verification,
 * and NDEF URI extraction.  AN12196 Rev 1.8 section 4; data sheet 9.3.
 */
#include <string.h>

#include "tapaid/crypto.h"
#include "ntag_int.h"

/* ---- parsing ------------------------------------------------------- */

static int key_is(const char *k, size_t klen, const char *name)
{
	return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly 2*n hex digits: TP_ERR_HEX before TP_ERR_LENGTH, so that
 * "p=zz" says "not hexadecimal". */
static int hex_field(const char *v, size_t vlen, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < vlen; i++)
		if (hex_val(v[i]) < 0)
			return TP_ERR_HEX;
	if (vlen != 2 * n)
		return TP_ERR_LENGTH;
	return tp_hex_decode(v, vlen, out, n);
}

int tp_sun_parse(const char *url, size_t len, struct tp_sun_msg *out)
{
	const char *q, *end, *p;
	const char *enc_at = NULL, *mac_at = NULL;
	int have_p = 0, have_c = 0, have_uid = 0, have_ctr = 0, have_enc = 0;
	int rc = TP_OK;

	if (url == NULL || out == NULL)
		return TP_ERR_ARG;
	memset(out, 0, sizeof(*out));
	if (memchr(url, '\0', len) != NULL)
		return TP_ERR_PARSE;
	end = url + len;
	/* Trailing line ends (a pasted URL) are not part of the message. */
	while (end > url && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	q = memchr(url, '?', (size_t)(end - url));
	if (q != NULL) {
		q++;
	} else {
		/* No '?': a bare query, unless it looks like a URL. */
		for (p = url; p + 2 < end; p++)
			if (p[0] == ':' && p[1] == '/' && p[2] == '/')
				return TP_ERR_PARSE;
		q = url;
	}
	p = memchr(q, '#', (size_t)(end - q));
	if (p != NULL)
		end = p;

	for (p = q; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pend = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pend - p));
		const char *k = p, *v;
		size_t klen, vlen;

		p = amp ? amp + 1 : end;
		if (eq == NULL)
			continue;
		klen = (size_t)(eq - k);
		v = eq + 1;
		vlen = (size_t)(pend - v);
		if (key_is(k, klen, "p") || key_is(k, klen, "e") ||
		    key_is(k, klen, "picc_data")) {
			if (have_p++)
				return TP_ERR_PARSE;
			rc = hex_field(v, vlen, out->picc_enc, 16);
		} else if (key_is(k, klen, "c") || key_is(k, klen, "cmac")) {
			if (have_c++)
				return TP_ERR_PARSE;
			mac_at = v;
			rc = hex_field(v, vlen, out->mac, 8);
		} else if (key_is(k, klen, "enc")) {
			if (have_enc++)
				return TP_ERR_PARSE;
			for (size_t i = 0; i < vlen; i++)
				if (hex_val(v[i]) < 0)
					return TP_ERR_HEX;
			if (vlen == 0 || vlen % 32 || vlen > 2 * TP_SUN_ENC_MAX)
				return TP_ERR_LENGTH;
			enc_at = v;
			out->enc_len = vlen / 2;
			rc = tp_hex_decode(v, vlen, out->enc, out->enc_len);
		} else if (key_is(k, klen, "uid")) {
			if (have_uid++)
				return TP_ERR_PARSE;
			rc = hex_field(v, vlen, out->uid, 7);
		} else if (key_is(k, klen, "ctr")) {
			uint8_t c[3];

			if (have_ctr++)
				return TP_ERR_PARSE;
			rc = hex_field(v, vlen, c, 3);
			if (rc != TP_OK)
				return rc;
			/* ASCII mirror: MSB first (data sheet 9.3.3). */
			out->ctr =
			    (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
		}
		if (rc != TP_OK)
			return rc;
	}
	if (!have_c)
		return TP_ERR_PARSE;
	if (have_p && !have_uid && !have_ctr)
		out->kind = TP_SUN_ENC;
	else if (!have_p && have_uid && have_ctr)
		out->kind = TP_SUN_PLAIN;
	else
		return TP_ERR_PARSE;
	if (enc_at != NULL) {
		/* MAC input: from the enc= value up to the c= value. */
		if (mac_at < enc_at)
			return TP_ERR_PARSE;
		out->mac_in_len = (size_t)(mac_at - enc_at);
		if (out->mac_in_len > sizeof(out->mac_in))
			return TP_ERR_TOO_BIG;
		memcpy(out->mac_in, enc_at, out->mac_in_len);
	}
	return TP_OK;
}

/* ---- cryptography ---------------------------------------------------- */

int tp_sun_decrypt_picc(const uint8_t meta_key[16], const uint8_t enc[16],
			uint8_t uid[7], uint32_t *ctr)
{
	uint8_t pt[16];
	int rc;

	rc = tp_aes_ecb(meta_key, 0, enc, pt);
	if (rc == TP_OK && pt[0] != 0xC7)
		rc = TP_ERR_MAC;
	if (rc == TP_OK) {
		memcpy(uid, pt + 1, 7);
		*ctr = ntag_get24le(pt + 8);
	}
	tp_wipe(pt, sizeof(pt));
	return rc;
}

int tp_sun_session_keys(const uint8_t file_key[16], const uint8_t uid[7],
			uint32_t ctr, uint8_t ses_enc[16], uint8_t ses_mac[16])
{
	struct tp_cmac_key ck;
	uint8_t sv[16] = {0xC3, 0x3C, 0x00, 0x01, 0x00, 0x80};
	int rc;

	if (ctr > TP_NTAG_CTR_MAX)
		return TP_ERR_VALUE;
	memcpy(sv + 6, uid, 7);
	ntag_put24le(sv + 13, ctr);
	rc = tp_cmac_setkey(&ck, file_key);
	if (rc != TP_OK)
		return rc;
	if (ses_enc != NULL)
		rc = tp_cmac_run(&ck, sv, sizeof(sv), ses_enc);
	sv[0] = 0x3C;
	sv[1] = 0xC3;
	if (rc == TP_OK && ses_mac != NULL)
		rc = tp_cmac_run(&ck, sv, sizeof(sv), ses_mac);
	tp_cmac_clear(&ck);
	tp_wipe(sv, sizeof(sv));
	return rc;
}

int tp_sun_mac(const uint8_t file_key[16], const uint8_t uid[7], uint32_t ctr,
	       const char *mac_in, size_t len, uint8_t mac[8])
{
	uint8_t ses[16];
	int rc;

	if (len > 0 && mac_in == NULL)
		return TP_ERR_ARG;
	rc = tp_sun_session_keys(file_key, uid, ctr, NULL, ses);
	if (rc == TP_OK)
		rc = ntag_mact(ses, (const uint8_t *)mac_in, len, mac);
	tp_wipe(ses, sizeof(ses));
	return rc;
}

int tp_sun_check_mac(const uint8_t file_key[16], const uint8_t uid[7],
		     uint32_t ctr, const char *mac_in, size_t len,
		     const uint8_t mac[8])
{
	uint8_t want[8];
	int rc = tp_sun_mac(file_key, uid, ctr, mac_in, len, want);

	if (rc == TP_OK && !tp_memeq(want, mac, 8))
		rc = TP_ERR_MAC;
	tp_wipe(want, sizeof(want));
	return rc;
}

int tp_sun_decrypt_file(const uint8_t file_key[16], const uint8_t uid[7],
			uint32_t ctr, const uint8_t *in, size_t len,
			uint8_t *out)
{
	uint8_t ses[16], iv[16] = {0};
	int rc;

	if (len % 16)
		return TP_ERR_LENGTH;
	rc = tp_sun_session_keys(file_key, uid, ctr, ses, NULL);
	ntag_put24le(iv, ctr);
	if (rc == TP_OK)
		rc = tp_aes_ecb(ses, 1, iv, iv);
	if (rc == TP_OK)
		rc = tp_aes_cbc(ses, 0, iv, in, len, out);
	tp_wipe(ses, sizeof(ses));
	tp_wipe(iv, sizeof(iv));
	return rc;
}

int tp_sun_verify(const uint8_t meta_key[16], const uint8_t file_key[16],
		  const struct tp_sun_msg *msg, struct tp_sun_result *res)
{
	struct tp_sun_result r;
	int rc = TP_OK;

	if (msg == NULL || res == NULL || file_key == NULL)
		return TP_ERR_ARG;
	memset(&r, 0, sizeof(r));
	if (msg->kind == TP_SUN_ENC) {
		if (meta_key == NULL)
			rc = TP_ERR_ARG;
		else
			rc = tp_sun_decrypt_picc(meta_key, msg->picc_enc, r.uid,
						 &r.ctr);
	} else if (msg->kind == TP_SUN_PLAIN) {
		memcpy(r.uid, msg->uid, 7);
		r.ctr = msg->ctr;
	} else {
		rc = TP_ERR_ARG;
	}
	if (rc == TP_OK && msg->mac_in_len > sizeof(msg->mac_in))
		rc = TP_ERR_ARG;
	if (rc == TP_OK)
		rc = tp_sun_check_mac(file_key, r.uid, r.ctr, msg->mac_in,
				      msg->mac_in_len, msg->mac);
	if (rc == TP_OK) {
		memcpy(r.mac, msg->mac, 8);
		*res = r;
	} else {
		memset(res, 0, sizeof(*res));
	}
	tp_wipe(&r, sizeof(r));
	return rc;
}

/* ---- NDEF ------------------------------------------------------------ */

/* NFC Forum URI RTD, URI identifier codes 0x00..0x23. */
static const char *const uri_prefix[] = {
    "",
    "http://www.",
    "https://www.",
    "http://",
    "https://",
    "tel:",
    "mailto:",
    "ftp://anonymous:anonymous@",
    "ftp://ftp.",
    "ftps://",
    "sftp://",
    "smb://",
    "nfs://",
    "ftp://",
    "dav://",
    "news:",
    "telnet://",
    "imap:",
    "rtsp://",
    "urn:",
    "pop:",
    "sip:",
    "sips:",
    "tftp:",
    "btspp://",
    "btl2cap://",
    "btgoep://",
    "tcpobex://",
    "irdaobex://",
    "file://",
    "urn:epc:id:",
    "urn:epc:tag:",
    "urn:epc:pat:",
    "urn:epc:raw:",
    "urn:epc:",
    "urn:nfc:",
};

int tp_ndef_uri(const uint8_t *file, size_t len, char *url, size_t cap,
		size_t *url_len)
{
	size_t nlen, pos, plen, idlen = 0, tlen, need;
	const char *pre;
	uint8_t hdr, code;

	if (file == NULL || url == NULL || url_len == NULL || cap == 0)
		return TP_ERR_ARG;
	url[0] = '\0';
	*url_len = 0;
	if (len < 2)
		return TP_ERR_PARSE;
	nlen = (size_t)file[0] << 8 | file[1];
	if (nlen < 3 || nlen > len - 2)
		return TP_ERR_PARSE;
	file += 2;
	hdr = file[0];
	/* First record of the message, well-known type, not chunked. */
	if (!(hdr & 0x80) || (hdr & 0x20) || (hdr & 0x07) != 0x01)
		return TP_ERR_PARSE;
	tlen = file[1];
	pos = 2;
	if (hdr & 0x10) {
		plen = file[pos++];
	} else {
		if (pos + 4 > nlen)
			return TP_ERR_PARSE;
		plen = (size_t)file[pos] << 24 | (size_t)file[pos + 1] << 16 |
		       (size_t)file[pos + 2] << 8 | file[pos + 3];
		pos += 4;
	}
	if (hdr & 0x08) {
		if (pos >= nlen)
			return TP_ERR_PARSE;
		idlen = file[pos++];
	}
	if (tlen != 1 || pos + tlen + idlen > nlen || file[pos] != 'U')
		return TP_ERR_PARSE;
	pos += tlen + idlen;
	if (plen < 1 || plen > nlen - pos)
		return TP_ERR_PARSE;
	code = file[pos];
	if (code >= sizeof(uri_prefix) / sizeof(uri_prefix[0]))
		return TP_ERR_PARSE;
	pre = uri_prefix[code];
	if (memchr(file + pos + 1, '\0', plen - 1) != NULL)
		return TP_ERR_PARSE;
	need = strlen(pre) + plen - 1;
	if (need + 1 > cap)
		return TP_ERR_TOO_BIG;
	memcpy(url, pre, strlen(pre));
	memcpy(url + strlen(pre), file + pos + 1, plen - 1);
	url[need] = '\0';
	*url_len = need;
	return TP_OK;
}
