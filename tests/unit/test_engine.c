/*
 * test_engine.c - the host's decision for a tap (host/engine.c) against a
 * temporary SQLite store, with real SUN messages from the card side of
 * tapaid/ntag.h: every reason, retries, counters (equal, lower, 0xFFFFFF),
 * two kiosks tapping one card (one batch and consecutive batches), quota
 * periods in Asia/Shanghai and UTC, balances, offline records, disk full.
 */
#include "host_fixture.h"

/* 2026-03-15 10:00 in Shanghai (02:00 UTC). */
#define T0	 1773540000
#define CST_2330 1773588600 /* 2026-03-15 23:30 CST = 15:30 UTC */
#define CST_0030 1773592200 /* 2026-03-16 00:30 CST = 16:30 UTC */

static int setup(void **state)
{
	struct fx *f = fx_new();

	fx_quota(f, "MEAL", 2, STORE_DAY);
	fx_card(f, 1, "1001", 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

static void expect(const struct engine_decision *d, int result, int reason)
{
	if (d->result != result || d->reason != reason)
		fail_msg("got result %d reason %s, want result %d reason %s",
			 d->result, tp_reason_name(d->reason), result,
			 tp_reason_name(reason));
}

static int64_t sec_events(struct fx *f, const char *kind)
{
	char q[160];

	snprintf(q, sizeof(q),
		 "SELECT count(*) FROM security_events WHERE kind = '%s'",
		 kind);
	return fx_int(f, q);
}

static void granted_answer(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "K1", 1, 1, "MEAL");
	struct engine_decision d = fx_one(f, &t, T0);

	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
	assert_string_equal(d.masked, "王*明");
	assert_int_equal(d.left, 1);
	assert_string_equal(d.benefit, "MEAL");
	assert_true(d.redemption_id > 0);
	assert_int_equal(d.duplicate, 0);
	assert_int_equal(fx_ctr(f, 1), 1);
	assert_int_equal(
	    fx_int(f, "SELECT last_seen FROM kiosks WHERE id='K1'"), T0);
	t = fx_tap(f, "K1", 1, 2, "MEAL");
	d = fx_one(f, &t, T0 + 1);
	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
	assert_int_equal(d.left, 0);
	/* last_seen follows the taps (written once per kiosk and second) */
	assert_int_equal(
	    fx_int(f, "SELECT last_seen FROM kiosks WHERE id='K1'"), T0 + 1);
	t = fx_tap(f, "K1", 1, 3, "MEAL");
	d = fx_one(f, &t, T0 + 2);
	expect(&d, STORE_DENIED, TP_REASON_QUOTA_USED_UP);
	assert_int_equal(d.left, 0);
	assert_string_equal(d.masked, "王*明");
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions"), 3);
}

static void kiosk_not_enrolled(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "NOPE", 1, 1, "MEAL");
	struct engine_decision d = fx_one(f, &t, T0);

	expect(&d, STORE_DENIED, TP_REASON_KIOSK_NOT_ENROLLED);
	assert_int_equal(d.left, -1);
	assert_string_equal(d.masked, "");
	/* K2 served a tap (the engine now caches it), then is revoked: its
	 * next tap is refused all the same. */
	t = fx_tap(f, "K2", 1, 1, "MEAL");
	d = fx_one(f, &t, T0);
	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
	assert_int_equal(STORE_CALL(f->s, kiosk_revoke, "K2"), 0);
	t = fx_tap(f, "K2", 1, 2, "MEAL");
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_KIOSK_NOT_ENROLLED);
	assert_int_equal(sec_events(f, STORE_SEC_UNKNOWN_KIOSK), 2);
	/* the refused tap did not touch the card's counter */
	assert_int_equal(fx_ctr(f, 1), 1);
}

static void not_a_service_card(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "K1", 1, 1, "MEAL");
	struct engine_decision d;

	snprintf(t.sun, sizeof(t.sun), "https://example.com/?x=1");
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_NOT_A_SERVICE_CARD);
	/* a plain UID mirror is never accepted */
	t = fx_tap(f, "K1", 1, 1, "MEAL");
	snprintf(t.sun, sizeof(t.sun),
		 "https://x/?uid=04A000015E80&ctr=000001&c=0011223344556677");
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_NOT_A_SERVICE_CARD);
	/* another system's meta key: the PICC data does not decrypt */
	f->keys.meta[0] ^= 1;
	t = fx_tap(f, "K1", 1, 1, "MEAL");
	f->keys.meta[0] ^= 1;
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_NOT_A_SERVICE_CARD);
	/* the same, prepared beforehand as the daemon's loop thread does */
	t = fx_tap(f, "K1", 1, 1, "MEAL");
	snprintf(t.sun, sizeof(t.sun), "https://example.com/?x=1");
	engine_tap_prepare(&f->keys, &t);
	assert_int_equal(t.card.prepared, 1);
	assert_int_equal(t.card.picc_ok, 0);
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_NOT_A_SERVICE_CARD);
	assert_int_equal(fx_ctr(f, 1), 0);
}

/* A tap whose card data was prepared off the store thread is decided
 * exactly as one that was not: granted, counter stored, replay refused. */
