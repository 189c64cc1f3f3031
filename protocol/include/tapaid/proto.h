/*
 * tapaid/proto.h - the kiosk <-> host protocol: frames, messages, the signed
 * handshake, sealed sessions and signed offline records.
 *
 * The wire format is written down byte by byte in protocol/PROTOCOL.md; the
 * bounds are in tapaid/proto_limits.h.  Everything here is pure: bytes in,
 * struct out, no I/O, no clock, no allocation.  Crypto goes through
 * tapaid/crypto.h.  The receive path is split into stages that can each be
 * called (and fuzzed) alone, WireGuard style:
 *
 *   tp_frame_split()   find one frame in a stream buffer (need more/bad/ok)
 *   tp_frame_open()    check sequence number and AEAD tag, give plaintext
 *   tp_msg_decode()    check type and exact length, fill a struct tp_msg
 *   tp_session_recv()  all of the above plus handshake and state: the only
 *                      call that hands an application message to its caller
 *
 * A typical kiosk:
 *
 *   tp_session_init_kiosk(&s, kiosk_key, host_pub, "K-0001");
 *   tp_session_start(&s, out, sizeof out, &n);      send out[0..n) (HELLO)
 *   loop: read bytes into a buffer; while tp_frame_split(buf, len, &fl)
 *         == TP_OK: rc = tp_session_recv(&s, buf, fl, &msg, out, cap, &n);
 *         send out[0..n) if n > 0; if rc < 0 close the connection;
 *         else if msg.type != TP_MSG_NONE act on msg; drop fl bytes.
 *   tp_session_established(&s) turns 1 once HELLO_REPLY was verified and
 *   AUTH written; from then on tp_session_seal() makes frames to send.
 *
 * A host does the same with tp_session_init_host() and no start call: the
 * HELLO it receives yields HELLO_REPLY in the reply buffer, the AUTH it
 * receives establishes the session (no reply).
 *
 * Every error is final: after tp_session_recv or tp_session_seal returned a
 * negative code, the session's secrets are wiped and every later call
 * returns TP_ERR_STATE.  Close the connection.  (A plaintext ERROR frame may
 * be waiting in the reply buffer: send it before closing when *reply_len>0.)
 *
 * Memory: nothing is allocated.  struct tp_session and struct tp_msg are
 * plain structs the caller owns (stack, array, slab).  The tp_key pointers
 * given to tp_session_init_* and returned by the lookup callback are
 * borrowed: they must outlive the session; the session never frees them.
 */
#ifndef TAPAID_PROTO_H
#define TAPAID_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "tapaid/crypto.h"
#include "tapaid/err.h"
#include "tapaid/proto_limits.h"

/* --- reasons (proto_reason.c) --- */

/*
 * Why a tap was granted or denied: exactly the names of DESIGN.md, which are
 * also their spelling on the wire (as the number), in logs and in the kiosk's
 * event lines (as the name).  The numbers are frozen wire values.
 */
enum tp_reason {
	TP_REASON_GRANTED = 0,
	TP_REASON_UNKNOWN_CARD = 1,
	TP_REASON_REVOKED_CARD = 2,
	TP_REASON_REPLAYED_TAP = 3,
	TP_REASON_MEMBER_SUSPENDED = 4,
	TP_REASON_NOT_ELIGIBLE = 5,
	TP_REASON_QUOTA_USED_UP = 6,
	TP_REASON_WRONG_SERVICE_POINT = 7,
	TP_REASON_OUTSIDE_HOURS = 8,
	TP_REASON_KIOSK_NOT_ENROLLED = 9,
	TP_REASON_BAD_SIGNATURE = 10,
	TP_REASON_NOT_A_SERVICE_CARD = 11,
	TP_REASON_OFFLINE_LIMIT = 12,
	TP_REASON_HOST_UNAVAILABLE = 13,
	TP_REASON__COUNT = 14
};

