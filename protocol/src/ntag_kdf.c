/*
 * ntag_kdf.c - NXP AN10922 AES-128 key diversification, the project's
 * per-card key scheme and the card lookup id (see protocol/CARD.md).
 */
#include <string.h>

#include "tapaid/crypto.h"
#include "ntag_int.h"

int tp_kdf_an10922(const uint8_t master[16], const uint8_t *m, size_t mlen,
		   uint8_t out[16])
{
	struct tp_cmac_key ck;
	uint8_t d[32] = {0}, iv[16] = {0};
	const uint8_t *sub;
	int rc;

	if (master == NULL || m == NULL || out == NULL || mlen < 1 || mlen > 31)
		return TP_ERR_ARG;
	/* D = 01 || M, padded (80 00..) to 32 bytes when shorter. */
	d[0] = 0x01;
	memcpy(d + 1, m, mlen);
	if (mlen < 31)
		d[1 + mlen] = 0x80;
	rc = tp_cmac_setkey(&ck, master);
	if (rc != TP_OK)
		return rc;
	/* Last block XOR K2 if padding was added, K1 if not (AN10922 2.2). */
	sub = mlen < 31 ? ck.k2 : ck.k1;
	for (int i = 0; i < 16; i++)
		d[16 + i] ^= sub[i];
	tp_cmac_clear(&ck);
	rc = tp_aes_cbc(master, 1, iv, d, sizeof(d), d);
	if (rc == TP_OK)
		memcpy(out, d + 16, 16);
	tp_wipe(d, sizeof(d));
	return rc;
}

/* M = UID || "TAP" || keyno || keyver || "tapaid" (CARD.md section 2). */
#define CARD_M_LEN (7 + 3 + 1 + 1 + 6)
static int card_m(const uint8_t uid[7], int keyno, uint8_t keyver,
		  uint8_t m[CARD_M_LEN])
{
	if (uid == NULL)
		return TP_ERR_ARG;
	if (keyno != 0 && keyno != 2 && keyno != 3 && keyno != 4)
		return TP_ERR_ARG;
	memcpy(m, uid, 7);
	memcpy(m + 7, TP_KDF_APP_ID, 3);
	m[10] = (uint8_t)keyno;
	m[11] = keyver;
	memcpy(m + 12, TP_KDF_SYS_ID, 6);
	return TP_OK;
}

int tp_card_key(const uint8_t master[16], const uint8_t uid[7], int keyno,
		uint8_t keyver, uint8_t out[16])
{
	uint8_t m[CARD_M_LEN];
	int rc;

	if (master == NULL || out == NULL)
		return TP_ERR_ARG;
	rc = card_m(uid, keyno, keyver, m);
	if (rc == TP_OK)
		rc = tp_kdf_an10922(master, m, sizeof(m), out);
	return rc;
}

int tp_card_key_ck(const struct tp_cmac_key *master, const uint8_t uid[7],
		   int keyno, uint8_t keyver, uint8_t out[16])
{
	uint8_t d[1 + CARD_M_LEN];
	int rc;

	if (master == NULL || out == NULL)
		return TP_ERR_ARG;
	/* |M| >= 16: AN10922 is plain CMAC over 01 || M (tested). */
	d[0] = 0x01;
	rc = card_m(uid, keyno, keyver, d + 1);
	if (rc == TP_OK)
		rc = tp_cmac_run(master, d, sizeof(d), out);
	return rc;
}

int tp_card_lookup_id(const uint8_t salt[16], const uint8_t uid[7],
		      uint8_t id[16])
{
	static const char label[] = "tapaid-card-id";
	uint8_t msg[sizeof(label) - 1 + 7], mac[32];
	int rc;

	if (salt == NULL || uid == NULL || id == NULL)
		return TP_ERR_ARG;
	memcpy(msg, label, sizeof(label) - 1);
	memcpy(msg + sizeof(label) - 1, uid, 7);
	rc = tp_hmac_sha256(salt, 16, msg, sizeof(msg), mac);
	if (rc == TP_OK)
		memcpy(id, mac, 16);
	tp_wipe(mac, sizeof(mac));
	return rc;
}
