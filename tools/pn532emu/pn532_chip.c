/*
 * pn532_chip.c - the emulated PN532 (see pn532_chip.h).
 *
 * Every information frame from the host is ACKed at once and answered with
 * one response frame, as the chip does.  Two commands may wait: an
 * InListPassiveTarget told to retry for ever (MxRtyPassiveActivation = FF)
 * and an InAutoPoll, which wait for a card, their deadline, an ACK from the
 * host (abort) or the next command frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pn532_chip.h"
#include "vcard.h"

/* PN532 command codes (User Manual, chapter 7). */
enum {
	CMD_DIAGNOSE = 0x00,
	CMD_GETFIRMWAREVERSION = 0x02,
	CMD_GETGENERALSTATUS = 0x04,
	CMD_READREGISTER = 0x06,
	CMD_WRITEREGISTER = 0x08,
	CMD_READGPIO = 0x0C,
	CMD_WRITEGPIO = 0x0E,
	CMD_SETSERIALBAUDRATE = 0x10,
	CMD_SETPARAMETERS = 0x12,
	CMD_SAMCONFIGURATION = 0x14,
	CMD_POWERDOWN = 0x16,
	CMD_RFCONFIGURATION = 0x32,
	CMD_INDATAEXCHANGE = 0x40,
	CMD_INCOMMUNICATETHRU = 0x42,
	CMD_INDESELECT = 0x44,
	CMD_INLISTPASSIVETARGET = 0x4A,
	CMD_INRELEASE = 0x52,
	CMD_INAUTOPOLL = 0x60,
};

/* PICC states (ISO/IEC 14443-3 and -4). */
enum {
	PICC_IDLE = 0, /* powered, answers REQA */
	PICC_HALT,     /* deselected or halted: silent until power cycle */
	PICC_L3,       /* selected (ACTIVE), no RATS yet */
	PICC_L4,       /* ISO-DEP activated */
};

#define PARAM_AUTO_RATS	   0x10
#define REG_CIU_CONTROL	   0x633C
#define REG_CIU_BITFRAMING 0x633D
#define REG_CIU_TXMODE	   0x6302
#define REG_CIU_RXMODE	   0x6303
#define REG_CIU_MANUALRCV  0x630D

/* What the card answers at activation (NTAG 424 DNA data sheet). */
static const uint8_t atqa[2] = {0x03, 0x44};
#define SAK 0x20
static const uint8_t ats[6] = {0x06, 0x77, 0x77, 0x71, 0x02, 0x80};

/* Most bytes an InDataExchange answer carries before MI chaining. */
#define DEX_MAX 262

static const uint16_t fsd_table[9] = {16, 24, 32, 40, 48, 64, 96, 128, 256};

/* ---- output ---------------------------------------------------------- */

static void out_raw(struct pn532_chip *c, const uint8_t *b, size_t n)
{
	if (c->txlen + n > sizeof(c->tx)) {
		/* The host stopped reading; a real UART would lose bytes. */
		c->errors++;
		return;
	}
	memcpy(c->tx + c->txlen, b, n);
	c->txlen += n;
}

/* Sends the response frame D5 (cmd+1) data... */
static void respond(struct pn532_chip *c, uint8_t cmd, const uint8_t *data,
		    size_t len)
{
	uint8_t pd[PN532_MAX_DATA];

	if (len > PN532_MAX_DATA - 1)
		len = PN532_MAX_DATA - 1;
	pd[0] = (uint8_t)(cmd + 1);
	if (len)
		memcpy(pd + 1, data, len);
	c->resplen = pn532_frame_build(c->resp, PN532_TFI_CHIP, pd, len + 1);
	out_raw(c, c->resp, c->resplen);
}

static void respond_status(struct pn532_chip *c, uint8_t cmd, uint8_t st)
{
	respond(c, cmd, &st, 1);
}

/* The application-level error frame: what a PN532 says to bad syntax. */
static void respond_error(struct pn532_chip *c)
{
	memcpy(c->resp, pn532_error_frame, sizeof(pn532_error_frame));
	c->resplen = sizeof(pn532_error_frame);
	out_raw(c, c->resp, c->resplen);
	c->errors++;
}

/* ---- the field ------------------------------------------------------- */

static void slot_clear_chain(struct pn532_slot *s)
{
	free(s->rx);
	free(s->txq);
	s->rx = s->txq = NULL;
	s->rxlen = s->txqlen = s->txqoff = 0;
	s->lastlen = 0;
}