static void prepared_tap(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "K1", 1, 5, "MEAL"), u;
	struct engine_decision d;

	engine_tap_prepare(&f->keys, &t);
	assert_int_equal(t.card.prepared, 1);
	assert_int_equal(t.card.picc_ok, 1);
	assert_int_equal(t.card.ctr, 5);
	u = t;
	d = fx_one(f, &t, T0);
	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
	assert_int_equal(fx_ctr(f, 1), 5);
	/* the same SUN again, with a new request id: a replayed counter */
	u.request_id[0] ^= 1;
	d = fx_one(f, &u, T0);
	expect(&d, STORE_DENIED, TP_REASON_REPLAYED_TAP);
	engine_tap_wipe(&t);
	assert_int_equal(t.card.prepared, 0);
	assert_int_equal(t.card.ctr, 0);
}

/* The CMAC checked with the prepared card data, for cards at the usual key
 * version, decides as the one checked at the decision: a bad MAC is still
 * refused, and a card at another version is checked under its own key. */
static void prepared_mac(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "K1", 1, 5, "MEAL");
	struct engine_decision d;
	uint8_t uid[7], lookup[16];
	int64_t id = 0;
	char *c;

	engine_tap_prepare(&f->keys, &t);
	assert_int_equal(t.card.mac_checked, 1);
	assert_int_equal(t.card.mac_ok, 1);
	/* one MAC digit changed, prepared: refused, counter untouched */
	t = fx_tap(f, "K1", 1, 5, "MEAL");
	c = strstr(t.sun, "&c=") + 3;
	*c = *c == 'A' ? 'B' : 'A';
	engine_tap_prepare(&f->keys, &t);
	assert_int_equal(t.card.mac_checked, 1);
	assert_int_equal(t.card.mac_ok, 0);
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_BAD_SIGNATURE);
	assert_int_equal(fx_ctr(f, 1), 0);
	/* a card issued at key version 2 */
	fx_uid(2, uid);
	assert_int_equal(tp_card_lookup_id(f->keys.salt, uid, lookup), 0);
	assert_int_equal(STORE_CALL(f->s, card_register, lookup, "1001", 2, 0,
				    1700000000, &id),
			 0);
	/* its MAC under version 2 verifies, though the prepared check (at
	 * version 1) failed */
	t = fx_tap(f, "K1", 2, 3, "MEAL");
	fx_sun(f, 2, 3, 2, t.sun, sizeof(t.sun));
	engine_tap_prepare(&f->keys, &t);
	assert_int_equal(t.card.mac_ok, 0);
	d = fx_one(f, &t, T0);
	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
	/* and one under version 1, which the prepared check accepted, does
	 * not: the card's version decides */
	t = fx_tap(f, "K1", 2, 4, "MEAL");
	engine_tap_prepare(&f->keys, &t);
	assert_int_equal(t.card.mac_ok, 1);
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_BAD_SIGNATURE);
	assert_int_equal(sec_events(f, STORE_SEC_BAD_SIGNATURE), 2);
}

static void unknown_card(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "K1", 77, 1, "MEAL");
	struct engine_decision d = fx_one(f, &t, T0);

	expect(&d, STORE_DENIED, TP_REASON_UNKNOWN_CARD);
	assert_string_equal(d.masked, "");
	assert_int_equal(sec_events(f, STORE_SEC_UNKNOWN_CARD), 1);
}

static void bad_signature(void **state)
{
	struct fx *f = *state;
	struct engine_tap t;
	struct engine_decision d;
	char *c;

	/* the MAC under another key version */
	t = fx_tap(f, "K1", 1, 5, "MEAL");
	fx_sun(f, 1, 5, 2, t.sun, sizeof(t.sun));
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_BAD_SIGNATURE);
	/* one MAC digit changed */
	t = fx_tap(f, "K1", 1, 5, "MEAL");
	c = strstr(t.sun, "&c=") + 3;
	*c = *c == 'A' ? 'B' : 'A';
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_BAD_SIGNATURE);
	assert_int_equal(sec_events(f, STORE_SEC_BAD_SIGNATURE), 2);
	/* a forged tap does not move the counter */
	assert_int_equal(fx_ctr(f, 1), 0);
	t = fx_tap(f, "K1", 1, 5, "MEAL");
	d = fx_one(f, &t, T0);
	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
}

/* Counter table: each row is (counter, expected reason) in turn. */
static void counters(void **state)
{
	static const struct {
		uint32_t ctr;
		int reason;
	} tab[] = {
	    {0, TP_REASON_REPLAYED_TAP},	/* 1: equal to the stored 0 */
	    {10, TP_REASON_GRANTED},		/* 2: greater */
	    {10, TP_REASON_REPLAYED_TAP},	/* 3: equal */
	    {9, TP_REASON_REPLAYED_TAP},	/* 4: lower */
	    {1, TP_REASON_REPLAYED_TAP},	/* 5: much lower */
	    {11, TP_REASON_GRANTED},		/* 6: next */
	    {0xFFFFFE, TP_REASON_GRANTED},	/* 7: a jump is fine */
	    {0xFFFFFF, TP_REASON_GRANTED},	/* 8: the last value */
	    {0xFFFFFF, TP_REASON_REPLAYED_TAP}, /* 9: cannot again */
	    {0, TP_REASON_REPLAYED_TAP},	/* 10: no wrap to 0 */
	    {1, TP_REASON_REPLAYED_TAP},	/* 11: nor to 1 */
	};
	struct fx *f = *state;

	fx_quota(f, "MANY", 100, STORE_DAY);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		struct engine_tap t = fx_tap(f, "K1", 1, tab[i].ctr, "MANY");
		struct engine_decision d = fx_one(f, &t, T0 + (int64_t)i);

		if (d.reason != tab[i].reason)
			fail_msg("row %zu: counter %u gave %s, want %s", i + 1,
				 tab[i].ctr, tp_reason_name(d.reason),
				 tp_reason_name(tab[i].reason));
	}
	assert_int_equal(fx_ctr(f, 1), 0xFFFFFF);
	assert_int_equal(sec_events(f, STORE_SEC_REPLAYED), 7);
}

