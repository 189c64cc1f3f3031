/*
 * test_emu_libnfc.c - Debian's unmodified libnfc (pn532_uart driver) talks
 * to tapaid-pn532emu over its pty, and through it to virtual NTAG 424 DNA
 * cards:
 *
 *   this test --libnfc--> /dev/pts/N ==pty== tapaid-pn532emu --> card file
 *        \________ stdin/stdout pipes (emu_helper) ________/
 *
 * It personalises a blank card for SUN, reads the NDEF message on two taps
 * and verifies both with the card's keys, authenticates with right and
 * wrong keys, re-keys from non-zero keys, and takes cards away in the
 * middle of exchanges (libnfc must get an error, not hang).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <nfc/nfc.h>

#include "test_util.h"
#include "test_emu_ops.h"
#include "../emu_helper.h"

#define XFER_TIMEOUT_MS 2000

static const uint8_t k_meta[16] = {0x10, 0x21, 0x32, 0x43, 0x54, 0x65,
				   0x76, 0x87, 0x98, 0xA9, 0xBA, 0xCB,
				   0xDC, 0xED, 0xFE, 0x0F};
static const uint8_t k_file[16] = {0xF0, 0xE1, 0xD2, 0xC3, 0xB4, 0xA5,
				   0x96, 0x87, 0x78, 0x69, 0x5A, 0x4B,
				   0x3C, 0x2D, 0x1E, 0x0F};
static const uint8_t zero16[16];

static char dir[64];
static nfc_context *ctx;

struct rig {
	struct emu *emu;
	nfc_device *pnd;
	char card[128];
	uint8_t uid[7];
	struct emu_ops o;
};

static long long ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int xfer_nfc(void *c, const uint8_t *apdu, size_t alen, uint8_t *resp,
		    size_t cap, size_t *rlen)
{
	int n = nfc_initiator_transceive_bytes(c, apdu, alen, resp, cap,
					       XFER_TIMEOUT_MS);

	if (n < 0)
		return TP_ERR_IO;
	*rlen = (size_t)n;
	return 0;
}

static const nfc_modulation nm_a = {.nmt = NMT_ISO14443A, .nbr = NBR_106};

/* Selects the card in the field as a kiosk does; returns what libnfc
 * returned (1 when a target was found). */
static int select_card(struct rig *r, nfc_target *nt)
{
	return nfc_initiator_select_passive_target(r->pnd, nm_a, NULL, 0, nt);
}

/* A new blank card in its own file, tapped on a fresh emulator. */
static int rig_setup(void **state)
{
	static int n;
	struct rig *r = calloc(1, sizeof(*r));
	char reply[256];

	assert_non_null(r);
	r->emu = emu_start(NULL, NULL);
	assert_non_null(r->emu);
	snprintf(r->card, sizeof(r->card), "%s/card%d", dir, ++n);
	assert_int_equal(
	    emu_cmd(r->emu, reply, sizeof(reply), "blank %s", r->card), 0);
	assert_int_equal(strlen(reply), strlen("ok blank ") + 14);
	assert_int_equal(tp_hex_decode(reply + 9, 14, r->uid, 7), TP_OK);
	assert_int_equal(
	    emu_cmd(r->emu, reply, sizeof(reply), "tap %s", r->card), 0);
	r->pnd = nfc_open(ctx, emu_connstring(r->emu));
	assert_non_null(r->pnd);
	assert_int_equal(nfc_initiator_init(r->pnd), 0);
	r->o.xfer = xfer_nfc;
	r->o.ctx = r->pnd;
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	if (r->pnd)
		nfc_close(r->pnd);
	emu_stop(r->emu);
	free(r);
	return 0;
}

static void test_select(void **state)
{
	struct rig *r = *state;
	nfc_target nt;

	assert_int_equal(select_card(r, &nt), 1);
	assert_int_equal(nt.nm.nmt, NMT_ISO14443A);
	assert_int_equal(nt.nti.nai.abtAtqa[0], 0x03);
	assert_int_equal(nt.nti.nai.abtAtqa[1], 0x44);
	assert_int_equal(nt.nti.nai.btSak, 0x20);
	assert_int_equal(nt.nti.nai.szUidLen, 7);
	assert_memory_equal(nt.nti.nai.abtUid, r->uid, 7);
	assert_int_equal(nt.nti.nai.szAtsLen, 5);
	assert_int_equal(nfc_initiator_target_is_present(r->pnd, &nt), 0);
}

