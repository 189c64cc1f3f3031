/*
 * bench_proto.c - protocol throughput beside the raw mbedTLS costs that
 * bound it, measured in the same run (DESIGN.md: quote medians and ratios;
 * the machine is shared and noisy).
 *
 *   frames sealed+opened/s   tp_session_seal + tp_session_recv of a
 *                            TAP_REQUEST (encode, AEAD, parse, open, decode,
 *                            accept), against raw ChaCha20-Poly1305
 *                            seal+open of the same plaintext size;
 *   handshakes/s             a whole handshake, both ends, and the host's
 *                            part alone, against the primitives it must
 *                            pay: ECDSA sign + verify + X25519 keypair +
 *                            shared secret (per side);
 *   records verified/s       tp_record_decode_verify against one verify.
 *
 * Each figure is the median of 5 rounds of about 0.2 s, the rounds of all
 * figures interleaved (see run_all); the host-side handshake figure is the
 * mean over its rounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tapaid/proto.h"
#include "../unit/test_proto_samples.h"

#define ROUNDS	 5
#define ROUND_NS 200000000.0

static struct tp_key *host_key, *kiosk_key;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_proto: %s: %s\n", what, tp_strerror(rc));
	exit(1);
}

/*
 * The benchmarks run round-robin: round 1 of every figure, then round 2,
 * and so on, so that a figure and its floor see the same load on this
 * shared machine.  Each reports the median of its rounds.
 */
struct bench {
	void (*fn)(void *);
	void *ctx;
	double r[ROUNDS];
	double median;
};

static void run_all(struct bench *b, int n)
{
	for (int round = 0; round < ROUNDS; round++)
		for (int i = 0; i < n; i++) {
			double t0 = now(), t;
			long k = 0;

			do {
				b[i].fn(b[i].ctx);
				k++;
				t = now() - t0;
			} while (t < ROUND_NS);
			b[i].r[round] = k / (t / 1e9);
		}
	for (int i = 0; i < n; i++) {
		qsort(b[i].r, ROUNDS, sizeof(b[i].r[0]), cmp_d);
		b[i].median = b[i].r[ROUNDS / 2];
	}
}

static int lookup(void *ctx, const char *id, const struct tp_key **pub)
{
	*pub = kiosk_key;
	return 0;
}

/* --- frames --- */

struct frames {
	struct tp_session ks, hs;
	struct tp_msg m;
	size_t pt_len;
};

static void connect_pair(struct tp_session *ks, struct tp_session *hs)
{
	uint8_t a[TP_FRAME_MAX], b[TP_FRAME_MAX];
	struct tp_msg m;
	size_t an, bn;
	int rc;

	if ((rc = tp_session_init_kiosk(ks, kiosk_key, host_key, "K-bench")) ||
	    (rc = tp_session_init_host(hs, host_key, lookup, NULL)) ||
	    (rc = tp_session_start(ks, a, sizeof(a), &an)) ||
	    (rc = tp_session_recv(hs, a, an, &m, b, sizeof(b), &bn)) ||
	    (rc = tp_session_recv(ks, b, bn, &m, a, sizeof(a), &an)) ||
	    (rc = tp_session_recv(hs, a, an, &m, b, sizeof(b), &bn)))
		die("handshake", rc);
}

static void one_frame(void *ctx)
{
	struct frames *f = ctx;
	uint8_t buf[TP_FRAME_MAX];
	struct tp_msg got;
	size_t n, rn;
	int rc;

	if ((rc = tp_session_seal(&f->ks, &f->m, buf, sizeof(buf), &n)) ||
	    (rc = tp_session_recv(&f->hs, buf, n, &got, NULL, 0, &rn)))
		die("frame", rc);
}

struct raw_aead {
	uint8_t key[32], pt[TP_MSG_MAX], ct[TP_MSG_MAX], out[TP_MSG_MAX];
	uint8_t ad[14], tag[16];
	size_t len;
	uint64_t seq;
};

static void one_raw_aead(void *ctx)
{
	struct raw_aead *r = ctx;
	int rc;

	if ((rc = tp_aead_seal(r->key, r->seq, r->ad, 14, r->pt, r->len, r->ct,
			       r->tag)) ||
	    (rc = tp_aead_open(r->key, r->seq, r->ad, 14, r->ct, r->len, r->tag,
			       r->out)))
		die("aead", rc);
	r->seq++;
}

/* --- handshakes --- */

static void one_handshake(void *ctx)
{
	struct tp_session ks, hs;

	connect_pair(&ks, &hs);
	tp_session_clear(&ks);
	tp_session_clear(&hs);
}

/* The host's part alone, over a HELLO and AUTH made beforehand: the AUTH
 * cannot be reused across sessions, so the kiosk's side runs untimed. */
struct host_hs {
	double host_ns;
	long n;
};

