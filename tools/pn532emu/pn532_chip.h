/*
 * pn532_chip.h - an emulated NXP PN532 as libnfc's pn532_uart driver sees
 * it: bytes from the host in, bytes to the host out, virtual cards in its
 * RF field.  No I/O and no clock of its own: the caller passes the time in
 * milliseconds and writes chip->tx out.
 *
 * Command set (PN532 User Manual, chapter 7): Diagnose, GetFirmwareVersion,
 * GetGeneralStatus, ReadRegister, WriteRegister, ReadGPIO, WriteGPIO,
 * SetSerialBaudRate, SetParameters, SAMConfiguration, PowerDown,
 * RFConfiguration, InListPassiveTarget, InDataExchange, InCommunicateThru,
 * InDeselect, InRelease, InAutoPoll.  Anything else is answered with the
 * PN532's application-level error frame.
 */
#ifndef PN532EMU_CHIP_H
#define PN532EMU_CHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pn532_frame.h"

struct vcard;

#define PN532_FIELD_MAX 2 /* cards the PN532 can hold activated at once */

/* PN532 status byte error codes (User Manual, table 7.1). */
#define PN532_ST_TIMEOUT    0x01 /* the target has not answered */
#define PN532_ST_BUFOVF	    0x07 /* insufficient communication buffer */
#define PN532_ST_INVPARAM   0x10 /* invalid parameter */
#define PN532_ST_NOTALLOWED 0x26 /* not allowed in this configuration */
#define PN532_ST_CONTEXT    0x27 /* command not acceptable in context */
#define PN532_ST_RELEASED   0x29 /* target released by the initiator */
#define PN532_ST_GONE	    0x2B /* activated card has disappeared */
#define PN532_MI	    0x40 /* More Information bit in status / Tg */

/* One card in the field and what the PN532 knows about it. */
struct pn532_slot {
	struct vcard *card; /* owned by the chip while in the field */
	uint8_t picc;	    /* PICC_* state, see pn532_chip.c */
	uint8_t tg;	    /* logical target number, 0 = not listed */
	uint8_t bn;	    /* ISO-DEP block number of the PICC */
	uint16_t fsd;	    /* PCD frame size (from RATS) */
	long budget;	    /* APDUs before auto removal, -1 = none */
	bool tear;	    /* the last budgeted APDU loses its answer */
	/* ISO-DEP chaining through InCommunicateThru */
	uint8_t *rx; /* command being chained in (malloc'd) */
	size_t rxlen;
	uint8_t *txq; /* response being chained out (malloc'd) */
	size_t txqlen, txqoff;
	uint8_t last[300]; /* the last block sent, for R(NAK) */
	size_t lastlen;
};

struct pn532_chip {
	/* host side */
	struct pn532_rx rx;
	bool asleep;	  /* after PowerDown: the next byte wakes it */
	uint8_t tx[8192]; /* bytes to write to the host */
	size_t txlen;
	uint8_t resp[PN532_MAX_FRAME]; /* last response frame, for NACK */
	size_t resplen;

	/* pending InListPassiveTarget / InAutoPoll waiting for a card */
	bool pending;
	uint8_t pend_cmd[PN532_MAX_DATA];
	size_t pend_len;
	uint64_t pend_deadline; /* ms; 0 = wait for ever */

	/* InDataExchange chaining (MI) both ways */
	uint8_t dex_in[1024];
	size_t dex_inlen;
	uint8_t dex_out[1024];
	size_t dex_outlen, dex_outoff;

	/* chip settings */
	uint8_t params; /* SetParameters flags */
	uint8_t sam_mode;
	bool rf_on;
	uint8_t rty_atr, rty_psl, rty_passive, rty_com;
	uint8_t gpio[3];
	uint8_t regs[65536];

	uint8_t listed; /* bit n: target n was listed (even if gone) */

	/* the RF field */
	struct pn532_slot field[PN532_FIELD_MAX];

	/* statistics for logs */
	unsigned long frames, errors;
	int verbose;
};

/* Sets the chip to its power-on state with an empty field. */
void pn532_chip_init(struct pn532_chip *c);
/* Frees every card still in the field. */
void pn532_chip_free(struct pn532_chip *c);

/* Feeds bytes received from the host; responses are appended to c->tx. */
void pn532_chip_input(struct pn532_chip *c, const uint8_t *buf, size_t n,
		      uint64_t now_ms);

/* Answers a pending command whose deadline has passed. */
void pn532_chip_tick(struct pn532_chip *c, uint64_t now_ms);

/* Milliseconds until the next deadline, or -1 when there is none. */
int pn532_chip_timeout(const struct pn532_chip *c, uint64_t now_ms);

/*
 * Puts card in the field (the chip takes ownership).  Returns 0, or -1 when
 * the field is full or a card with that UID is already there (then the
 * caller keeps ownership).
 */
int pn532_chip_tap(struct pn532_chip *c, struct vcard *card, uint64_t now_ms);

/* Takes every card out of the field; returns how many there were. */
int pn532_chip_remove_all(struct pn532_chip *c);

/*
 * Arms auto removal: every card in the field answers n more APDUs and then
 * leaves the field.  With tear, the n-th APDU is executed by the card but
 * its answer is lost (the card leaves while answering).  Returns the
 * number of cards armed.
 */
int pn532_chip_remove_after(struct pn532_chip *c, long n, bool tear);

/* Number of cards in the field. */
int pn532_chip_cards(const struct pn532_chip *c);

#endif