/* "granted", "unknown_card", ...; NULL for a value outside the enum. */
const char *tp_reason_name(int reason);
/* The enum value for a name, or TP_ERR_VALUE when the name is unknown. */
int tp_reason_from_name(const char *name);

/* --- frames (proto_frame.c) --- */

/* Frame types: byte 3 of the frame header. */
enum tp_frame_type {
	TP_FRAME_HELLO = 0x01,	     /* kiosk -> host, plaintext */
	TP_FRAME_HELLO_REPLY = 0x02, /* host -> kiosk, plaintext, signed */
	TP_FRAME_AUTH = 0x03,	     /* kiosk -> host, plaintext, signed */
	TP_FRAME_ERROR = 0x04,	     /* either, plaintext, handshake only */
	TP_FRAME_SEALED = 0x05,	     /* either, AEAD, after the handshake */
};

struct tp_frame_hdr {
	uint8_t version; /* protocol version the frame is written in */
	uint8_t type;	 /* enum tp_frame_type */
	uint16_t body_len;
	const uint8_t *body; /* points into the caller's buffer */
};

/*
 * Finds the first frame in a stream buffer.  Checks magic, version, type and
 * the body length against that type's bounds as soon as the 6-byte header is
 * there, so an oversized or malformed frame is refused before its body is
 * waited for.
 *
 * @retval TP_OK            *frame_len = bytes of the first whole frame
 * @retval TP_ERR_NEED_MORE the buffer holds only part of a frame
 * @retval TP_ERR_FRAME     bad magic
 * @retval TP_ERR_VERSION   version outside TP_VERSION_MIN..TP_VERSION_MAX
 * @retval TP_ERR_TYPE      unknown frame type
 * @retval TP_ERR_TOO_BIG   body length over the type's maximum
 * @retval TP_ERR_LENGTH    body length under the type's minimum or not exact
 */
int tp_frame_split(const uint8_t *buf, size_t len, size_t *frame_len);

/*
 * Parses exactly one whole frame (len must equal its length, else
 * TP_ERR_LENGTH) into *h.  Same checks as tp_frame_split.
 */
int tp_frame_parse(const uint8_t *frame, size_t len, struct tp_frame_hdr *h);

/*
 * Seals pt (a message: type byte + body, 1..TP_MSG_MAX bytes) into one
 * SEALED frame under key with sequence number seq.  OUT: out[0..*out_len).
 * @retval TP_ERR_TOO_BIG  pt too long;  TP_ERR_ARG  cap too small
 * @retval TP_ERR_COUNTER  seq >= TP_SEQ_LIMIT
 */
int tp_frame_seal(const uint8_t key[static 32], uint8_t version, uint64_t seq,
		  const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap,
		  size_t *out_len);

/*
 * Opens one whole SEALED frame with key, accepting only sequence number
 * expect_seq (tp_seq_check).  OUT: pt[0..*pt_len), nothing on failure.
 * @retval TP_ERR_TYPE    not a SEALED frame
 * @retval TP_ERR_REPLAY  sequence number is not expect_seq
 * @retval TP_ERR_MAC     forged or altered (tag does not verify)
 */
int tp_frame_open(const uint8_t key[static 32], uint64_t expect_seq,
		  const uint8_t *frame, size_t len, uint8_t *pt, size_t cap,
		  size_t *pt_len);

/*
 * The receive rule for sequence numbers: TP_OK when got == expected,
 * TP_ERR_REPLAY when got < expected (replayed) or got > expected (skipped
 * or reordered), TP_ERR_COUNTER when expected >= TP_SEQ_LIMIT.
 */
int tp_seq_check(uint64_t expected, uint64_t got);

/* --- handshake bodies (proto_hs.c) --- */

struct tp_hello {
	uint8_t version_min, version_max;
	char kiosk_id[TP_KIOSK_ID_MAX + 1]; /* NUL-terminated */
	uint8_t eph_pub[TP_X25519_LEN];
	uint8_t nonce[TP_NONCE_LEN];
};

