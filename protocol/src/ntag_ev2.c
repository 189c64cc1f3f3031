/*
 * ntag_ev2.c - EV2 authentication and secure messaging, PCD side, and the
 * command builders personalisation needs.  Data sheet NT4H2421Gx Rev 3.0
 * 9.1 (secure messaging) and 10 (commands); AN12196 Rev 1.8 section 6.
 */
#include <string.h>

#include "tapaid/crypto.h"
#include "ntag_int.h"

void tp_ev2_clear(struct tp_ev2 *ev2)
{
	if (ev2 != NULL)
		tp_wipe(ev2, sizeof(*ev2));
}

int tp_ev2_session_keys(const uint8_t key[16], const uint8_t rnda[16],
			const uint8_t rndb[16], uint8_t kenc[16],
			uint8_t kmac[16])
{
	struct tp_cmac_key ck;
	uint8_t sv[32] = {0xA5, 0x5A, 0x00, 0x01, 0x00, 0x80};
	int rc;

	/* RndA[15..14] || (RndA[13..8] ^ RndB[15..10]) || RndB[9..0] ||
	 * RndA[7..0], bytes numbered from the last one sent. */
	memcpy(sv + 6, rnda, 2);
	for (int i = 0; i < 6; i++)
		sv[8 + i] = rnda[2 + i] ^ rndb[i];
	memcpy(sv + 14, rndb + 6, 10);
	memcpy(sv + 24, rnda + 8, 8);
	rc = tp_cmac_setkey(&ck, key);
	if (rc != TP_OK)
		goto out;
	rc = tp_cmac_run(&ck, sv, sizeof(sv), kenc);
	sv[0] = 0x5A;
	sv[1] = 0xA5;
	if (rc == TP_OK)
		rc = tp_cmac_run(&ck, sv, sizeof(sv), kmac);
	tp_cmac_clear(&ck);
out:
	tp_wipe(sv, sizeof(sv));
	return rc;
}

static void rotl1(const uint8_t in[16], uint8_t out[16])
{
	uint8_t first = in[0];

	memmove(out, in + 1, 15);
	out[15] = first;
}

/* Builds 90 ins 00 00 [Lc body] 00. */
static int native_apdu(uint8_t ins, const uint8_t *body, size_t blen,
		       uint8_t *apdu, size_t cap, size_t *len)
{
	size_t n = blen ? 6 + blen : 5;

	if (blen > 255)
		return TP_ERR_TOO_BIG;
	if (apdu == NULL || len == NULL || cap < n)
		return TP_ERR_ARG;
	apdu[0] = 0x90;
	apdu[1] = ins;
	apdu[2] = 0;
	apdu[3] = 0;
	if (blen) {
		apdu[4] = (uint8_t)blen;
		memmove(apdu + 5, body, blen);
	}
	apdu[n - 1] = 0x00;
	*len = n;
	return TP_OK;
}

int tp_ev2_auth_begin(struct tp_ev2 *ev2, int first, uint8_t keyno,
		      uint8_t *apdu, size_t cap, size_t *len)
{
	uint8_t body[2] = {keyno, 0x00};

	if (ev2 == NULL || keyno > 4)
		return TP_ERR_ARG;
	if (!first && !ev2->authed)
		return TP_ERR_STATE;
	if (first)
		tp_ev2_clear(ev2);
	ev2->keyno = keyno;
	ev2->pending = first ? 1 : 2;
	/* EV2First: KeyNo || LenCap 00; NonFirst: KeyNo only. */
	return native_apdu(first ? 0x71 : 0x77, body, first ? 2 : 1, apdu, cap,
			   len);
}

static void abort_auth(struct tp_ev2 *ev2)
{
	tp_ev2_clear(ev2);
}

