/*
 * fuzz_handshake.c - libFuzzer target for the session receive path.
 *
 * The input is a byte stream of frames fed to two sessions: a host (which
 * knows kiosk "K-0001" by the committed KAT key) and a kiosk that has sent
 * its HELLO.  Whatever the input, neither may become established (the
 * attacker holds neither private key and the ephemerals are fresh), and
 * no application message may come out.
 */
#include <stdlib.h>
#include <string.h>

#include "tapaid/proto.h"
#include "../vectors/proto_vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tp_key *host_key, *kiosk_key, *kiosk_pub, *pinned;
/* A kiosk that has sent its HELLO, copied for each input (a session is
 * plain data), so the fuzzer does not pay an X25519 key pair per run. */
static struct tp_session kiosk_template;

static int lookup(void *ctx, const char *id, const struct tp_key **pub)
{
	if (strcmp(id, "K-0001") != 0)
		return TP_ERR_UNKNOWN_PEER;
	*pub = kiosk_pub;
	return 0;
}

static void setup(void)
{
	uint8_t raw[65];

	if (host_key)
		return;
	if (tp_key_generate(&host_key) || tp_key_generate(&kiosk_key) ||
	    tp_hex_decode(KAT_KIOSK_PUB, strlen(KAT_KIOSK_PUB), raw, 65) ||
	    tp_key_from_public_raw(raw, &kiosk_pub) ||
	    tp_hex_decode(KAT_HOST_PUB, strlen(KAT_HOST_PUB), raw, 65) ||
	    tp_key_from_public_raw(raw, &pinned))
		abort();
	{
		uint8_t hello[TP_FRAME_MAX];
		size_t n;

		/* the kiosk pins the KAT host key: nobody here can sign */
		if (tp_session_init_kiosk(&kiosk_template, kiosk_key, pinned,
					  "K-0001") ||
		    tp_session_start(&kiosk_template, hello, sizeof(hello), &n))
			abort();
	}
}

static void feed(struct tp_session *s, const uint8_t *data, size_t size)
{
	static uint8_t reply[TP_FRAME_MAX];
	size_t off = 0, fl, rl;
	struct tp_msg m;

	while (off < size) {
		int rc = tp_frame_split(data + off, size - off, &fl);

		if (rc != TP_OK)
			break;
		rc = tp_session_recv(s, data + off, fl, &m, reply,
				     sizeof(reply), &rl);
		if (rl > TP_FRAME_MAX)
			abort();
		if (m.type != TP_MSG_NONE || tp_session_established(s))
			abort();
		if (rc != TP_OK) {
			if (s->state != TP_SS_FAILED)
				abort();
			break;
		}
		off += fl;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tp_session s;

	setup();
	if (tp_session_init_host(&s, host_key, lookup, NULL))
		abort();
	feed(&s, data, size);
	tp_session_clear(&s);

	s = kiosk_template;
	feed(&s, data, size);
	tp_session_clear(&s);
	return 0;
}