struct tp_hello_reply {
	uint8_t version;
	uint8_t eph_pub[TP_X25519_LEN];
	uint8_t nonce[TP_NONCE_LEN];
	uint8_t sig[TP_P256_SIG_LEN];
};

struct tp_auth {
	uint8_t sig[TP_P256_SIG_LEN];
};

/* Plaintext ERROR frame: sent only to refuse a handshake. */
struct tp_plain_error {
	uint16_t code; /* -enum tp_err (e.g. 14 = TP_ERR_UNKNOWN_PEER) */
	char text[TP_ERROR_TEXT_MAX + 1];
};

/* Pure decoders of handshake frame bodies (exact lengths, canonical). */
int tp_hello_decode(const uint8_t *body, size_t len, struct tp_hello *h);
int tp_hello_reply_decode(const uint8_t *body, size_t len,
			  struct tp_hello_reply *r);
int tp_auth_decode(const uint8_t *body, size_t len, struct tp_auth *a);
int tp_plain_error_decode(const uint8_t *body, size_t len,
			  struct tp_plain_error *e);

/* --- application messages (proto_msg.c) --- */

/* Message types: the first plaintext byte of a SEALED frame. */
enum tp_msg_type {
	TP_MSG_NONE = 0x00,	   /* not on the wire: "no message" */
	TP_MSG_TAP_REQUEST = 0x10, /* kiosk -> host */
	TP_MSG_DECISION = 0x11,	   /* host -> kiosk */
	TP_MSG_STATUS = 0x20,	   /* kiosk -> host, heartbeat */
	TP_MSG_STATUS_ACK = 0x21,  /* host -> kiosk */
	TP_MSG_DENYLIST = 0x30,	   /* host -> kiosk */
	TP_MSG_RECORD = 0x40,	   /* kiosk -> host, offline record upload */
	TP_MSG_RECORD_ACK = 0x41,  /* host -> kiosk */
	TP_MSG_ERROR = 0x7e,	   /* either */
	TP_MSG_BYE = 0x7f,	   /* either, orderly close */
};

/*
 * TAP_REQUEST.  The host learns the card only from the SUN data (encrypted
 * PICC data + CMAC); the RF UID itself never travels.  lookup_id is
 * tp_kiosk_lookup_id(RF UID) as the kiosk computed it (all zero when the
 * reader gave no 7-byte UID): the host may check it against the UID it
 * decrypts, and the kiosk uses the same id against its deny list.
 */
struct tp_tap_request {
	uint8_t request_id[TP_REQUEST_ID_LEN]; /* random; a retry reuses it */
	uint8_t lookup_id[TP_LOOKUP_ID_LEN];
	uint64_t kiosk_time_ms; /* Unix time in ms, kiosk clock */
	char benefit[TP_BENEFIT_MAX + 1];
	char sun[TP_SUN_MAX + 1]; /* URL or query as read from the card */
};

enum tp_result { TP_RESULT_DENIED = 0, TP_RESULT_GRANTED = 1 };

struct tp_decision {
	uint8_t request_id[TP_REQUEST_ID_LEN];
	uint8_t result; /* enum tp_result; GRANTED iff reason == GRANTED */
	uint8_t reason; /* enum tp_reason */
	char benefit[TP_BENEFIT_MAX + 1];
	int32_t left; /* what is left (count or cents), -1 = none */
	char name[TP_NAME_MAX + 1]; /* masked name, UTF-8, may be "" */
	uint64_t host_time_ms;
};

enum tp_reader_state {
	TP_READER_OK = 0,
	TP_READER_ABSENT = 1,	 /* no reader found */
	TP_READER_ERROR = 2,	 /* reader present but failing */
	TP_READER_RESETTING = 3, /* USB reset in progress */
	TP_READER__COUNT = 4
};

struct tp_status {
	uint8_t reader_state;	  /* enum tp_reader_state */
	uint32_t queue_depth;	  /* records in the offline queue */
	uint32_t offline_pending; /* offline grants not yet acknowledged */
	uint32_t usb_resets;
	uint32_t denylist_version; /* deny list the kiosk holds, 0 = none */
	uint64_t kiosk_time_ms;
	char firmware[TP_FW_MAX + 1];
};