static void slot_remove(struct pn532_chip *c, struct pn532_slot *s)
{
	if (!s->card)
		return;
	if (c->verbose)
		fprintf(stderr, "pn532emu: card %s left the field\n",
			vcard_path(s->card) ? vcard_path(s->card) : "(mem)");
	slot_clear_chain(s);
	vcard_free(s->card);
	memset(s, 0, sizeof(*s));
	s->budget = -1;
	/* A removed card ends any InDataExchange chaining in progress. */
	c->dex_inlen = c->dex_outlen = c->dex_outoff = 0;
}

/* The card lost power or was halted: its session state is gone. */
static void slot_power(struct pn532_slot *s, uint8_t picc)
{
	slot_clear_chain(s);
	s->picc = picc;
	s->tg = 0;
	s->bn = 1;
	vcard_reset(s->card);
}

static void field_off(struct pn532_chip *c)
{
	for (int i = 0; i < PN532_FIELD_MAX; i++)
		if (c->field[i].card)
			slot_power(&c->field[i], PICC_IDLE);
	c->rf_on = false;
}

static struct pn532_slot *slot_by_tg(struct pn532_chip *c, uint8_t tg)
{
	for (int i = 0; i < PN532_FIELD_MAX; i++)
		if (c->field[i].card && c->field[i].tg == tg && tg != 0)
			return &c->field[i];
	return NULL;
}

/*
 * Counts one APDU against the auto-removal budget.  Returns 1 when the
 * card must not answer (it left), 0 to answer.  *leave is set when the card
 * leaves right after answering.
 */
static int budget_take(struct pn532_slot *s, bool *leave, bool *lose)
{
	*leave = *lose = false;
	if (s->budget < 0)
		return 0;
	if (s->budget == 0)
		return 1;
	if (--s->budget == 0) {
		*leave = true;
		*lose = s->tear;
	}
	return 0;
}

/* Was target tg listed (even if its card has gone since)? */
static bool was_listed(const struct pn532_chip *c, uint8_t tg)
{
	return tg < 8 && ((c->listed >> tg) & 1);
}

/* ---- commands -------------------------------------------------------- */

static void cmd_diagnose(struct pn532_chip *c, const uint8_t *p, size_t n)
{
	uint8_t r[PN532_MAX_DATA];

	if (n < 1) {
		respond_error(c);
		return;
	}
	switch (p[0]) {
	case 0x00: /* communication line test: echo NumTst and InParam */
		memcpy(r, p, n);
		respond(c, CMD_DIAGNOSE, r, n);
		return;
	case 0x01: /* ROM test */
	case 0x02: /* RAM test */
	case 0x07: /* antenna self test */
		respond_status(c, CMD_DIAGNOSE, 0x00);
		return;
	case 0x04: { /* polling test to target: number of failures */
		int have = 0;

		for (int i = 0; i < PN532_FIELD_MAX; i++)
			have |= c->field[i].card != NULL;
		r[0] = have ? 0x00 : 0x80;
		respond(c, CMD_DIAGNOSE, r, 1);
		return;
	}
	case 0x06: { /* attention request / card presence */
		int have = 0;

		for (int i = 0; i < PN532_FIELD_MAX; i++)
			have |= c->field[i].card && c->field[i].picc == PICC_L4;
		respond_status(c, CMD_DIAGNOSE, have ? 0x00 : PN532_ST_TIMEOUT);
		return;
	}
	default:
		respond_error(c);
		return;
	}
}

static void cmd_general_status(struct pn532_chip *c)
{
	/* error, field, NbTg, 4 bytes a target, SAM status */
	uint8_t r[3 + 4 * PN532_FIELD_MAX + 1];
	size_t n = 0;
	uint8_t nb = 0;

	r[n++] = 0x00; /* last error */
	r[n++] = c->rf_on ? 0x01 : 0x00;
	r[n++] = 0;
	for (int i = 0; i < PN532_FIELD_MAX; i++) {
		if (!c->field[i].card || !c->field[i].tg)
			continue;
		r[n++] = c->field[i].tg;
		r[n++] = 0x00; /* BrRx 106 kbps */
		r[n++] = 0x00; /* BrTx */
		r[n++] = 0x00; /* modulation type: ISO/IEC 14443-A */
		nb++;
	}
	r[2] = nb;
	r[n++] = 0x00; /* SAM status */
	respond(c, CMD_GETGENERALSTATUS, r, n);
}

