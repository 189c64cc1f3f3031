/*
 * test_emu.c - tapaid-pn532emu without a pty: the PN532 frame codec, the
 * chip model fed frames directly, and the virtual NTAG 424 DNA driven by
 * the PCD side of tapaid/ntag.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_util.h"
#include "test_emu_ops.h"
#include "../../tools/pn532emu/pn532_chip.h"
#include "../../tools/pn532emu/pn532_frame.h"
#include "../../tools/pn532emu/vcard.h"

static const uint8_t k_meta[16] = {0x42, 0xAF, 0xF1, 0x14, 0xF2, 0xCB,
				   0x3B, 0x61, 0x41, 0xBE, 0x6D, 0xC9,
				   0x5D, 0xFC, 0x54, 0x16};
static const uint8_t k_file[16] = {0xB6, 0x2A, 0x9B, 0xAF, 0x09, 0x24,
				   0x39, 0xBD, 0x43, 0xC6, 0x2A, 0xEE,
				   0x96, 0xB9, 0x70, 0xC5};
static const uint8_t zero16[16];

/* ---- frame codec ----------------------------------------------------- */

static enum pn532_ev feed_all(struct pn532_rx *rx, const uint8_t *b, size_t n,
			      int *frames)
{
	enum pn532_ev last = PN532_EV_NONE;

	for (size_t i = 0; i < n; i++) {
		enum pn532_ev ev = pn532_rx_feed(rx, b[i]);

		if (ev != PN532_EV_NONE)
			last = ev;
		if (ev == PN532_EV_FRAME && frames)
			(*frames)++;
	}
	return last;
}

static void test_frame_roundtrip(void **state)
{
	static const size_t lens[] = {1, 2, 253, 254, 255, 256, 264};
	uint8_t data[PN532_MAX_DATA], fr[PN532_MAX_FRAME];
	struct pn532_rx rx;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		size_t n = pn532_frame_build(fr, PN532_TFI_HOST, data, lens[i]);
		int frames = 0;

		/* normal frames up to 254 bytes, extended above */
		assert_int_equal(n, lens[i] + (lens[i] <= 254 ? 8 : 11));
		pn532_rx_init(&rx, PN532_TFI_HOST);
		assert_int_equal(feed_all(&rx, fr, n, &frames), PN532_EV_FRAME);
		assert_int_equal(frames, 1);
		assert_int_equal(rx.len, lens[i]);
		assert_memory_equal(rx.data, data, lens[i]);
	}
	assert_int_equal(pn532_frame_build(fr, PN532_TFI_HOST, data, 265), 0);
}

static void test_frame_codes_and_errors(void **state)
{
	static const uint8_t wake[] = {0x55, 0x55, 0x00, 0x00, 0x00, 0x00};
	uint8_t fr[PN532_MAX_FRAME], d[2] = {0x02, 0x00};
	struct pn532_rx rx;
	size_t n;
	int frames = 0;

	(void)state;
	pn532_rx_init(&rx, PN532_TFI_HOST);
	assert_int_equal(feed_all(&rx, pn532_ack_frame, 6, NULL), PN532_EV_ACK);
	assert_int_equal(feed_all(&rx, pn532_nack_frame, 6, NULL),
			 PN532_EV_NACK);
	assert_int_equal(feed_all(&rx, pn532_error_frame, 8, NULL),
			 PN532_EV_BAD);
	assert_int_equal(rx.bad, PN532_BAD_ERRFRM);

	/* wrong LCS, wrong DCS, wrong TFI */
	n = pn532_frame_build(fr, PN532_TFI_HOST, d, 1);
	fr[4] ^= 1;
	assert_int_equal(feed_all(&rx, fr, n, NULL), PN532_EV_BAD);
	assert_int_equal(rx.bad, PN532_BAD_LCS);
	n = pn532_frame_build(fr, PN532_TFI_HOST, d, 1);
	fr[n - 2] ^= 1;
	assert_int_equal(feed_all(&rx, fr, n, NULL), PN532_EV_BAD);
	assert_int_equal(rx.bad, PN532_BAD_DCS);
	n = pn532_frame_build(fr, PN532_TFI_CHIP, d, 1);
	assert_int_equal(feed_all(&rx, fr, n, NULL), PN532_EV_BAD);
	assert_int_equal(rx.bad, PN532_BAD_TFI);
	/* an extended length over the limit */
	{
		static const uint8_t big[] = {0x00, 0x00, 0xFF, 0xFF,
					      0xFF, 0x01, 0x0A, 0xF5};

		assert_int_equal(feed_all(&rx, big, sizeof(big), NULL),
				 PN532_EV_BAD);
		assert_int_equal(rx.bad, PN532_BAD_LEN);
	}
	/* junk and the wake-up preamble before a frame are skipped */
	feed_all(&rx, (const uint8_t *)"\x13\x37\xFF", 3, NULL);
	feed_all(&rx, wake, sizeof(wake), NULL);
	n = pn532_frame_build(fr, PN532_TFI_HOST, d, 2);
	assert_int_equal(feed_all(&rx, fr, n, &frames), PN532_EV_FRAME);
	assert_int_equal(frames, 1);
	assert_int_equal(rx.len, 2);
}

