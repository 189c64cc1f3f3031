/*
 * test_proto_session.c - the signed handshake and sealed sessions.
 *
 *  - known-answer vectors (tests/vectors/proto_vectors.h, made by
 *    tests/vectors/gen_proto_vectors.c): reproduced byte for byte, and
 *    checked independently of the session code;
 *  - every rejection path: forged, altered, reordered, replayed, truncated,
 *    oversized, unknown type, unknown version, unknown kiosk, wrong keys,
 *    wrong direction, wrong state; each with its named error, and none
 *    handing a message to the caller;
 *  - a numbered table of sequence-number delivery orders;
 *  - fail-closed: after any error every call is refused and keys are wiped.
 *
 * Links tests/unit/rng_stub.c: all randomness is seeded per test.
 */
#include <stdlib.h>

#include "test_util.h"
#include "test_proto_samples.h"
#include "../vectors/proto_kat.h"
#include "../vectors/proto_vectors.h"

#include "tapaid/proto.h"

/* --- fixtures --- */

struct pair {
	struct tp_key *host, *kiosk, *other;
	struct kat_lookup lk;
	struct tp_session ks, hs;
	uint8_t hello[TP_FRAME_MAX], reply[TP_FRAME_MAX], auth[TP_FRAME_MAX];
	size_t hello_n, reply_n, auth_n;
};

static struct tp_key *host_key, *kiosk_key, *other_key;

static int group_setup(void **state)
{
	rng_stub_seed("session test keys");
	if (tp_key_generate(&host_key) || tp_key_generate(&kiosk_key) ||
	    tp_key_generate(&other_key))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	tp_key_free(host_key);
	tp_key_free(kiosk_key);
	tp_key_free(other_key);
	return 0;
}

/* Fresh, not yet started sessions. */
static void pair_init(struct pair *p, const char *seed)
{
	memset(p, 0, sizeof(*p));
	rng_stub_seed(seed);
	p->host = host_key;
	p->kiosk = kiosk_key;
	p->other = other_key;
	p->lk.kiosk = kiosk_key;
	assert_int_equal(
	    tp_session_init_kiosk(&p->ks, p->kiosk, p->host, KAT_KIOSK_ID),
	    TP_OK);
	assert_int_equal(
	    tp_session_init_host(&p->hs, p->host, kat_lookup_fn, &p->lk),
	    TP_OK);
}

/* The full handshake, asserting each step. */
static void pair_connect(struct pair *p, const char *seed)
{
	struct tp_msg m;
	size_t n;

	pair_init(p, seed);
	assert_int_equal(
	    tp_session_start(&p->ks, p->hello, sizeof(p->hello), &p->hello_n),
	    TP_OK);
	assert_int_equal(tp_session_recv(&p->hs, p->hello, p->hello_n, &m,
					 p->reply, sizeof(p->reply),
					 &p->reply_n),
			 TP_OK);
	assert_int_equal(m.type, TP_MSG_NONE);
	assert_int_equal(p->reply_n, TP_FRAME_HDR_LEN + TP_HELLO_REPLY_LEN);
	assert_false(tp_session_established(&p->hs));
	assert_int_equal(tp_session_recv(&p->ks, p->reply, p->reply_n, &m,
					 p->auth, sizeof(p->auth), &p->auth_n),
			 TP_OK);
	assert_int_equal(p->auth_n, TP_FRAME_HDR_LEN + TP_AUTH_LEN);
	assert_true(tp_session_established(&p->ks));
	assert_int_equal(tp_session_recv(&p->hs, p->auth, p->auth_n, &m,
					 p->reply, sizeof(p->reply), &n),
			 TP_OK);
	assert_int_equal(n, 0);
	assert_true(tp_session_established(&p->hs));
	assert_string_equal(tp_session_kiosk_id(&p->hs), KAT_KIOSK_ID);
	assert_ptr_equal(tp_session_peer_key(&p->hs), p->kiosk);
	assert_memory_equal(p->ks.tx_key, p->hs.rx_key, 32);
	assert_memory_equal(p->ks.rx_key, p->hs.tx_key, 32);
	assert_memory_not_equal(p->ks.tx_key, p->ks.rx_key, 32);
}

static void seal(struct tp_session *s, uint8_t type, uint8_t *f, size_t *n)
{
	struct tp_msg m;

	sample_msg(type, &m);
	assert_int_equal(tp_session_seal(s, &m, f, TP_FRAME_MAX, n), TP_OK);
}

static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i])
			return 0;
	return 1;
}