struct tp_status_ack {
	uint64_t host_time_ms;
	uint32_t
	    denylist_version; /* current; kiosk expects DENYLIST if newer */
};

/*
 * One chunk of the deny list (revoked cards as lookup ids).  A list of
 * version V is chunks 0..count-1, all with version V; the kiosk swaps in
 * the new list only when it holds every chunk.
 */
struct tp_denylist {
	uint32_t version;
	uint16_t chunk_index; /* < chunk_count */
	uint16_t chunk_count; /* >= 1 */
	uint8_t n;	      /* 0..TP_DENY_CHUNK_MAX ids in this chunk */
	uint8_t ids[TP_DENY_CHUNK_MAX][TP_LOOKUP_ID_LEN];
};

/* RECORD: the bytes of one signed offline record (tp_record_encode_signed).
 * The session only bounds them; the host decodes and verifies them. */
struct tp_record_msg {
	uint16_t len; /* TP_RECORD_MIN..TP_RECORD_MAX */
	uint8_t bytes[TP_RECORD_MAX];
};

enum tp_record_status {
	TP_RECORD_APPLIED = 0,	 /* stored (a redemption was written) */
	TP_RECORD_CONFLICT = 1,	 /* stored, but the rules now say deny */
	TP_RECORD_DUPLICATE = 2, /* seen before: same (kiosk, seq) or request */
	TP_RECORD_REJECTED = 3,	 /* not stored: bad signature, bad fields */
	TP_RECORD__COUNT = 4
};

struct tp_record_ack {
	uint64_t record_seq;
	uint8_t status; /* enum tp_record_status */
	uint8_t reason; /* enum tp_reason, the host's view of the tap */
};

struct tp_error_msg {
	uint16_t code; /* -enum tp_err, or 0 with text only */
	char text[TP_ERROR_TEXT_MAX + 1];
};

struct tp_msg {
	uint8_t type; /* enum tp_msg_type */
	union {
		struct tp_tap_request tap;
		struct tp_decision decision;
		struct tp_status status;
		struct tp_status_ack status_ack;
		struct tp_denylist deny;
		struct tp_record_msg record;
		struct tp_record_ack record_ack;
		struct tp_error_msg error;
	} u; /* BYE has no body */
};

/*
 * Decodes one message (type byte + body, as opened from a SEALED frame).
 * Checks the type, the exact length the length fields imply, every bound
 * and every enum; strings come out NUL-terminated.  The encoding is
 * canonical: tp_msg_encode of the result gives back the same bytes.
 * @retval TP_ERR_TYPE    unknown type (or TP_MSG_NONE)
 * @retval TP_ERR_LENGTH  short, long, or trailing bytes
 * @retval TP_ERR_TOO_BIG a length field over its bound
 * @retval TP_ERR_VALUE   a field out of range (enum, charset, UTF-8, NUL)
 */
int tp_msg_decode(const uint8_t *buf, size_t len, struct tp_msg *m);

/*
 * Encodes m (explicit little-endian, field by field).  Applies the same
 * checks as the decoder, so nothing invalid is ever written.
 * OUT: out[0..*out_len).  @retval TP_ERR_ARG cap too small.
 */
int tp_msg_encode(const struct tp_msg *m, uint8_t *out, size_t cap,
		  size_t *out_len);

/* The name of a message type ("TAP_REQUEST") or "?" */
const char *tp_msg_type_name(int type);

/*
 * The card lookup id: the first 16 bytes of
 * SHA-256("tapaid card lookup v1" || uid[7]).  Used in deny lists and tap
 * requests so that the raw UID never travels.
 */
int tp_kiosk_lookup_id(const uint8_t uid[static 7], uint8_t out[static 16]);

/* --- offline records (proto_record.c) --- */

