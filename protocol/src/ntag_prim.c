/*
 * ntag_prim.c - small primitives shared by SUN, EV2 and the card side:
 * MACt, JAMCRC, IVs, padding and the secure-messaging MAC.
 */
#include <string.h>

#include "tapaid/crypto.h"
#include "ntag_int.h"

void tp_ntag_mact(const uint8_t cmac[16], uint8_t mact[8])
{
	/* The data sheet's "even-numbered bytes" count from 1. */
	for (int i = 0; i < 8; i++)
		mact[i] = cmac[2 * i + 1];
}

uint32_t tp_jamcrc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return crc; /* no final complement */
}

int tp_ntag_sw(const uint8_t *rapdu, size_t rlen)
{
	if (rapdu == NULL || rlen < 2)
		return -1;
	return rapdu[rlen - 2] << 8 | rapdu[rlen - 1];
}

int ntag_mact(const uint8_t key[16], const uint8_t *msg, size_t len,
	      uint8_t mact[8])
{
	uint8_t full[16];
	int rc = tp_cmac(key, msg, len, full);

	if (rc == TP_OK)
		tp_ntag_mact(full, mact);
	tp_wipe(full, sizeof(full));
	return rc;
}

int ntag_iv(const struct tp_ev2 *s, int resp, uint16_t ctr, uint8_t iv[16])
{
	uint8_t in[16] = {0};

	in[0] = resp ? 0x5A : 0xA5;
	in[1] = resp ? 0xA5 : 0x5A;
	memcpy(in + 2, s->ti, 4);
	in[6] = (uint8_t)ctr;
	in[7] = (uint8_t)(ctr >> 8);
	return tp_aes_ecb(s->kenc, 1, in, iv);
}

size_t ntag_pad(uint8_t *buf, size_t len, size_t cap)
{
	size_t n = (len / 16 + 1) * 16;

	if (n > cap)
		return 0;
	buf[len] = 0x80;
	memset(buf + len + 1, 0, n - len - 1);
	return n;
}

int ntag_unpad(const uint8_t *buf, size_t len, size_t *out_len)
{
	size_t i;

	if (len == 0 || len % 16)
		return TP_ERR_PARSE;
	/* Only the last block can hold padding. */
	for (i = len; i > len - 16; i--) {
		if (buf[i - 1] == 0x80) {
			*out_len = i - 1;
			return TP_OK;
		}
		if (buf[i - 1] != 0)
			return TP_ERR_PARSE;
	}
	return TP_ERR_PARSE;
}

int ntag_sm_mact(const struct tp_ev2 *s, uint8_t code, uint16_t ctr,
		 const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		 uint8_t mact[8])
{
	uint8_t msg[7 + TP_NTAG_APDU_MAX];
	int rc;

	if (alen + blen > TP_NTAG_APDU_MAX)
		return TP_ERR_TOO_BIG;
	msg[0] = code;
	msg[1] = (uint8_t)ctr;
	msg[2] = (uint8_t)(ctr >> 8);
	memcpy(msg + 3, s->ti, 4);
	if (alen)
		memcpy(msg + 7, a, alen);
	if (blen)
		memcpy(msg + 7 + alen, b, blen);
	rc = ntag_mact(s->kmac, msg, 7 + alen + blen, mact);
	tp_wipe(msg, sizeof(msg));
	return rc;
}

void ntag_hex_upper(const uint8_t *in, size_t len, char *out)
{
	static const char d[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
}