static void revoked_card(void **state)
{
	struct fx *f = *state;
	struct engine_tap t;
	struct engine_decision d;

	assert_int_equal(STORE_CALL(f->s, card_revoke, 1, "lost"), 0);
	t = fx_tap(f, "K1", 1, 3, "MEAL");
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_REVOKED_CARD);
	assert_string_equal(d.masked, "王*明");
	assert_int_equal(sec_events(f, STORE_SEC_REVOKED_CARD), 1);
	/* the counter is still recorded: the same reading cannot be reused */
	assert_int_equal(fx_ctr(f, 1), 3);
}

static void member_suspended(void **state)
{
	struct fx *f = *state;
	struct engine_tap t;
	struct engine_decision d;

	assert_int_equal(
	    STORE_CALL(f->s, member_set_status, "1001", STORE_SUSPENDED), 0);
	t = fx_tap(f, "K1", 1, 1, "MEAL");
	d = fx_one(f, &t, T0);
	expect(&d, STORE_DENIED, TP_REASON_MEMBER_SUSPENDED);
	assert_int_equal(
	    STORE_CALL(f->s, member_set_status, "1001", STORE_ACTIVE), 0);
	t = fx_tap(f, "K1", 1, 2, "MEAL");
	d = fx_one(f, &t, T0);
	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
}

static void add_benefit(struct fx *f, const char *code, const char *cats,
			const char *unions, const char *points, int32_t from,
			int32_t until, int h0, int h1)
{
	struct store_benefit b;

	memset(&b, 0, sizeof(b));
	snprintf(b.code, sizeof(b.code), "%s", code);
	snprintf(b.name, sizeof(b.name), "%s", code);
	b.kind = STORE_QUOTA;
	b.quota = 5;
	b.per = STORE_MONTH;
	snprintf(b.categories, sizeof(b.categories), "%s", cats);
	snprintf(b.unions, sizeof(b.unions), "%s", unions);
	snprintf(b.points, sizeof(b.points), "%s", points);
	b.valid_from = from;
	b.valid_until = until;
	b.hours_from = h0;
	b.hours_to = h1;
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), 0);
}

static void eligibility_point_hours(void **state)
{
	static const struct {
		const char *benefit, *kiosk;
		int64_t now;
		int reason;
	} tab[] = {
	    {"NOPE", "K1", T0, TP_REASON_NOT_ELIGIBLE},	   /* unknown */
	    {"RETIRED", "K1", T0, TP_REASON_NOT_ELIGIBLE}, /* category */
	    {"U2ONLY", "K1", T0, TP_REASON_NOT_ELIGIBLE},  /* union */
	    {"CATS", "K1", T0, TP_REASON_GRANTED},	   /* in lists */
	    {"P2ONLY", "K1", T0, TP_REASON_WRONG_SERVICE_POINT},
	    {"P2ONLY", "K2", T0, TP_REASON_GRANTED},
	    /* 08:00-20:00 Shanghai; T0 is 10:00 there */
	    {"DAYTIME", "K1", T0, TP_REASON_GRANTED},
	    {"DAYTIME", "K1", T0 + 10 * 3600 + 1, TP_REASON_OUTSIDE_HOURS},
	    {"DAYTIME", "K1", T0 - 2 * 3600 - 1, TP_REASON_OUTSIDE_HOURS},
	    {"DAYTIME", "K1", T0 - 2 * 3600, TP_REASON_GRANTED},
	    /* the same instant is 02:00 at a UTC kiosk */
	    {"DAYTIME", "KU", T0 + 10, TP_REASON_OUTSIDE_HOURS},
	    /* 22:00-06:00 overnight */
	    {"NIGHT", "K1", T0, TP_REASON_OUTSIDE_HOURS},
	    {"NIGHT", "K1", T0 + 13 * 3600, TP_REASON_GRANTED},
	    {"NIGHT", "K1", T0 + 19 * 3600, TP_REASON_GRANTED},
	    /* valid 2026-03-16 .. 2026-03-20 (local dates) */
	    {"WINDOW", "K1", T0, TP_REASON_OUTSIDE_HOURS},
	    {"WINDOW", "K1", CST_0030, TP_REASON_GRANTED},
	    {"WINDOW", "K1", T0 + 5 * 86400, TP_REASON_GRANTED},
	    {"WINDOW", "K1", T0 + 6 * 86400, TP_REASON_OUTSIDE_HOURS},
	    /* 2026-03-16 00:30 Shanghai is still the 15th in UTC */
	    {"WINDOW", "KU", CST_0030, TP_REASON_OUTSIDE_HOURS},
	};
	struct fx *f = *state;
	uint32_t ctr = 1;

	fx_member(f, "1002", "李四", "U1", "retired");
	add_benefit(f, "RETIRED", "retired", "", "", 0, 0, -1, -1);
	add_benefit(f, "U2ONLY", "", "U2,U3", "", 0, 0, -1, -1);
	add_benefit(f, "CATS", "retired, worker", "U3,U1", "", 0, 0, -1, -1);
	add_benefit(f, "P2ONLY", "", "", "P2", 0, 0, -1, -1);
	add_benefit(f, "DAYTIME", "", "", "", 0, 0, 8 * 60, 20 * 60);
	add_benefit(f, "NIGHT", "", "", "", 0, 0, 22 * 60, 6 * 60);
	add_benefit(f, "WINDOW", "", "", "", 20260316, 20260320, -1, -1);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		struct engine_tap t =
		    fx_tap(f, tab[i].kiosk, 1, ctr++, tab[i].benefit);
		struct engine_decision d = fx_one(f, &t, tab[i].now);

		if (d.reason != tab[i].reason)
			fail_msg("row %zu (%s at %s): got %s, want %s", i + 1,
				 tab[i].benefit, tab[i].kiosk,
				 tp_reason_name(d.reason),
				 tp_reason_name(tab[i].reason));
	}
}

