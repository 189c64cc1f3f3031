/*
 * ntag_card.c - the card (PICC) side of EV2 authentication, secure
 * messaging, ChangeKey and SUN mirroring, for the PN532 emulator and the
 * round-trip tests.  It shares every primitive with the PCD side.
 */
#include <string.h>

#include "tapaid/crypto.h"
#include "ntag_int.h"

int tp_apdu_parse(const uint8_t *apdu, size_t len, struct tp_apdu *out)
{
	if (apdu == NULL || out == NULL)
		return TP_ERR_ARG;
	memset(out, 0, sizeof(*out));
	if (len < 4)
		return TP_ERR_PARSE;
	out->cla = apdu[0];
	out->ins = apdu[1];
	out->p1 = apdu[2];
	out->p2 = apdu[3];
	if (len == 4)
		return TP_OK;
	if (len == 5) {
		out->has_le = 1;
		out->le = apdu[4] ? apdu[4] : 256;
		return TP_OK;
	}
	if (apdu[4] == 0)
		return TP_ERR_PARSE; /* extended APDUs are not used */
	out->lc = apdu[4];
	out->data = apdu + 5;
	if (len == 5 + out->lc)
		return TP_OK;
	if (len == 6 + out->lc) {
		out->has_le = 1;
		out->le = apdu[len - 1] ? apdu[len - 1] : 256;
		return TP_OK;
	}
	memset(out, 0, sizeof(*out));
	return TP_ERR_PARSE;
}

static void rotl1(const uint8_t in[16], uint8_t out[16])
{
	uint8_t first = in[0];

	memmove(out, in + 1, 15);
	out[15] = first;
}

int tp_ev2_card_auth1(struct tp_ev2 *s, int first, uint8_t keyno,
		      const uint8_t key[16], uint8_t *out, size_t cap,
		      size_t *len)
{
	int rc;

	if (s == NULL || key == NULL || out == NULL || len == NULL ||
	    cap < 16 || keyno > 4)
		return TP_ERR_ARG;
	if (!first && !s->authed)
		return TP_ERR_STATE;
	if (first)
		tp_ev2_clear(s);
	memcpy(s->key, key, 16);
	s->keyno = keyno;
	s->pending = first ? 1 : 2;
	rc = tp_random(s->rndb, 16);
	if (rc == TP_OK)
		rc = tp_aes_ecb(key, 1, s->rndb, out);
	if (rc != TP_OK) {
		tp_ev2_clear(s);
		return rc;
	}
	*len = 16;
	return TP_OK;
}

int tp_ev2_card_auth2(struct tp_ev2 *s, const uint8_t *data, size_t dlen,
		      uint8_t *out, size_t cap, size_t *len)
{
	uint8_t buf[32], iv[16] = {0}, want[16];
	int rc, first;

	if (s == NULL || data == NULL || out == NULL || len == NULL ||
	    s->pending == 0 || cap < 32)
		return TP_ERR_ARG;
	first = s->pending == 1;
	if (dlen != 32) {
		tp_ev2_clear(s);
		return TP_ERR_LENGTH;
	}
	rc = tp_aes_cbc(s->key, 0, iv, data, 32, buf);
	rotl1(s->rndb, want);
	if (rc == TP_OK && !tp_memeq(buf + 16, want, 16))
		rc = TP_ERR_AUTH;
	if (rc == TP_OK) {
		memcpy(s->rnda, buf, 16);
		rc = tp_ev2_session_keys(s->key, s->rnda, s->rndb, s->kenc,
					 s->kmac);
	}
	if (rc == TP_OK && first) {
		rc = tp_random(s->ti, 4);
		memset(buf, 0, sizeof(buf));
		memcpy(buf, s->ti, 4);
		rotl1(s->rnda, buf + 4);
		if (rc == TP_OK)
			rc = tp_aes_cbc(s->key, 1, iv, buf, 32, out);
		*len = 32;
		s->cmdctr = 0;
	} else if (rc == TP_OK) {
		rotl1(s->rnda, buf);
		rc = tp_aes_ecb(s->key, 1, buf, out);
		*len = 16;
	}
	if (rc == TP_OK) {
		s->authed = 1;
		s->pending = 0;
		tp_wipe(s->key, 16);
		tp_wipe(s->rnda, 16);
		tp_wipe(s->rndb, 16);
	} else {
		tp_ev2_clear(s);
		*len = 0;
	}
	tp_wipe(buf, sizeof(buf));
	tp_wipe(want, sizeof(want));
	return rc;
}