/* The session failed with rc, gave no message, and is dead and wiped. */
static void assert_failed(struct tp_session *s, const struct tp_msg *m, int rc)
{
	uint8_t f[64] = {0x54, 0x50, 1, 5}, out[64];
	struct tp_msg m2;
	size_t n = 99;

	assert_int_equal(m->type, TP_MSG_NONE);
	assert_int_equal(s->state, TP_SS_FAILED);
	assert_int_equal(tp_session_error(s), rc);
	assert_false(tp_session_established(s));
	assert_true(all_zero(s->tx_key, 32) && all_zero(s->rx_key, 32) &&
		    all_zero(s->eph_priv, 32) && all_zero(s->shared, 32));
	assert_int_equal(
	    tp_session_recv(s, f, sizeof(f), &m2, out, sizeof(out), &n),
	    TP_ERR_STATE);
	assert_int_equal(n, 0);
	sample_msg(TP_MSG_BYE, &m2);
	assert_int_equal(tp_session_seal(s, &m2, out, sizeof(out), &n),
			 TP_ERR_STATE);
}

/* Receives a frame expecting rc; on error, checks the fail-closed state. */
static void recv_expect(struct tp_session *s, const uint8_t *f, size_t n,
			int rc)
{
	struct tp_msg m;
	uint8_t out[TP_FRAME_MAX];
	size_t on;
	int got = tp_session_recv(s, f, n, &m, out, sizeof(out), &on);

	if (got != rc) {
		print_error("recv: got %d (%s), want %d (%s)\n", got,
			    tp_strerror(got), rc, tp_strerror(rc));
		fail();
	}
	if (rc)
		assert_failed(s, &m, rc);
}

/* --- known-answer vectors --- */

static void kat_reproduced(void **state)
{
	struct kat k;

	assert_int_equal(kat_run(&k), TP_OK);
	assert_hex_equal(k.host_pub, 65, KAT_HOST_PUB);
	assert_hex_equal(k.kiosk_pub, 65, KAT_KIOSK_PUB);
	assert_hex_equal(k.hello.b, k.hello.n, KAT_HELLO);
	assert_hex_equal(k.reply.b, k.reply.n, KAT_HELLO_REPLY);
	assert_hex_equal(k.auth.b, k.auth.n, KAT_AUTH);
	assert_hex_equal(k.k2h, 32, KAT_KEY_K2H);
	assert_hex_equal(k.h2k, 32, KAT_KEY_H2K);
	assert_hex_equal(k.tap.b, k.tap.n, KAT_SEALED_TAP);
	assert_hex_equal(k.decision.b, k.decision.n, KAT_SEALED_DECISION);
	assert_hex_equal(k.status.b, k.status.n, KAT_SEALED_STATUS);
	assert_hex_equal(k.record.b, k.record.n, KAT_RECORD);
	assert_hex_equal(k.fixed.b, k.fixed.n, KAT_FIXED_FRAME);
}

/* Opens a committed sealed frame with the raw AEAD, not tp_frame_open. */
static void open_raw(const char *hex, const char *key_hex, uint64_t seq,
		     uint8_t type)
{
	uint8_t f[TP_FRAME_MAX], key[32], pt[TP_MSG_MAX], want[TP_MSG_MAX];
	size_t n = hex2bin(hex, f, sizeof(f)), ct, wn;
	struct tp_msg m;
	uint64_t s = 0;

	hex2bin(key_hex, key, 32);
	assert_int_equal(f[0], 'T');
	assert_int_equal(f[3], TP_FRAME_SEALED);
	assert_int_equal(f[4] | f[5] << 8, n - 6);
	for (int i = 7; i >= 0; i--)
		s = s << 8 | f[6 + i];
	assert_int_equal(s, seq);
	ct = n - 6 - 8 - 16;
	assert_int_equal(
	    tp_aead_open(key, seq, f, 14, f + 14, ct, f + 14 + ct, pt), TP_OK);
	sample_msg(type, &m);
	assert_int_equal(tp_msg_encode(&m, want, sizeof(want), &wn), TP_OK);
	assert_int_equal(wn, ct);
	assert_memory_equal(pt, want, ct);
}

/*
 * The committed vectors on their own: the two handshake signatures verify
 * over transcript hashes computed here from the committed frames, the
 * committed keys open the committed frames, the record verifies.
 */
