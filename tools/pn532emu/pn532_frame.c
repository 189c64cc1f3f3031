/*
 * pn532_frame.c - PN532 HSU frame decoder and encoder (see pn532_frame.h).
 *
 * The decoder is a byte-at-a-time state machine so that it can sit directly
 * behind a non-blocking read() of any size and be fuzzed without a stream.
 */
#include <string.h>

#include "pn532_frame.h"

const uint8_t pn532_ack_frame[6] = {0x00, 0x00, 0xFF, 0x00, 0xFF, 0x00};
const uint8_t pn532_nack_frame[6] = {0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00};
const uint8_t pn532_error_frame[8] = {0x00, 0x00, 0xFF, 0x01,
				      0xFF, 0x7F, 0x81, 0x00};

enum {
	S_SYNC0 = 0, /* waiting for 00 */
	S_SYNC1,     /* seen 00, waiting for FF */
	S_LEN,	     /* LEN */
	S_LCS,	     /* LCS of a normal frame (or the second byte of a code) */
	S_XLENM,     /* extended: LENM */
	S_XLENL,     /* extended: LENL */
	S_XLCS,	     /* extended: LCS */
	S_TFI,
	S_DATA,
	S_DCS,
};

void pn532_rx_init(struct pn532_rx *rx, uint8_t tfi)
{
	memset(rx, 0, sizeof(*rx));
	rx->tfi = tfi;
}

static enum pn532_ev bad(struct pn532_rx *rx, enum pn532_bad why)
{
	rx->bad = why;
	rx->state = S_SYNC0;
	return PN532_EV_BAD;
}

/* LEN counts TFI and data: it must hold the TFI and fit our buffer. */
static enum pn532_ev start_body(struct pn532_rx *rx, size_t len)
{
	if (len < 1 || len > PN532_MAX_DATA + 1)
		return bad(rx, PN532_BAD_LEN);
	rx->need = len - 1;
	rx->len = 0;
	rx->state = S_TFI;
	return PN532_EV_NONE;
}

enum pn532_ev pn532_rx_feed(struct pn532_rx *rx, uint8_t b)
{
	if (rx->tfi == 0)
		rx->tfi = PN532_TFI_HOST;
	switch (rx->state) {
	case S_SYNC0:
		if (b == 0x00)
			rx->state = S_SYNC1;
		return PN532_EV_NONE;
	case S_SYNC1:
		if (b == 0xFF)
			rx->state = S_LEN;
		else if (b != 0x00)
			rx->state = S_SYNC0;
		return PN532_EV_NONE;
	case S_LEN:
		rx->lenm = b;
		rx->state = S_LCS;
		return PN532_EV_NONE;
	case S_LCS:
		if (rx->lenm == 0x00 && b == 0xFF) {
			rx->state = S_SYNC0;
			return PN532_EV_ACK;
		}
		if (rx->lenm == 0xFF && b == 0x00) {
			rx->state = S_SYNC0;
			return PN532_EV_NACK;
		}
		if (rx->lenm == 0xFF && b == 0xFF) {
			rx->state = S_XLENM;
			return PN532_EV_NONE;
		}
		if (rx->lenm == 0x01 && b == 0xFF)
			return bad(rx, PN532_BAD_ERRFRM);
		if ((uint8_t)(rx->lenm + b) != 0)
			return bad(rx, PN532_BAD_LCS);
		return start_body(rx, rx->lenm);
	case S_XLENM:
		rx->lenm = b;
		rx->state = S_XLENL;
		return PN532_EV_NONE;
	case S_XLENL:
		rx->need = b; /* LENL, kept until LCS is checked */
		rx->state = S_XLCS;
		return PN532_EV_NONE;
	case S_XLCS:
		if ((uint8_t)(rx->lenm + rx->need + b) != 0)
			return bad(rx, PN532_BAD_LCS);
		return start_body(rx, ((size_t)rx->lenm << 8) | rx->need);
	case S_TFI:
		if (b != rx->tfi)
			return bad(rx, PN532_BAD_TFI);
		rx->sum = b;
		rx->state = rx->need ? S_DATA : S_DCS;
		return PN532_EV_NONE;
	case S_DATA:
		rx->data[rx->len++] = b;
		rx->sum += b;
		if (rx->len == rx->need)
			rx->state = S_DCS;
		return PN532_EV_NONE;
	case S_DCS:
		if ((uint8_t)(rx->sum + b) != 0)
			return bad(rx, PN532_BAD_DCS);
		/* The postamble 00 that follows is eaten by S_SYNC0. */
		rx->state = S_SYNC0;
		rx->bad = PN532_BAD_NONE;
		return PN532_EV_FRAME;
	}
	rx->state = S_SYNC0;
	return PN532_EV_NONE;
}

size_t pn532_frame_build(uint8_t *out, uint8_t tfi, const uint8_t *data,
			 size_t len)
{
	size_t n = 0, l = len + 1;
	uint8_t sum = tfi;

	if (len > PN532_MAX_DATA)
		return 0;
	out[n++] = 0x00;
	out[n++] = 0x00;
	out[n++] = 0xFF;
	if (l <= 255) {
		out[n++] = (uint8_t)l;
		out[n++] = (uint8_t)(0x100 - l);
	} else {
		out[n++] = 0xFF;
		out[n++] = 0xFF;
		out[n++] = (uint8_t)(l >> 8);
		out[n++] = (uint8_t)l;
		out[n++] = (uint8_t)(0x100 - (uint8_t)((l >> 8) + l));
	}
	out[n++] = tfi;
	for (size_t i = 0; i < len; i++) {
		out[n++] = data[i];
		sum += data[i];
	}
	out[n++] = (uint8_t)(0x100 - sum);
	out[n++] = 0x00;
	return n;
}
