/*
 * test_kiosk_core.c - the kiosk's state machine on fakes, against a host
 * that runs the real protocol (firmware/hal/net_fake.c).
 *
 * Each test is one thing a member or a technician would notice: a grant,
 * each denial, a card held in the field, a card pulled away mid-read, a
 * reader that stops answering or is unplugged, a host that restarts or
 * goes away (offline grants, upload, no double count), and the faults the
 * fault-injecting wrapper can produce.
 */
#include "test_util.h"
#include "kiosk_rig.h"
#ifndef __SANITIZE_ADDRESS__
#include "kiosk_malloc_count.h"
#endif

static int setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(rig_init(r), 0);
	*state = r;
	return 0;
}

static int teardown(void **state)
{
	struct rig *r = *state;

	rig_free(r);
	free(r);
	return 0;
}

static const char *last_event(struct rig *r)
{
	if (r->disp.nevents == 0)
		return "";
	return r->disp.events[(r->disp.nevents - 1) % FAKE_EVENTS_MAX];
}

/* Taps a card, waits for the answer, takes the card away. */
static void tap(struct rig *r, const uint8_t *uid)
{
	fake_reader_tap(&r->rd, uid);
	rig_run(r, 300);
	fake_reader_remove(&r->rd);
	rig_run(r, 500);
}

static void start_up(struct rig *r)
{
	assert_int_equal(rig_start(r), 0);
	rig_run(r, 200);
	assert_true(kiosk_link_up(r->k));
}

static void granted_online(void **state)
{
	struct rig *r = *state;
	struct kiosk_stats st;

	snprintf(r->host.name, sizeof(r->host.name), "王*明");
	start_up(r);
	assert_int_equal(r->disp.ind, HAL_IND_IDLE);
	assert_int_equal(r->host.handshakes, 1);
	tap(r, rig_uid);
	assert_string_equal(
	    last_event(r),
	    "{\"result\":\"granted\",\"reason\":\"granted\","
	    "\"benefit\":\"MEAL\",\"left\":3,\"offline\":false}");
	assert_int_equal(r->host.taps, 1);
	assert_int_equal(r->host.redemptions, 1);
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.granted, 1);
	/* After the card left and the hold time passed: idle again. */
	assert_int_equal(r->disp.ind, HAL_IND_IDLE);
	assert_int_equal(st.state, KIOSK_STATE_IDLE);
}

static void granted_screen_zh(void **state)
{
	struct rig *r = *state;

	r->cfg.lang = KIOSK_LANG_ZH;
	snprintf(r->host.name, sizeof(r->host.name), "王*明");
	start_up(r);
	fake_reader_tap(&r->rd, rig_uid);
	rig_run(r, 300);
	assert_int_equal(r->disp.ind, HAL_IND_GRANTED);
	assert_non_null(strstr(r->disp.head, "已通过"));
	assert_non_null(strstr(r->disp.head, "王*明"));
	assert_non_null(strstr(r->disp.detail, "剩余 3 次"));
}

static void each_denial_reason(void **state)
{
	struct rig *r = *state;
	char want[256];

	start_up(r);
	for (int reason = TP_REASON_UNKNOWN_CARD;
	     reason <= TP_REASON_BAD_SIGNATURE; reason++) {
		r->host.reason = (enum tp_reason)reason;
		r->host.left = -1;
		fake_reader_tap(&r->rd, rig_uid);
		rig_run(r, 300);
		assert_int_equal(r->disp.ind, HAL_IND_DENIED);
		/* Every reason has its own sentence, in both languages. */
		char h[256], d_en[256], d_zh[256];
		kiosk_msg_decision(KIOSK_LANG_EN, reason, -1, 0, "MEAL", "", h,
				   d_en, sizeof(h));
		kiosk_msg_decision(KIOSK_LANG_ZH, reason, -1, 0, "MEAL", "", h,
				   d_zh, sizeof(h));
		assert_string_equal(r->disp.detail, d_en);
		assert_true(strlen(d_en) > 20 && strlen(d_zh) > 10);
		fake_reader_remove(&r->rd);
		rig_run(r, 500);
		snprintf(
		    want, sizeof(want),
		    "{\"result\":\"denied\",\"reason\":\"%s\","
		    "\"benefit\":\"MEAL\",\"left\":null,\"offline\":false}",
		    tp_reason_name(reason));
		assert_string_equal(last_event(r), want);
	}
	assert_int_equal(r->host.taps, 10);
	assert_int_equal(r->host.redemptions, 0);
}