/* ---- chip ------------------------------------------------------------- */

static struct pn532_chip *chip;
static uint64_t clk = 1000;

/* Parsed answer of the last command. */
static struct {
	int acked;
	int error_frame;
	uint8_t data[PN532_MAX_DATA];
	size_t len;
	int frames;
} ans;

static void parse_tx(void)
{
	struct pn532_rx rx;

	memset(&ans, 0, sizeof(ans));
	if (chip->txlen >= 6 && memcmp(chip->tx, pn532_ack_frame, 6) == 0)
		ans.acked = 1;
	if (chip->txlen >= 14 &&
	    memcmp(chip->tx + 6, pn532_error_frame, 8) == 0)
		ans.error_frame = 1;
	pn532_rx_init(&rx, PN532_TFI_CHIP);
	for (size_t i = 0; i < chip->txlen; i++) {
		if (pn532_rx_feed(&rx, chip->tx[i]) == PN532_EV_FRAME) {
			memcpy(ans.data, rx.data, rx.len);
			ans.len = rx.len;
			ans.frames++;
		}
	}
	chip->txlen = 0;
}

/* Sends a command (cmd + params) and parses what the chip sends back. */
static void send_cmd(const uint8_t *d, size_t n)
{
	uint8_t fr[PN532_MAX_FRAME];
	size_t fl = pn532_frame_build(fr, PN532_TFI_HOST, d, n);

	pn532_chip_input(chip, fr, fl, clk);
	parse_tx();
}

#define CMD(...)                                                               \
	do {                                                                   \
		static const uint8_t c_[] = {__VA_ARGS__};                     \
		send_cmd(c_, sizeof(c_));                                      \
	} while (0)

static int setup_chip(void **state)
{
	(void)state;
	chip = calloc(1, sizeof(*chip));
	assert_non_null(chip);
	pn532_chip_init(chip);
	return 0;
}

static int teardown_chip(void **state)
{
	(void)state;
	pn532_chip_free(chip);
	free(chip);
	return 0;
}

static const uint8_t test_uid[7] = {0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66};

static void test_chip_basics(void **state)
{
	(void)state;
	CMD(0x02); /* GetFirmwareVersion */
	assert_true(ans.acked);
	assert_hex_equal(ans.data, ans.len, "0332010607");
	CMD(0x00, 0x00, 'l', 'i', 'b', 'n', 'f', 'c'); /* Diagnose echo */
	assert_hex_equal(ans.data, ans.len, "01006C69626E6663");
	CMD(0x14, 0x01); /* SAMConfiguration normal */
	assert_hex_equal(ans.data, ans.len, "15");
	CMD(0x14, 0x07); /* bad SAM mode: syntax error frame */
	assert_true(ans.acked);
	assert_true(ans.error_frame);
	CMD(0x8C, 0x00); /* TgInitAsTarget: not emulated */
	assert_true(ans.error_frame);
	/* multi-address WriteRegister and ReadRegister */
	CMD(0x08, 0x63, 0x1C, 0xAB, 0x63, 0x1D, 0xCD);
	assert_hex_equal(ans.data, ans.len, "09");
	CMD(0x06, 0x63, 0x1D, 0x63, 0x1C, 0x63, 0x02);
	assert_hex_equal(ans.data, ans.len, "07CDAB80");
	CMD(0x06, 0x63); /* odd address bytes */
	assert_true(ans.error_frame);
	CMD(0x12, 0x14); /* SetParameters */
	assert_hex_equal(ans.data, ans.len, "13");
	CMD(0x32, 0x05, 0xFF, 0x01, 0x02); /* RFConfiguration MaxRetries */
	assert_hex_equal(ans.data, ans.len, "33");
	CMD(0x32, 0x05, 0xFF); /* wrong length for the item */
	assert_true(ans.error_frame);
	/* NACK: the chip sends its last answer again */
	CMD(0x02);
	pn532_chip_input(chip, pn532_nack_frame, 6, clk);
	{
		struct pn532_rx rx;
		int got = 0;

		pn532_rx_init(&rx, PN532_TFI_CHIP);
		for (size_t i = 0; i < chip->txlen; i++)
			if (pn532_rx_feed(&rx, chip->tx[i]) == PN532_EV_FRAME)
				got++;
		assert_int_equal(got, 1);
		assert_hex_equal(rx.data, rx.len, "0332010607");
		chip->txlen = 0;
	}
	/* PowerDown: answers, then the first byte only wakes it */
	CMD(0x16, 0xF0);
	assert_hex_equal(ans.data, ans.len, "1700");
	{
		static const uint8_t w = 0x55;

		pn532_chip_input(chip, &w, 1, clk);
		assert_int_equal(chip->txlen, 0);
	}
	CMD(0x02);
	assert_hex_equal(ans.data, ans.len, "0332010607");
}