/*
 * A tap the kiosk decided on its own while the host was unreachable.  It is
 * signed by the kiosk's device key alone, so the host can check it whenever
 * it arrives (next session, days later).  The host detects duplicates by
 * (kiosk_id, seq) and by request_id.
 */
struct tp_record {
	char kiosk_id[TP_KIOSK_ID_MAX + 1];
	uint64_t seq; /* strictly increasing per kiosk, from 1 */
	uint8_t request_id[TP_REQUEST_ID_LEN];
	uint8_t lookup_id[TP_LOOKUP_ID_LEN];
	char benefit[TP_BENEFIT_MAX + 1];
	uint64_t kiosk_time_ms;
	uint8_t reason;	 /* the kiosk's offline decision (enum tp_reason) */
	uint8_t offline; /* always 1 */
	char sun[TP_SUN_MAX + 1];
	uint8_t sig[TP_RECORD_SIG_LEN]; /* filled by decode */
};

/*
 * Encodes rec and signs it with the kiosk's private key.
 * OUT: out[0..*out_len), at most TP_RECORD_MAX bytes.
 */
int tp_record_encode_signed(const struct tp_record *rec,
			    const struct tp_key *kiosk_key, uint8_t *out,
			    size_t cap, size_t *out_len);

/*
 * Decodes a record without checking its signature (to learn kiosk_id and
 * find the key).  Never trust the result before tp_record_decode_verify.
 */
int tp_record_decode(const uint8_t *buf, size_t len, struct tp_record *rec);

/*
 * Decodes and verifies with the kiosk's public key.
 * @retval TP_ERR_SIGNATURE the signature does not verify (rec is wiped)
 * plus the tp_record_decode errors (TP_ERR_LENGTH, TP_ERR_VALUE, ...).
 */
int tp_record_decode_verify(const uint8_t *buf, size_t len,
			    const struct tp_key *kiosk_pub,
			    struct tp_record *rec);

/* --- sessions (proto_session.c) --- */

/*
 * Host side: maps a kiosk id from HELLO to that kiosk's enrolled public
 * key.  Returns 0 and sets *pub (borrowed, must outlive the session), or
 * TP_ERR_UNKNOWN_PEER for a kiosk not in the allowed set (not enrolled or
 * revoked).
 */
typedef int (*tp_kiosk_lookup_fn)(void *ctx, const char *kiosk_id,
				  const struct tp_key **pub);

enum tp_role { TP_ROLE_KIOSK = 1, TP_ROLE_HOST = 2 };

enum tp_session_state {
	TP_SS_INIT = 0,	   /* initialised, nothing sent or received */
	TP_SS_HELLO_SENT,  /* kiosk: waiting for HELLO_REPLY */
	TP_SS_REPLY_SENT,  /* host: waiting for AUTH */
	TP_SS_ESTABLISHED, /* sealed frames both ways */
	TP_SS_CLOSED,	   /* BYE sent or received */
	TP_SS_FAILED,	   /* an error happened; secrets are wiped */
};

/*
 * One session.  Caller-allocated, fixed size; treat the fields as private
 * (read them through the accessors below).
 */
struct tp_session {
	uint8_t role;	 /* enum tp_role */
	uint8_t state;	 /* enum tp_session_state */
	uint8_t version; /* negotiated, 0 before */
	char kiosk_id[TP_KIOSK_ID_MAX + 1];
	const struct tp_key *own_key;  /* signs our transcript */
	const struct tp_key *peer_key; /* verifies theirs */
	tp_kiosk_lookup_fn lookup;
	void *lookup_ctx;
	uint8_t eph_priv[TP_X25519_LEN]; /* secret, wiped once used */
	uint8_t shared[TP_X25519_LEN];	 /* secret, wiped once keys exist */
	struct tp_sha256_ctx th;	 /* running transcript hash */
	uint8_t tx_key[TP_AEAD_KEY_LEN];
	uint8_t rx_key[TP_AEAD_KEY_LEN];
	uint64_t tx_seq, rx_seq; /* next to send, next to accept */
	int last_err;		 /* why it failed, 0 otherwise */
	uint16_t peer_error;	 /* code of a plaintext ERROR received */
};