static void not_a_service_card(void **state)
{
	struct rig *r = *state;

	start_up(r);
	r->rd.kind = FAKE_OTHER_ISODEP;
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"not_a_service_card\""));
	r->rd.kind = FAKE_NOT_ISODEP; /* a MIFARE Classic, say */
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"not_a_service_card\""));
	assert_int_equal(r->disp.nevents, 2);
	assert_int_equal(r->host.taps, 0); /* never bothers the host */
}

static void card_held_is_one_tap(void **state)
{
	struct rig *r = *state;

	start_up(r);
	fake_reader_tap(&r->rd, rig_uid);
	rig_run(r, 10000); /* ten seconds in the field */
	assert_int_equal(r->disp.nevents, 1);
	assert_int_equal(r->host.taps, 1);
	assert_int_equal(r->rd.sun_ctr, 1);
	fake_reader_remove(&r->rd);
	rig_run(r, 500);
	tap(r, rig_uid); /* taken away and brought back: a new tap */
	assert_int_equal(r->disp.nevents, 2);
	assert_int_equal(r->host.taps, 2);
}

static void card_pulled_mid_read(void **state)
{
	struct rig *r = *state;
	struct kiosk_stats st;

	start_up(r);
	for (long n = 0; n < 7; n++) { /* at each of the 7 APDUs of a read */
		r->rd.pull_after = n;
		fake_reader_tap(&r->rd, rig_uid);
		rig_run(r, 300);
		assert_false(r->rd.card_in);
		assert_int_equal(r->disp.nevents, 0);
		assert_int_equal(r->host.taps, 0);
		rig_run(r, 500);
	}
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.read_aborts, 7);
	assert_int_equal(st.reader_resets + st.reader_reopens, 0);
	r->rd.pull_after = -1;
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
}

static void reader_stops_answering_usb_reset(void **state)
{
	struct rig *r = *state;
	struct kiosk_stats st;

	r->usb.on_usb = true;
	start_up(r);
	r->rd.dead = true; /* the reader wedges; a USB reset revives it */
	rig_run(r, 1000);
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.reader_resets, 1);
	assert_int_equal(r->usb.resets, 1);
	assert_int_equal(st.reader, KIOSK_READER_OK);
	/* The host hears about it at the next heartbeat. */
	rig_run(r, r->cfg.heartbeat_ms + 100);
	assert_int_equal(r->host.last_status.usb_resets, 1);
	assert_int_equal(r->host.last_status.reader_state, TP_READER_OK);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
}

static void reader_not_on_usb_reopens(void **state)
{
	struct rig *r = *state;
	struct kiosk_stats st;

	start_up(r); /* a UART/pty reader: no USB reset */
	r->rd.dead = true;
	rig_run(r, 3000);
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.reader, KIOSK_READER_DOWN);
	assert_int_equal(r->usb.resets, 0);
	assert_int_equal(r->disp.ind, HAL_IND_FAULT);
	rig_run(r, r->cfg.heartbeat_ms + 100);
	assert_int_equal(r->host.last_status.reader_state, TP_READER_ABSENT);
	r->rd.dead = false; /* plugged back */
	rig_run(r, 12000);
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.reader, KIOSK_READER_OK);
	assert_int_equal(r->disp.ind, HAL_IND_IDLE);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
}

static void reader_hotplug(void **state)
{
	struct rig *r = *state;
	struct kiosk_stats st;

	r->usb.on_usb = true;
	start_up(r);
	r->usb.pending = HAL_USB_LEFT;
	r->rd.open_fails = true;
	rig_run(r, 200);
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.reader, KIOSK_READER_DOWN);
	assert_int_equal(r->disp.ind, HAL_IND_FAULT);
	r->rd.open_fails = false;
	r->usb.pending = HAL_USB_ARRIVED;
	rig_run(r, 100); /* at once, not after the back-off */
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.reader, KIOSK_READER_OK);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
}

static void host_restart_mid_session(void **state)
{
	struct rig *r = *state;

	r->cfg.offline_per_day = 0;
	start_up(r);
	tap(r, rig_uid);
	fake_host_drop(&r->host); /* the host restarts */
	rig_run(r, 3000);
	assert_true(kiosk_link_up(r->k));
	assert_int_equal(r->host.handshakes, 2);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
	assert_int_equal(r->host.taps, 2);
}

