/*
 * pn532_frame.h - the PN532 UART (HSU) frame layer, pure: bytes in, events
 * out, no I/O.
 *
 * Frames on the wire (PN532 User Manual, section 6.2):
 *   normal    00 00 FF LEN LCS TFI PD0..PDn DCS 00
 *   extended  00 00 FF FF FF LENM LENL LCS TFI PD0..PDn DCS 00
 *   ACK       00 00 FF 00 FF 00
 *   NACK      00 00 FF FF 00 00
 *   error     00 00 FF 01 FF 7F 81 00   (application-level syntax error)
 * LEN counts TFI and the data; LCS makes LEN + LCS = 0 (mod 256); DCS makes
 * TFI + data + DCS = 0.  The leading 00 preamble is optional; the decoder
 * synchronises on 00 FF and skips anything else, which also swallows the
 * HSU wake-up bytes (55 55 00 00 ...).
 */
#ifndef PN532EMU_FRAME_H
#define PN532EMU_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Most data bytes (TFI excluded) a frame may carry each way. */
#define PN532_MAX_DATA 264
/* Most bytes a built frame takes (extended frame overhead is 11). */
#define PN532_MAX_FRAME (PN532_MAX_DATA + 11)

#define PN532_TFI_HOST 0xD4 /* host to PN532 */
#define PN532_TFI_CHIP 0xD5 /* PN532 to host */

enum pn532_ev {
	PN532_EV_NONE = 0, /* nothing complete yet */
	PN532_EV_FRAME,	   /* an information frame: data in rx->data */
	PN532_EV_ACK,	   /* an ACK frame (from the host: abort) */
	PN532_EV_NACK,	   /* a NACK frame (from the host: resend) */
	PN532_EV_BAD,	   /* a malformed frame was dropped */
};

/* Why the last PN532_EV_BAD was reported (for logs and tests). */
enum pn532_bad {
	PN532_BAD_NONE = 0,
	PN532_BAD_LCS,	  /* length checksum wrong */
	PN532_BAD_LEN,	  /* length 0 or over PN532_MAX_DATA + 1 */
	PN532_BAD_TFI,	  /* TFI is not the expected direction */
	PN532_BAD_DCS,	  /* data checksum wrong */
	PN532_BAD_ERRFRM, /* an error frame, which only a PN532 may send */
};

/*
 * Receive state.  Zero-initialise it (or call pn532_rx_init) once; then
 * feed every byte.  After PN532_EV_FRAME, data[0..len) holds PD0..PDn (the
 * command code first); it stays valid until the next pn532_rx_feed().
 */
struct pn532_rx {
	uint8_t tfi; /* the TFI to accept (PN532_TFI_HOST by default) */
	uint8_t state;
	uint8_t lenm; /* extended frame: LENM while waiting for LENL */
	uint8_t sum;  /* running data checksum */
	size_t need;  /* data bytes still to read */
	size_t len;   /* data bytes read so far */
	enum pn532_bad bad;
	uint8_t data[PN532_MAX_DATA];
};

void pn532_rx_init(struct pn532_rx *rx, uint8_t tfi);

/* Feeds one byte; returns the event it completes, or PN532_EV_NONE. */
enum pn532_ev pn532_rx_feed(struct pn532_rx *rx, uint8_t b);

/*
 * Builds an information frame carrying tfi and data[0..len) into out (at
 * least PN532_MAX_FRAME bytes): a normal frame up to 254 data bytes, an
 * extended one above.  Returns the frame length, or 0 if len is over
 * PN532_MAX_DATA.
 */
size_t pn532_frame_build(uint8_t *out, uint8_t tfi, const uint8_t *data,
			 size_t len);

extern const uint8_t pn532_ack_frame[6];
extern const uint8_t pn532_nack_frame[6];
extern const uint8_t pn532_error_frame[8];

#endif