int tp_ev2_auth_step2(struct tp_ev2 *ev2, const uint8_t key[16],
		      const uint8_t rnda[16], const uint8_t *rapdu, size_t rlen,
		      uint8_t *apdu, size_t cap, size_t *len)
{
	uint8_t buf[32], iv[16] = {0};
	int rc;

	if (ev2 == NULL || key == NULL || rnda == NULL || rapdu == NULL ||
	    ev2->pending == 0)
		return TP_ERR_ARG;
	if (tp_ntag_sw(rapdu, rlen) != TP_SW_MORE) {
		abort_auth(ev2);
		return TP_ERR_CARD_STATUS;
	}
	if (rlen != 18) {
		abort_auth(ev2);
		return TP_ERR_LENGTH;
	}
	memcpy(ev2->key, key, 16);
	memcpy(ev2->rnda, rnda, 16);
	rc = tp_aes_ecb(key, 0, rapdu, ev2->rndb);
	if (rc == TP_OK) {
		memcpy(buf, rnda, 16);
		rotl1(ev2->rndb, buf + 16);
		rc = tp_aes_cbc(key, 1, iv, buf, 32, buf);
	}
	if (rc == TP_OK)
		rc = native_apdu(0xAF, buf, 32, apdu, cap, len);
	tp_wipe(buf, sizeof(buf));
	if (rc != TP_OK)
		abort_auth(ev2);
	return rc;
}

int tp_ev2_auth_finish(struct tp_ev2 *ev2, const uint8_t *rapdu, size_t rlen)
{
	uint8_t buf[32], iv[16] = {0}, want[16];
	size_t n;
	int rc, first;

	if (ev2 == NULL || rapdu == NULL || ev2->pending == 0)
		return TP_ERR_ARG;
	first = ev2->pending == 1;
	n = first ? 32 : 16;
	if (tp_ntag_sw(rapdu, rlen) != TP_SW_OK) {
		abort_auth(ev2);
		return TP_ERR_CARD_STATUS;
	}
	if (rlen != n + 2) {
		abort_auth(ev2);
		return TP_ERR_LENGTH;
	}
	rc = tp_aes_cbc(ev2->key, 0, iv, rapdu, n, buf);
	rotl1(ev2->rnda, want);
	if (rc == TP_OK && !tp_memeq(first ? buf + 4 : buf, want, 16))
		rc = TP_ERR_AUTH;
	if (rc == TP_OK)
		rc = tp_ev2_session_keys(ev2->key, ev2->rnda, ev2->rndb,
					 ev2->kenc, ev2->kmac);
	if (rc == TP_OK) {
		if (first) {
			memcpy(ev2->ti, buf, 4);
			ev2->cmdctr = 0;
		}
		ev2->authed = 1;
		ev2->pending = 0;
		tp_wipe(ev2->key, 16);
		tp_wipe(ev2->rnda, 16);
		tp_wipe(ev2->rndb, 16);
	} else {
		abort_auth(ev2);
	}
	tp_wipe(buf, sizeof(buf));
	tp_wipe(want, sizeof(want));
	return rc;
}

int tp_ev2_wrap(const struct tp_ev2 *ev2, uint8_t ins, const uint8_t *hdr,
		size_t hlen, const uint8_t *data, size_t dlen, int mode,
		uint8_t *apdu, size_t cap, size_t *len)
{
	uint8_t body[TP_NTAG_APDU_MAX], iv[16];
	size_t n = 0, elen = dlen;
	int rc = TP_OK;

	if ((hlen && hdr == NULL) || (dlen && data == NULL))
		return TP_ERR_ARG;
	if (mode != TP_COMM_PLAIN && mode != TP_COMM_MAC &&
	    mode != TP_COMM_FULL)
		return TP_ERR_ARG;
	if (mode != TP_COMM_PLAIN && (ev2 == NULL || !ev2->authed))
		return TP_ERR_STATE;
	if (ev2 != NULL && ev2->authed && ev2->cmdctr == 0xFFFF)
		return TP_ERR_COUNTER;
	if (hlen + dlen + 16 + 8 > 255)
		return TP_ERR_TOO_BIG;
	if (hlen)
		memcpy(body, hdr, hlen);
	n = hlen;
	if (dlen)
		memcpy(body + n, data, dlen);
	if (mode == TP_COMM_FULL && dlen) {
		elen = ntag_pad(body + n, dlen, sizeof(body) - n);
		rc = ntag_iv(ev2, 0, ev2->cmdctr, iv);
		if (rc == TP_OK)
			rc = tp_aes_cbc(ev2->kenc, 1, iv, body + n, elen,
					body + n);
		tp_wipe(iv, sizeof(iv));
	}
	n += elen;
	if (rc == TP_OK && mode != TP_COMM_PLAIN) {
		rc = ntag_sm_mact(ev2, ins, ev2->cmdctr, body, n, NULL, 0,
				  body + n);
		n += 8;
	}
	if (rc == TP_OK)
		rc = native_apdu(ins, body, n, apdu, cap, len);
	tp_wipe(body, sizeof(body));
	return rc;
}