static void cmd_read_register(struct pn532_chip *c, const uint8_t *p, size_t n)
{
	uint8_t r[PN532_MAX_DATA];
	size_t k = 0;

	if (n == 0 || n % 2) {
		respond_error(c);
		return;
	}
	for (size_t i = 0; i < n; i += 2)
		r[k++] = c->regs[(p[i] << 8) | p[i + 1]];
	respond(c, CMD_READREGISTER, r, k);
}

static void cmd_write_register(struct pn532_chip *c, const uint8_t *p, size_t n)
{
	if (n == 0 || n % 3) {
		respond_error(c);
		return;
	}
	for (size_t i = 0; i < n; i += 3)
		c->regs[(p[i] << 8) | p[i + 1]] = p[i + 2];
	respond(c, CMD_WRITEREGISTER, NULL, 0);
}

static void cmd_sam(struct pn532_chip *c, const uint8_t *p, size_t n)
{
	if (n < 1 || n > 3 || p[0] < 0x01 || p[0] > 0x04 ||
	    (p[0] == 0x02 && n < 2)) {
		respond_error(c);
		return;
	}
	c->sam_mode = p[0];
	respond(c, CMD_SAMCONFIGURATION, NULL, 0);
}

static void cmd_rfconfig(struct pn532_chip *c, const uint8_t *p, size_t n)
{
	static const struct {
		uint8_t item, len;
	} items[] = {
	    {0x01, 1},	{0x02, 3}, {0x04, 1}, {0x05, 3},
	    {0x0A, 11}, {0x0B, 8}, {0x0C, 1}, {0x0D, 9},
	};
	size_t i;

	if (n < 1) {
		respond_error(c);
		return;
	}
	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		if (items[i].item == p[0])
			break;
	if (i == sizeof(items) / sizeof(items[0]) || n - 1 != items[i].len) {
		respond_error(c);
		return;
	}
	switch (p[0]) {
	case 0x01:
		if (p[1] & 0x01)
			c->rf_on = true;
		else
			field_off(c);
		break;
	case 0x04:
		c->rty_com = p[1];
		break;
	case 0x05:
		c->rty_atr = p[1];
		c->rty_psl = p[2];
		c->rty_passive = p[3];
		break;
	default:
		break; /* timings and analog settings: accepted, no effect */
	}
	respond(c, CMD_RFCONFIGURATION, NULL, 0);
}

/* Target data of one ISO/IEC 14443-A target, as InListPassiveTarget and
 * InAutoPoll give it: Tg SENS_RES SEL_RES NFCIDLength NFCID1 [ATS]. */
static size_t target_data(struct pn532_slot *s, bool with_ats, uint8_t *r)
{
	size_t n = 0;

	r[n++] = s->tg;
	r[n++] = atqa[0];
	r[n++] = atqa[1];
	r[n++] = SAK;
	r[n++] = VCARD_UID_LEN;
	memcpy(r + n, vcard_uid(s->card), VCARD_UID_LEN);
	n += VCARD_UID_LEN;
	if (with_ats) {
		memcpy(r + n, ats, sizeof(ats));
		n += sizeof(ats);
	}
	return n;
}

/* Activates one more IDLE card: REQA, anticollision, SELECT and (with
 * auto RATS) RATS.  Returns the slot, or NULL when no card answers. */
static struct pn532_slot *activate(struct pn532_chip *c, const uint8_t *uid,
				   size_t uidlen, bool rats, uint8_t tg)
{
	for (int i = 0; i < PN532_FIELD_MAX; i++) {
		struct pn532_slot *s = &c->field[i];

		if (!s->card || s->picc != PICC_IDLE)
			continue;
		if (uidlen && (uidlen != VCARD_UID_LEN ||
			       memcmp(uid, vcard_uid(s->card), uidlen) != 0))
			continue;
		s->tg = tg;
		s->picc = rats ? PICC_L4 : PICC_L3;
		s->bn = 1;
		s->fsd = 256;
		c->listed |= (uint8_t)(1u << tg);
		return s;
	}
	return NULL;
}

/* Releases every listed target (a new InListPassiveTarget does this). */
static void release_all(struct pn532_chip *c, uint8_t picc)
{
	for (int i = 0; i < PN532_FIELD_MAX; i++) {
		struct pn532_slot *s = &c->field[i];

		if (s->card && s->tg) {
			slot_power(s, picc);
			s->picc = picc;
		}
	}
	c->listed = 0;
	c->dex_inlen = c->dex_outlen = c->dex_outoff = 0;
}

/*
 * InListPassiveTarget.  Returns 1 when answered, 0 when it must wait for a
 * card (infinite retries and nothing found).
 */