static void test_chip_list_and_exchange(void **state)
{
	struct vcard *card = vcard_new_mem(test_uid);

	(void)state;
	CMD(0x12, 0x14); /* auto RATS on */
	/* finite retries, empty field: no target at once */
	CMD(0x32, 0x05, 0xFF, 0x01, 0x02);
	CMD(0x4A, 0x01, 0x00);
	assert_hex_equal(ans.data, ans.len, "4B00");
	/* infinite retries: the command waits for a card */
	CMD(0x32, 0x05, 0xFF, 0x01, 0xFF);
	CMD(0x4A, 0x01, 0x00);
	assert_true(ans.acked);
	assert_int_equal(ans.frames, 0);
	assert_true(chip->pending);
	assert_int_equal(pn532_chip_tap(chip, card, clk), 0);
	parse_tx();
	assert_hex_equal(ans.data, ans.len,
			 "4B0101034420070411223344556606777771028"
			 "0");
	/* ISO SELECT of the NDEF application through InDataExchange */
	CMD(0x40, 0x01, 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2, 0x76, 0x00, 0x00,
	    0x85, 0x01, 0x01, 0x00);
	assert_hex_equal(ans.data, ans.len, "41009000");
	/* unknown target number */
	CMD(0x40, 0x02, 0x00, 0xA4, 0x04, 0x0C);
	assert_hex_equal(ans.data, ans.len, "4127");
	/* the same card seen again after a new InListPassiveTarget */
	CMD(0x32, 0x05, 0xFF, 0x01, 0x02);
	CMD(0x4A, 0x01, 0x00);
	assert_int_equal(ans.data[1], 1);
	/* InDeselect halts it: REQA no longer finds it ... */
	CMD(0x44, 0x00);
	assert_hex_equal(ans.data, ans.len, "4500");
	CMD(0x4A, 0x01, 0x00);
	assert_hex_equal(ans.data, ans.len, "4B00");
	/* ... until the field is cycled */
	CMD(0x32, 0x01, 0x00);
	CMD(0x32, 0x01, 0x01);
	CMD(0x4A, 0x01, 0x00);
	assert_int_equal(ans.data[1], 1);
	/* presence check the way libnfc does it on a PN532: R(NAK) via
	 * InCommunicateThru gets an R(ACK) */
	CMD(0x42, 0xB2);
	assert_hex_equal(ans.data, ans.len, "4300A3");
	/* an I-block through InCommunicateThru */
	CMD(0x42, 0x02, 0x90, 0x60, 0x00, 0x00, 0x00);
	assert_int_equal(ans.data[1], 0x00);
	assert_int_equal(ans.data[2], 0x02);
	assert_int_equal(ans.data[ans.len - 1], 0xAF);
	/* InAutoPoll finds it as an ISO 14443-4A target */
	CMD(0x60, 0x01, 0x01, 0x20, 0x10);
	assert_hex_equal(ans.data, ans.len,
			 "6101201201034420070411223344556606777771028"
			 "0");
	/* the card leaves: the listed target times out, no hang */
	assert_int_equal(pn532_chip_remove_all(chip), 1);
	CMD(0x40, 0x01, 0x90, 0x60, 0x00, 0x00, 0x00);
	assert_hex_equal(ans.data, ans.len, "4101");
	/* InAutoPoll with nothing there answers at its deadline */
	CMD(0x60, 0x01, 0x01, 0x20);
	assert_int_equal(ans.frames, 0);
	assert_int_equal(pn532_chip_timeout(chip, clk), 150);
	pn532_chip_tick(chip, clk + 150);
	parse_tx();
	assert_hex_equal(ans.data, ans.len, "6100");
	/* an ACK from the host aborts a waiting command */
	CMD(0x32, 0x05, 0xFF, 0x01, 0xFF);
	CMD(0x4A, 0x01, 0x00);
	assert_true(chip->pending);
	pn532_chip_input(chip, pn532_ack_frame, 6, clk);
	assert_false(chip->pending);
}

