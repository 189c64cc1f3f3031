/*
 * firmware/core/kiosk.h - the portable kiosk core.
 *
 * A state machine that turns card taps into host requests and answers on
 * the screen:
 *
 *   IDLE -> CARD (read GetVersion, NDEF/SUN) -> REQUEST (host, or offline
 *   policy when the host cannot answer) -> RESULT (screen, event line)
 *   -> WAIT_REMOVAL (one tap per card presence) -> IDLE
 *
 * The core talks to hardware only through struct hal (firmware/hal/hal.h),
 * includes neither libnfc nor libusb, allocates everything it needs in
 * kiosk_setup() and nothing afterwards, and never waits on the network
 * while a member is at the reader: the host link is serviced without
 * blocking between reader polls.  (mbedTLS's bignum code, below the
 * protocol library, does allocate while it makes a handshake or signs an
 * offline record; an online tap allocates nothing: test_kiosk_core counts.)
 */
#ifndef TAPAID_KIOSK_H
#define TAPAID_KIOSK_H

#include <stddef.h>
#include <stdint.h>

#include "hal/hal.h"

/* Fixed capacities; everything is sized here and allocated once. */
enum kiosk_limits {
	KIOSK_URL_MAX = 256,	    /* SUN URL read from the card */
	KIOSK_APDU_MAX = 272,	    /* one R-APDU */
	KIOSK_NET_BUF = 8192,	    /* each direction of the host stream */
	KIOSK_REC_MAX = 768,	    /* one signed offline record */
	KIOSK_DENY_MAX = 65536,	    /* deny-list entries kept */
	KIOSK_OFFLINE_CARDS = 4096, /* cards tracked for offline use per day */
	KIOSK_ID_MAX = 64,	    /* kiosk id, service point, benefit code */
	KIOSK_LOOKUP_LEN = 16,	    /* card lookup id (salted hash of UID) */
	KIOSK_TEXT_MAX = 256,	    /* one screen line */
};

/* The largest journal entry the core writes (header + signed record):
 * what the store must accept. */
#define KIOSK_JREC_HDR_MAX (16 + 8 + 16 + 768)

enum kiosk_lang { KIOSK_LANG_EN, KIOSK_LANG_ZH };

/* Decision reasons, in the order of DESIGN.md; names in kiosk_reason_name. */
enum kiosk_reason {
	KIOSK_R_GRANTED,
	KIOSK_R_UNKNOWN_CARD,
	KIOSK_R_REVOKED_CARD,
	KIOSK_R_REPLAYED_TAP,
	KIOSK_R_MEMBER_SUSPENDED,
	KIOSK_R_NOT_ELIGIBLE,
	KIOSK_R_QUOTA_USED_UP,
	KIOSK_R_WRONG_SERVICE_POINT,
	KIOSK_R_OUTSIDE_HOURS,
	KIOSK_R_KIOSK_NOT_ENROLLED,
	KIOSK_R_BAD_SIGNATURE,
	KIOSK_R_NOT_A_SERVICE_CARD,
	KIOSK_R_OFFLINE_LIMIT,
	KIOSK_R_HOST_UNAVAILABLE,
	KIOSK_R__COUNT
};

enum kiosk_state {
	KIOSK_STATE_IDLE,
	KIOSK_STATE_CARD,
	KIOSK_STATE_REQUEST,
	KIOSK_STATE_RESULT,
	KIOSK_STATE_WAIT_REMOVAL,
	KIOSK_STATE_READER_DOWN,
};

enum kiosk_reader_state {
	KIOSK_READER_OK,
	KIOSK_READER_RESETTING,
	KIOSK_READER_DOWN,
};

struct tp_key;

/*
 * Configuration, filled by the caller (tapaid-kiosk.c reads it from INI).
 * The key pointers are borrowed: the caller keeps them alive until
 * kiosk_teardown().
 */
struct kiosk_config {
	char kiosk_id[KIOSK_ID_MAX];
	char service_point[KIOSK_ID_MAX];
	char benefit[KIOSK_ID_MAX];
	enum kiosk_lang lang;
	unsigned offline_per_day; /* offline grants per card per day; 0: none */
	unsigned
	    offline_queue_max; /* refuse offline grants beyond this depth */
	unsigned reader_max_errors; /* consecutive errors before a reset */
	unsigned
	    decision_timeout_ms; /* wait for the host before going offline */
	unsigned heartbeat_ms;
	unsigned backoff_min_ms, backoff_max_ms;
	unsigned result_hold_ms; /* keep the answer on screen at least this */
	unsigned apdu_timeout_ms;
	const struct tp_key
	    *kiosk_key;	      /* signs handshakes and offline records */
	uint8_t host_pub[65]; /* the pinned host key, raw P-256 point */
	const char *fw_version;
};

/* Fills c with defaults (English, no offline use, 3 reader errors...). */
void kiosk_config_defaults(struct kiosk_config *c);

struct kiosk;

/*
 * Allocates the kiosk and every buffer it will ever use, copies cfg and
 * hal, loads the last deny list and rebuilds today's offline counts from
 * the store, and opens the reader.  OUT: *out, freed by kiosk_teardown().
 * Returns 0 or a negative hal_err / tp_err.
 */
int kiosk_setup(const struct kiosk_config *cfg, const struct hal *hal,
		struct kiosk **out);
void kiosk_teardown(struct kiosk *k);

/*
 * Runs one turn: hot-plug events, host link, then the tap state machine.
 * Returns how many milliseconds the caller may sleep (through
 * hal_net.wait) before the next turn.
 */
int kiosk_step(struct kiosk *k);

/* Introspection, for the status message, tests and benchmarks. */
struct kiosk_stats {
	enum kiosk_state state;
	enum kiosk_reader_state reader;
	int host_up;
	unsigned taps, granted, denied, offline_granted;
	unsigned reader_resets, reader_reopens, read_aborts;
	unsigned host_connects, records_uploaded;
	size_t queue_depth, deny_entries;
	int64_t clock_offset_s;
	const char *link_error; /* why the host link last dropped, or NULL */
	unsigned store_errors;
};
void kiosk_get_stats(const struct kiosk *k, struct kiosk_stats *st);

/* Names and texts. */
const char *kiosk_reason_name(enum kiosk_reason r);
int kiosk_reason_from_name(const char *name); /* -1 when unknown */
const char *kiosk_state_name(enum kiosk_state s);
const char *kiosk_reader_state_name(enum kiosk_reader_state s);

/*
 * The member-facing texts: a headline and a detail line for a decision.
 * left < 0 means "not known".  OUT: head and detail, each cap bytes.
 */
void kiosk_msg_decision(enum kiosk_lang lang, enum kiosk_reason r, int left,
			int offline, const char *benefit, const char *name,
			char *head, char *detail, size_t cap);
const char *kiosk_msg_text(enum kiosk_lang lang, int id);
enum kiosk_msg_id {
	KIOSK_MSG_IDLE,
	KIOSK_MSG_IDLE_DETAIL,
	KIOSK_MSG_READING,
	KIOSK_MSG_HOLD_STILL,
	KIOSK_MSG_TAP_AGAIN,
	KIOSK_MSG_READER_FAULT,
	KIOSK_MSG_READER_FAULT_DETAIL,
	KIOSK_MSG_OFFLINE_NOTE,
	KIOSK_MSG__COUNT
};

/* Formats the event line for one tap.  Returns its length. */
int kiosk_event_json(char *buf, size_t cap, int granted, enum kiosk_reason r,
		     const char *benefit, int left, int offline);

#endif