/* A retry (same kiosk + request id) gets the first answer, counts once. */
static void retries(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "K1", 1, 1, "MEAL"), t2;
	struct engine_decision d1, d2, d3;

	d1 = fx_one(f, &t, T0);
	expect(&d1, STORE_GRANTED, TP_REASON_GRANTED);
	d2 = fx_one(f, &t, T0 + 5); /* e.g. on a new session */
	assert_int_equal(d2.duplicate, 1);
	assert_int_equal(d2.result, d1.result);
	assert_int_equal(d2.reason, d1.reason);
	assert_int_equal(d2.left, d1.left);
	assert_int_equal(d2.redemption_id, d1.redemption_id);
	assert_string_equal(d2.masked, d1.masked);
	/* another tap uses the second unit; the retry still says left 1 */
	t2 = fx_tap(f, "K1", 1, 2, "MEAL");
	d3 = fx_one(f, &t2, T0 + 6);
	assert_int_equal(d3.left, 0);
	d2 = fx_one(f, &t, T0 + 7);
	assert_int_equal(d2.left, 1);
	assert_int_equal(d2.duplicate, 1);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions"), 2);
	/* a denial is answered the same way again */
	t2 = fx_tap(f, "K1", 1, 3, "MEAL");
	d1 = fx_one(f, &t2, T0 + 8);
	expect(&d1, STORE_DENIED, TP_REASON_QUOTA_USED_UP);
	d2 = fx_one(f, &t2, T0 + 9);
	expect(&d2, STORE_DENIED, TP_REASON_QUOTA_USED_UP);
	assert_int_equal(d2.duplicate, 1);
	/* the same request id within one batch */
	{
		struct engine_tap b[2];
		struct engine_decision o[2];

		fx_quota(f, "MANY", 100, STORE_DAY);
		b[0] = fx_tap(f, "K1", 1, 10, "MANY");
		b[1] = b[0];
		assert_int_equal(engine_decide_batch(f->e, b, 2, o, T0 + 10),
				 0);
		expect(&o[0], STORE_GRANTED, TP_REASON_GRANTED);
		expect(&o[1], STORE_GRANTED, TP_REASON_GRANTED);
		assert_int_equal(o[1].duplicate, 1);
		assert_int_equal(o[1].redemption_id, o[0].redemption_id);
	}
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions"), 4);
}

/*
 * One card, two kiosks.  The same SUN reading presented at both (a
 * relayed or cloned reading): exactly one wins, in one batch and in
 * consecutive batches.  Two genuine readings against a quota of one:
 * exactly one wins too.
 */
static void two_kiosks_one_card(void **state)
{
	struct fx *f = *state;
	struct engine_tap b[2];
	struct engine_decision o[2];
	int won;

	fx_quota(f, "ONCE", 1, STORE_DAY);
	fx_quota(f, "MANY", 100, STORE_DAY);
	/* one batch, same reading */
	b[0] = fx_tap(f, "K1", 1, 1, "MANY");
	b[1] = fx_tap(f, "K2", 1, 1, "MANY");
	assert_int_equal(engine_decide_batch(f->e, b, 2, o, T0), 0);
	won = (o[0].result == STORE_GRANTED) + (o[1].result == STORE_GRANTED);
	assert_int_equal(won, 1);
	expect(&o[1], STORE_DENIED, TP_REASON_REPLAYED_TAP);
	/* consecutive batches, same reading */
	b[0] = fx_tap(f, "K1", 1, 2, "MANY");
	b[1] = fx_tap(f, "K2", 1, 2, "MANY");
	assert_int_equal(engine_decide_batch(f->e, &b[0], 1, &o[0], T0), 0);
	assert_int_equal(engine_decide_batch(f->e, &b[1], 1, &o[1], T0), 0);
	expect(&o[0], STORE_GRANTED, TP_REASON_GRANTED);
	expect(&o[1], STORE_DENIED, TP_REASON_REPLAYED_TAP);
	/* one batch, two genuine readings, quota of one */
	b[0] = fx_tap(f, "K2", 1, 4, "ONCE");
	b[1] = fx_tap(f, "K1", 1, 3, "ONCE");
	assert_int_equal(engine_decide_batch(f->e, b, 2, o, T0), 0);
	expect(&o[0], STORE_GRANTED, TP_REASON_GRANTED);
	/* its counter 3 is now below 4: a replay, so still only one wins */
	expect(&o[1], STORE_DENIED, TP_REASON_REPLAYED_TAP);
	/* consecutive batches, genuine readings, quota of one */
	fx_quota(f, "ONCE2", 1, STORE_DAY);
	b[0] = fx_tap(f, "K1", 1, 5, "ONCE2");
	b[1] = fx_tap(f, "K2", 1, 6, "ONCE2");
	assert_int_equal(engine_decide_batch(f->e, &b[0], 1, &o[0], T0), 0);
	assert_int_equal(engine_decide_batch(f->e, &b[1], 1, &o[1], T0), 0);
	expect(&o[0], STORE_GRANTED, TP_REASON_GRANTED);
	expect(&o[1], STORE_DENIED, TP_REASON_QUOTA_USED_UP);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions WHERE "
				   "result = 1 AND benefit = 'ONCE2'"),
			 1);
}

