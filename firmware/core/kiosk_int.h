/*
 * firmware/core/kiosk_int.h - declarations shared by the core's files.
 * Not for use outside firmware/core/ (and the core's unit tests).
 */
#ifndef TAPAID_KIOSK_INT_H
#define TAPAID_KIOSK_INT_H

#include <stdbool.h>

#include "kiosk.h"

/* A tap in progress: everything the host request and the record need. */
struct kiosk_tap {
	uint8_t request_id[16];
	char url[KIOSK_URL_MAX];
	size_t url_len;
	uint8_t uid[HAL_UID_MAX];
	size_t uid_len;
	uint8_t lookup[KIOSK_LOOKUP_LEN];
	int64_t wall; /* kiosk time of the tap, Unix seconds */
};

/* The host's answer to a tap. */
struct kiosk_decision {
	uint8_t request_id[16];
	enum kiosk_reason reason;
	int left;      /* -1 when the host did not say */
	char name[64]; /* masked name, UTF-8, may be empty */
};

/* One card's offline use today. */
struct kiosk_offcount {
	uint8_t lookup[KIOSK_LOOKUP_LEN];
	uint16_t used;
	uint8_t in_use;
};

/* A journal entry as the kiosk keeps it: its own header, then the record. */
#define KIOSK_JREC_HDR (KIOSK_LOOKUP_LEN + 8 + 16)
_Static_assert(KIOSK_JREC_HDR + KIOSK_REC_MAX == KIOSK_JREC_HDR_MAX,
	       "kiosk.h and kiosk_int.h disagree on the journal entry size");

struct kiosk_link; /* kiosk_link.c */

struct kiosk {
	struct kiosk_config cfg;
	struct hal hal;
	struct kiosk_stats st;

	enum kiosk_state state;
	unsigned reader_errs;	  /* consecutive reader errors */
	uint64_t reader_retry_at; /* when to try reopening a down reader */
	unsigned reader_backoff_ms;
	uint64_t next_present_at;
	uint64_t result_until;
	uint64_t req_deadline;
	bool req_sent;
	bool dec_ready;
	struct hal_card card;
	/*
	 * The card last read, while it has not been seen to leave: if the
	 * reader is reset or reopened under a card that stays on it, finding
	 * that card again is not a new tap.
	 */
	uint8_t held_uid[HAL_UID_MAX];
	size_t held_uid_len;
	struct kiosk_tap tap;
	struct kiosk_decision dec;

	/* Buffers, allocated once in kiosk_setup(). */
	uint8_t *apdu;		     /* KIOSK_APDU_MAX */
	uint8_t *ndef;		     /* KIOSK_URL_MAX + 16 */
	uint8_t *jrec;		     /* KIOSK_JREC_HDR + KIOSK_REC_MAX */
	char *head, *detail, *event; /* KIOSK_TEXT_MAX each */

	/* Deny list: a blob (header + sorted lookup ids), kept in the store. */
	uint8_t *deny_blob;
	size_t ndeny;
	uint64_t deny_version;

	/* Offline use per card, for one local day. */
	struct kiosk_offcount *off;
	size_t noff;
	int64_t off_day;

	struct kiosk_link *link;
};

/* --- kiosk.c --- */
void kiosk_on_decision(struct kiosk *k, const struct kiosk_decision *d);
int64_t kiosk_local_day(const struct kiosk *k, int64_t wall);

/* --- kiosk_card.c --- */
enum kiosk_read {
	KIOSK_READ_OK,
	KIOSK_READ_NOT_SERVICE_CARD, /* not an NTAG 424 DNA, or no SUN URL */
	KIOSK_READ_GONE,	     /* the card left mid-read */
	KIOSK_READ_READER_ERROR,     /* the reader failed */
};
/* Reads GetVersion and the NDEF file; on success fills k->tap.url. */
enum kiosk_read kiosk_card_read(struct kiosk *k);
/* Parses an NDEF message holding one URI record.  Returns the URL length
 * or -1.  OUT: url (NUL-terminated, at most cap-1 bytes). */
int kiosk_ndef_uri(const uint8_t *msg, size_t len, char *url, size_t cap);
/* 1 when a GetVersion part 1 answer names an NTAG 424 DNA. */
int kiosk_is_ntag424(const uint8_t *ver, size_t len);

/* --- kiosk_offline.c --- */
#define KIOSK_DENY_HDR 48
int kiosk_lookup_id(const struct kiosk *k, const uint8_t *uid, size_t uid_len,
		    uint8_t out[KIOSK_LOOKUP_LEN]);
bool kiosk_deny_has(const struct kiosk *k, const uint8_t id[KIOSK_LOOKUP_LEN]);
/* Replaces the deny list (ids need not be sorted) and saves it. */
int kiosk_deny_set(struct kiosk *k, uint64_t version, const uint8_t *ids,
		   size_t n);
void kiosk_deny_load(struct kiosk *k);
/* Offline counts: used today by this card, and one more use. */
unsigned kiosk_off_used(struct kiosk *k, const uint8_t id[KIOSK_LOOKUP_LEN],
			int64_t wall);
int kiosk_off_note(struct kiosk *k, const uint8_t id[KIOSK_LOOKUP_LEN],
		   int64_t wall);
void kiosk_off_rebuild(struct kiosk *k);
/* Decides a tap without the host; may write a signed record. */
void kiosk_offline_decide(struct kiosk *k, struct kiosk_decision *d);

/* --- kiosk_link.c --- */
int kiosk_link_setup(struct kiosk *k);
void kiosk_link_teardown(struct kiosk *k);
/* Connects, reads frames, sends heartbeats and queued records; never waits. */
void kiosk_link_service(struct kiosk *k, uint64_t now);
bool kiosk_link_up(const struct kiosk *k);
/* The host refused the handshake: this kiosk is not (or no longer) enrolled. */
bool kiosk_link_refused(const struct kiosk *k);
/* Sends k->tap as a TAP_REQUEST; 0 when it left the kiosk. */
int kiosk_link_send_tap(struct kiosk *k);
/* Encodes and signs k->tap as an offline record.  OUT: out, *len. */
int kiosk_link_record(struct kiosk *k, uint8_t *out, size_t cap, size_t *len);

#endif