int tp_ev2_card_unwrap_cmd(const struct tp_ev2 *s, uint8_t ins, size_t hlen,
			   int mode, const uint8_t *cmd, size_t clen,
			   uint8_t *out, size_t cap, size_t *len)
{
	uint8_t mac[8], iv[16], buf[TP_NTAG_APDU_MAX];
	size_t n, elen, plen;
	int rc;

	if ((clen && cmd == NULL) || out == NULL || len == NULL)
		return TP_ERR_ARG;
	*len = 0;
	if (mode != TP_COMM_PLAIN && mode != TP_COMM_MAC &&
	    mode != TP_COMM_FULL)
		return TP_ERR_ARG;
	if (clen > sizeof(buf))
		return TP_ERR_TOO_BIG;
	if (mode == TP_COMM_PLAIN) {
		if (clen < hlen)
			return TP_ERR_LENGTH;
		if (clen > cap)
			return TP_ERR_TOO_BIG;
		if (clen)
			memcpy(out, cmd, clen);
		*len = clen;
		return TP_OK;
	}
	if (s == NULL || !s->authed)
		return TP_ERR_STATE;
	if (clen < hlen + 8)
		return TP_ERR_LENGTH;
	n = clen - 8;
	rc = ntag_sm_mact(s, ins, s->cmdctr, cmd, n, NULL, 0, mac);
	if (rc == TP_OK && !tp_memeq(mac, cmd + n, 8))
		rc = TP_ERR_MAC;
	if (rc != TP_OK)
		return rc;
	elen = n - hlen;
	plen = elen;
	memcpy(buf, cmd, hlen);
	if (mode == TP_COMM_FULL && elen) {
		if (elen % 16)
			return TP_ERR_LENGTH;
		rc = ntag_iv(s, 0, s->cmdctr, iv);
		if (rc == TP_OK)
			rc = tp_aes_cbc(s->kenc, 0, iv, cmd + hlen, elen,
					buf + hlen);
		if (rc == TP_OK)
			rc = ntag_unpad(buf + hlen, elen, &plen);
		tp_wipe(iv, sizeof(iv));
	} else if (elen) {
		memcpy(buf + hlen, cmd + hlen, elen);
	}
	if (rc == TP_OK && hlen + plen > cap)
		rc = TP_ERR_TOO_BIG;
	if (rc == TP_OK) {
		memcpy(out, buf, hlen + plen);
		*len = hlen + plen;
	}
	tp_wipe(buf, sizeof(buf));
	return rc;
}

int tp_ev2_card_wrap_resp(struct tp_ev2 *s, int mode, const uint8_t *data,
			  size_t dlen, uint8_t *out, size_t cap, size_t *len)
{
	uint8_t buf[TP_NTAG_APDU_MAX], iv[16];
	size_t n = dlen;
	int rc = TP_OK, sess = s != NULL && s->authed;

	if ((dlen && data == NULL) || out == NULL || len == NULL)
		return TP_ERR_ARG;
	*len = 0;
	if (mode != TP_COMM_PLAIN && mode != TP_COMM_MAC &&
	    mode != TP_COMM_FULL)
		return TP_ERR_ARG;
	if (mode != TP_COMM_PLAIN && !sess)
		return TP_ERR_STATE;
	if (mode != TP_COMM_PLAIN && dlen + 16 + 8 + 2 > sizeof(buf))
		return TP_ERR_TOO_BIG;
	if (mode == TP_COMM_PLAIN && dlen + 2 > cap)
		return TP_ERR_TOO_BIG;
	if (sess) {
		if (s->cmdctr == 0xFFFF)
			return TP_ERR_COUNTER;
		s->cmdctr++;
	}
	if (mode == TP_COMM_PLAIN) {
		/* No crypto: any length the caller's buffer takes. */
		if (dlen)
			memmove(out, data, dlen);
		out[dlen] = 0x91;
		out[dlen + 1] = 0x00;
		*len = dlen + 2;
		return TP_OK;
	}
	if (dlen)
		memcpy(buf, data, dlen);
	if (mode == TP_COMM_FULL && dlen) {
		n = ntag_pad(buf, dlen, sizeof(buf));
		rc = ntag_iv(s, 1, s->cmdctr, iv);
		if (rc == TP_OK)
			rc = tp_aes_cbc(s->kenc, 1, iv, buf, n, buf);
		tp_wipe(iv, sizeof(iv));
	}
	if (rc == TP_OK && mode != TP_COMM_PLAIN) {
		rc = ntag_sm_mact(s, 0x00, s->cmdctr, buf, n, NULL, 0, buf + n);
		n += 8;
	}
	if (rc == TP_OK && n + 2 > cap)
		rc = TP_ERR_TOO_BIG;
	if (rc == TP_OK) {
		buf[n++] = 0x91;
		buf[n++] = 0x00;
		memcpy(out, buf, n);
		*len = n;
	}
	tp_wipe(buf, sizeof(buf));
	return rc;
}

