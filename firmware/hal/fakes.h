/*
 * firmware/hal/fakes.h - test doubles for every hal struct.
 *
 * The fakes are state you can look at and steer from a test: a reader with
 * a virtual card (an NTAG 424 DNA answering GetVersion, ISOSelect and
 * ISOReadBinary with a SUN URL, or some other card), a clock you move by
 * hand, a display that remembers what it showed, a USB watch whose events
 * you post, an in-memory store, and a network whose far end is a real
 * protocol host (tp_session_init_host) with a scripted decision.
 */
#ifndef TAPAID_HAL_FAKES_H
#define TAPAID_HAL_FAKES_H

#include <stdbool.h>

#include "hal/hal.h"
#include "tapaid/proto.h"

/* --- reader_fake.c --- */
enum fake_card_kind { FAKE_NTAG424, FAKE_OTHER_ISODEP, FAKE_NOT_ISODEP };
struct fake_reader {
	bool opened, open_fails, dead; /* dead: every call fails with IO */
	unsigned opens, closes, polls;
	bool card_in;
	enum fake_card_kind kind;
	uint8_t uid[7];
	char url_base[200]; /* the URL is url_base + read counter */
	unsigned sun_ctr;   /* bumped at every NDEF read, like SDMReadCtr */
	long pull_after; /* card leaves after this many more APDUs; -1 never */
	unsigned apdus;
	int selected; /* 0 none, 1 app, 2 NDEF file */
};
void fake_reader_init(struct hal_reader *r, struct fake_reader *f);
void fake_reader_tap(struct fake_reader *f, const uint8_t uid[7]);
void fake_reader_remove(struct fake_reader *f);
/* Builds the NDEF file content for url: NLEN || D1 01 len 55 04 rest. */
size_t fake_ndef_file(const char *url, uint8_t *out, size_t cap);

/* --- usb_fake.c --- */
struct fake_usb {
	bool on_usb;
	int pending; /* HAL_USB_* bits delivered at the next poll */
	unsigned resets;
	struct fake_reader *revive; /* a reset makes this reader work again */
};
void fake_usb_init(struct hal_usb *u, struct fake_usb *f);

/* --- display_fake.c --- */
#define FAKE_EVENTS_MAX 64
struct fake_display {
	enum hal_indicator ind;
	char head[256], detail[256];
	unsigned shows;
	char events[FAKE_EVENTS_MAX][256];
	unsigned nevents;
};
void fake_display_init(struct hal_display *d, struct fake_display *f);

/* --- clock_fake.c (clock and rng) --- */
struct fake_clock {
	uint64_t mono;
	unsigned auto_tick; /* ms added at every reading, as real time moves */
	int64_t wall;
	int utc_offset;
	uint64_t rng_ctr;
};
void fake_clock_init(struct hal_clock *c, struct hal_rng *r,
		     struct fake_clock *f);

/* --- store_fake.c --- */
#define FAKE_STORE_MAX 64
struct fake_store {
	uint8_t recs[FAKE_STORE_MAX][1024];
	size_t lens[FAKE_STORE_MAX];
	size_t n;     /* records appended (seq 1..n) */
	size_t acked; /* records acknowledged */
	uint8_t *blob;
	size_t blob_len;
	bool full; /* append fails with HAL_ERR_FULL */
};
void fake_store_init(struct hal_store *s, struct fake_store *f);
void fake_store_free(struct fake_store *f);

/* --- net_fake.c: a host at the far end --- */
#define FAKE_HOST_REQ_MAX 64
struct fake_host {
	/* Steering. */
	bool down;	       /* connect() fails */
	bool silent;	       /* takes taps but never answers them */
	bool refuse;	       /* the kiosk id is unknown */
	bool no_record_ack;    /* takes records, never acknowledges them */
	enum tp_reason reason; /* the next decisions */
	int32_t left;
	char name[TP_NAME_MAX + 1];
	uint32_t
	    deny_version; /* > 0: sent after STATUS if the kiosk is older */
	uint8_t deny_ids[200][16];
	unsigned ndeny;
	int64_t host_time_ms;
	/* Keys: the host's own (signs) and the kiosk's public key. */
	struct tp_key *host_key;
	struct tp_key *kiosk_pub;
	/* Observations. */
	unsigned connects, handshakes, taps, statuses, records, dup_records;
	unsigned redemptions; /* unique granted request ids */
	struct tp_status last_status;
	char last_sun[TP_SUN_MAX + 1]; /* of the last TAP_REQUEST */
	uint8_t last_lookup[16];
	uint8_t seen_req[FAKE_HOST_REQ_MAX][16];
	uint8_t seen_reason[FAKE_HOST_REQ_MAX];
	unsigned nseen;
	/* The connection. */
	bool connected;
	bool turn_done; /* answers reach the kiosk's next receive turn */
	struct tp_session s;
	uint8_t k2h[16384], h2k[16384];
	size_t k2h_len, h2k_len;
};
void fake_net_init(struct hal_net *n, struct fake_host *h);
/* Closes the host's side: the kiosk sees the connection drop. */
void fake_host_drop(struct fake_host *h);
/* A new connection arrived (for a host served over a real socket). */
void fake_host_accept(struct fake_host *h);
/* Processes what the kiosk sent (the fake net also does it on recv). */
void fake_host_run(struct fake_host *h);

#endif