/* Day, month and year boundaries in the service point's time zone. */
static void quota_periods(void **state)
{
	static const struct {
		const char *benefit, *kiosk;
		int64_t t1, t2;
		int second; /* reason of the second tap */
	} tab[] = {
	    /* 23:30 and 00:30 Shanghai: two days there */
	    {"D", "K1", CST_2330, CST_0030, TP_REASON_GRANTED},
	    /* the same instants are 15:30 and 16:30 UTC: one day */
	    {"D", "KU", CST_2330, CST_0030, TP_REASON_QUOTA_USED_UP},
	    /* 03-31 23:59 and 04-01 00:01 Shanghai */
	    {"M", "K1", 1774972740, 1774972860, TP_REASON_GRANTED},
	    {"M", "KU", 1774972740, 1774972860, TP_REASON_QUOTA_USED_UP},
	    /* 12-31 23:59 and 01-01 00:01 Shanghai */
	    {"Y", "K1", 1798732740, 1798732860, TP_REASON_GRANTED},
	    {"Y", "KU", 1798732740, 1798732860, TP_REASON_QUOTA_USED_UP},
	};
	struct fx *f = *state;
	uint32_t ctr = 1;
	char no[16];

	fx_quota(f, "D", 1, STORE_DAY);
	fx_quota(f, "M", 1, STORE_MONTH);
	fx_quota(f, "Y", 1, STORE_YEAR);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		/* a member and card of its own for each row */
		snprintf(no, sizeof(no), "M%zu", i);
		fx_member(f, no, "张三丰", "U1", "worker");
		fx_card(f, (int)(100 + i), no, 0);
		struct engine_tap t1 = fx_tap(f, tab[i].kiosk, (int)(100 + i),
					      ctr++, tab[i].benefit);
		struct engine_tap t2 = fx_tap(f, tab[i].kiosk, (int)(100 + i),
					      ctr++, tab[i].benefit);
		struct engine_decision d1 = fx_one(f, &t1, tab[i].t1);
		struct engine_decision d2 = fx_one(f, &t2, tab[i].t2);

		expect(&d1, STORE_GRANTED, TP_REASON_GRANTED);
		if (d2.reason != tab[i].second)
			fail_msg("row %zu: second tap %s, want %s", i + 1,
				 tp_reason_name(d2.reason),
				 tp_reason_name(tab[i].second));
	}
}

static void balance(void **state)
{
	struct fx *f = *state;
	struct store_benefit b;
	int64_t want[] = {3000, 1500, 0};

	memset(&b, 0, sizeof(b));
	snprintf(b.code, sizeof(b.code), "CANTEEN");
	snprintf(b.name, sizeof(b.name), "canteen subsidy");
	b.kind = STORE_BALANCE;
	b.balance = 4500;
	b.amount = 1500;
	b.per = STORE_YEAR;
	b.hours_from = b.hours_to = -1;
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), 0);
	for (int i = 0; i < 3; i++) {
		struct engine_tap t =
		    fx_tap(f, "K1", 1, (uint32_t)i + 1, "CANTEEN");
		struct engine_decision d = fx_one(f, &t, T0 + i);

		expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
		assert_int_equal(d.left, want[i]);
	}
	struct engine_tap t = fx_tap(f, "K1", 1, 9, "CANTEEN");
	struct engine_decision d = fx_one(f, &t, T0 + 9);

	expect(&d, STORE_DENIED, TP_REASON_QUOTA_USED_UP);
	assert_int_equal(d.left, 0);
	assert_int_equal(fx_int(f, "SELECT sum(amount) FROM redemptions"),
			 4500);
	/* a voided redemption gives its amount back */
	struct store_actor who = {0, "admin"};

	assert_int_equal(
	    STORE_CALL(f->s, redemption_void, 2, "by mistake", &who, T0 + 10),
	    0);
	t = fx_tap(f, "K1", 1, 10, "CANTEEN");
	d = fx_one(f, &t, T0 + 11);
	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
	assert_int_equal(d.left, 0);
	/* next year: a full balance again */
	t = fx_tap(f, "K1", 1, 11, "CANTEEN");
	d = fx_one(f, &t, T0 + 366 * 86400);
	expect(&d, STORE_GRANTED, TP_REASON_GRANTED);
	assert_int_equal(d.left, 3000);
}