static void kat_independent(void **state)
{
	static const char label[] = "tapaid v1 handshake";
	uint8_t pub[65], hello[200], reply[200], auth[100], rec[TP_RECORD_MAX];
	uint8_t h[32], fk[32];
	char fkhex[65];
	size_t hn, rn, an, recn;
	struct tp_key *host, *kiosk;
	struct tp_sha256_ctx c;
	struct tp_record r, want;

	hex2bin(KAT_HOST_PUB, pub, 65);
	assert_int_equal(tp_key_from_public_raw(pub, &host), TP_OK);
	hex2bin(KAT_KIOSK_PUB, pub, 65);
	assert_int_equal(tp_key_from_public_raw(pub, &kiosk), TP_OK);
	hn = hex2bin(KAT_HELLO, hello, sizeof(hello));
	rn = hex2bin(KAT_HELLO_REPLY, reply, sizeof(reply));
	an = hex2bin(KAT_AUTH, auth, sizeof(auth));
	assert_int_equal(rn, 6 + 129);
	assert_int_equal(an, 6 + 64);

	/* T1 = H(label | HELLO | HELLO_REPLY minus its signature) */
	tp_sha256_start(&c);
	tp_sha256_update(&c, label, sizeof(label) - 1);
	tp_sha256_update(&c, hello, hn);
	tp_sha256_update(&c, reply, rn - 64);
	tp_sha256_finish(&c, h);
	assert_int_equal(tp_verify(host, h, reply + rn - 64), TP_OK);
	assert_int_equal(tp_verify(kiosk, h, reply + rn - 64),
			 TP_ERR_SIGNATURE);
	/* T2 = H(label | HELLO | HELLO_REPLY | AUTH header) */
	tp_sha256_start(&c);
	tp_sha256_update(&c, label, sizeof(label) - 1);
	tp_sha256_update(&c, hello, hn);
	tp_sha256_update(&c, reply, rn);
	tp_sha256_update(&c, auth, 6);
	tp_sha256_finish(&c, h);
	assert_int_equal(tp_verify(kiosk, h, auth + 6), TP_OK);

	open_raw(KAT_SEALED_TAP, KAT_KEY_K2H, 0, TP_MSG_TAP_REQUEST);
	open_raw(KAT_SEALED_DECISION, KAT_KEY_H2K, 0, TP_MSG_DECISION);
	open_raw(KAT_SEALED_STATUS, KAT_KEY_K2H, 1, TP_MSG_STATUS);
	kat_fixed_key(fk);
	tp_hex_encode(fk, 32, fkhex, 1);
	open_raw(KAT_FIXED_FRAME, fkhex, KAT_FIXED_SEQ, TP_MSG_STATUS_ACK);

	recn = hex2bin(KAT_RECORD, rec, sizeof(rec));
	assert_int_equal(tp_record_decode_verify(rec, recn, kiosk, &r), TP_OK);
	sample_record(&want, 1);
	memcpy(want.sig, rec + recn - 64, 64);
	assert_memory_equal(&r, &want, sizeof(r));
	assert_int_equal(tp_record_decode_verify(rec, recn, host, &r),
			 TP_ERR_SIGNATURE);
	tp_key_free(host);
	tp_key_free(kiosk);
}

/* --- a working session --- */

static void session_roundtrip(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX];
	struct tp_msg m, want;
	size_t n, rn;

	pair_connect(&p, "roundtrip");
	for (int i = 0; i < 3; i++) {
		for (size_t t = 0; t < N_SAMPLE_TYPES; t++) {
			uint8_t type = sample_types[t];
			int from_kiosk = type == TP_MSG_TAP_REQUEST ||
					 type == TP_MSG_STATUS ||
					 type == TP_MSG_RECORD ||
					 type == TP_MSG_ERROR;
			int from_host = !from_kiosk || type == TP_MSG_ERROR;

			if (type == TP_MSG_BYE)
				continue;
			if (from_kiosk) {
				seal(&p.ks, type, f, &n);
				assert_int_equal(tp_session_recv(&p.hs, f, n,
								 &m, NULL, 0,
								 &rn),
						 TP_OK);
				sample_msg(type, &want);
				assert_memory_equal(&m, &want, sizeof(m));
			}
			if (from_host) {
				seal(&p.hs, type, f, &n);
				assert_int_equal(tp_session_recv(&p.ks, f, n,
								 &m, NULL, 0,
								 &rn),
						 TP_OK);
				sample_msg(type, &want);
				assert_memory_equal(&m, &want, sizeof(m));
			}
		}
	}
	assert_int_equal(p.ks.tx_seq, p.hs.rx_seq);
	assert_int_equal(p.hs.tx_seq, p.ks.rx_seq);
	/* BYE closes both ends and wipes their keys. */
	seal(&p.ks, TP_MSG_BYE, f, &n);
	assert_int_equal(p.ks.state, TP_SS_CLOSED);
	assert_true(all_zero(p.ks.tx_key, 32));
	assert_int_equal(tp_session_recv(&p.hs, f, n, &m, NULL, 0, &rn), TP_OK);
	assert_int_equal(m.type, TP_MSG_BYE);
	assert_int_equal(p.hs.state, TP_SS_CLOSED);
	assert_true(all_zero(p.hs.rx_key, 32) && all_zero(p.hs.tx_key, 32));
	assert_int_equal(tp_session_recv(&p.hs, f, n, &m, NULL, 0, &rn),
			 TP_ERR_STATE);
	tp_session_clear(&p.ks);
	tp_session_clear(&p.hs);
	assert_true(all_zero(&p.hs, sizeof(p.hs)));
}