static void backoff_grows_with_jitter(void **state)
{
	struct rig *r = *state;
	unsigned before;

	r->host.down = true;
	r->cfg.backoff_min_ms = 500;
	r->cfg.backoff_max_ms = 8000;
	assert_int_equal(rig_start(r), 0);
	rig_run(r, 2000);
	before = r->host.connects; /* failed connects are not counted */
	assert_int_equal(before, 0);
	r->host.down = false;
	rig_run(r, 9000); /* at most one maximum back-off away */
	assert_true(kiosk_link_up(r->k));
	assert_int_equal(r->host.connects, 1);
}

static void offline_grant_upload_no_double(void **state)
{
	struct rig *r = *state;
	struct kiosk_stats st;

	r->cfg.offline_per_day = 2;
	r->host.down = true;
	r->clk.auto_tick = 1; /* time moves within a step too */
	assert_int_equal(rig_start(r), 0);
	rig_run(r, 200);
	tap(r, rig_uid);
	assert_string_equal(
	    last_event(r), "{\"result\":\"granted\",\"reason\":\"granted\","
			   "\"benefit\":\"MEAL\",\"left\":1,\"offline\":true}");
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"left\":0"));
	tap(r, rig_uid);
	assert_string_equal(
	    last_event(r),
	    "{\"result\":\"denied\",\"reason\":\"offline_limit\","
	    "\"benefit\":\"MEAL\",\"left\":0,\"offline\":true}");
	tap(r, rig_uid2); /* another card has its own allowance */
	assert_non_null(strstr(last_event(r), "\"granted\""));
	assert_int_equal(r->st.n, 3);
	r->host.down = false;
	rig_run(r, 40000);
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.queue_depth, 0);
	assert_int_equal(st.records_uploaded, 3);
	assert_int_equal(r->host.records, 3); /* each sent once */
	assert_int_equal(r->host.dup_records, 0);
	assert_int_equal(r->host.handshakes, 1);
	assert_int_equal(r->host.redemptions, 3);
	/* A later restart of the host uploads nothing again. */
	fake_host_drop(&r->host);
	rig_run(r, 40000);
	assert_int_equal(r->host.records, 3);
	assert_int_equal(r->host.redemptions, 3);
}

static void lost_decision_goes_offline_once(void **state)
{
	struct rig *r = *state;

	r->cfg.offline_per_day = 1;
	start_up(r);
	r->host.silent = true; /* it commits but its answer never comes */
	tap(r, rig_uid);
	rig_run(r, 2000);
	assert_non_null(strstr(last_event(r), "\"offline\":true"));
	assert_int_equal(r->host.redemptions, 1);
	r->host.silent = false;
	rig_run(r, 1000);
	/* The record carried the same request id: a duplicate, not a second
	 * redemption. */
	assert_int_equal(r->host.records, 1);
	assert_int_equal(r->host.dup_records, 1);
	assert_int_equal(r->host.redemptions, 1);
}

static void offline_not_allowed(void **state)
{
	struct rig *r = *state;

	r->host.down = true;
	assert_int_equal(rig_start(r), 0);
	tap(r, rig_uid);
	assert_string_equal(
	    last_event(r),
	    "{\"result\":\"denied\",\"reason\":\"host_unavailable\","
	    "\"benefit\":\"MEAL\",\"left\":null,\"offline\":true}");
	assert_int_equal(r->st.n, 0);
}

static void offline_checks_deny_list(void **state)
{
	struct rig *r = *state;

	r->cfg.offline_per_day = 5;
	tp_kiosk_lookup_id(rig_uid, r->host.deny_ids[0]);
	r->host.ndeny = 1;
	r->host.deny_version = 7;
	start_up(r);
	rig_run(r, 100);
	assert_int_equal(r->k->ndeny, 1);
	r->host.down = true;
	fake_host_drop(&r->host);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"revoked_card\""));
	tap(r, rig_uid2);
	assert_non_null(strstr(last_event(r), "\"granted\""));
	/* The deny list survives a restart of the kiosk. */
	kiosk_teardown(r->k);
	assert_int_equal(rig_start(r), 0);
	assert_int_equal(r->k->ndeny, 1);
	assert_int_equal(r->k->deny_version, 7);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"revoked_card\""));
	/* And the offline count of the other card too (rebuilt from the
	 * queue). */
	assert_int_equal(kiosk_off_used(r->k, r->k->tap.lookup, r->clk.wall),
			 0);
	uint8_t id2[16];
	tp_kiosk_lookup_id(rig_uid2, id2);
	assert_int_equal(kiosk_off_used(r->k, id2, r->clk.wall), 1);
}