static struct engine_tap offline_tap(struct fx *f, const char *kiosk, int n,
				     uint32_t ctr, const char *benefit,
				     int64_t seq, int64_t when)
{
	struct engine_tap t = fx_tap(f, kiosk, n, ctr, benefit);

	t.offline = 1;
	t.offline_seq = seq;
	t.kiosk_time = when;
	t.has_sig = 1;
	memset(t.kiosk_sig, 0xA5, sizeof(t.kiosk_sig));
	return t;
}

static void offline_records(void **state)
{
	struct fx *f = *state;
	struct engine_tap t[4];
	struct engine_decision d[4];

	/* applied in order; the quota is judged at the kiosk's time */
	t[0] = offline_tap(f, "K1", 1, 1, "MEAL", 1, T0 - 86400);
	t[1] = offline_tap(f, "K1", 1, 2, "MEAL", 2, T0 - 86400 + 60);
	t[2] = offline_tap(f, "K1", 1, 3, "MEAL", 3, T0 - 86400 + 120);
	assert_int_equal(engine_decide_batch(f->e, t, 3, d, T0), 0);
	expect(&d[0], STORE_GRANTED, TP_REASON_GRANTED);
	expect(&d[1], STORE_GRANTED, TP_REASON_GRANTED);
	/* a third grant the kiosk gave offline: kept, flagged */
	expect(&d[2], STORE_CONFLICT, TP_REASON_QUOTA_USED_UP);
	assert_int_equal(fx_int(f, "SELECT offline_seq FROM kiosks WHERE "
				   "id = 'K1'"),
			 3);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions WHERE "
				   "result = 2 AND kiosk_sig IS NOT NULL"),
			 1);
	/* duplicates: same seq (new request id), and same request id */
	t[3] = offline_tap(f, "K1", 1, 2, "MEAL", 2, T0 - 86400 + 60);
	d[3] = fx_one(f, &t[3], T0 + 1);
	assert_int_equal(d[3].duplicate, 1);
	assert_int_equal(d[3].redemption_id, d[1].redemption_id);
	t[1].offline_seq = 9;
	d[3] = fx_one(f, &t[1], T0 + 1);
	assert_int_equal(d[3].duplicate, 1);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions"), 3);
	/* the card is revoked meanwhile: the record is a conflict */
	assert_int_equal(STORE_CALL(f->s, card_revoke, 1, "stolen"), 0);
	t[0] = offline_tap(f, "K1", 1, 4, "MEAL", 4, T0 - 3600);
	d[0] = fx_one(f, &t[0], T0 + 2);
	expect(&d[0], STORE_CONFLICT, TP_REASON_REVOKED_CARD);
	/* an online tap elsewhere went first: the late record's counter is
	 * lower, a conflict (never dropped); the stored counter stays */
	fx_card(f, 2, "1001", 0);
	t[0] = fx_tap(f, "K2", 2, 8, "MEAL");
	d[0] = fx_one(f, &t[0], T0 + 3);
	expect(&d[0], STORE_GRANTED, TP_REASON_GRANTED);
	t[1] = offline_tap(f, "K1", 2, 7, "MEAL", 5, T0 - 60);
	d[1] = fx_one(f, &t[1], T0 + 4);
	expect(&d[1], STORE_CONFLICT, TP_REASON_REPLAYED_TAP);
	assert_int_equal(fx_ctr(f, 2), 8);
	/* a tap the kiosk denied offline is stored as that denial */
	t[2] = offline_tap(f, "K1", 2, 9, "MEAL", 6, T0 - 30);
	t[2].offline_reason = TP_REASON_OFFLINE_LIMIT;
	d[2] = fx_one(f, &t[2], T0 + 5);
	expect(&d[2], STORE_DENIED, TP_REASON_OFFLINE_LIMIT);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions"), 7);
	/* conflicts and denials do not count: one grant left today */
	t[3] = fx_tap(f, "K1", 2, 10, "MEAL");
	d[3] = fx_one(f, &t[3], T0 + 6);
	expect(&d[3], STORE_GRANTED, TP_REASON_GRANTED);
	assert_int_equal(d[3].left, 0);
}

/*
 * Disk full: max_page_count stops the database from growing, so the batch
 * fails; every tap gets host_unavailable, nothing of the batch is stored;
 * once space returns the engine goes on.
 */