int tp_ntag_change_key_apply(int same_as_auth, const uint8_t *body, size_t blen,
			     const uint8_t old_key[16], uint8_t new_key[16],
			     uint8_t *keyver)
{
	uint8_t k[16];
	uint32_t crc;

	if (body == NULL || new_key == NULL || keyver == NULL)
		return TP_ERR_ARG;
	if (same_as_auth) {
		if (blen != 17)
			return TP_ERR_LENGTH;
		memcpy(new_key, body, 16);
		*keyver = body[16];
		return TP_OK;
	}
	if (old_key == NULL)
		return TP_ERR_ARG;
	if (blen != 21)
		return TP_ERR_LENGTH;
	for (int i = 0; i < 16; i++)
		k[i] = body[i] ^ old_key[i];
	crc = tp_jamcrc32(k, 16);
	if (body[17] != (uint8_t)crc || body[18] != (uint8_t)(crc >> 8) ||
	    body[19] != (uint8_t)(crc >> 16) ||
	    body[20] != (uint8_t)(crc >> 24)) {
		tp_wipe(k, sizeof(k));
		return TP_ERR_MAC;
	}
	memcpy(new_key, k, 16);
	*keyver = body[16];
	tp_wipe(k, sizeof(k));
	return TP_OK;
}

static int fits(uint32_t off, size_t n, size_t flen)
{
	return off <= flen && n <= flen - off;
}

int tp_sun_card_mirror(const uint8_t meta_key[16], const uint8_t file_key[16],
		       const uint8_t uid[7], uint32_t ctr,
		       const struct tp_sdm_settings *sdm, const uint8_t *file,
		       size_t flen, uint8_t *out, size_t cap)
{
	const uint8_t need = TP_SDM_OPT_UID | TP_SDM_OPT_CTR | TP_SDM_OPT_ASCII;
	uint8_t pt[16], ct[16], mac[8], ses[16], iv[16] = {0};
	uint8_t fbuf[TP_SUN_ENC_MAX];
	int rc = TP_OK;

	if (uid == NULL || sdm == NULL || file == NULL || out == NULL)
		return TP_ERR_ARG;
	if (cap < flen)
		return TP_ERR_TOO_BIG;
	if (ctr > TP_NTAG_CTR_MAX)
		return TP_ERR_COUNTER;
	memmove(out, file, flen);
	if (!(sdm->file_option & TP_FILE_OPT_SDM))
		return TP_OK;
	/* We mirror what this project uses: UID and counter, ASCII. */
	if ((sdm->sdm_options & need) != need)
		return TP_ERR_VALUE;
	if (sdm->sdm_meta_read <= 4) {
		if (meta_key == NULL)
			return TP_ERR_ARG;
		if (!fits(sdm->picc_off, 32, flen))
			return TP_ERR_VALUE;
		pt[0] = 0xC7;
		memcpy(pt + 1, uid, 7);
		ntag_put24le(pt + 8, ctr);
		rc = tp_random(pt + 11, 5);
		if (rc == TP_OK)
			rc = tp_aes_ecb(meta_key, 1, pt, ct);
		if (rc == TP_OK)
			ntag_hex_upper(ct, 16, (char *)out + sdm->picc_off);
		tp_wipe(pt, sizeof(pt));
	} else if (sdm->sdm_meta_read == 0xE) {
		uint8_t c[3] = {(uint8_t)(ctr >> 16), (uint8_t)(ctr >> 8),
				(uint8_t)ctr};

		if (!fits(sdm->uid_off, 14, flen) ||
		    !fits(sdm->ctr_off, 6, flen))
			return TP_ERR_VALUE;
		ntag_hex_upper(uid, 7, (char *)out + sdm->uid_off);
		ntag_hex_upper(c, 3, (char *)out + sdm->ctr_off); /* MSB 1st */
	}
	if (rc != TP_OK || sdm->sdm_file_read == 0xF)
		return rc;
	if (file_key == NULL)
		return TP_ERR_ARG;
	if (sdm->sdm_options & TP_SDM_OPT_ENC_FILE) {
		size_t n = sdm->enc_len / 2;

		if (sdm->enc_len == 0 || sdm->enc_len % 32 ||
		    n > sizeof(fbuf) || !fits(sdm->enc_off, sdm->enc_len, flen))
			return TP_ERR_VALUE;
		memcpy(fbuf, out + sdm->enc_off, n);
		rc = tp_sun_session_keys(file_key, uid, ctr, ses, NULL);
		ntag_put24le(iv, ctr);
		if (rc == TP_OK)
			rc = tp_aes_ecb(ses, 1, iv, iv);
		if (rc == TP_OK)
			rc = tp_aes_cbc(ses, 1, iv, fbuf, n, fbuf);
		if (rc == TP_OK)
			ntag_hex_upper(fbuf, n, (char *)out + sdm->enc_off);
		tp_wipe(ses, sizeof(ses));
		tp_wipe(fbuf, sizeof(fbuf));
		if (rc != TP_OK)
			return rc;
	}
	if (sdm->mac_in_off > sdm->mac_off || !fits(sdm->mac_off, 16, flen))
		return TP_ERR_VALUE;
	rc = tp_sun_mac(file_key, uid, ctr, (const char *)out + sdm->mac_in_off,
			sdm->mac_off - sdm->mac_in_off, mac);
	if (rc == TP_OK)
		ntag_hex_upper(mac, 8, (char *)out + sdm->mac_off);
	return rc;
}