static void offline_allowance_is_per_day(void **state)
{
	struct rig *r = *state;

	r->cfg.offline_per_day = 1;
	r->host.down = true;
	assert_int_equal(rig_start(r), 0);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"offline_limit\""));
	r->clk.wall += 86400; /* the next day */
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
}

static void kiosk_not_enrolled(void **state)
{
	struct rig *r = *state;

	r->cfg.offline_per_day = 3;
	r->host.refuse = true;
	assert_int_equal(rig_start(r), 0);
	rig_run(r, 300);
	assert_false(kiosk_link_up(r->k));
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"kiosk_not_enrolled\""));
	assert_int_equal(r->st.n, 0); /* no offline grant either */
}

static void heartbeat_status(void **state)
{
	struct rig *r = *state;
	struct kiosk_stats st;

	start_up(r);
	rig_run(r, 100);
	assert_true(r->host.statuses >= 1);
	assert_string_equal(r->host.last_status.firmware, "test-1");
	assert_int_equal(r->host.last_status.queue_depth, 0);
	kiosk_get_stats(r->k, &st);
	assert_true(st.clock_offset_s >= 4 && st.clock_offset_s <= 5);
	unsigned n = r->host.statuses;
	rig_run(r, 3 * r->cfg.heartbeat_ms);
	assert_true(r->host.statuses >= n + 2);
}

static void store_failure_is_not_a_grant(void **state)
{
	struct rig *r = *state;
	struct hal_fault f;
	struct hal_store inner = r->hal.store;

	r->cfg.offline_per_day = 3;
	r->host.down = true;
	hal_fault_store(&r->hal.store, &inner, &f);
	hal_fault_arm(&f, 1, 1, HAL_ERR_FULL); /* the disk is full once */
	assert_int_equal(rig_start(r), 0);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"host_unavailable\""));
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
	assert_non_null(strstr(last_event(r), "\"left\":2"));
	kiosk_teardown(r->k);
	r->k = NULL;
	hal_fault_free(r->hal.store.ctx);
}

static void net_fault_reconnects(void **state)
{
	struct rig *r = *state;
	struct hal_fault f;
	struct hal_net inner = r->hal.net;

	hal_fault_net(&r->hal.net, &inner, &f);
	hal_fault_arm(&f, 0, 0, 0);
	start_up(r);
	hal_fault_arm(&f, 1, 3, HAL_ERR_IO); /* three calls fail, then fine */
	rig_run(r, 5000);
	assert_true(kiosk_link_up(r->k));
	assert_int_equal(f.injected, 3);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
	kiosk_teardown(r->k);
	r->k = NULL;
	hal_fault_free(r->hal.net.ctx);
}

static void reader_transient_faults(void **state)
{
	struct rig *r = *state;
	struct hal_fault f;
	struct hal_reader inner = r->hal.reader;
	struct kiosk_stats st;

	hal_fault_reader(&r->hal.reader, &inner, &f);
	hal_fault_arm(&f, 5, 2, HAL_ERR_TIMEOUT); /* two hiccups: no reset */
	start_up(r);
	rig_run(r, 1000);
	kiosk_get_stats(r->k, &st);
	assert_int_equal(f.injected, 2);
	assert_int_equal(st.reader_reopens, 0);
	hal_fault_arm(&f, 1, 0, HAL_ERR_IO); /* persistent: reset, reopen */
	rig_run(r, 1000);
	kiosk_get_stats(r->k, &st);
	assert_true(st.reader_reopens >= 1);
	hal_fault_arm(&f, 0, 0, 0);
	rig_run(r, 11000);
	tap(r, rig_uid);
	assert_non_null(strstr(last_event(r), "\"granted\""));
	kiosk_teardown(r->k);
	r->k = NULL;
	hal_fault_free(r->hal.reader.ctx);
}

