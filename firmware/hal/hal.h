/*
 * firmware/hal/hal.h - the kiosk's hardware layer.
 *
 * The portable core (firmware/core/) sees the world only through these
 * structs of function pointers, each with a void *ctx that the backend owns.
 * Backends: reader_libnfc.c, usb_libusb.c, net_tcp.c, store_file.c,
 * clock_posix.c, display_term.c; each has a *_fake.c for tests, and
 * hal_fault.c wraps any of them to fail the Nth call.
 *
 * Return convention: 0 (or a count) on success, a negative enum hal_err
 * on failure.  No function here may block for longer than the timeout it
 * is given; the core never waits on the network while it owns the reader.
 */
#ifndef TAPAID_HAL_H
#define TAPAID_HAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum hal_err {
	HAL_OK = 0,
	HAL_ERR_IO = -1, /* the device did not answer or answered garbage */
	HAL_ERR_TIMEOUT = -2, /* no answer within the timeout */
	HAL_ERR_GONE = -3,    /* the card (or peer) left mid-operation */
	HAL_ERR_NODEV = -4,   /* the device is not there (unplugged, closed) */
	HAL_ERR_FULL = -5,    /* no space (disk, buffer) */
	HAL_ERR_AGAIN = -6,   /* nothing yet; try again later */
	HAL_ERR_ARG = -7,     /* bad argument */
	HAL_ERR_CORRUPT = -8, /* stored data failed its check */
};

#define HAL_UID_MAX 10
#define HAL_ATS_MAX 64

/* What the reader found in the field. */
struct hal_card {
	uint8_t uid[HAL_UID_MAX];
	size_t uid_len;
	uint8_t ats[HAL_ATS_MAX]; /* empty when the card is not ISO 14443-4 */
	size_t ats_len;
	uint8_t sak;
	int iso_dep; /* 1 when the card speaks ISO-DEP (ISO 14443-4) */
};

/*
 * The NFC reader.  poll() looks once for an ISO 14443-A card and returns
 * 1 with *card filled, 0 when the field is empty, or a negative error;
 * it must not wait for a card.  present() asks whether the card last
 * returned by poll() is still in the field (1 yes, 0 gone).  transceive()
 * sends one APDU and returns the response length (status word included).
 */
struct hal_reader {
	void *ctx;
	int (*open)(void *ctx);
	void (*close)(void *ctx);
	int (*poll)(void *ctx, struct hal_card *card);
	int (*present)(void *ctx);
	int (*transceive)(void *ctx, const uint8_t *apdu, size_t len,
			  uint8_t *resp, size_t cap, int timeout_ms);
	const char *(*name)(void *ctx); /* connstring, for status and logs */
};

/*
 * USB watch and reset of the reader.  applies() is 0 when the reader is
 * not on USB (a UART or a pty): the core then skips the reset and only
 * reopens the reader.  poll() returns the hot-plug events seen since the
 * last call (HAL_USB_* bits), without waiting.  reset() resets the device.
 */
#define HAL_USB_ARRIVED 1
#define HAL_USB_LEFT	2
struct hal_usb {
	void *ctx;
	int (*applies)(void *ctx);
	int (*poll)(void *ctx);
	int (*reset)(void *ctx);
};

/* The member-facing indicator: LED colour and buzzer pattern. */
enum hal_indicator {
	HAL_IND_IDLE,	 /* steady blue, silent */
	HAL_IND_BUSY,	 /* blinking blue: reading, asking the host */
	HAL_IND_GRANTED, /* green, one short beep */
	HAL_IND_DENIED,	 /* red, two beeps */
	HAL_IND_FAULT,	 /* amber: reader or kiosk out of order */
};

/*
 * The screen.  show() replaces what is on the screen: a headline, an
 * optional detail line (may be NULL), and the indicator.  event() writes
 * one machine-readable line (a JSON object, no newline) for tests and logs.
 */
struct hal_display {
	void *ctx;
	void (*show)(void *ctx, enum hal_indicator ind, const char *headline,
		     const char *detail);
	void (*event)(void *ctx, const char *json);
};

/*
 * The connection to the host: a byte stream.  connect() starts or
 * continues a non-blocking connect: 0 when connected, HAL_ERR_AGAIN while
 * in progress, another error when it failed.  send() and recv() never
 * block: they return the bytes moved, 0 when nothing could be moved, or a
 * negative error when the connection is gone.  wait() sleeps at most ms
 * milliseconds or until bytes arrive (the main loop's idle sleep).
 */
struct hal_net {
	void *ctx;
	int (*connect)(void *ctx);
	ssize_t (*send)(void *ctx, const uint8_t *buf, size_t len);
	ssize_t (*recv)(void *ctx, uint8_t *buf, size_t cap);
	void (*close)(void *ctx);
	void (*wait)(void *ctx, int ms);
};

/*
 * The persistent offline queue: an append-only journal of signed records
 * and an upload cursor.  append() returns only once the record is on
 * stable storage (fsync'd) and gives it a sequence number.  peek() copies
 * the oldest record not yet acknowledged by the host (HAL_ERR_AGAIN when
 * there is none).  ack(seq) moves the cursor past seq durably, so nothing
 * is uploaded again after a restart.  scan() calls fn for every record
 * still in the journal (uploaded or not), oldest first: the core rebuilds
 * its per-card offline counts from it at start-up.  put_blob()/get_blob()
 * keep one small named blob (the last deny list) atomically.
 */
struct hal_store {
	void *ctx;
	int (*append)(void *ctx, const uint8_t *rec, size_t len, uint64_t *seq);
	int (*peek)(void *ctx, uint64_t *seq, uint8_t *rec, size_t cap,
		    size_t *len);
	int (*ack)(void *ctx, uint64_t seq);
	size_t (*depth)(void *ctx);
	uint64_t (*next_seq)(void *ctx); /* the seq the next append gets */
	int (*scan)(void *ctx,
		    int (*fn)(void *arg, uint64_t seq, const uint8_t *rec,
			      size_t len),
		    void *arg);
	int (*put_blob)(void *ctx, const uint8_t *buf, size_t len);
	int (*get_blob)(void *ctx, uint8_t *buf, size_t cap, size_t *len);
};

/* Time: a monotonic millisecond clock and the wall clock (Unix seconds). */
struct hal_clock {
	void *ctx;
	uint64_t (*mono_ms)(void *ctx);
	int64_t (*wall)(void *ctx);
	int (*utc_offset)(void *ctx); /* local time minus UTC, in seconds */
};

/* Randomness for request ids and back-off jitter. */
struct hal_rng {
	void *ctx;
	int (*fill)(void *ctx, void *buf, size_t len);
};

/* The whole set, handed to kiosk_setup(). */
struct hal {
	struct hal_reader reader;
	struct hal_usb usb;
	struct hal_display display;
	struct hal_net net;
	struct hal_store store;
	struct hal_clock clock;
	struct hal_rng rng;
};

#endif