int tp_ev2_unwrap(struct tp_ev2 *ev2, int mode, const uint8_t *rapdu,
		  size_t rlen, uint8_t *data, size_t cap, size_t *len)
{
	uint8_t buf[TP_NTAG_APDU_MAX], iv[16], mac[8];
	size_t n, plen;
	int rc = TP_OK, sess = ev2 != NULL && ev2->authed;

	if (rapdu == NULL || len == NULL || (cap && data == NULL))
		return TP_ERR_ARG;
	*len = 0;
	if (mode != TP_COMM_PLAIN && mode != TP_COMM_MAC &&
	    mode != TP_COMM_FULL)
		return TP_ERR_ARG;
	if (mode != TP_COMM_PLAIN && !sess)
		return TP_ERR_STATE;
	if (tp_ntag_sw(rapdu, rlen) != TP_SW_OK)
		return TP_ERR_CARD_STATUS;
	n = rlen - 2;
	if (!sess || mode == TP_COMM_PLAIN) {
		if (n > cap)
			return TP_ERR_TOO_BIG;
		if (n)
			memcpy(data, rapdu, n);
		*len = n;
		if (sess)
			ev2->cmdctr++;
		return TP_OK;
	}
	if (n > sizeof(buf))
		return TP_ERR_TOO_BIG;
	if (n < 8)
		return TP_ERR_LENGTH;
	n -= 8;
	rc = ntag_sm_mact(ev2, 0x00, (uint16_t)(ev2->cmdctr + 1), rapdu, n,
			  NULL, 0, mac);
	if (rc == TP_OK && !tp_memeq(mac, rapdu + n, 8))
		rc = TP_ERR_CARD_MAC;
	if (rc != TP_OK)
		return rc;
	plen = n;
	if (mode == TP_COMM_FULL && n) {
		if (n % 16)
			return TP_ERR_LENGTH;
		rc = ntag_iv(ev2, 1, (uint16_t)(ev2->cmdctr + 1), iv);
		if (rc == TP_OK)
			rc = tp_aes_cbc(ev2->kenc, 0, iv, rapdu, n, buf);
		if (rc == TP_OK)
			rc = ntag_unpad(buf, n, &plen);
		tp_wipe(iv, sizeof(iv));
	} else if (n) {
		memcpy(buf, rapdu, n);
	}
	if (rc == TP_OK && plen > cap)
		rc = TP_ERR_TOO_BIG;
	if (rc == TP_OK) {
		if (plen)
			memcpy(data, buf, plen);
		*len = plen;
		ev2->cmdctr++;
	}
	tp_wipe(buf, sizeof(buf));
	return rc;
}

/* ---- command builders ------------------------------------------------ */

int tp_ntag_get_version_cmd(int part, uint8_t *apdu, size_t cap, size_t *len)
{
	if (part < 0 || part > 2)
		return TP_ERR_ARG;
	return native_apdu(part == 0 ? 0x60 : 0xAF, NULL, 0, apdu, cap, len);
}

