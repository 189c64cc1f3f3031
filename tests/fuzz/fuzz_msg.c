/*
 * fuzz_msg.c - libFuzzer target for tp_msg_decode (every message type) and
 * the handshake body decoders.
 *
 * Invariants checked beyond "no crash": a message that decodes re-encodes
 * to exactly the input (the encoding is canonical), every string is
 * NUL-terminated within its bound, and a failed decode leaves TP_MSG_NONE.
 */
#include <stdlib.h>
#include <string.h>

#include "tapaid/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_str(const char *s, size_t max)
{
	if (strnlen(s, max + 1) > max)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[TP_MSG_MAX];
	struct tp_msg m;
	size_t n;
	int rc;

	rc = tp_msg_decode(data, size, &m);
	if (rc != TP_OK) {
		if (m.type != TP_MSG_NONE)
			abort();
	} else {
		switch (m.type) {
		case TP_MSG_TAP_REQUEST:
			check_str(m.u.tap.benefit, TP_BENEFIT_MAX);
			check_str(m.u.tap.sun, TP_SUN_MAX);
			break;
		case TP_MSG_DECISION:
			check_str(m.u.decision.name, TP_NAME_MAX);
			if ((m.u.decision.reason == TP_REASON_GRANTED) !=
			    (m.u.decision.result == TP_RESULT_GRANTED))
				abort();
			break;
		case TP_MSG_DENYLIST:
			if (m.u.deny.n > TP_DENY_CHUNK_MAX)
				abort();
			break;
		}
		if (tp_msg_encode(&m, out, sizeof(out), &n) != TP_OK ||
		    n != size || memcmp(out, data, size) != 0)
			abort();
	}

	/* The same bytes as handshake bodies. */
	{
		struct tp_hello h;
		struct tp_hello_reply r;
		struct tp_auth a;
		struct tp_plain_error e;

		if (tp_hello_decode(data, size, &h) == TP_OK) {
			check_str(h.kiosk_id, TP_KIOSK_ID_MAX);
			if (size < TP_HELLO_MIN || size > TP_HELLO_MAX)
				abort();
		}
		if (tp_hello_reply_decode(data, size, &r) == TP_OK &&
		    size != TP_HELLO_REPLY_LEN)
			abort();
		if (tp_auth_decode(data, size, &a) == TP_OK &&
		    size != TP_AUTH_LEN)
			abort();
		if (tp_plain_error_decode(data, size, &e) == TP_OK)
			check_str(e.text, TP_ERROR_TEXT_MAX);
	}
	return 0;
}