static void one_host_handshake(void *ctx)
{
	struct host_hs *h = ctx;
	struct tp_session ks, hs;
	uint8_t a[TP_FRAME_MAX], b[TP_FRAME_MAX], c[TP_FRAME_MAX];
	struct tp_msg m;
	size_t an, bn, cn;
	double t0, t1, t2;
	int rc;

	if ((rc = tp_session_init_kiosk(&ks, kiosk_key, host_key, "K-bench")) ||
	    (rc = tp_session_init_host(&hs, host_key, lookup, NULL)) ||
	    (rc = tp_session_start(&ks, a, sizeof(a), &an)))
		die("start", rc);
	t0 = now();
	rc = tp_session_recv(&hs, a, an, &m, b, sizeof(b), &bn);
	t1 = now();
	if (rc || (rc = tp_session_recv(&ks, b, bn, &m, c, sizeof(c), &cn)))
		die("reply", rc);
	t2 = now();
	if ((rc = tp_session_recv(&hs, c, cn, &m, NULL, 0, &bn)))
		die("auth", rc);
	h->host_ns += (t1 - t0) + (now() - t2);
	h->n++;
	tp_session_clear(&ks);
	tp_session_clear(&hs);
}

static uint8_t digest[32], sig[64], xpriv[32], xpub[32], xpeer[32];

static void one_sign(void *ctx)
{
	int rc = tp_sign(host_key, digest, sig);

	if (rc)
		die("sign", rc);
}

static void one_verify(void *ctx)
{
	int rc = tp_verify(host_key, digest, sig);

	if (rc)
		die("verify", rc);
}

static void one_x25519(void *ctx)
{
	uint8_t sh[32];
	int rc;

	if ((rc = tp_x25519_keypair(xpriv, xpub)) ||
	    (rc = tp_x25519_shared(xpriv, xpeer, sh)))
		die("x25519", rc);
}

struct rec {
	uint8_t b[TP_RECORD_MAX];
	size_t n;
};

static void one_record(void *ctx)
{
	struct rec *r = ctx;
	struct tp_record out;
	int rc = tp_record_decode_verify(r->b, r->n, kiosk_key, &out);

	if (rc)
		die("record", rc);
}

int main(void)
{
	static struct frames f;
	static struct raw_aead ra;
	struct host_hs hh = {0, 0};
	struct tp_record r;
	struct rec rec;
	uint8_t pt[TP_MSG_MAX];
	double fr, aead, hs, host_hs, sign, verify, x, recs;
	int rc;

	if ((rc = tp_key_generate(&host_key)) ||
	    (rc = tp_key_generate(&kiosk_key)))
		die("keygen", rc);

	connect_pair(&f.ks, &f.hs);
	sample_msg(TP_MSG_TAP_REQUEST, &f.m);
	if ((rc = tp_msg_encode(&f.m, pt, sizeof(pt), &f.pt_len)))
		die("encode", rc);
	ra.len = f.pt_len;
	memcpy(ra.pt, pt, f.pt_len);
	tp_x25519_keypair(xpriv, xpeer);
	tp_sha256("bench", 5, digest);
	tp_sign(host_key, digest, sig);
	sample_record(&r, 1);
	if ((rc = tp_record_encode_signed(&r, kiosk_key, rec.b, sizeof(rec.b),
					  &rec.n)))
		die("record", rc);
	{
		struct bench b[] = {
		    {.fn = one_frame, .ctx = &f},
		    {.fn = one_raw_aead, .ctx = &ra},
		    {.fn = one_sign},
		    {.fn = one_verify},
		    {.fn = one_x25519},
		    {.fn = one_handshake},
		    {.fn = one_host_handshake, .ctx = &hh},
		    {.fn = one_record, .ctx = &rec},
		};

		run_all(b, sizeof(b) / sizeof(b[0]));
		fr = b[0].median;
		aead = b[1].median;
		sign = b[2].median;
		verify = b[3].median;
		x = b[4].median;
		hs = b[5].median;
		/* the host's share of each timed handshake, over all rounds */
		host_hs = hh.n / (hh.host_ns / 1e9);
		recs = b[7].median;
	}

	printf("bench_proto: TAP_REQUEST frame, %zu-byte plaintext, %zu bytes "
	       "on the wire\n",
	       f.pt_len, f.pt_len + TP_FRAME_HDR_LEN + TP_SEALED_OVERHEAD);
	printf("  frames sealed+opened/s  %10.0f   raw ChaCha20-Poly1305 "
	       "seal+open %10.0f/s   ratio %.2f\n",
	       fr, aead, fr / aead);
	printf("  raw primitives          ECDSA sign %.0f/s (%.0f us), verify "
	       "%.0f/s (%.0f us), X25519 keypair+shared %.0f/s (%.0f us)\n",
	       sign, 1e6 / sign, verify, 1e6 / verify, x, 1e6 / x);
	{
		double floor_side = 1.0 / (1.0 / sign + 1.0 / verify + 1.0 / x);

		printf("  handshakes/s, both ends %10.0f   floor (2 x [sign+"
		       "verify+x25519]) %10.0f/s   ratio %.2f\n",
		       hs, floor_side / 2, hs / (floor_side / 2));
		printf("  handshakes/s, host side %10.0f   floor (sign+verify+"
		       "x25519) %10.0f/s   ratio %.2f\n",
		       host_hs, floor_side, host_hs / floor_side);
	}
	printf("  records verified/s      %10.0f   raw ECDSA verify %10.0f/s   "
	       "ratio %.2f\n",
	       recs, verify, recs / verify);
	tp_session_clear(&f.ks);
	tp_session_clear(&f.hs);
	tp_key_free(host_key);
	tp_key_free(kiosk_key);
	return 0;
}
