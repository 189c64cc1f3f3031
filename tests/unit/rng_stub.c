/*
 * rng_stub.c - a deterministic tp_random() for known-answer tests.
 *
 * Linked before libtpproto.a, it replaces random.c's tp_random, so that
 * ephemeral keys, nonces and ECDSA signatures come out the same each run.
 * The stream is SHA-256 in counter mode over a seed the test sets.
 */
#include <string.h>

#include "tapaid/crypto.h"
#include "test_util.h"

static uint8_t seed[32];
static uint64_t ctr;

void rng_stub_seed(const char *s)
{
	tp_sha256(s, strlen(s), seed);
	ctr = 0;
}

int tp_random(void *out, size_t n)
{
	uint8_t *p = out, in[40], blk[32];

	while (n > 0) {
		size_t k = n < 32 ? n : 32;

		memcpy(in, seed, 32);
		for (int i = 0; i < 8; i++)
			in[32 + i] = (uint8_t)(ctr >> (8 * i));
		ctr++;
		tp_sha256(in, sizeof(in), blk);
		memcpy(p, blk, k);
		p += k;
		n -= k;
	}
	return TP_OK;
}