static int cmd_inlist(struct pn532_chip *c, const uint8_t *p, size_t n,
		      bool final)
{
	uint8_t r[PN532_MAX_DATA];
	size_t k = 1;
	uint8_t found = 0;

	if (n < 2 || p[0] < 1 || p[0] > 2 || p[1] > 0x08) {
		respond_error(c);
		return 1;
	}
	c->rf_on = true;
	release_all(c, PICC_IDLE);
	if (p[1] == 0x00) { /* 106 kbps type A */
		for (uint8_t tg = 1; tg <= p[0]; tg++) {
			struct pn532_slot *s =
			    activate(c, p + 2, n - 2,
				     (c->params & PARAM_AUTO_RATS) != 0, tg);

			if (!s)
				break;
			k += target_data(s, s->picc == PICC_L4, r + k);
			found++;
		}
	}
	if (!found && c->rty_passive == 0xFF && !final)
		return 0;
	r[0] = found;
	respond(c, CMD_INLISTPASSIVETARGET, r, k);
	return 1;
}

/* InAutoPoll: as InListPassiveTarget, for the listed target types. */
static int cmd_autopoll(struct pn532_chip *c, const uint8_t *p, size_t n,
			bool final)
{
	uint8_t r[PN532_MAX_DATA];
	size_t k = 1;
	uint8_t found = 0;

	if (n < 3 || n > 17 || p[0] == 0 || p[1] < 1 || p[1] > 0x0F) {
		respond_error(c);
		return 1;
	}
	c->rf_on = true;
	release_all(c, PICC_IDLE);
	for (size_t i = 2; i < n && found < 2; i++) {
		uint8_t type = p[i];
		bool l4 = false;
		struct pn532_slot *s;

		/* 00 generic 106A, 10 MIFARE, 20 ISO 14443-4A: our card
		 * answers all three; 20 also gets RATS. */
		if (type == 0x20)
			l4 = true;
		else if (type != 0x00 && type != 0x10)
			continue;
		s = activate(c, NULL, 0, l4, (uint8_t)(found + 1));
		if (!s)
			continue;
		r[k++] = type;
		k++; /* length, filled below */
		{
			size_t tl = target_data(s, l4, r + k);

			r[k - 1] = (uint8_t)tl;
			k += tl;
		}
		found++;
	}
	if (!found && !final)
		return 0;
	r[0] = found;
	respond(c, CMD_INAUTOPOLL, r, k);
	return 1;
}

/* Runs an APDU through a card; handles auto removal.  Returns the
 * response length, or 0 when the card did not answer. */
static size_t card_apdu(struct pn532_chip *c, struct pn532_slot *s,
			const uint8_t *apdu, size_t len, uint8_t *out,
			size_t cap)
{
	bool leave, lose;
	size_t rl;

	if (budget_take(s, &leave, &lose)) {
		slot_remove(c, s);
		return 0;
	}
	rl = vcard_apdu(s->card, apdu, len, out, cap);
	if (leave)
		slot_remove(c, s);
	return lose ? 0 : rl;
}

static void dex_send_out(struct pn532_chip *c)
{
	uint8_t r[1 + DEX_MAX];
	size_t left = c->dex_outlen - c->dex_outoff;
	size_t k = left > DEX_MAX ? DEX_MAX : left;

	r[0] = left > DEX_MAX ? PN532_MI : 0x00;
	memcpy(r + 1, c->dex_out + c->dex_outoff, k);
	c->dex_outoff += k;
	if (c->dex_outoff == c->dex_outlen)
		c->dex_outlen = c->dex_outoff = 0;
	respond(c, CMD_INDATAEXCHANGE, r, k + 1);
}