/* nfc_initiator_poll_target: the PN532's own InAutoPoll. */
static void test_poll_target(void **state)
{
	struct rig *r = *state;
	nfc_target nt;
	char reply[128];
	long long t0;

	assert_int_equal(nfc_initiator_poll_target(r->pnd, &nm_a, 1, 2, 1, &nt),
			 1);
	assert_memory_equal(nt.nti.nai.abtUid, r->uid, 7);
	assert_int_equal(nt.nti.nai.btSak, 0x20);
	/* an empty field: 2 polls x 150 ms x 2 types, then nothing */
	assert_int_equal(emu_cmd(r->emu, reply, sizeof(reply), "remove"), 0);
	t0 = ms_now();
	assert_int_equal(nfc_initiator_poll_target(r->pnd, &nm_a, 1, 2, 1, &nt),
			 0);
	assert_true(ms_now() - t0 >= 500 && ms_now() - t0 < 2000);
}

/* The value of "file2.sdm_read_ctr" in the card file. */
static long file_ctr(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[700];
	long v = -1;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "file2.sdm_read_ctr = %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void test_sun_twice(void **state)
{
	struct rig *r = *state;
	struct tp_sun_result r1, r2;
	char u1[256], u2[256];
	nfc_target nt;

	assert_int_equal(select_card(r, &nt), 1);
	assert_int_equal(
	    ops_personalise(&r->o, "https://tap.example.org/c", k_meta, k_file),
	    0);
	/* first tap */
	assert_int_equal(select_card(r, &nt), 1);
	assert_int_equal(
	    ops_read_sun(&r->o, k_meta, k_file, u1, sizeof(u1), &r1), 0);
	/* second tap, timed: what the rig adds to a kiosk's tap */
	{
		long long t0 = ms_now();

		assert_int_equal(select_card(r, &nt), 1);
		assert_int_equal(
		    ops_read_sun(&r->o, k_meta, k_file, u2, sizeof(u2), &r2),
		    0);
		print_message("# one tap through libnfc and the emulator "
			      "(select, 4 APDUs, a card-file fsync, SUN "
			      "check): %lld ms\n",
			      ms_now() - t0);
	}
	print_message("# %s\n# %s\n", u1, u2);
	assert_string_not_equal(u1, u2);
	assert_memory_equal(r1.uid, r->uid, 7);
	assert_memory_equal(r2.uid, r->uid, 7);
	assert_int_equal(r1.ctr, 1);
	assert_int_equal(r2.ctr, r1.ctr + 1);
	/* the card file holds the counter */
	assert_int_equal(file_ctr(r->card), 2);
	/* the keys the card uses are the ones we set: a wrong meta key
	 * cannot even decrypt the PICC data */
	{
		struct tp_sun_msg m;
		struct tp_sun_result bad;

		assert_int_equal(tp_sun_parse(u2, strlen(u2), &m), 0);
		assert_int_not_equal(tp_sun_verify(zero16, k_file, &m, &bad),
				     0);
	}
}

static void test_auth_and_rekey(void **state)
{
	struct rig *r = *state;
	uint8_t wrong[16], k0[16], k2a[16], k2b[16], buf[200];
	nfc_target nt;
	size_t n;

	memset(wrong, 0xEE, sizeof(wrong));
	memset(k0, 0x01, sizeof(k0));
	memset(k2a, 0x2A, sizeof(k2a));
	memset(k2b, 0x2B, sizeof(k2b));
	assert_int_equal(select_card(r, &nt), 1);
	assert_int_equal(ops_select_app(&r->o), 0);
	assert_int_equal(ops_auth(&r->o, 1, 0, wrong), 0x91AE);
	assert_int_equal(ops_auth(&r->o, 1, 0, zero16), 0);
	/* key 0 becomes non-zero; the session ends with it */
	assert_int_equal(ops_change_key(&r->o, 0, k0, NULL, 1), 0);
	assert_int_equal(ops_auth(&r->o, 1, 0, zero16), 0x91AE);
	assert_int_equal(ops_auth(&r->o, 1, 0, k0), 0);
	/* key 2: zero -> k2a -> k2b, the second change from a non-zero
	 * old key */
	assert_int_equal(ops_change_key(&r->o, 2, k2a, zero16, 1), 0);
	assert_int_equal(ops_change_key(&r->o, 2, k2b, k2a, 2), 0);
	/* NonFirst with key 2 keeps the session going */
	assert_int_equal(ops_auth(&r->o, 0, 2, k2a), 0x91AE);
	assert_int_equal(ops_auth(&r->o, 1, 2, k2b), 0);
	assert_int_equal(
	    ops_read(&r->o, 3, 0, 0, TP_COMM_FULL, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 128);
	/* the new keys survive taking the card away and back */
	{
		char reply[128];

		assert_int_equal(
		    emu_cmd(r->emu, reply, sizeof(reply), "remove"), 0);
		assert_int_equal(
		    emu_cmd(r->emu, reply, sizeof(reply), "tap %s", r->card),
		    0);
	}
	assert_int_equal(select_card(r, &nt), 1);
	assert_int_equal(ops_select_app(&r->o), 0);
	assert_int_equal(ops_auth(&r->o, 1, 2, k2b), 0);
	assert_int_equal(ops_auth(&r->o, 1, 0, k0), 0);
	assert_int_equal(ops_auth(&r->o, 1, 0, zero16), 0x91AE);
}

/*
 * Runs one APDU with the given libnfc timeout and checks that it fails
 * within bound_ms instead of hanging.
 */
static void expect_fail(struct rig *r, const uint8_t *apdu, size_t n,
			int timeout_ms, long long bound_ms)
{
	uint8_t resp[300];
	long long t0 = ms_now();
	int rc = nfc_initiator_transceive_bytes(r->pnd, apdu, n, resp,
						sizeof(resp), timeout_ms);

	assert_true(rc < 0);
	assert_true(ms_now() - t0 < bound_ms);
}

/* A card that has gone is reported at once (PN532 status 01), well
 * before libnfc's own timeout. */
static void expect_fail_fast(struct rig *r, const uint8_t *apdu, size_t n)
{
	expect_fail(r, apdu, n, XFER_TIMEOUT_MS, XFER_TIMEOUT_MS / 2);
}

static void test_removed_mid_exchange(void **state)
{
	struct rig *r = *state;
	static const uint8_t gv[] = {0x90, 0x60, 0x00, 0x00, 0x00};
	static const uint8_t af[] = {0x90, 0xAF, 0x00, 0x00, 0x00};
	uint8_t resp[300];
	char reply[128];
	nfc_target nt;
	int rc;

	/* GetVersion is three frames: the card leaves after the first */
	assert_int_equal(select_card(r, &nt), 1);
	assert_int_equal(
	    emu_cmd(r->emu, reply, sizeof(reply), "remove-after 1"), 0);
	rc = nfc_initiator_transceive_bytes(r->pnd, gv, sizeof(gv), resp,
					    sizeof(resp), XFER_TIMEOUT_MS);
	assert_int_equal(rc, 9);
	expect_fail_fast(r, af, sizeof(af));
	assert_int_not_equal(nfc_initiator_target_is_present(r->pnd, &nt), 0);

	/* the card is torn away while answering: it ran the command, the
	 * reader never hears back */
	assert_int_equal(
	    emu_cmd(r->emu, reply, sizeof(reply), "tap %s", r->card), 0);
	assert_int_equal(select_card(r, &nt), 1);
	assert_int_equal(ops_select_app(&r->o), 0);
	assert_int_equal(emu_cmd(r->emu, reply, sizeof(reply), "tear-after 1"),
			 0);
	expect_fail_fast(r, gv, sizeof(gv));

	/* nothing in the field: selecting gives up, the reader lives on */
	{
		long long t0 = ms_now();

		assert_true(select_card(r, &nt) <= 0);
		assert_true(ms_now() - t0 < 3000);
	}
	assert_int_equal(
	    emu_cmd(r->emu, reply, sizeof(reply), "tap %s", r->card), 0);
	assert_int_equal(select_card(r, &nt), 1);
	assert_int_equal(ops_select_app(&r->o), 0);
}

/* The reader goes silent, then away and back: errors, never a hang. */
static void test_reader_faults(void **state)
{
	struct rig *r = *state;
	static const uint8_t gv[] = {0x90, 0x60, 0x00, 0x00, 0x00};
	char reply[128];
	nfc_target nt;

	assert_int_equal(select_card(r, &nt), 1);
	/* a silent reader: libnfc's timeout ends the wait */
	assert_int_equal(emu_cmd(r->emu, reply, sizeof(reply), "mute"), 0);
	expect_fail(r, gv, sizeof(gv), 200, 1500);
	assert_int_equal(emu_cmd(r->emu, reply, sizeof(reply), "unmute"), 0);
	assert_int_equal(select_card(r, &nt), 1);

	assert_int_equal(emu_cmd(r->emu, reply, sizeof(reply), "unplug"), 0);
	expect_fail_fast(r, gv, sizeof(gv));
	nfc_close(r->pnd);
	r->pnd = NULL;
	assert_int_equal(emu_cmd(r->emu, reply, sizeof(reply), "plug"), 0);
	r->pnd = nfc_open(ctx, emu_connstring(r->emu));
	assert_non_null(r->pnd);
	r->o.ctx = r->pnd;
	assert_int_equal(nfc_initiator_init(r->pnd), 0);
	assert_int_equal(select_card(r, &nt), 1);
	assert_memory_equal(nt.nti.nai.abtUid, r->uid, 7);
	assert_int_equal(ops_select_app(&r->o), 0);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_emu_libnfc.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	setenv("LIBNFC_AUTO_SCAN", "false", 1);
	nfc_init(&ctx);
	return ctx ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	nfc_exit(ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_select, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_poll_target, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_sun_twice, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_auth_and_rekey, rig_setup,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_removed_mid_exchange,
					    rig_setup, rig_teardown),
	    cmocka_unit_test_setup_teardown(test_reader_faults, rig_setup,
					    rig_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