/*
 * Once the session is up, a tap (read, request, decision, screen, event,
 * heartbeat) allocates nothing: every buffer was made in kiosk_setup().
 * (Counted over the whole process, so the fake host's side counts too.)
 */
/*
 * A card left on a reader that fails and is reopened under it: finding
 * the same card again is not a second tap.
 */
static void card_held_across_reader_reset(void **state)
{
	struct rig *r = *state;
	struct hal_fault f;
	struct hal_reader inner = r->hal.reader;
	struct kiosk_stats st;

	hal_fault_reader(&r->hal.reader, &inner, &f);
	hal_fault_arm(&f, 0, 0, 0);
	r->usb.on_usb = true;
	start_up(r);
	fake_reader_tap(&r->rd, rig_uid);
	rig_run(r, 300);
	assert_int_equal(r->disp.nevents, 1);
	hal_fault_arm(&f, 1, 3, HAL_ERR_IO); /* presence checks fail: reset */
	rig_run(r, 2000);
	kiosk_get_stats(r->k, &st);
	assert_int_equal(st.reader_resets, 1);
	assert_int_equal(r->disp.nevents, 1);
	assert_int_equal(r->host.taps, 1);
	assert_int_equal(r->rd.sun_ctr, 1);
	fake_reader_remove(&r->rd);
	rig_run(r, 500);
	tap(r, rig_uid); /* once it has left, it is a new tap */
	assert_int_equal(r->disp.nevents, 2);
	kiosk_teardown(r->k);
	r->k = NULL;
	hal_fault_free(r->hal.reader.ctx);
}

/* A host that never acknowledges a record gets a new session, and the
 * record again; the store moves on only with an acknowledgement. */
static void unacknowledged_record_is_resent(void **state)
{
	struct rig *r = *state;

	r->cfg.offline_per_day = 1;
	r->host.down = true;
	assert_int_equal(rig_start(r), 0);
	tap(r, rig_uid);
	assert_int_equal(r->st.n, 1);
	r->host.down = false;
	r->host.no_record_ack = true;
	rig_run(r, 5000);
	assert_int_equal(r->host.records, 1);
	assert_int_equal(r->st.acked, 0);
	rig_run(r, 15000); /* no answer in 15 s: new session, sent again */
	assert_true(r->host.handshakes >= 2);
	assert_true(r->host.records >= 2);
	assert_int_equal(r->st.acked, 0);
	r->host.no_record_ack = false;
	rig_run(r, 20000);
	assert_int_equal(r->st.acked, 1);
	assert_int_equal(r->host.redemptions, 1); /* counted once */
}

#ifndef __SANITIZE_ADDRESS__ /* ASan owns malloc: not counted there */
static void no_allocation_after_setup(void **state)
{
	struct rig *r = *state;
	unsigned long before;

	snprintf(r->host.name, sizeof(r->host.name), "王*明");
	start_up(r);
	tap(r, rig_uid);
	before = kiosk_mallocs;
	for (int i = 0; i < 50; i++) {
		r->host.reason =
		    i % 3 ? TP_REASON_GRANTED : TP_REASON_QUOTA_USED_UP;
		tap(r, i % 2 ? rig_uid : rig_uid2);
	}
	rig_run(r, 3 * r->cfg.heartbeat_ms); /* heartbeats too */
	assert_int_equal(r->disp.nevents, 51);
	assert_int_equal(kiosk_mallocs - before, 0);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(granted_online),
	    T(granted_screen_zh),
	    T(each_denial_reason),
	    T(not_a_service_card),
	    T(card_held_is_one_tap),
	    T(card_pulled_mid_read),
	    T(reader_stops_answering_usb_reset),
	    T(reader_not_on_usb_reopens),
	    T(reader_hotplug),
	    T(host_restart_mid_session),
	    T(backoff_grows_with_jitter),
	    T(offline_grant_upload_no_double),
	    T(lost_decision_goes_offline_once),
	    T(offline_not_allowed),
	    T(offline_checks_deny_list),
	    T(offline_allowance_is_per_day),
	    T(kiosk_not_enrolled),
	    T(heartbeat_status),
	    T(store_failure_is_not_a_grant),
	    T(net_fault_reconnects),
	    T(reader_transient_faults),
	    T(card_held_across_reader_reset),
	    T(unacknowledged_record_is_resent),
#ifndef __SANITIZE_ADDRESS__
	    T(no_allocation_after_setup),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