static void cmd_dex(struct pn532_chip *c, const uint8_t *p, size_t n)
{
	struct pn532_slot *s;
	uint8_t tg;
	size_t rl;

	if (n < 1) {
		respond_error(c);
		return;
	}
	tg = p[0] & 0x3F;
	s = slot_by_tg(c, tg);
	if (!s) {
		c->dex_inlen = c->dex_outlen = c->dex_outoff = 0;
		/* A listed card that has gone does not answer: timeout. */
		respond_status(c, CMD_INDATAEXCHANGE,
			       was_listed(c, tg) ? PN532_ST_TIMEOUT
						 : PN532_ST_CONTEXT);
		return;
	}
	if (s->picc != PICC_L4) {
		/* Without ISO-DEP this card does not understand the data. */
		respond_status(c, CMD_INDATAEXCHANGE, PN532_ST_TIMEOUT);
		return;
	}
	/* The host asks for the rest of a long answer. */
	if (n == 1 && !(p[0] & PN532_MI) && c->dex_outlen) {
		dex_send_out(c);
		return;
	}
	c->dex_outlen = c->dex_outoff = 0;
	if (c->dex_inlen + (n - 1) > sizeof(c->dex_in)) {
		c->dex_inlen = 0;
		respond_status(c, CMD_INDATAEXCHANGE, PN532_ST_BUFOVF);
		return;
	}
	memcpy(c->dex_in + c->dex_inlen, p + 1, n - 1);
	c->dex_inlen += n - 1;
	if (p[0] & PN532_MI) { /* more of this command follows */
		respond_status(c, CMD_INDATAEXCHANGE, 0x00);
		return;
	}
	if (c->dex_inlen == 0) {
		respond_status(c, CMD_INDATAEXCHANGE, PN532_ST_INVPARAM);
		return;
	}
	rl = card_apdu(c, s, c->dex_in, c->dex_inlen, c->dex_out,
		       sizeof(c->dex_out));
	c->dex_inlen = 0;
	if (rl == 0) {
		respond_status(c, CMD_INDATAEXCHANGE, PN532_ST_TIMEOUT);
		return;
	}
	c->dex_outlen = rl;
	c->dex_outoff = 0;
	dex_send_out(c);
}

/* ---- ISO-DEP blocks through InCommunicateThru -------------------------- */

/* Sends one PICC block (already with PCB) as the InCommunicateThru answer
 * and keeps it for R(NAK). */
static void thru_block(struct pn532_chip *c, struct pn532_slot *s,
		       const uint8_t *blk, size_t len)
{
	uint8_t r[1 + sizeof(s->last)];

	if (len > sizeof(s->last))
		len = sizeof(s->last);
	memcpy(s->last, blk, len);
	s->lastlen = len;
	r[0] = 0x00;
	memcpy(r + 1, blk, len);
	respond(c, CMD_INCOMMUNICATETHRU, r, len + 1);
}

/* Sends the next I-block of the response held in s->txq. */
static void thru_next_i(struct pn532_chip *c, struct pn532_slot *s)
{
	uint8_t blk[300];
	size_t max = (size_t)s->fsd - 3; /* PCB and CRC */
	size_t left = s->txqlen - s->txqoff;
	size_t k;

	if (max > sizeof(blk) - 1)
		max = sizeof(blk) - 1;
	k = left > max ? max : left;
	blk[0] = (uint8_t)(0x02 | s->bn | (left > max ? 0x10 : 0));
	memcpy(blk + 1, s->txq + s->txqoff, k);
	s->txqoff += k;
	if (s->txqoff == s->txqlen) {
		free(s->txq);
		s->txq = NULL;
		s->txqlen = s->txqoff = 0;
	}
	thru_block(c, s, blk, k + 1);
}