int tp_session_init_kiosk(struct tp_session *s, const struct tp_key *kiosk_key,
			  const struct tp_key *host_pub, const char *kiosk_id);
int tp_session_init_host(struct tp_session *s, const struct tp_key *host_key,
			 tp_kiosk_lookup_fn lookup, void *lookup_ctx);

/*
 * Kiosk only: writes the HELLO frame (fresh ephemeral key and nonce).
 * OUT: out[0..*out_len).  @retval TP_ERR_STATE not a fresh kiosk session.
 */
int tp_session_start(struct tp_session *s, uint8_t *out, size_t cap,
		     size_t *out_len);

/*
 * Takes one whole frame (as found by tp_frame_split).  Drives the handshake
 * and, once established, opens, decodes and accepts sealed frames.
 *
 * OUT: *msg: type TP_MSG_NONE for a handshake step, else an authenticated
 *      application message allowed from this peer in this state.
 * OUT: reply[0..*reply_len): bytes to send now (HELLO_REPLY on the host,
 *      AUTH on the kiosk, a plaintext ERROR when the host refuses a
 *      handshake); *reply_len = 0 when nothing is to be sent.  A reply
 *      buffer of TP_FRAME_PREAUTH_MAX bytes is always enough; once
 *      established no reply is ever written (reply may be NULL, cap 0).
 *
 * @retval TP_OK               frame accepted
 * @retval TP_ERR_STATE        frame type not allowed now, message type not
 *                             allowed from this peer, or session failed/closed
 * @retval TP_ERR_UNKNOWN_PEER host: kiosk id not in the allowed set
 * @retval TP_ERR_VERSION      no common version (or frame version mismatch)
 * @retval TP_ERR_SIGNATURE    handshake signature does not verify
 * @retval TP_ERR_MAC          sealed frame forged, altered or truncated
 * @retval TP_ERR_REPLAY       sealed frame replayed, reordered or skipped
 * @retval TP_ERR_REFUSED      kiosk: the host refused with a plaintext ERROR
 *                             (its code: tp_session_peer_error())
 * plus the tp_frame_parse / tp_msg_decode / tp_*_decode errors.
 * Any negative return is final (the session is FAILED and wiped).
 * A BYE is returned as a message and moves the session to CLOSED.
 */
int tp_session_recv(struct tp_session *s, const uint8_t *frame, size_t len,
		    struct tp_msg *msg, uint8_t *reply, size_t cap,
		    size_t *reply_len);

/*
 * Seals an application message for the peer (established sessions only;
 * only types this role may send).  Sending BYE closes the session.
 * OUT: out[0..*out_len), at most TP_FRAME_MAX bytes.
 * Errors about the message itself (TP_ERR_VALUE, TP_ERR_TOO_BIG,
 * TP_ERR_LENGTH, TP_ERR_ARG for a small buffer, TP_ERR_STATE for a type
 * this side may not send) leave the session unchanged; TP_ERR_COUNTER
 * (sequence space spent) is final.
 */
int tp_session_seal(struct tp_session *s, const struct tp_msg *m, uint8_t *out,
		    size_t cap, size_t *out_len);

/* 1 once the handshake completed and until close/failure, else 0. */
int tp_session_established(const struct tp_session *s);
/* The kiosk id (host: as authenticated by AUTH; "" before). */
const char *tp_session_kiosk_id(const struct tp_session *s);
/* The peer's long-term key (host: the kiosk's enrolled key), or NULL. */
const struct tp_key *tp_session_peer_key(const struct tp_session *s);
/* The error that failed the session (0 if none). */
int tp_session_error(const struct tp_session *s);
/* The code of the peer's plaintext ERROR (positive, -tp_err), or 0. */
int tp_session_peer_error(const struct tp_session *s);

/* Wipes every secret and resets the struct; safe to call twice. */
void tp_session_clear(struct tp_session *s);

#endif
