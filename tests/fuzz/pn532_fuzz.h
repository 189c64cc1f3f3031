/*
 * pn532_fuzz.h - what the two fuzz targets of the emulated PN532
 * (fuzz_pn532_frame, fuzz_pn532_chip) check and share.
 */
#ifndef TAPAID_PN532_FUZZ_H
#define TAPAID_PN532_FUZZ_H

#include <stdint.h>
#include <stdlib.h>

#include "../../tools/pn532emu/pn532_chip.h"
#include "../../tools/pn532emu/pn532_frame.h"
#include "../../tools/pn532emu/vcard.h"

/* The chip's output must parse: ACKs, error frames, D5 frames only. */
static inline void check_output(struct pn532_chip *c)
{
	struct pn532_rx rx;

	pn532_rx_init(&rx, PN532_TFI_CHIP);
	for (size_t i = 0; i < c->txlen; i++) {
		enum pn532_ev ev = pn532_rx_feed(&rx, c->tx[i]);

		if (ev == PN532_EV_NACK ||
		    (ev == PN532_EV_BAD && rx.bad != PN532_BAD_ERRFRM))
			abort();
	}
	c->txlen = 0;
}

/* A virtual NTAG 424 DNA with this UID in the field (if one fits). */
static inline void tap_card(struct pn532_chip *c, const uint8_t uid[7],
			    uint64_t clk)
{
	struct vcard *card = vcard_new_mem(uid);

	if (card && pn532_chip_tap(c, card, clk) < 0)
		vcard_free(card);
}

#endif