/* --- handshake rejections --- */

static void hs_unknown_kiosk(void **state)
{
	struct pair p;
	struct tp_msg m;
	uint8_t out[TP_FRAME_MAX];
	size_t n;

	pair_init(&p, "unknown kiosk");
	assert_int_equal(
	    tp_session_init_kiosk(&p.ks, p.kiosk, p.host, "K-9999"), TP_OK);
	assert_int_equal(
	    tp_session_start(&p.ks, p.hello, sizeof(p.hello), &p.hello_n),
	    TP_OK);
	assert_int_equal(tp_session_recv(&p.hs, p.hello, p.hello_n, &m, p.reply,
					 sizeof(p.reply), &p.reply_n),
			 TP_ERR_UNKNOWN_PEER);
	assert_failed(&p.hs, &m, TP_ERR_UNKNOWN_PEER);
	assert_null(tp_session_peer_key(&p.hs));
	/* The host's refusal: a plaintext ERROR naming the reason. */
	assert_true(p.reply_n > 0);
	assert_int_equal(p.reply[3], TP_FRAME_ERROR);
	assert_int_equal(tp_session_recv(&p.ks, p.reply, p.reply_n, &m, out,
					 sizeof(out), &n),
			 TP_ERR_REFUSED);
	assert_int_equal(tp_session_peer_error(&p.ks), -TP_ERR_UNKNOWN_PEER);
	assert_failed(&p.ks, &m, TP_ERR_REFUSED);
}

/* The kiosk id is enrolled, but AUTH is signed by another key. */
static void hs_wrong_kiosk_key(void **state)
{
	struct pair p;
	struct tp_msg m;
	size_t n;

	pair_init(&p, "wrong kiosk key");
	assert_int_equal(
	    tp_session_init_kiosk(&p.ks, p.other, p.host, KAT_KIOSK_ID), TP_OK);
	tp_session_start(&p.ks, p.hello, sizeof(p.hello), &p.hello_n);
	assert_int_equal(tp_session_recv(&p.hs, p.hello, p.hello_n, &m, p.reply,
					 sizeof(p.reply), &p.reply_n),
			 TP_OK);
	assert_int_equal(tp_session_recv(&p.ks, p.reply, p.reply_n, &m, p.auth,
					 sizeof(p.auth), &p.auth_n),
			 TP_OK);
	recv_expect(&p.hs, p.auth, p.auth_n, TP_ERR_SIGNATURE);
	(void)n;
}

/* The kiosk pins a host key that did not sign HELLO_REPLY (a MITM). */
static void hs_wrong_host_key(void **state)
{
	struct pair p;
	struct tp_msg m;

	pair_init(&p, "wrong host key");
	assert_int_equal(
	    tp_session_init_kiosk(&p.ks, p.kiosk, p.other, KAT_KIOSK_ID),
	    TP_OK);
	tp_session_start(&p.ks, p.hello, sizeof(p.hello), &p.hello_n);
	assert_int_equal(tp_session_recv(&p.hs, p.hello, p.hello_n, &m, p.reply,
					 sizeof(p.reply), &p.reply_n),
			 TP_OK);
	recv_expect(&p.ks, p.reply, p.reply_n, TP_ERR_SIGNATURE);
}