static void test_chip_remove_after(void **state)
{
	(void)state;
	assert_int_equal(pn532_chip_tap(chip, vcard_new_mem(test_uid), clk), 0);
	/* the same card twice does not fit */
	{
		struct vcard *dup = vcard_new_mem(test_uid);

		assert_int_equal(pn532_chip_tap(chip, dup, clk), -1);
		vcard_free(dup);
	}
	CMD(0x12, 0x14);
	CMD(0x32, 0x05, 0xFF, 0x01, 0x02);
	CMD(0x4A, 0x01, 0x00);
	assert_int_equal(ans.data[1], 1);
	assert_int_equal(pn532_chip_remove_after(chip, 1, false), 1);
	CMD(0x40, 0x01, 0x90, 0x60, 0x00, 0x00, 0x00);
	assert_int_equal(ans.data[1], 0x00); /* answered */
	assert_int_equal(pn532_chip_cards(chip), 0);
	CMD(0x40, 0x01, 0x90, 0xAF, 0x00, 0x00, 0x00);
	assert_hex_equal(ans.data, ans.len, "4101");

	/* the same through InCommunicateThru: the answer arrives, then
	 * the card is gone */
	assert_int_equal(pn532_chip_tap(chip, vcard_new_mem(test_uid), clk), 0);
	CMD(0x4A, 0x01, 0x00);
	assert_int_equal(pn532_chip_remove_after(chip, 1, false), 1);
	CMD(0x42, 0x02, 0x90, 0x60, 0x00, 0x00, 0x00);
	assert_int_equal(ans.data[1], 0x00);
	assert_int_equal(ans.data[2], 0x02);
	assert_int_equal(ans.data[ans.len - 1], 0xAF);
	assert_int_equal(pn532_chip_cards(chip), 0);
	CMD(0x42, 0x03, 0x90, 0xAF, 0x00, 0x00, 0x00);
	assert_hex_equal(ans.data, ans.len, "4301");

	/* tear: the card executes the APDU but the answer is lost */
	assert_int_equal(pn532_chip_tap(chip, vcard_new_mem(test_uid), clk), 0);
	CMD(0x4A, 0x01, 0x00);
	assert_int_equal(pn532_chip_remove_after(chip, 1, true), 1);
	CMD(0x40, 0x01, 0x90, 0x60, 0x00, 0x00, 0x00);
	assert_hex_equal(ans.data, ans.len, "4101");
	assert_int_equal(pn532_chip_cards(chip), 0);
}

/* Host-side chaining (Tg with MI) delivers one APDU in two frames. */
static void test_chip_dex_chaining(void **state)
{
	(void)state;
	assert_int_equal(pn532_chip_tap(chip, vcard_new_mem(test_uid), clk), 0);
	CMD(0x12, 0x14);
	CMD(0x32, 0x05, 0xFF, 0x01, 0x02);
	CMD(0x4A, 0x01, 0x00);
	CMD(0x40, 0x41, 0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2);
	assert_hex_equal(ans.data, ans.len, "4100");
	CMD(0x40, 0x01, 0x76, 0x00, 0x00, 0x85, 0x01, 0x01, 0x00);
	assert_hex_equal(ans.data, ans.len, "41009000");
}