static void disk_full(void **state)
{
	struct fx *f = *state;
	struct engine_tap t[3];
	struct engine_decision d[3];
	int64_t pages, rows, ctr;
	char q[96];
	int err;

	fx_quota(f, "MANY", 1000, STORE_DAY);
	t[0] = fx_tap(f, "K1", 1, 1, "MANY");
	assert_int_equal(fx_one(f, &t[0], T0).result, STORE_GRANTED);
	rows = fx_int(f, "SELECT count(*) FROM redemptions");
	ctr = fx_ctr(f, 1);
	pages = fx_int(f, "PRAGMA page_count");
	snprintf(q, sizeof(q), "PRAGMA max_page_count = %lld",
		 (long long)pages);
	fx_int(f, q);
	/* enough taps to need a new page */
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < 3; i++) {
			t[i] = fx_tap(f, "K1", 1, (uint32_t)(2 + round * 3 + i),
				      "MANY");
			snprintf(t[i].sun + strlen(t[i].sun),
				 sizeof(t[i].sun) - strlen(t[i].sun),
				 "&pad=%0150d", 0);
		}
		err = engine_decide_batch(f->e, t, 3, d, T0 + 1);
		if (err)
			break;
		rows += 3;
		ctr = 2 + round * 3 + 2;
	}
	assert_int_equal(err, STORE_EFULL);
	for (int i = 0; i < 3; i++) {
		expect(&d[i], STORE_DENIED, TP_REASON_HOST_UNAVAILABLE);
		assert_int_equal(d[i].redemption_id, 0);
	}
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions"), rows);
	assert_int_equal(fx_ctr(f, 1), ctr);
	/* space returns */
	fx_int(f, "PRAGMA max_page_count = 1000000");
	assert_int_equal(engine_decide_batch(f->e, t, 3, d, T0 + 2), 0);
	for (int i = 0; i < 3; i++)
		expect(&d[i], STORE_GRANTED, TP_REASON_GRANTED);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM redemptions"),
			 rows + 3);
	struct chain_verify_result res;

	assert_int_equal(chain_verify(f->s, NULL, 0, NULL, NULL, NULL, &res),
			 0);
	assert_int_equal(res.ok, 1);
}

/* Answers survive a restart (the commit was durable) and chain on. */
static void reopen(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "K1", 1, 1, "MEAL");
	struct engine_decision d1 = fx_one(f, &t, T0), d2;
	struct chain_verify_result res;

	fx_close(f);
	fx_open(f);
	d2 = fx_one(f, &t, T0 + 1);
	assert_int_equal(d2.duplicate, 1);
	assert_int_equal(d2.redemption_id, d1.redemption_id);
	t = fx_tap(f, "K1", 1, 2, "MEAL");
	d2 = fx_one(f, &t, T0 + 2);
	assert_int_equal(d2.redemption_id, d1.redemption_id + 1);
	assert_int_equal(chain_verify(f->s, NULL, 0, NULL, NULL, NULL, &res),
			 0);
	assert_int_equal(res.ok, 1);
	assert_int_equal(res.rows, 2);
}

/*
 * A crash: the files as they are on disk right after a commit, without
 * the flush a clean close does.  Counters, usage, voids and the request
 * index come back from the redemption rows after the last snapshot.
 */
static void crash_recovery(void **state)
{
	struct fx *f = *state, g;
	struct engine_tap t[3];
	struct engine_decision d[3];
	struct store_actor who = {0, "admin"};

	fx_quota(f, "THREE", 3, STORE_DAY);
	t[0] = fx_tap(f, "K1", 1, 5, "THREE");
	t[1] = fx_tap(f, "K1", 1, 6, "THREE");
	assert_int_equal(engine_decide_batch(f->e, t, 2, d, T0), 0);
	assert_int_equal(STORE_CALL(f->s, redemption_void, d[0].redemption_id,
				    "test", &who, T0 + 1),
			 0);
	t[2] = fx_tap(f, "K1", 1, 7, "THREE");
	d[2] = fx_one(f, &t[2], T0 + 2);
	expect(&d[2], STORE_GRANTED, TP_REASON_GRANTED);
	/* the usage table and cards.last_ctr have not been written yet */
	assert_int_equal(fx_int(f, "SELECT count(*) FROM usage"), 0);
	assert_int_equal(fx_int(f, "SELECT last_ctr FROM cards WHERE id = 1"),
			 0);
	fx_crash_copy(f, &g, 1000); /* fresh request ids */
	assert_int_equal(fx_ctr(&g, 1), 7);
	/* a retry after the restart still gets its first answer */
	d[0] = fx_one(&g, &t[1], T0 + 3);
	assert_int_equal(d[0].duplicate, 1);
	assert_int_equal(d[0].redemption_id, d[1].redemption_id);
	/* an old reading is a replay */
	t[0] = fx_tap(&g, "K1", 1, 7, "THREE");
	d[0] = fx_one(&g, &t[0], T0 + 4);
	expect(&d[0], STORE_DENIED, TP_REASON_REPLAYED_TAP);
	/* three grants, one voided: two uses counted, one is left */
	t[0] = fx_tap(&g, "K1", 1, 8, "THREE");
	d[0] = fx_one(&g, &t[0], T0 + 5);
	expect(&d[0], STORE_GRANTED, TP_REASON_GRANTED);
	assert_int_equal(d[0].left, 0);
	t[0] = fx_tap(&g, "K1", 1, 9, "THREE");
	d[0] = fx_one(&g, &t[0], T0 + 6);
	expect(&d[0], STORE_DENIED, TP_REASON_QUOTA_USED_UP);
	/* a clean close writes the tables and the snapshot position */
	fx_close(&g);
	fx_open(&g);
	assert_int_equal(fx_int(&g, "SELECT last_ctr FROM cards WHERE id = 1"),
			 9);
	assert_int_equal(fx_int(&g, "SELECT count FROM usage WHERE "
				    "benefit = 'THREE'"),
			 3);
	assert_int_equal(fx_int(&g, "SELECT v FROM meta WHERE k = 'snap_r'"),
			 fx_int(&g, "SELECT max(id) FROM redemptions"));
	fx_close(&g);
}