static void hs_no_common_version(void **state)
{
	struct pair p;
	struct tp_msg m;

	pair_init(&p, "version");
	tp_session_start(&p.ks, p.hello, sizeof(p.hello), &p.hello_n);
	p.hello[6] = 2; /* version_min */
	p.hello[7] = 3; /* version_max */
	assert_int_equal(tp_session_recv(&p.hs, p.hello, p.hello_n, &m, p.reply,
					 sizeof(p.reply), &p.reply_n),
			 TP_ERR_VERSION);
	assert_failed(&p.hs, &m, TP_ERR_VERSION);
	assert_int_equal(p.reply[3], TP_FRAME_ERROR);
	/* min > max is malformed, not a negotiation */
	pair_init(&p, "version");
	tp_session_start(&p.ks, p.hello, sizeof(p.hello), &p.hello_n);
	p.hello[6] = 2;
	p.hello[7] = 1;
	recv_expect(&p.hs, p.hello, p.hello_n, TP_ERR_VALUE);
	/* a HELLO frame header in version 2 */
	pair_init(&p, "version");
	tp_session_start(&p.ks, p.hello, sizeof(p.hello), &p.hello_n);
	p.hello[2] = 2;
	recv_expect(&p.hs, p.hello, p.hello_n, TP_ERR_VERSION);
}

/* Every byte of HELLO_REPLY altered: the kiosk never gets established. */
static void hs_reply_altered(void **state)
{
	struct pair p;
	uint8_t reply[TP_FRAME_MAX];
	size_t rn;

	pair_init(&p, "reply altered");
	tp_session_start(&p.ks, p.hello, sizeof(p.hello), &p.hello_n);
	{
		struct tp_msg m;

		assert_int_equal(tp_session_recv(&p.hs, p.hello, p.hello_n, &m,
						 reply, sizeof(reply), &rn),
				 TP_OK);
	}
	for (size_t i = 0; i < rn; i++) {
		struct tp_session ks;
		struct tp_msg m;
		uint8_t out[TP_FRAME_MAX];
		size_t on = 1;
		int rc;

		/* the same kiosk state each time (the session is plain data) */
		pair_init(&p, "reply altered");
		tp_session_start(&p.ks, p.hello, sizeof(p.hello), &p.hello_n);
		ks = p.ks;
		reply[i] ^= 0x20;
		rc = tp_session_recv(&ks, reply, rn, &m, out, sizeof(out), &on);
		reply[i] ^= 0x20;
		assert_true(rc < 0);
		assert_int_equal(on, 0);
		assert_failed(&ks, &m, rc);
	}
}

/* Every byte of AUTH altered: the host never gets established. */
static void hs_auth_altered(void **state)
{
	struct pair p;

	pair_connect(&p, "auth altered");
	for (size_t i = 0; i < p.auth_n; i++) {
		struct pair q;
		struct tp_msg m;
		size_t on;
		int rc;

		pair_init(&q, "auth altered");
		tp_session_start(&q.ks, q.hello, sizeof(q.hello), &q.hello_n);
		assert_int_equal(tp_session_recv(&q.hs, q.hello, q.hello_n, &m,
						 q.reply, sizeof(q.reply),
						 &q.reply_n),
				 TP_OK);
		p.auth[i] ^= 0x04;
		rc = tp_session_recv(&q.hs, p.auth, p.auth_n, &m, NULL, 0, &on);
		p.auth[i] ^= 0x04;
		assert_true(rc < 0);
		assert_failed(&q.hs, &m, rc);
	}
}

/* Frames out of handshake order, and sealed frames before keys exist. */
static void hs_wrong_state(void **state)
{
	struct pair p, q;
	uint8_t f[TP_FRAME_MAX];
	size_t n;

	pair_connect(&p, "state");
	seal(&p.ks, TP_MSG_STATUS, f, &n);

	pair_init(&q, "state");
	recv_expect(&q.hs, p.auth, p.auth_n, TP_ERR_STATE); /* AUTH first */
	pair_init(&q, "state");
	recv_expect(&q.hs, p.reply, p.reply_n, TP_ERR_STATE); /* a REPLY */
	pair_init(&q, "state");
	recv_expect(&q.hs, f, n, TP_ERR_STATE); /* sealed before HELLO */
	pair_init(&q, "state");
	recv_expect(&q.ks, p.reply, p.reply_n, TP_ERR_STATE); /* not started */
	pair_init(&q, "state");
	tp_session_start(&q.ks, q.hello, sizeof(q.hello), &q.hello_n);
	recv_expect(&q.ks, q.hello, q.hello_n, TP_ERR_STATE); /* own HELLO */
	/* a kiosk cannot start twice, a host cannot start at all */
	pair_init(&q, "state");
	tp_session_start(&q.ks, q.hello, sizeof(q.hello), &q.hello_n);
	assert_int_equal(
	    tp_session_start(&q.ks, q.hello, sizeof(q.hello), &q.hello_n),
	    TP_ERR_STATE);
	assert_int_equal(
	    tp_session_start(&q.hs, q.hello, sizeof(q.hello), &q.hello_n),
	    TP_ERR_STATE);
	/* a second HELLO on an established session */
	recv_expect(&p.hs, p.hello, p.hello_n, TP_ERR_STATE);
	/* a plaintext ERROR on an established session is not accepted */
	{
		static const uint8_t pe[] = {0x54, 0x50, 1, 4, 3, 0, 14, 0, 0};

		recv_expect(&p.ks, pe, sizeof(pe), TP_ERR_STATE);
	}
}

