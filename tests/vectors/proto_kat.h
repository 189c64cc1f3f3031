/*
 * proto_kat.h - the scripted session behind the protocol's known-answer
 * vectors.  gen_proto_vectors.c runs it once and prints proto_vectors.h;
 * test_proto_session.c runs it again and compares, byte for byte, and then
 * checks the committed bytes independently (signatures over recomputed
 * transcript hashes, AEAD opening with the committed keys).
 *
 * Deterministic because tests/unit/rng_stub.c replaces tp_random: the keys,
 * ephemeral keys, nonces and ECDSA nonces all come from one seeded stream,
 * drawn in the order below.  Changing the order changes every vector.
 */
#ifndef TAPAID_PROTO_KAT_H
#define TAPAID_PROTO_KAT_H

#include <string.h>

#include "tapaid/proto.h"
#include "../unit/test_proto_samples.h"

#define KAT_SEED     "tapaid proto KAT v1"
#define KAT_KIOSK_ID "K-0001"

void rng_stub_seed(const char *s);

struct kat_buf {
	uint8_t b[TP_FRAME_MAX];
	size_t n;
};

struct kat {
	uint8_t host_pub[65], kiosk_pub[65];
	struct kat_buf hello, reply, auth;
	uint8_t k2h[32], h2k[32];
	struct kat_buf tap, decision, status; /* sealed: seq 0, 0, 1 */
	struct kat_buf record;		      /* signed offline record */
	struct kat_buf fixed; /* fixed key, seq 0x010203040506 */
};

/* The fixed-key frame: key 00 01 .. 1f, STATUS_ACK sample. */
static inline void kat_fixed_key(uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
}
#define KAT_FIXED_SEQ 0x010203040506ull

struct kat_lookup {
	const struct tp_key *kiosk;
};

static inline int kat_lookup_fn(void *ctx, const char *id,
				const struct tp_key **pub)
{
	struct kat_lookup *l = ctx;

	if (strcmp(id, KAT_KIOSK_ID) != 0)
		return TP_ERR_UNKNOWN_PEER;
	*pub = l->kiosk;
	return 0;
}

/* Runs the script; 0 or the first error. */
static inline int kat_run(struct kat *k)
{
	struct tp_key *host = NULL, *kiosk = NULL;
	struct tp_session ks, hs;
	struct kat_lookup lk;
	struct tp_msg m, got;
	struct tp_record rec;
	uint8_t fk[32], pt[TP_MSG_MAX];
	size_t n, pn;
	int rc;

	memset(k, 0, sizeof(*k));
	rng_stub_seed(KAT_SEED);
	if ((rc = tp_key_generate(&host)) || (rc = tp_key_generate(&kiosk)))
		goto out;
	lk.kiosk = kiosk;
	if ((rc = tp_key_public_raw(host, k->host_pub)) ||
	    (rc = tp_key_public_raw(kiosk, k->kiosk_pub)) ||
	    (rc = tp_session_init_kiosk(&ks, kiosk, host, KAT_KIOSK_ID)) ||
	    (rc = tp_session_init_host(&hs, host, kat_lookup_fn, &lk)) ||
	    (rc = tp_session_start(&ks, k->hello.b, sizeof(k->hello.b),
				   &k->hello.n)) ||
	    (rc = tp_session_recv(&hs, k->hello.b, k->hello.n, &got, k->reply.b,
				  sizeof(k->reply.b), &k->reply.n)) ||
	    (rc = tp_session_recv(&ks, k->reply.b, k->reply.n, &got, k->auth.b,
				  sizeof(k->auth.b), &k->auth.n)) ||
	    (rc =
		 tp_session_recv(&hs, k->auth.b, k->auth.n, &got, NULL, 0, &n)))
		goto out;
	memcpy(k->k2h, ks.tx_key, 32);
	memcpy(k->h2k, ks.rx_key, 32);

	sample_msg(TP_MSG_TAP_REQUEST, &m);
	if ((rc = tp_session_seal(&ks, &m, k->tap.b, sizeof(k->tap.b),
				  &k->tap.n)) ||
	    (rc = tp_session_recv(&hs, k->tap.b, k->tap.n, &got, NULL, 0, &n)))
		goto out;
	sample_msg(TP_MSG_DECISION, &m);
	if ((rc = tp_session_seal(&hs, &m, k->decision.b, sizeof(k->decision.b),
				  &k->decision.n)) ||
	    (rc = tp_session_recv(&ks, k->decision.b, k->decision.n, &got, NULL,
				  0, &n)))
		goto out;
	sample_msg(TP_MSG_STATUS, &m);
	if ((rc = tp_session_seal(&ks, &m, k->status.b, sizeof(k->status.b),
				  &k->status.n)))
		goto out;
	sample_record(&rec, 1);
	if ((rc = tp_record_encode_signed(&rec, kiosk, k->record.b,
					  sizeof(k->record.b), &k->record.n)))
		goto out;
	kat_fixed_key(fk);
	sample_msg(TP_MSG_STATUS_ACK, &m);
	if ((rc = tp_msg_encode(&m, pt, sizeof(pt), &pn)) ||
	    (rc = tp_frame_seal(fk, 1, KAT_FIXED_SEQ, pt, pn, k->fixed.b,
				sizeof(k->fixed.b), &k->fixed.n)))
		goto out;
out:
	tp_session_clear(&ks);
	tp_session_clear(&hs);
	tp_key_free(host);
	tp_key_free(kiosk);
	return rc;
}

#endif