/*
 * Chained I-blocks through InCommunicateThru past the 1024 bytes the chip
 * holds: a buffer-overflow status, and the chain dropped once.  The block
 * that overflowed used to be realloc'ed first, moving the chain, which the
 * clear then freed again (double free; ASan reports it at once, glibc when
 * the block moves, which the allocations in between make likely).
 */
static void test_chip_thru_chain_overflow(void **state)
{
	uint8_t cmd[2 + 250];
	void *spacer[5];
	int i;

	(void)state;
	assert_int_equal(pn532_chip_tap(chip, vcard_new_mem(test_uid), clk), 0);
	CMD(0x12, 0x14);
	CMD(0x32, 0x05, 0xFF, 0x01, 0x02);
	CMD(0x4A, 0x01, 0x00);
	assert_int_equal(ans.data[1], 1);
	memset(cmd, 0x5A, sizeof(cmd));
	cmd[0] = 0x42;
	for (i = 0; i < 5; i++) {
		cmd[1] = (uint8_t)(0x12 | (i & 1)); /* I-block, chaining */
		send_cmd(cmd, sizeof(cmd));
		spacer[i] = malloc(64);
		assert_non_null(spacer[i]);
		if (i < 4) { /* 1000 bytes held: an R(ACK) */
			assert_int_equal(ans.data[0], 0x43);
			assert_int_equal(ans.data[1], 0x00);
			assert_int_equal(ans.data[2] & 0xF6, 0xA2);
		}
	}
	assert_hex_equal(ans.data, ans.len, "4307");
	/* The chain is gone, the card still answers a whole block. */
	CMD(0x42, 0x02, 0x90, 0x60, 0x00, 0x00, 0x00);
	assert_int_equal(ans.data[1], 0x00);
	assert_int_equal(ans.data[ans.len - 1], 0xAF);
	for (i = 0; i < 5; i++)
		free(spacer[i]);
}

/* ---- the card ----------------------------------------------------------- */

static int xfer_card(void *ctx, const uint8_t *apdu, size_t alen, uint8_t *resp,
		     size_t cap, size_t *rlen)
{
	*rlen = vcard_apdu(ctx, apdu, alen, resp, cap);
	return 0;
}

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_emu.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct vcard *blank_card(const char *name)
{
	char path[128], uid[15], why[256];
	struct vcard *c;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_int_equal(vcard_blank(path, uid, why, sizeof(why)), 0);
	assert_int_equal(strlen(uid), 14);
	assert_memory_equal(uid, "04", 2);
	/* blank refuses to overwrite */
	assert_int_equal(vcard_blank(path, uid, why, sizeof(why)), -1);
	c = vcard_load(path, why, sizeof(why));
	assert_non_null(c);
	return c;
}

static void test_card_get_version_and_levels(void **state)
{
	struct vcard *c = vcard_new_mem(test_uid);
	struct emu_ops o = {.xfer = xfer_card, .ctx = c};
	static const uint8_t gv[] = {0x90, 0x60, 0x00, 0x00, 0x00};
	static const uint8_t af[] = {0x90, 0xAF, 0x00, 0x00, 0x00};
	static const uint8_t auth0[] = {0x90, 0x71, 0x00, 0x00,
					0x02, 0x00, 0x00, 0x00};

	(void)state;
	assert_int_equal(ops_x(&o, gv, sizeof(gv)), 0);
	assert_hex_equal(o.resp, o.rlen, "0404023000110591AF");
	assert_int_equal(ops_x(&o, af, sizeof(af)), 0);
	assert_hex_equal(o.resp, o.rlen, "0404020101110591AF");
	assert_int_equal(ops_x(&o, af, sizeof(af)), 0);
	assert_int_equal(o.rlen, 16);
	assert_memory_equal(o.resp, test_uid, 7);
	assert_int_equal(o.last_sw, 0x9100);
	/* native commands at PICC level: illegal command */
	assert_int_equal(ops_x(&o, auth0, sizeof(auth0)), 0);
	assert_int_equal(o.last_sw, 0x911C);
	/* EF before the application: not found */
	{
		uint8_t a[16];
		size_t al;

		tp_iso_select_file(TP_NTAG_FID_NDEF, a, sizeof(a), &al);
		assert_int_equal(ops_x(&o, a, al), 0);
		assert_int_equal(o.last_sw, 0x6A82);
	}
	vcard_free(c);
}