/* --- sealed-frame rejections --- */

static void sealed_forged(void **state)
{
	struct pair p;
	uint8_t f[200];

	pair_connect(&p, "forged");
	memset(f, 0, sizeof(f));
	f[0] = 0x54, f[1] = 0x50, f[2] = 1, f[3] = TP_FRAME_SEALED;
	f[4] = 100;
	for (int i = 14; i < 106; i++)
		f[i] = (uint8_t)(i * 13);
	recv_expect(&p.hs, f, 106, TP_ERR_MAC);
}

/* Every bit of a sealed frame flipped, each on a clone of the host. */
static void sealed_altered_every_bit(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX];
	size_t n;

	pair_connect(&p, "altered");
	seal(&p.ks, TP_MSG_TAP_REQUEST, f, &n);
	for (size_t i = 0; i < n * 8; i++) {
		struct tp_session hs = p.hs;
		struct tp_msg m;
		size_t on;
		int rc;

		f[i / 8] ^= (uint8_t)(1 << (i % 8));
		rc = tp_session_recv(&hs, f, n, &m, NULL, 0, &on);
		f[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_true(rc < 0);
		assert_failed(&hs, &m, rc);
	}
	recv_expect(&p.hs, f, n, TP_OK);
}

static void sealed_replayed(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX];
	size_t n;

	pair_connect(&p, "replayed");
	seal(&p.ks, TP_MSG_STATUS, f, &n);
	recv_expect(&p.hs, f, n, TP_OK);
	recv_expect(&p.hs, f, n, TP_ERR_REPLAY);
}

static void sealed_reordered(void **state)
{
	struct pair p;
	uint8_t f0[TP_FRAME_MAX], f1[TP_FRAME_MAX];
	size_t n0, n1;

	pair_connect(&p, "reordered");
	seal(&p.ks, TP_MSG_STATUS, f0, &n0);
	seal(&p.ks, TP_MSG_TAP_REQUEST, f1, &n1);
	recv_expect(&p.hs, f1, n1, TP_ERR_REPLAY);
}

/* Frames taken from another session (same keys pinned, new ephemerals). */
static void sealed_cross_session(void **state)
{
	struct pair p, q;
	uint8_t f[TP_FRAME_MAX];
	size_t n;

	pair_connect(&p, "session one");
	pair_connect(&q, "session two");
	seal(&p.ks, TP_MSG_STATUS, f, &n);
	recv_expect(&q.hs, f, n, TP_ERR_MAC);
}

/* A kiosk's frame reflected back to it: the other direction's key. */
static void sealed_reflected(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX];
	size_t n;

	pair_connect(&p, "reflected");
	seal(&p.ks, TP_MSG_STATUS, f, &n);
	recv_expect(&p.ks, f, n, TP_ERR_MAC);
}

static void sealed_truncated(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX];
	size_t n;

	pair_connect(&p, "truncated");
	seal(&p.ks, TP_MSG_TAP_REQUEST, f, &n);
	{
		struct tp_session hs = p.hs;

		recv_expect(&hs, f, n - 1, TP_ERR_LENGTH);
	}
	/* the length field shortened to match: the tag no longer fits */
	f[4] = (uint8_t)(f[4] - 1);
	recv_expect(&p.hs, f, n - 1, TP_ERR_MAC);
}

static void sealed_oversized(void **state)
{
	struct pair p;
	static uint8_t f[TP_FRAME_MAX + 16];
	size_t n = TP_FRAME_MAX + 1;

	pair_connect(&p, "oversized");
	f[0] = 0x54, f[1] = 0x50, f[2] = 1, f[3] = TP_FRAME_SEALED;
	f[4] = (uint8_t)(n - 6), f[5] = (uint8_t)((n - 6) >> 8);
	assert_int_equal(tp_frame_split(f, 6, &n), TP_ERR_TOO_BIG);
	recv_expect(&p.hs, f, TP_FRAME_MAX + 1, TP_ERR_TOO_BIG);
}

