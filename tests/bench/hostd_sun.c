/*
 * hostd_sun.c - the SUN URL a bench card (hostcore's gen-bench-db: card n
 * has UID 04 B0 nn nn nn 5E 80, key version 1) writes at counter ctr.
 * Kept apart from bench_host.c because ntag.h and proto.h do not mix.
 */
#include <stdio.h>
#include <string.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

int bench_sun(const uint8_t meta[16], const uint8_t master[16], int card,
	      uint32_t ctr, char *out, size_t cap);

int bench_sun(const uint8_t meta[16], const uint8_t master[16], int card,
	      uint32_t ctr, char *out, size_t cap)
{
	uint8_t uid[7] = {0x04,
			  0xB0,
			  (uint8_t)(card >> 16),
			  (uint8_t)(card >> 8),
			  (uint8_t)card,
			  0x5E,
			  0x80};
	uint8_t pt[16], ct[16], fk[16], mac[8];
	char hp[33], hm[17];
	int rc;

	memset(pt, 0, sizeof(pt));
	pt[0] = 0xC7;
	memcpy(pt + 1, uid, 7);
	pt[8] = (uint8_t)ctr;
	pt[9] = (uint8_t)(ctr >> 8);
	pt[10] = (uint8_t)(ctr >> 16);
	tp_random(pt + 11, 5);
	rc = tp_aes_ecb(meta, 1, pt, ct);
	if (rc == 0)
		rc = tp_card_key(master, uid, TP_KEY_SDM_FILE, 1, fk);
	if (rc == 0)
		rc = tp_sun_mac(fk, uid, ctr, "", 0, mac);
	tp_wipe(fk, sizeof(fk));
	if (rc)
		return rc;
	tp_hex_encode(ct, 16, hp, 1);
	tp_hex_encode(mac, 8, hm, 1);
	hp[32] = hm[16] = '\0';
	snprintf(out, cap, "https://tap.example/t?p=%s&c=%s", hp, hm);
	return 0;
}