static int usage_cb(void *ctx, const struct engine_usage *u)
{
	int *n = ctx;

	if (strcmp(u->benefit, "MEAL") == 0) {
		assert_int_equal(u->used, 1);
		assert_int_equal(u->left, 1);
		assert_string_equal(u->period, "day");
	}
	(*n)++;
	return 0;
}

static void member_usage(void **state)
{
	struct fx *f = *state;
	struct engine_tap t = fx_tap(f, "K1", 1, 1, "MEAL");
	int n = 0;

	fx_one(f, &t, T0);
	add_benefit(f, "RETIRED", "retired", "", "", 0, 0, -1, -1);
	fx_quota(f, "OTHER", 3, STORE_YEAR);
	assert_int_equal(engine_member_usage(f->e, 1, T0, usage_cb, &n), 0);
	assert_int_equal(n, 2); /* MEAL and OTHER, not RETIRED */
}

static void localtime_cache(void **state)
{
	struct fx *f = *state;
	struct engine_localtime lt;

	assert_int_equal(engine_localtime(f->e, "Asia/Shanghai", T0, &lt), 0);
	assert_int_equal(lt.yyyymmdd, 20260315);
	assert_int_equal(lt.minute, 600);
	assert_int_equal(lt.day_start, T0 - 10 * 3600);
	assert_int_equal(lt.day_end - lt.day_start, 86400);
	assert_int_equal(engine_localtime(f->e, "UTC", T0, &lt), 0);
	assert_int_equal(lt.minute, 120);
	assert_int_equal(engine_localtime(f->e, "Mars/Olympus", T0, &lt),
			 TP_ERR_VALUE);
	assert_int_equal(lt.minute, 120); /* treated as UTC */
	assert_int_equal(engine_localtime(f->e, "../etc/passwd", T0, &lt),
			 TP_ERR_VALUE);
}

/*
 * On a day with a DST change, the opening hours go by the wall clock:
 * Berlin, 2026-03-29 (23 hours: 02:00 CET becomes 03:00 CEST at 01:00
 * UTC) and 2026-10-25 (25 hours: 03:00 CEST becomes 02:00 CET).  The
 * minutes elapsed since midnight are 60 off from the clock after the
 * change.  The second tap of each day comes from the cache.
 */
static void localtime_dst(void **state)
{
	static const struct {
		int64_t early, late; /* 00:30 UTC, and a tap hours later */
		int early_min, late_min, hours, yyyymmdd;
		int64_t day_start, shift_at;
	} days[] = {
	    /* 01:30 CET; 08:00 UTC = 10:00 CEST */
	    {1774744200, 1774771200, 90, 600, 23, 20260329, 1774738800,
	     1774746000},
	    /* 02:30 CEST; 11:00 UTC = 12:00 CET */
	    {1792888200, 1792926000, 150, 720, 25, 20261025, 1792879200,
	     1792890000},
	};
	struct fx *f = *state;
	struct engine_localtime lt;

	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		assert_int_equal(
		    engine_localtime(f->e, "Europe/Berlin", days[i].early, &lt),
		    0);
		assert_int_equal(lt.minute, days[i].early_min);
		assert_int_equal(lt.day_start, days[i].day_start);
		assert_int_equal(lt.day_end - lt.day_start,
				 days[i].hours * 3600);
		assert_int_equal(lt.shift_at, days[i].shift_at);
		assert_int_equal(
		    engine_localtime(f->e, "Europe/Berlin", days[i].late, &lt),
		    0);
		assert_int_equal(lt.yyyymmdd, days[i].yyyymmdd);
		assert_int_equal(lt.minute, days[i].late_min);
	}
	/* no change on the day of T0 in Shanghai */
	assert_int_equal(engine_localtime(f->e, "Asia/Shanghai", T0, &lt), 0);
	assert_int_equal(lt.shift_at, lt.day_end);
	assert_int_equal(lt.minute, 600);
}

static void load_keys(void **state)
{
	struct fx *f = *state;
	struct engine_keys k;
	char p[160];
	FILE *fp;
	const char *names[] = {ENGINE_MASTER_KEY_FILE, ENGINE_META_KEY_FILE,
			       ENGINE_SALT_FILE};

	assert_int_equal(engine_load_keys(f->dir, &k), TP_ERR_KEYFILE);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
		fp = fopen(p, "w");
		fprintf(fp, "000102030405060708090a0b0c0d0e0%d\n", i);
		fclose(fp);
		chmod(p, 0600);
	}
	assert_int_equal(engine_load_keys(f->dir, &k), 0);
	assert_int_equal(k.master[15], 0);
	assert_int_equal(k.meta[15], 1);
	assert_int_equal(k.salt[15], 2);
	chmod(p, 0644);
	assert_int_equal(engine_load_keys(f->dir, &k), TP_ERR_KEYPERM);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(granted_answer),
	    T(kiosk_not_enrolled),
	    T(not_a_service_card),
	    T(prepared_tap),
	    T(prepared_mac),
	    T(unknown_card),
	    T(bad_signature),
	    T(counters),
	    T(revoked_card),
	    T(member_suspended),
	    T(eligibility_point_hours),
	    T(retries),
	    T(two_kiosks_one_card),
	    T(quota_periods),
	    T(balance),
	    T(offline_records),
	    T(disk_full),
	    T(reopen),
	    T(crash_recovery),
	    T(member_usage),
	    T(localtime_cache),
	    T(localtime_dst),
	    T(load_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