static void sealed_unknown_frame_type_version(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX];
	size_t n;

	pair_connect(&p, "types");
	seal(&p.ks, TP_MSG_STATUS, f, &n);
	{
		struct tp_session hs = p.hs;

		f[3] = 0x09;
		recv_expect(&hs, f, n, TP_ERR_TYPE);
		f[3] = TP_FRAME_SEALED;
	}
	f[2] = 2;
	recv_expect(&p.hs, f, n, TP_ERR_VERSION);
}

/* A sealed, authentic frame whose message type is unknown. */
static void sealed_unknown_msg_type(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX], pt[8] = {0x55, 1, 2, 3};
	size_t n;

	pair_connect(&p, "msg type");
	assert_int_equal(
	    tp_frame_seal(p.ks.tx_key, 1, 0, pt, sizeof(pt), f, sizeof(f), &n),
	    TP_OK);
	recv_expect(&p.hs, f, n, TP_ERR_TYPE);
}

/* A sealed, authentic message of a kind this side never receives. */
static void sealed_wrong_direction(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX], pt[TP_MSG_MAX];
	struct tp_msg m;
	size_t n, pn;

	pair_connect(&p, "direction");
	/* A DECISION from the kiosk, sealed with the right key. */
	sample_msg(TP_MSG_DECISION, &m);
	assert_int_equal(tp_session_seal(&p.ks, &m, f, sizeof(f), &n),
			 TP_ERR_STATE); /* the API refuses to send it */
	assert_true(tp_session_established(&p.ks)); /* and stays usable */
	tp_msg_encode(&m, pt, sizeof(pt), &pn);
	assert_int_equal(
	    tp_frame_seal(p.ks.tx_key, 1, 0, pt, pn, f, sizeof(f), &n), TP_OK);
	recv_expect(&p.hs, f, n, TP_ERR_STATE);
	/* A TAP_REQUEST from the host. */
	sample_msg(TP_MSG_TAP_REQUEST, &m);
	tp_msg_encode(&m, pt, sizeof(pt), &pn);
	assert_int_equal(
	    tp_frame_seal(p.ks.rx_key, 1, 0, pt, pn, f, sizeof(f), &n), TP_OK);
	recv_expect(&p.ks, f, n, TP_ERR_STATE);
}

/* An authentic frame carrying a malformed message (bad length/value). */
static void sealed_bad_body(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX], pt[TP_MSG_MAX];
	struct tp_msg m;
	size_t n, pn;

	pair_connect(&p, "bad body");
	sample_msg(TP_MSG_STATUS, &m);
	tp_msg_encode(&m, pt, sizeof(pt), &pn);
	pt[1] = 9; /* reader state */
	tp_frame_seal(p.ks.tx_key, 1, 0, pt, pn, f, sizeof(f), &n);
	{
		struct tp_session hs = p.hs;

		recv_expect(&hs, f, n, TP_ERR_VALUE);
	}
	pt[1] = 0;
	tp_frame_seal(p.ks.tx_key, 1, 0, pt, pn - 1, f, sizeof(f), &n);
	recv_expect(&p.hs, f, n, TP_ERR_LENGTH);
}

/* --- sequence numbers at the session: a numbered table --- */

static void session_seq_table(void **state)
{
	/*
	 * The kiosk seals frames 0..4; each row delivers some of them to a
	 * fresh clone of the host, in order; the last delivery's result is
	 * checked, every earlier one must be TP_OK.
	 */
	static const struct {
		int n;
		int order[6];
		int len;
		int rc;
	} t[] = {
	    {1, {0}, 1, TP_OK},
	    {2, {0, 1, 2, 3, 4}, 5, TP_OK},
	    {3, {1}, 1, TP_ERR_REPLAY},	      /* first one lost */
	    {4, {0, 0}, 2, TP_ERR_REPLAY},    /* replayed at once */
	    {5, {0, 1, 0}, 3, TP_ERR_REPLAY}, /* replayed later */
	    {6, {0, 2}, 2, TP_ERR_REPLAY},    /* one skipped */
	    {7, {0, 1, 3}, 3, TP_ERR_REPLAY}, /* one skipped later */
	    {8, {0, 1, 2, 4}, 4, TP_ERR_REPLAY},
	    {9, {4}, 1, TP_ERR_REPLAY}, /* far ahead */
	    {10, {0, 1, 2, 3, 4, 4}, 6, TP_ERR_REPLAY},
	    {11, {0, 1, 2, 3, 4, 0}, 6, TP_ERR_REPLAY},
	};
	struct pair p;
	uint8_t f[5][TP_FRAME_MAX];
	size_t fn[5];

	pair_connect(&p, "seq table");
	for (int i = 0; i < 5; i++)
		seal(&p.ks, TP_MSG_STATUS, f[i], &fn[i]);
	for (size_t r = 0; r < sizeof(t) / sizeof(t[0]); r++) {
		struct tp_session hs = p.hs;
		struct tp_msg m;
		size_t on;
		int rc = 0;

		for (int k = 0; k < t[r].len; k++) {
			int j = t[r].order[k];

			rc =
			    tp_session_recv(&hs, f[j], fn[j], &m, NULL, 0, &on);
			if (k < t[r].len - 1 && rc != TP_OK)
				break;
		}
		if (rc != t[r].rc) {
			print_error("row %d: rc %d want %d\n", t[r].n, rc,
				    t[r].rc);
			fail();
		}
		if (rc)
			assert_failed(&hs, &m, rc);
	}
}

