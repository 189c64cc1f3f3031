/*
 * tapaid/proto_limits.h - every size, bound and timeout of the kiosk <-> host
 * protocol in one place (STYLE.md habit 2).
 *
 * Decoders check lengths against these values before they touch a field;
 * buffers in struct tp_msg and struct tp_session are sized by them.  The wire
 * format they describe is in protocol/PROTOCOL.md.  Changing any value that
 * appears on the wire is a protocol version bump.
 */
#ifndef TAPAID_PROTO_LIMITS_H
#define TAPAID_PROTO_LIMITS_H

#include <stdint.h>

enum {
	/* Protocol versions this build speaks (HELLO carries min/max). */
	TP_VERSION_MIN = 1,
	TP_VERSION_MAX = 1,

	/* Frame header: magic 'T' 'P', version, type, body length u16 LE. */
	TP_FRAME_HDR_LEN = 6,
	TP_FRAME_MAGIC0 = 0x54, /* 'T' */
	TP_FRAME_MAGIC1 = 0x50, /* 'P' */

	/* Field bounds (bytes; strings carry no NUL on the wire). */
	TP_KIOSK_ID_MAX = 32,	 /* 1..32 printable ASCII 0x21..0x7e */
	TP_BENEFIT_MAX = 16,	 /* 1..16 of [A-Za-z0-9_.-] */
	TP_SUN_MAX = 255,	 /* 1..255 printable ASCII: URL or query */
	TP_NAME_MAX = 64,	 /* 0..64 bytes of valid UTF-8 (masked name) */
	TP_FW_MAX = 32,		 /* 1..32 printable ASCII or space */
	TP_ERROR_TEXT_MAX = 128, /* 0..128 bytes of valid UTF-8 */
	TP_REQUEST_ID_LEN = 16,
	TP_LOOKUP_ID_LEN = 16,
	TP_RF_UID_LEN = 7,
	TP_NONCE_LEN = 32,
	TP_DENY_CHUNK_MAX = 64, /* card lookup ids per DENYLIST frame */

	/* Handshake bodies (exact lengths, see PROTOCOL.md). */
	TP_HELLO_MIN = 2 + 1 + 1 + 32 + 32,		  /* id of 1 byte */
	TP_HELLO_MAX = 2 + 1 + TP_KIOSK_ID_MAX + 32 + 32, /* 99 */
	TP_HELLO_REPLY_LEN = 1 + 32 + 32 + 64,		  /* 129 */
	TP_AUTH_LEN = 64,
	TP_PLAIN_ERROR_MAX = 2 + 1 + TP_ERROR_TEXT_MAX, /* 131 */

	/*
	 * Offline record: the signed bytes, signature included.  Layout:
	 * version, flags, id_len, id, seq u64, request_id, lookup id,
	 * benefit_len, benefit, kiosk_time u64, reason, sun_len, sun, sig.
	 */
	TP_RECORD_SIG_LEN = 64,
	TP_RECORD_FIXED =
	    1 + 1 + 1 + 8 + 16 + 16 + 1 + 8 + 1 + 1 + 64, /* 118 */
	TP_RECORD_MIN = TP_RECORD_FIXED + 1 + 1 + 1,	  /* 121 */
	TP_RECORD_MAX = TP_RECORD_FIXED + TP_KIOSK_ID_MAX + TP_BENEFIT_MAX +
			TP_SUN_MAX, /* 421 */

	/*
	 * Application messages: type byte + body.  The largest is DENYLIST:
	 * 1 + 4 + 2 + 2 + 1 + 64 * 16 = 1034.
	 */
	TP_MSG_MAX = 1 + 4 + 2 + 2 + 1 + TP_DENY_CHUNK_MAX * 16,

	/* Sealed frame body: seq u64 LE || ciphertext || tag. */
	TP_SEALED_OVERHEAD = 8 + 16,
	TP_SEALED_MIN = TP_SEALED_OVERHEAD + 1, /* at least the type byte */
	TP_SEALED_MAX = TP_SEALED_OVERHEAD + TP_MSG_MAX,

	/* The largest frame either side ever writes or accepts. */
	TP_FRAME_MAX = TP_FRAME_HDR_LEN + TP_SEALED_MAX, /* 1064 */
	/* The largest frame accepted before the handshake completes. */
	TP_FRAME_PREAUTH_MAX = TP_FRAME_HDR_LEN + TP_HELLO_REPLY_LEN,

	/*
	 * Sequence numbers: each direction starts at 0 and the receiver takes
	 * exactly the next one (a TCP stream never reorders).  A session that
	 * has sent TP_SEQ_LIMIT frames must be closed and opened again.
	 */
	TP_SEQ_WINDOW = 0, /* no out-of-order acceptance at all */

	/* Timeouts the I/O layers apply (the codec has no clock). */
	TP_HANDSHAKE_TIMEOUT_MS = 5000,
	TP_HEARTBEAT_MS = 10000,    /* kiosk sends STATUS at least this often */
	TP_IDLE_TIMEOUT_MS = 35000, /* host drops a session silent this long */
	TP_TAP_TIMEOUT_MS =
	    3000, /* kiosk gives up on a DECISION, goes offline */
};

#define TP_SEQ_LIMIT ((uint64_t)1 << 48)

#endif