static void test_card_auth_and_errors(void **state)
{
	struct vcard *c = blank_card("auth");
	struct emu_ops o = {.xfer = xfer_card, .ctx = c};
	uint8_t wrong[16], buf[256], a[64];
	size_t n, al;

	(void)state;
	memset(wrong, 0x5A, sizeof(wrong));
	assert_int_equal(ops_select_app(&o), 0);
	/* wrong key: 91 AE, counted and saved */
	assert_int_equal(ops_auth(&o, 1, 0, wrong), 0x91AE);
	assert_int_equal(ops_auth(&o, 1, 0, wrong), 0x91AE);
	{
		char path[128], why[128];
		struct vcard *again;

		snprintf(path, sizeof(path), "%s/auth", tmpdir);
		again = vcard_load(path, why, sizeof(why));
		assert_non_null(again);
		vcard_free(again);
		FILE *f = fopen(path, "r");
		char line[600];
		int found = 0;

		assert_non_null(f);
		while (fgets(line, sizeof(line), f))
			found |= strcmp(line, "failed_auth = 2\n") == 0;
		fclose(f);
		assert_true(found);
	}
	/* no such key */
	{
		static const uint8_t k9[] = {0x90, 0x71, 0x00, 0x00,
					     0x02, 0x09, 0x00, 0x00};

		assert_int_equal(ops_x(&o, k9, sizeof(k9)), 0);
		assert_int_equal(o.last_sw, 0x9140);
	}
	/* wrong length */
	{
		static const uint8_t bad[] = {0x90, 0x71, 0x00, 0x00,
					      0x01, 0x00, 0x00};

		assert_int_equal(ops_x(&o, bad, sizeof(bad)), 0);
		assert_int_equal(o.last_sw, 0x917E);
	}
	/* the proprietary file needs key 2 to read: 91 AE */
	assert_int_equal(
	    ops_read(&o, 3, 0, 16, TP_COMM_PLAIN, buf, sizeof(buf), &n),
	    0x91AE);
	/* the right key opens the session; FULL read of file 3 works */
	assert_int_equal(ops_select_app(&o), 0);
	assert_int_equal(ops_auth(&o, 1, 2, zero16), 0);
	assert_int_equal(
	    ops_read(&o, 3, 0, 0, TP_COMM_FULL, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 128);
	/* ChangeKey needs key 0: 91 AE, and the session is over */
	assert_int_equal(ops_change_key(&o, 1, wrong, zero16, 1), 0x91AE);
	/* a command with a wrong MAC: 91 1E */
	assert_int_equal(ops_auth(&o, 1, 0, zero16), 0);
	assert_int_equal(tp_ntag_get_file_settings_cmd(&o.ev2, 2, TP_COMM_MAC,
						       a, sizeof(a), &al),
			 0);
	a[al - 2] ^= 0x01; /* last MAC byte (before Le) */
	assert_int_equal(ops_x(&o, a, al), 0);
	assert_int_equal(o.last_sw, 0x911E);
	/* after that the session is gone: the card takes the MACed
	 * command as a plain one of the wrong length */
	assert_int_equal(tp_ntag_get_file_settings_cmd(&o.ev2, 2, TP_COMM_MAC,
						       a, sizeof(a), &al),
			 0);
	assert_int_equal(ops_x(&o, a, al), 0);
	assert_int_equal(o.last_sw, 0x917E);
	/* GetFileSettings in a good session: factory NDEF file */
	assert_int_equal(ops_auth(&o, 1, 0, zero16), 0);
	assert_int_equal(tp_ntag_get_file_settings_cmd(&o.ev2, 2, TP_COMM_MAC,
						       a, sizeof(a), &al),
			 0);
	assert_int_equal(ops_x(&o, a, al), 0);
	assert_int_equal(tp_ev2_unwrap(&o.ev2, TP_COMM_MAC, o.resp, o.rlen, buf,
				       sizeof(buf), &n),
			 0);
	assert_hex_equal(buf, n, "0000E0EE000100");
	/* GetCardUID (FULL) */
	assert_int_equal(tp_ntag_get_card_uid_cmd(&o.ev2, a, sizeof(a), &al),
			 0);
	assert_int_equal(ops_x(&o, a, al), 0);
	assert_int_equal(tp_ev2_unwrap(&o.ev2, TP_COMM_FULL, o.resp, o.rlen,
				       buf, sizeof(buf), &n),
			 0);
	assert_int_equal(n, 7);
	assert_memory_equal(buf, vcard_uid(c), 7);
	/* AN12196 Table 18: the factory NDEF file (plain, write free)
	 * written in CommMode.FULL, and MAC, inside a session */
	{
		static const uint8_t msg[20] = "\x00\x12hello, full mode!";
		uint8_t back[64];
		size_t bl;

		assert_int_equal(
		    ops_write(&o, 2, 0, msg, sizeof(msg), TP_COMM_FULL), 0);
		assert_int_equal(
		    ops_write(&o, 2, 20, msg, sizeof(msg), TP_COMM_MAC), 0);
		assert_int_equal(
		    ops_write(&o, 2, 40, msg, sizeof(msg), TP_COMM_PLAIN), 0);
		assert_int_equal(ops_read(&o, 2, 0, 60, TP_COMM_PLAIN, back,
					  sizeof(back), &bl),
				 0);
		assert_int_equal(bl, 60);
		assert_memory_equal(back, msg, 20);
		assert_memory_equal(back + 20, msg, 20);
		assert_memory_equal(back + 40, msg, 20);
		/* a wrapped write with a bad MAC is refused */
		assert_int_equal(tp_ntag_write_data_cmd(&o.ev2, 2, 0, msg, 16,
							TP_COMM_FULL, a,
							sizeof(a), &al),
				 0);
		a[al - 2] ^= 0x80;
		assert_int_equal(ops_x(&o, a, al), 0);
		assert_int_equal(o.last_sw, 0x911E);
		assert_int_equal(ops_auth(&o, 1, 0, zero16), 0);
	}
	/* a write past the end of the CC file: boundary error */
	assert_int_equal(
	    ops_write(&o, 1, 30, (const uint8_t *)"abcd", 4, TP_COMM_PLAIN),
	    0x91BE);
	vcard_free(c);
}

static void test_card_sun_and_rekey(void **state)
{
	struct vcard *c = blank_card("sun");
	struct emu_ops o = {.xfer = xfer_card, .ctx = c};
	struct tp_sun_result r1, r2;
	char u1[256], u2[256], path[128], why[128];
	uint8_t k2b[16], k0b[16];

	(void)state;
	assert_int_equal(
	    ops_personalise(&o, "https://tap.example.org/t", k_meta, k_file),
	    0);
	vcard_reset(c); /* the card leaves the field */
	assert_int_equal(ops_read_sun(&o, k_meta, k_file, u1, sizeof(u1), &r1),
			 0);
	assert_int_equal(r1.ctr, 1);
	assert_memory_equal(r1.uid, vcard_uid(c), 7);
	/* a second read in the same activation sees the same message */
	assert_int_equal(ops_read_sun(&o, k_meta, k_file, u2, sizeof(u2), &r2),
			 0);
	assert_string_equal(u1, u2);
	/* the next tap: a new message, counter + 1 */
	vcard_reset(c);
	assert_int_equal(ops_read_sun(&o, k_meta, k_file, u2, sizeof(u2), &r2),
			 0);
	assert_int_equal(r2.ctr, 2);
	assert_string_not_equal(u1, u2);
	/* the wrong file key does not verify */
	{
		struct tp_sun_result bad;
		uint8_t file[256];
		size_t fl, ul;
		char url[256];
		struct tp_sun_msg m;

		vcard_reset(c);
		assert_int_equal(ops_read_ndef(&o, file, &fl), 0);
		assert_int_equal(tp_ndef_uri(file, fl, url, sizeof(url), &ul),
				 0);
		assert_int_equal(tp_sun_parse(url, ul, &m), 0);
		assert_int_equal(tp_sun_verify(k_meta, zero16, &m, &bad),
				 TP_ERR_MAC);
	}
	/* the counter survives a reload of the card file */
	snprintf(path, sizeof(path), "%s/sun", tmpdir);
	{
		struct vcard *again = vcard_load(path, why, sizeof(why));
		struct emu_ops o2 = {.xfer = xfer_card, .ctx = again};

		assert_non_null(again);
		assert_int_equal(
		    ops_read_sun(&o2, k_meta, k_file, u2, sizeof(u2), &r2), 0);
		assert_int_equal(r2.ctr, 4);
		vcard_free(again);
		vcard_free(c);
		c = vcard_load(path, why, sizeof(why));
		assert_non_null(c);
		o.ctx = c;
	}
	/* GetFileCounters (FULL, CtrRet key 0) gives the same counter */
	{
		uint8_t a[64], out[32];
		size_t al, n;
		static const uint8_t hdr[1] = {TP_NTAG_FILE_NDEF};

		assert_int_equal(ops_select_app(&o), 0);
		assert_int_equal(ops_auth(&o, 1, 0, zero16), 0);
		assert_int_equal(tp_ev2_wrap(&o.ev2, 0xF6, hdr, 1, NULL, 0,
					     TP_COMM_FULL, a, sizeof(a), &al),
				 0);
		assert_int_equal(ops_x(&o, a, al), 0);
		assert_int_equal(tp_ev2_unwrap(&o.ev2, TP_COMM_FULL, o.resp,
					       o.rlen, out, sizeof(out), &n),
				 0);
		assert_hex_equal(out, n, "0400000000");
	}
	/* SDM settings the card cannot mirror are refused */
	{
		uint8_t ndef[256], a[128];
		struct tp_sdm_settings sdm;
		size_t nl, al;

		assert_int_equal(tp_ndef_sun_template("https://x.example/",
						      ndef, sizeof(ndef), &nl,
						      &sdm),
				 0);
		sdm.picc_off = 250; /* 32 digits do not fit */
		assert_int_equal(tp_ntag_change_file_settings_cmd(
				     &o.ev2, 2, &sdm, a, sizeof(a), &al),
				 0);
		assert_int_equal(ops_x(&o, a, al), 0);
		assert_int_equal(o.last_sw, 0x919E);
	}
	/* re-key key 2 from its non-zero value, then key 0 itself */
	memset(k2b, 0xC3, sizeof(k2b));
	memset(k0b, 0x3C, sizeof(k0b));
	assert_int_equal(ops_select_app(&o), 0);
	assert_int_equal(ops_auth(&o, 1, 0, zero16), 0);
	assert_int_equal(ops_change_key(&o, 2, k2b, k_file, 2), 0);
	/* a wrong old key gives a wrong CRC: integrity error */
	assert_int_equal(ops_change_key(&o, 3, k2b, k_file, 2), 0x911E);
	assert_int_equal(ops_auth(&o, 1, 0, zero16), 0);
	assert_int_equal(ops_change_key(&o, 0, k0b, NULL, 1), 0);
	assert_int_equal(ops_auth(&o, 1, 0, zero16), 0x91AE);
	assert_int_equal(ops_auth(&o, 1, 0, k0b), 0);
	assert_int_equal(ops_auth(&o, 1, 2, k_file), 0x91AE);
	assert_int_equal(ops_auth(&o, 1, 2, k2b), 0);
	/* SUN now verifies with the new file key only */
	vcard_reset(c);
	assert_int_equal(ops_read_sun(&o, k_meta, k2b, u2, sizeof(u2), &r2), 0);
	assert_int_equal(r2.ctr, 5);
	vcard_free(c);
}

static void test_card_file_errors(void **state)
{
	char path[128], why[256];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/bad", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("format = tapaid-ntag424-1\nuid = 04zz\n", f);
	fclose(f);
	assert_null(vcard_load(path, why, sizeof(why)));
	assert_non_null(strstr(why, ":2: bad value for 'uid'"));
	assert_null(vcard_load("/nonexistent/card", why, sizeof(why)));
	assert_non_null(strstr(why, "cannot open"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_frame_roundtrip),
	    cmocka_unit_test(test_frame_codes_and_errors),
	    cmocka_unit_test_setup_teardown(test_chip_basics, setup_chip,
					    teardown_chip),
	    cmocka_unit_test_setup_teardown(test_chip_list_and_exchange,
					    setup_chip, teardown_chip),
	    cmocka_unit_test_setup_teardown(test_chip_remove_after, setup_chip,
					    teardown_chip),
	    cmocka_unit_test_setup_teardown(test_chip_dex_chaining, setup_chip,
					    teardown_chip),
	    cmocka_unit_test_setup_teardown(test_chip_thru_chain_overflow,
					    setup_chip, teardown_chip),
	    cmocka_unit_test(test_card_get_version_and_levels),
	    cmocka_unit_test(test_card_auth_and_errors),
	    cmocka_unit_test(test_card_sun_and_rekey),
	    cmocka_unit_test(test_card_file_errors),
	};

	return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