/* The sequence space ends: the last number works, the next is refused. */
static void session_seq_limit(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX];
	struct tp_msg m;
	size_t n;

	pair_connect(&p, "seq limit");
	p.ks.tx_seq = TP_SEQ_LIMIT - 1; /* white box: skip 2^48 frames */
	p.hs.rx_seq = TP_SEQ_LIMIT - 1;
	seal(&p.ks, TP_MSG_STATUS, f, &n);
	recv_expect(&p.hs, f, n, TP_OK);
	sample_msg(TP_MSG_STATUS, &m);
	assert_int_equal(tp_session_seal(&p.ks, &m, f, sizeof(f), &n),
			 TP_ERR_COUNTER);
	assert_failed(&p.ks, &(struct tp_msg){0}, TP_ERR_COUNTER);
	/* a frame numbered at the limit is refused by the receiver too */
	tp_frame_seal(p.hs.rx_key, 1, TP_SEQ_LIMIT - 1, (uint8_t[]){0x7f}, 1, f,
		      sizeof(f), &n);
	recv_expect(&p.hs, f, n, TP_ERR_COUNTER);
}

/* Misuse that must not break a session: small buffers, bad messages. */
static void seal_misuse_keeps_session(void **state)
{
	struct pair p;
	uint8_t f[TP_FRAME_MAX];
	struct tp_msg m;
	size_t n;

	pair_connect(&p, "misuse");
	sample_msg(TP_MSG_TAP_REQUEST, &m);
	assert_int_equal(tp_session_seal(&p.ks, &m, f, 20, &n), TP_ERR_ARG);
	strcpy(m.u.tap.benefit, "no spaces");
	assert_int_equal(tp_session_seal(&p.ks, &m, f, sizeof(f), &n),
			 TP_ERR_VALUE);
	assert_int_equal(p.ks.tx_seq, 0);
	seal(&p.ks, TP_MSG_STATUS, f, &n);
	recv_expect(&p.hs, f, n, TP_OK);
	/* init refuses bad arguments */
	assert_int_equal(tp_session_init_kiosk(&p.ks, p.kiosk, p.host, ""),
			 TP_ERR_ARG);
	assert_int_equal(
	    tp_session_init_kiosk(&p.ks, p.kiosk, p.host, "has space"),
	    TP_ERR_ARG);
	assert_int_equal(tp_session_init_host(&p.hs, p.host, NULL, NULL),
			 TP_ERR_ARG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kat_reproduced),
	    cmocka_unit_test(kat_independent),
	    cmocka_unit_test(session_roundtrip),
	    cmocka_unit_test(hs_unknown_kiosk),
	    cmocka_unit_test(hs_wrong_kiosk_key),
	    cmocka_unit_test(hs_wrong_host_key),
	    cmocka_unit_test(hs_no_common_version),
	    cmocka_unit_test(hs_reply_altered),
	    cmocka_unit_test(hs_auth_altered),
	    cmocka_unit_test(hs_wrong_state),
	    cmocka_unit_test(sealed_forged),
	    cmocka_unit_test(sealed_altered_every_bit),
	    cmocka_unit_test(sealed_replayed),
	    cmocka_unit_test(sealed_reordered),
	    cmocka_unit_test(sealed_cross_session),
	    cmocka_unit_test(sealed_reflected),
	    cmocka_unit_test(sealed_truncated),
	    cmocka_unit_test(sealed_oversized),
	    cmocka_unit_test(sealed_unknown_frame_type_version),
	    cmocka_unit_test(sealed_unknown_msg_type),
	    cmocka_unit_test(sealed_wrong_direction),
	    cmocka_unit_test(sealed_bad_body),
	    cmocka_unit_test(session_seq_table),
	    cmocka_unit_test(session_seq_limit),
	    cmocka_unit_test(seal_misuse_keeps_session),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