static void thru_l4(struct pn532_chip *c, struct pn532_slot *s,
		    const uint8_t *b, size_t n)
{
	uint8_t pcb = b[0];
	size_t h = 1;

	if ((pcb & 0xE2) == 0x02) { /* I-block */
		uint8_t resp[1024], bn;
		uint16_t fsd = s->fsd;
		size_t rl;
		uint8_t *nrx;

		if (pcb & 0x08)
			h++; /* CID */
		if (pcb & 0x04)
			h++; /* NAD */
		if (n < h) {
			respond_status(c, CMD_INCOMMUNICATETHRU,
				       PN532_ST_TIMEOUT);
			return;
		}
		s->bn ^= 1;
		free(s->txq);
		s->txq = NULL;
		s->txqlen = s->txqoff = 0;
		/* Over the limit, realloc is not called: had it moved the
		 * chain, s->rx would be freed already, twice by the clear. */
		nrx = s->rxlen + (n - h) > 1024
			  ? NULL
			  : realloc(s->rx, s->rxlen + (n - h) + 1);
		if (!nrx) {
			slot_clear_chain(s);
			respond_status(c, CMD_INCOMMUNICATETHRU,
				       PN532_ST_BUFOVF);
			return;
		}
		s->rx = nrx;
		memcpy(s->rx + s->rxlen, b + h, n - h);
		s->rxlen += n - h;
		if (pcb & 0x10) { /* chaining: R(ACK) */
			uint8_t ack = (uint8_t)(0xA2 | s->bn);

			thru_block(c, s, &ack, 1);
			return;
		}
		bn = s->bn;
		rl = card_apdu(c, s, s->rx, s->rxlen, resp + 1,
			       sizeof(resp) - 1);
		if (s->card == NULL && rl > 0 && rl + 1 <= (size_t)fsd - 2) {
			/* It answered, then left the field: the answer
			 * still arrives (one block; the slot is gone). */
			uint8_t r[1 + sizeof(resp)];

			r[0] = 0x00;
			r[1] = (uint8_t)(0x02 | bn);
			memcpy(r + 2, resp + 1, rl);
			respond(c, CMD_INCOMMUNICATETHRU, r, rl + 2);
			return;
		}
		if (s->card == NULL || rl == 0) {
			if (s->card)
				slot_clear_chain(s);
			respond_status(c, CMD_INCOMMUNICATETHRU,
				       PN532_ST_TIMEOUT);
			return;
		}
		memmove(resp, resp + 1, rl);
		free(s->rx);
		s->rx = NULL;
		s->rxlen = 0;
		s->txq = malloc(rl);
		if (!s->txq) {
			respond_status(c, CMD_INCOMMUNICATETHRU,
				       PN532_ST_BUFOVF);
			return;
		}
		memcpy(s->txq, resp, rl);
		s->txqlen = rl;
		s->txqoff = 0;
		thru_next_i(c, s);
		return;
	}
	if ((pcb & 0xE6) == 0xA2) { /* R-block */
		bool nak = pcb & 0x10;

		if ((pcb & 1) == s->bn) {
			if (nak && s->lastlen) { /* resend the last block */
				uint8_t last[sizeof(s->last)];
				size_t ll = s->lastlen;

				memcpy(last, s->last, ll);
				thru_block(c, s, last, ll);
				return;
			}
		} else if (!nak && s->txq) { /* ACK: next chained block */
			s->bn ^= 1;
			thru_next_i(c, s);
			return;
		}
		{
			uint8_t ack = (uint8_t)(0xA2 | s->bn);

			thru_block(c, s, &ack, 1);
		}
		return;
	}
	if ((pcb & 0xC7) == 0xC2) {	    /* S-block */
		if ((pcb & 0x30) == 0x00) { /* DESELECT */
			uint8_t d = 0xC2;

			thru_block(c, s, &d, 1);
			slot_power(s, PICC_HALT);
			return;
		}
	}
	/* Anything else is a protocol error the PICC ignores. */
	respond_status(c, CMD_INCOMMUNICATETHRU, PN532_ST_TIMEOUT);
}

static void cmd_thru(struct pn532_chip *c, const uint8_t *p, size_t n)
{
	struct pn532_slot *s = NULL;
	uint8_t txbits = c->regs[REG_CIU_BITFRAMING] & 0x07;

	/* The PN532 talks to the last activated target. */
	for (int i = 0; i < PN532_FIELD_MAX; i++)
		if (c->field[i].card && c->field[i].tg &&
		    (c->field[i].picc == PICC_L3 ||
		     c->field[i].picc == PICC_L4))
			s = &c->field[i];
	/* Without CRC and parity handling, or in bit mode, our card sees
	 * no well-formed frame and stays silent. */
	if (!s || n == 0 || txbits || !(c->regs[REG_CIU_TXMODE] & 0x80) ||
	    (c->regs[REG_CIU_MANUALRCV] & 0x10)) {
		respond_status(c, CMD_INCOMMUNICATETHRU, PN532_ST_TIMEOUT);
		return;
	}
	c->regs[REG_CIU_CONTROL] &= 0xF8; /* RxLastBits: whole bytes */
	if (s->picc == PICC_L3) {
		if (p[0] == 0xE0 && n == 2) { /* RATS */
			s->fsd = fsd_table[(p[1] >> 4) > 8 ? 8 : (p[1] >> 4)];
			s->picc = PICC_L4;
			s->bn = 1;
			thru_block(c, s, ats, sizeof(ats));
			return;
		}
		respond_status(c, CMD_INCOMMUNICATETHRU, PN532_ST_TIMEOUT);
		return;
	}
	thru_l4(c, s, p, n);
}