int tp_ntag_parse_version(const uint8_t *data, size_t len,
			  struct tp_ntag_version *v)
{
	if (data == NULL || v == NULL)
		return TP_ERR_ARG;
	if (len < 28 || len > 30)
		return TP_ERR_LENGTH;
	memcpy(v->hw, data, 7);
	memcpy(v->sw, data + 7, 7);
	memcpy(v->uid, data + 14, 7);
	memcpy(v->batch, data + 21, 5);
	memcpy(v->fab_key_year, data + len - 2, 2);
	return TP_OK;
}

int tp_ntag_read_sig_cmd(uint8_t *apdu, size_t cap, size_t *len)
{
	static const uint8_t addr = 0x00;

	return native_apdu(0x3C, &addr, 1, apdu, cap, len);
}

static int put_apdu(const uint8_t *src, size_t n, uint8_t *apdu, size_t cap,
		    size_t *len)
{
	if (apdu == NULL || len == NULL || cap < n)
		return TP_ERR_ARG;
	memcpy(apdu, src, n);
	*len = n;
	return TP_OK;
}

int tp_iso_select_ndef_app(uint8_t *apdu, size_t cap, size_t *len)
{
	static const uint8_t a[] = {0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2, 0x76,
				    0x00, 0x00, 0x85, 0x01, 0x01, 0x00};

	return put_apdu(a, sizeof(a), apdu, cap, len);
}

int tp_iso_select_file(uint16_t fid, uint8_t *apdu, size_t cap, size_t *len)
{
	uint8_t a[] = {0x00,	     0xA4, 0x00,
		       0x0C,	     0x02, (uint8_t)(fid >> 8),
		       (uint8_t)fid, 0x00};

	return put_apdu(a, sizeof(a), apdu, cap, len);
}

int tp_iso_read_binary(uint16_t offset, uint8_t le, uint8_t *apdu, size_t cap,
		       size_t *len)
{
	uint8_t a[] = {0x00, 0xB0, (uint8_t)(offset >> 8), (uint8_t)offset, le};

	if (offset > 0x7FFF)
		return TP_ERR_VALUE;
	return put_apdu(a, sizeof(a), apdu, cap, len);
}

int tp_iso_update_binary(uint16_t offset, const uint8_t *data, size_t dlen,
			 uint8_t *apdu, size_t cap, size_t *len)
{
	if (offset > 0x7FFF)
		return TP_ERR_VALUE;
	if (dlen == 0 || dlen > 255 || data == NULL)
		return TP_ERR_ARG;
	if (apdu == NULL || len == NULL || cap < 5 + dlen)
		return TP_ERR_ARG;
	apdu[0] = 0x00;
	apdu[1] = 0xD6;
	apdu[2] = (uint8_t)(offset >> 8);
	apdu[3] = (uint8_t)offset;
	apdu[4] = (uint8_t)dlen;
	memmove(apdu + 5, data, dlen);
	*len = 5 + dlen;
	return TP_OK;
}

int tp_iso_check(const uint8_t *rapdu, size_t rlen, size_t *dlen)
{
	if (rapdu == NULL || dlen == NULL)
		return TP_ERR_ARG;
	*dlen = 0;
	if (tp_ntag_sw(rapdu, rlen) != TP_SW_ISO_OK)
		return TP_ERR_CARD_STATUS;
	*dlen = rlen - 2;
	return TP_OK;
}

static void file_hdr(uint8_t h[7], uint8_t fileno, uint32_t off,
		     uint32_t length)
{
	h[0] = fileno;
	ntag_put24le(h + 1, off);
	ntag_put24le(h + 4, length);
}

int tp_ntag_read_data_cmd(const struct tp_ev2 *ev2, uint8_t fileno,
			  uint32_t offset, uint32_t length, int mode,
			  uint8_t *apdu, size_t cap, size_t *len)
{
	uint8_t h[7];

	if (offset > TP_NTAG_CTR_MAX || length > TP_NTAG_CTR_MAX)
		return TP_ERR_VALUE;
	file_hdr(h, fileno, offset, length);
	return tp_ev2_wrap(ev2, 0xAD, h, 7, NULL, 0, mode, apdu, cap, len);
}

