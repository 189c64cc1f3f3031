/*
 * fuzz_record.c - libFuzzer target for the offline record decoder
 * (tp_record_decode) and the verifying decoder under the committed KAT
 * kiosk key.  A forged record must never verify.
 */
#include <stdlib.h>
#include <string.h>

#include "tapaid/proto.h"
#include "../vectors/proto_vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tp_key *kiosk_pub;
static uint8_t committed[TP_RECORD_MAX];
static size_t committed_len;

static void setup(void)
{
	uint8_t raw[65];

	if (kiosk_pub)
		return;
	if (tp_hex_decode(KAT_KIOSK_PUB, strlen(KAT_KIOSK_PUB), raw, 65) ||
	    tp_key_from_public_raw(raw, &kiosk_pub))
		abort();
	committed_len = strlen(KAT_RECORD) / 2;
	if (tp_hex_decode(KAT_RECORD, strlen(KAT_RECORD), committed,
			  committed_len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_record r;
	int rc;

	setup();
	rc = tp_record_decode(data, size, &r);
	if (rc != TP_OK)
		return 0;
	if (size < TP_RECORD_MIN || size > TP_RECORD_MAX || r.offline != 1 ||
	    r.seq == 0 || strnlen(r.kiosk_id, 33) > TP_KIOSK_ID_MAX ||
	    strnlen(r.sun, 256) > TP_SUN_MAX ||
	    memcmp(r.sig, data + size - 64, 64) != 0)
		abort();
	/* Only the committed record itself may verify. */
	rc = tp_record_decode_verify(data, size, kiosk_pub, &r);
	if (rc == TP_OK &&
	    (size != committed_len || memcmp(data, committed, size) != 0))
		abort();
	return 0;
}