static void cmd_deselect(struct pn532_chip *c, uint8_t cmd, const uint8_t *p,
			 size_t n)
{
	uint8_t tg, st = 0x00;

	if (n != 1) {
		respond_error(c);
		return;
	}
	tg = p[0] & 0x0F;
	for (int i = 0; i < PN532_FIELD_MAX; i++) {
		struct pn532_slot *s = &c->field[i];

		if (s->card && s->tg && (tg == 0 || s->tg == tg))
			slot_power(s, PICC_HALT);
	}
	/* Releasing a target never listed is refused; one listed whose
	 * card has left is released without complaint. */
	if (tg && !was_listed(c, tg))
		st = PN532_ST_CONTEXT;
	c->listed &= (uint8_t)(tg ? ~(1u << tg) : 0);
	c->dex_inlen = c->dex_outlen = c->dex_outoff = 0;
	respond_status(c, cmd, st);
}

/* Dispatches one command; returns 0 when it waits for a card. */
static int dispatch(struct pn532_chip *c, const uint8_t *d, size_t n,
		    bool final)
{
	const uint8_t *p = d + 1;
	size_t pn = n - 1;

	switch (d[0]) {
	case CMD_DIAGNOSE:
		cmd_diagnose(c, p, pn);
		break;
	case CMD_GETFIRMWAREVERSION: {
		/* IC PN532, firmware 1.6, supports ISO 14443 A, B and
		 * ISO 18092 (as a real PN532C106 answers). */
		static const uint8_t fw[4] = {0x32, 0x01, 0x06, 0x07};

		respond(c, d[0], fw, sizeof(fw));
		break;
	}
	case CMD_GETGENERALSTATUS:
		cmd_general_status(c);
		break;
	case CMD_READREGISTER:
		cmd_read_register(c, p, pn);
		break;
	case CMD_WRITEREGISTER:
		cmd_write_register(c, p, pn);
		break;
	case CMD_READGPIO:
		respond(c, d[0], c->gpio, sizeof(c->gpio));
		break;
	case CMD_WRITEGPIO:
		if (pn != 2) {
			respond_error(c);
			break;
		}
		if (p[0] & 0x80)
			c->gpio[0] = p[0] & 0x3F;
		if (p[1] & 0x80)
			c->gpio[1] = p[1] & 0x3F;
		respond(c, d[0], NULL, 0);
		break;
	case CMD_SETSERIALBAUDRATE:
		if (pn != 1 || p[0] > 0x08) {
			respond_error(c);
			break;
		}
		respond(c, d[0], NULL, 0); /* a pty has no baud rate */
		break;
	case CMD_SETPARAMETERS:
		if (pn != 1) {
			respond_error(c);
			break;
		}
		c->params = p[0];
		respond(c, d[0], NULL, 0);
		break;
	case CMD_SAMCONFIGURATION:
		cmd_sam(c, p, pn);
		break;
	case CMD_POWERDOWN:
		if (pn < 1 || pn > 2) {
			respond_error(c);
			break;
		}
		respond_status(c, d[0], 0x00);
		field_off(c);
		c->asleep = true;
		break;
	case CMD_RFCONFIGURATION:
		cmd_rfconfig(c, p, pn);
		break;
	case CMD_INDATAEXCHANGE:
		cmd_dex(c, p, pn);
		break;
	case CMD_INCOMMUNICATETHRU:
		cmd_thru(c, p, pn);
		break;
	case CMD_INDESELECT:
	case CMD_INRELEASE:
		cmd_deselect(c, d[0], p, pn);
		break;
	case CMD_INLISTPASSIVETARGET:
		return cmd_inlist(c, p, pn, final);
	case CMD_INAUTOPOLL:
		return cmd_autopoll(c, p, pn, final);
	default:
		respond_error(c);
		break;
	}
	return 1;
}

static void on_frame(struct pn532_chip *c, const uint8_t *d, size_t n,
		     uint64_t now)
{
	c->frames++;
	/* A new command ends one that was waiting. */
	c->pending = false;
	out_raw(c, pn532_ack_frame, sizeof(pn532_ack_frame));
	if (n == 0) {
		respond_error(c);
		return;
	}
	if (c->verbose > 1)
		fprintf(stderr, "pn532emu: command %02X (%zu bytes)\n", d[0],
			n);
	if (!dispatch(c, d, n, false)) {
		c->pending = true;
		memcpy(c->pend_cmd, d, n);
		c->pend_len = n;
		c->pend_deadline = 0;
		if (d[0] == CMD_INAUTOPOLL && d[1] != 0xFF) {
			/* PollNr x Period x 150 ms x number of types */
			uint64_t ms = (uint64_t)d[1] * d[2] * 150 * (n - 3);

			c->pend_deadline = now + (ms ? ms : 1);
		}
	}
}

/* ---- public ------------------------------------------------------------ */