int tp_ntag_write_data_cmd(const struct tp_ev2 *ev2, uint8_t fileno,
			   uint32_t offset, const uint8_t *data, size_t dlen,
			   int mode, uint8_t *apdu, size_t cap, size_t *len)
{
	uint8_t h[7];

	if (offset > TP_NTAG_CTR_MAX || dlen == 0)
		return TP_ERR_VALUE;
	file_hdr(h, fileno, offset, (uint32_t)dlen);
	return tp_ev2_wrap(ev2, 0x8D, h, 7, data, dlen, mode, apdu, cap, len);
}

int tp_ntag_get_file_settings_cmd(const struct tp_ev2 *ev2, uint8_t fileno,
				  int mode, uint8_t *apdu, size_t cap,
				  size_t *len)
{
	return tp_ev2_wrap(ev2, 0xF5, &fileno, 1, NULL, 0, mode, apdu, cap,
			   len);
}

int tp_ntag_get_card_uid_cmd(const struct tp_ev2 *ev2, uint8_t *apdu,
			     size_t cap, size_t *len)
{
	return tp_ev2_wrap(ev2, 0x51, NULL, 0, NULL, 0, TP_COMM_FULL, apdu, cap,
			   len);
}

int tp_ntag_change_key_body(int same_as_auth, const uint8_t new_key[16],
			    const uint8_t old_key[16], uint8_t keyver,
			    uint8_t *body, size_t *blen)
{
	uint32_t crc;

	if (new_key == NULL || body == NULL || blen == NULL)
		return TP_ERR_ARG;
	if (same_as_auth) {
		memcpy(body, new_key, 16);
		body[16] = keyver;
		*blen = 17;
		return TP_OK;
	}
	if (old_key == NULL)
		return TP_ERR_ARG;
	for (int i = 0; i < 16; i++)
		body[i] = new_key[i] ^ old_key[i];
	body[16] = keyver;
	crc = tp_jamcrc32(new_key, 16);
	body[17] = (uint8_t)crc;
	body[18] = (uint8_t)(crc >> 8);
	body[19] = (uint8_t)(crc >> 16);
	body[20] = (uint8_t)(crc >> 24);
	*blen = 21;
	return TP_OK;
}

int tp_ntag_change_key_cmd(const struct tp_ev2 *ev2, uint8_t keyno,
			   const uint8_t new_key[16], const uint8_t old_key[16],
			   uint8_t keyver, uint8_t *apdu, size_t cap,
			   size_t *len)
{
	uint8_t body[21];
	size_t blen;
	int rc;

	if (ev2 == NULL || !ev2->authed)
		return TP_ERR_STATE;
	if (keyno > 4)
		return TP_ERR_ARG;
	rc = tp_ntag_change_key_body(keyno == ev2->keyno, new_key, old_key,
				     keyver, body, &blen);
	if (rc == TP_OK)
		rc = tp_ev2_wrap(ev2, 0xC4, &keyno, 1, body, blen, TP_COMM_FULL,
				 apdu, cap, len);
	tp_wipe(body, sizeof(body));
	return rc;
}

int tp_ntag_change_key_resp(struct tp_ev2 *ev2, uint8_t keyno,
			    const uint8_t *rapdu, size_t rlen)
{
	size_t n;

	if (ev2 == NULL || !ev2->authed)
		return TP_ERR_STATE;
	if (keyno == ev2->keyno) {
		/* Case 2: 91 00 alone; the session ends with the old key. */
		if (tp_ntag_sw(rapdu, rlen) != TP_SW_OK)
			return TP_ERR_CARD_STATUS;
		if (rlen != 2)
			return TP_ERR_LENGTH;
		tp_ev2_clear(ev2);
		return TP_OK;
	}
	return tp_ev2_unwrap(ev2, TP_COMM_MAC, rapdu, rlen, NULL, 0, &n);
}