void pn532_chip_init(struct pn532_chip *c)
{
	int verbose = c->verbose;

	memset(c, 0, sizeof(*c));
	c->verbose = verbose;
	pn532_rx_init(&c->rx, PN532_TFI_HOST);
	c->rty_atr = 0xFF;
	c->rty_psl = 0x01;
	c->rty_passive = 0xFF;
	c->sam_mode = 0x01;
	c->gpio[0] = 0x3F;
	c->gpio[1] = 0x3F;
	c->gpio[2] = 0x03;
	/* CIU reset values that libnfc reads back (PN532 UM, section 8.6) */
	c->regs[REG_CIU_TXMODE] = 0x80;
	c->regs[REG_CIU_RXMODE] = 0x80;
	c->regs[REG_CIU_CONTROL] = 0x10;
	c->regs[0x6327] = 0x90; /* CIU Version */
	for (int i = 0; i < PN532_FIELD_MAX; i++)
		c->field[i].budget = -1;
}

void pn532_chip_free(struct pn532_chip *c)
{
	pn532_chip_remove_all(c);
}

void pn532_chip_input(struct pn532_chip *c, const uint8_t *buf, size_t n,
		      uint64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		enum pn532_ev ev;

		if (c->asleep) {
			/* Any HSU activity wakes the chip; that byte is
			 * lost, and the rest of the wake-up preamble is
			 * skipped by the frame sync. */
			c->asleep = false;
			pn532_rx_init(&c->rx, PN532_TFI_HOST);
			continue;
		}
		ev = pn532_rx_feed(&c->rx, buf[i]);
		switch (ev) {
		case PN532_EV_FRAME:
			on_frame(c, c->rx.data, c->rx.len, now_ms);
			break;
		case PN532_EV_ACK:
			/* The host aborts the running command. */
			c->pending = false;
			break;
		case PN532_EV_NACK:
			if (c->resplen)
				out_raw(c, c->resp, c->resplen);
			break;
		case PN532_EV_BAD:
			/* A real PN532 drops a bad frame silently; the host
			 * times out waiting for the ACK. */
			c->errors++;
			if (c->verbose)
				fprintf(stderr,
					"pn532emu: dropped bad frame (%d)\n",
					c->rx.bad);
			break;
		case PN532_EV_NONE:
			break;
		}
	}
}

void pn532_chip_tick(struct pn532_chip *c, uint64_t now_ms)
{
	if (c->pending && c->pend_deadline && now_ms >= c->pend_deadline) {
		c->pending = false;
		dispatch(c, c->pend_cmd, c->pend_len, true);
	}
}

int pn532_chip_timeout(const struct pn532_chip *c, uint64_t now_ms)
{
	if (!c->pending || !c->pend_deadline)
		return -1;
	if (c->pend_deadline <= now_ms)
		return 0;
	return (int)(c->pend_deadline - now_ms);
}

int pn532_chip_tap(struct pn532_chip *c, struct vcard *card, uint64_t now_ms)
{
	struct pn532_slot *free_slot = NULL;

	for (int i = 0; i < PN532_FIELD_MAX; i++) {
		if (!c->field[i].card) {
			if (!free_slot)
				free_slot = &c->field[i];
			continue;
		}
		if (memcmp(vcard_uid(c->field[i].card), vcard_uid(card),
			   VCARD_UID_LEN) == 0)
			return -1;
	}
	if (!free_slot)
		return -1;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->card = card;
	free_slot->picc = PICC_IDLE;
	free_slot->budget = -1;
	free_slot->bn = 1;
	vcard_reset(card);
	/* A command waiting for a card gets it now. */
	if (c->pending && dispatch(c, c->pend_cmd, c->pend_len, false))
		c->pending = false;
	return 0;
}

int pn532_chip_remove_all(struct pn532_chip *c)
{
	int n = 0;

	for (int i = 0; i < PN532_FIELD_MAX; i++) {
		if (c->field[i].card) {
			slot_remove(c, &c->field[i]);
			n++;
		}
	}
	return n;
}

int pn532_chip_remove_after(struct pn532_chip *c, long n, bool tear)
{
	int k = 0;

	for (int i = 0; i < PN532_FIELD_MAX; i++) {
		if (!c->field[i].card)
			continue;
		c->field[i].budget = n;
		c->field[i].tear = tear;
		k++;
	}
	return k;
}

int pn532_chip_cards(const struct pn532_chip *c)
{
	int n = 0;

	for (int i = 0; i < PN532_FIELD_MAX; i++)
		n += c->field[i].card != NULL;
	return n;
}
