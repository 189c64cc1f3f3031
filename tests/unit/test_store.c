/*
 * test_store.c - the SQLite store behind the admin commands
 * (host/store_sqlite.c): schema version, member import (all or nothing,
 * errors name the line), members, benefits, kiosks, cards (register,
 * revoke, replace in one recorded step), log queries with filters and
 * paging, reports and security events.
 */
#include "host_fixture.h"

#define T0 1773540000

static int setup(void **state)
{
	*state = fx_new();
	return 0;
}

static int teardown(void **state)
{
	fx_free(*state);
	return 0;
}

static struct store_member mem(const char *no, const char *name, const char *un,
			       const char *cat)
{
	struct store_member m;

	memset(&m, 0, sizeof(m));
	snprintf(m.no, sizeof(m.no), "%s", no);
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.union_, sizeof(m.union_), "%s", un);
	snprintf(m.category, sizeof(m.category), "%s", cat);
	return m;
}

static void schema_version(void **state)
{
	struct fx *f = *state;
	struct store *s2;

	assert_int_equal(fx_int(f, "PRAGMA user_version"),
			 STORE_SCHEMA_VERSION);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM pragma_journal_mode"
				   " WHERE journal_mode = 'wal'"),
			 1);
	assert_int_equal(fx_int(f, "PRAGMA synchronous"), 2); /* FULL */
	fx_close(f);
	fx_open(f); /* opening again migrates nothing */
	fx_sql(f, "PRAGMA user_version = 99");
	assert_int_equal(store_sqlite_open(f->path, &s2), STORE_ESCHEMA);
	assert_non_null(strstr(store_sqlite_open_error(), "newer"));
	fx_sql(f, "PRAGMA user_version = 2");
	assert_string_equal(store_err_code(STORE_ENOTFOUND), "not_found");
	assert_string_equal(store_err_code(STORE_EFULL), "storage");
	assert_string_equal(store_err_code(STORE_ECONFLICT), "conflict");
}

static void member_import(void **state)
{
	struct fx *f = *state;
	struct store_member rows[4], m;
	int64_t n;

	rows[0] = mem("2001", "张三", "U1", "worker");
	rows[1] = mem("2002", "李四", "U2", "retired");
	rows[2] = mem("2003", "王五", "U1", "");
	rows[3] = mem("2004", "赵六", "U3", "worker");
	assert_int_equal(STORE_CALL(f->s, member_import, rows, 4, 2),
			 STORE_EINVALID);
	assert_string_equal(store_errmsg(f->s), "line 4: category is empty");
	assert_int_equal(STORE_CALL(f->s, member_count, &n), 0);
	assert_int_equal(n, 1); /* all or nothing: only fixture's 1001 */
	snprintf(rows[2].category, sizeof(rows[2].category), "worker");
	rows[3].status = STORE_SUSPENDED;
	assert_int_equal(STORE_CALL(f->s, member_import, rows, 4, 2), 0);
	assert_int_equal(STORE_CALL(f->s, member_count, &n), 0);
	assert_int_equal(n, 5);
	/* an existing number is updated */
	rows[0] = mem("2001", "张三丰", "U9", "retired");
	assert_int_equal(STORE_CALL(f->s, member_import, rows, 1, 2), 0);
	assert_int_equal(STORE_CALL(f->s, member_get, "2001", &m), 0);
	assert_string_equal(m.name, "张三丰");
	assert_string_equal(m.union_, "U9");
	assert_int_equal(STORE_CALL(f->s, member_get, "2004", &m), 0);
	assert_int_equal(m.status, STORE_SUSPENDED);
	/* a field too long for its column is refused, not cut */
	memset(rows[0].name, 'x', sizeof(rows[0].name));
	assert_int_equal(STORE_CALL(f->s, member_import, rows, 1, 10),
			 STORE_EINVALID);
	assert_non_null(strstr(store_errmsg(f->s), "line 10: name"));
}

static void members(void **state)
{
	struct fx *f = *state;
	struct store_member m = mem("1001", "重复", "U1", "worker");

	assert_int_equal(STORE_CALL(f->s, member_add, &m), STORE_EEXISTS);
	assert_string_equal(store_errmsg(f->s), "member 1001 already exists");
	assert_int_equal(STORE_CALL(f->s, member_get, "9999", &m),
			 STORE_ENOTFOUND);
	assert_int_equal(
	    STORE_CALL(f->s, member_set_status, "1001", STORE_SUSPENDED), 0);
	assert_int_equal(STORE_CALL(f->s, member_get, "1001", &m), 0);
	assert_int_equal(m.status, STORE_SUSPENDED);
	assert_string_equal(m.name, "王小明");
	assert_int_equal(STORE_CALL(f->s, member_get_id, m.id, &m), 0);
	assert_string_equal(m.no, "1001");
	assert_int_equal(
	    STORE_CALL(f->s, member_set_status, "9999", STORE_ACTIVE),
	    STORE_ENOTFOUND);
	assert_int_equal(STORE_CALL(f->s, member_set_status, "1001", 7),
			 STORE_EINVALID);
}

static int count_benefit(void *ctx, const struct store_benefit *b)
{
	(*(int *)ctx)++;
	return 0;
}

static void benefits(void **state)
{
	struct fx *f = *state;
	struct store_benefit b, got;
	uint64_t gen = f->s->ops->generation(f->s);
	int n = 0;

	memset(&b, 0, sizeof(b));
	snprintf(b.code, sizeof(b.code), "EXAM");
	snprintf(b.name, sizeof(b.name), "年度体检");
	b.kind = STORE_QUOTA;
	b.per = STORE_YEAR;
	b.quota = 0;
	b.hours_from = b.hours_to = -1;
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), STORE_EINVALID);
	b.quota = 1;
	b.valid_from = 20261301;
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), STORE_EINVALID);
	b.valid_from = 20260101;
	snprintf(b.points, sizeof(b.points), "P1,P2");
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), 0);
	assert_true(f->s->ops->generation(f->s) > gen);
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), STORE_EEXISTS);
	b.kind = STORE_BALANCE;
	snprintf(b.code, sizeof(b.code), "CANTEEN");
	b.balance = 1000;
	b.amount = 2000;
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), STORE_EINVALID);
	b.amount = 500;
	assert_int_equal(STORE_CALL(f->s, benefit_add, &b), 0);
	assert_int_equal(STORE_CALL(f->s, benefit_get, "EXAM", &got), 0);
	assert_string_equal(got.points, "P1,P2");
	assert_int_equal(got.valid_from, 20260101);
	assert_int_equal(STORE_CALL(f->s, benefit_list, count_benefit, &n), 0);
	assert_int_equal(n, 2);
}

static int count_kiosk(void *ctx, const struct store_kiosk *k)
{
	(*(int *)ctx)++;
	return 0;
}

static void kiosks(void **state)
{
	struct fx *f = *state;
	struct store_kiosk k;
	int n = 0;

	memset(&k, 0, sizeof(k));
	snprintf(k.id, sizeof(k.id), "K1");
	snprintf(k.point, sizeof(k.point), "P9");
	snprintf(k.pubkey_pem, sizeof(k.pubkey_pem), FX_PEM);
	assert_int_equal(STORE_CALL(f->s, kiosk_add, &k), STORE_EEXISTS);
	assert_int_equal(STORE_CALL(f->s, kiosk_revoke, "K1"), 0);
	assert_int_equal(STORE_CALL(f->s, kiosk_revoke, "K1"), STORE_ECONFLICT);
	assert_int_equal(STORE_CALL(f->s, kiosk_revoke, "NOPE"),
			 STORE_ENOTFOUND);
	assert_int_equal(STORE_CALL(f->s, kiosk_get, "K1", &k), 0);
	assert_int_equal(k.status, STORE_REVOKED);
	assert_string_equal(k.tz, "Asia/Shanghai");
	assert_int_equal(STORE_CALL(f->s, kiosk_list, count_kiosk, &n), 0);
	assert_int_equal(n, 3);
}

static int count_card(void *ctx, const struct store_card *c)
{
	(*(int *)ctx)++;
	return 0;
}

static void cards(void **state)
{
	struct fx *f = *state;
	struct store_actor who = {1000, "staff"};
	struct store_card c;
	struct store_member m;
	uint8_t uid[7], lookup[16];
	int64_t id, id2, newid;
	int n = 0;

	id = fx_card(f, 1, "1001", 5);
	fx_uid(1, uid);
	tp_card_lookup_id(f->keys.salt, uid, lookup);
	assert_int_equal(
	    STORE_CALL(f->s, card_register, lookup, "1001", 1, 0, T0, &id2),
	    STORE_EEXISTS);
	fx_uid(2, uid);
	tp_card_lookup_id(f->keys.salt, uid, lookup);
	assert_int_equal(
	    STORE_CALL(f->s, card_register, lookup, "9999", 1, 0, T0, &id2),
	    STORE_ENOTFOUND);
	assert_int_equal(STORE_CALL(f->s, card_register, lookup, "1001", 1,
				    0x1000000, T0, &id2),
			 STORE_EINVALID);
	assert_int_equal(STORE_CALL(f->s, card_get, id, &c), 0);
	assert_int_equal(c.last_ctr, 5);
	assert_string_equal(c.member_no, "1001");
	assert_int_equal(STORE_CALL(f->s, card_find, c.lookup, &c, &m), 0);
	assert_string_equal(m.name, "王小明");
	assert_int_equal(STORE_CALL(f->s, card_revoke, id, "broken"),
			 STORE_EINVALID);
	/* replace: new card, old revoked as replaced, one staff row */
	assert_int_equal(
	    STORE_CALL(f->s, card_replace, id, lookup, 2, 3, T0, &who, &newid),
	    0);
	assert_int_equal(STORE_CALL(f->s, card_get, id, &c), 0);
	assert_int_equal(c.status, STORE_REVOKED);
	assert_string_equal(c.reason, "replaced");
	assert_int_equal(c.replaced_by, newid);
	assert_int_equal(STORE_CALL(f->s, card_get, newid, &c), 0);
	assert_int_equal(c.status, STORE_ACTIVE);
	assert_int_equal(c.key_version, 2);
	assert_int_equal(c.last_ctr, 3);
	assert_int_equal(c.member_id, 1);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM staff_actions WHERE "
				   "cmd = 'card.replaced' AND uid = 1000"),
			 1);
	assert_int_equal(
	    STORE_CALL(f->s, card_replace, id, lookup, 2, 3, T0, &who, &newid),
	    STORE_ECONFLICT);
	assert_int_equal(STORE_CALL(f->s, card_list, 1, count_card, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(STORE_CALL(f->s, card_revoke, newid, "stolen"), 0);
	assert_int_equal(STORE_CALL(f->s, card_revoke, newid, "lost"),
			 STORE_ECONFLICT);
}

/* Usage follows the member when the card is replaced. */
static void replace_keeps_usage(void **state)
{
	struct fx *f = *state;
	struct store_actor who = {1000, "staff"};
	struct engine_tap t;
	struct engine_decision d;
	uint8_t uid[7], lookup[16];
	int64_t newid;

	fx_quota(f, "ONCE", 1, STORE_MONTH);
	fx_card(f, 1, "1001", 0);
	t = fx_tap(f, "K1", 1, 1, "ONCE");
	d = fx_one(f, &t, T0);
	assert_int_equal(d.result, STORE_GRANTED);
	fx_uid(2, uid);
	tp_card_lookup_id(f->keys.salt, uid, lookup);
	assert_int_equal(
	    STORE_CALL(f->s, card_replace, 1, lookup, 1, 0, T0, &who, &newid),
	    0);
	t = fx_tap(f, "K1", 2, 1, "ONCE");
	d = fx_one(f, &t, T0 + 60);
	assert_int_equal(d.reason, TP_REASON_QUOTA_USED_UP);
	t = fx_tap(f, "K1", 1, 2, "ONCE");
	d = fx_one(f, &t, T0 + 60);
	assert_int_equal(d.reason, TP_REASON_REVOKED_CARD);
}

struct logs {
	int n;
	int64_t ids[16];
};

static int collect(void *ctx, const struct store_log_row *row)
{
	struct logs *l = ctx;

	l->ids[l->n++] = row->r.id;
	return 0;
}

static void log_query(void **state)
{
	struct fx *f = *state;
	struct store_log_filter q;
	struct store_actor who = {0, "admin"};
	struct engine_tap t[6];
	struct engine_decision d[6];
	struct logs l;
	int64_t next;

	fx_member(f, "1002", "李四", "U1", "worker");
	fx_quota(f, "MEAL", 2, STORE_DAY);
	fx_card(f, 1, "1001", 0);
	fx_card(f, 2, "1002", 0);
	t[0] = fx_tap(f, "K1", 1, 1, "MEAL");
	t[1] = fx_tap(f, "K2", 1, 2, "MEAL");
	t[2] = fx_tap(f, "K1", 1, 3, "MEAL"); /* quota used up */
	t[3] = fx_tap(f, "K1", 2, 1, "MEAL");
	t[4] = fx_tap(f, "K2", 2, 1, "MEAL"); /* replayed */
	t[5] = fx_tap(f, "K1", 9, 1, "MEAL"); /* unknown card */
	for (int i = 0; i < 6; i++)
		d[i] = fx_one(f, &t[i], T0 + i * 60);
	assert_int_equal(STORE_CALL(f->s, redemption_void, d[0].redemption_id,
				    "test", &who, T0 + 999),
			 0);
	memset(&q, 0, sizeof(q));
	q.result = -1;
	memset(&l, 0, sizeof(l));
	assert_int_equal(STORE_CALL(f->s, log_query, &q, collect, &l, &next),
			 0);
	assert_int_equal(l.n, 6);
	assert_int_equal(next, 0);
	/* by member */
	snprintf(q.member_no, sizeof(q.member_no), "1002");
	memset(&l, 0, sizeof(l));
	assert_int_equal(STORE_CALL(f->s, log_query, &q, collect, &l, &next),
			 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[0], 4);
	/* by kiosk and result */
	q.member_no[0] = '\0';
	snprintf(q.kiosk, sizeof(q.kiosk), "K1");
	q.result = STORE_GRANTED;
	memset(&l, 0, sizeof(l));
	assert_int_equal(STORE_CALL(f->s, log_query, &q, collect, &l, &next),
			 0);
	assert_int_equal(l.n, 2); /* rows 1 and 4 */
	/* time window and paging */
	memset(&q, 0, sizeof(q));
	q.result = -1;
	q.since = T0 + 60;
	q.until = T0 + 300;
	q.limit = 2;
	memset(&l, 0, sizeof(l));
	assert_int_equal(STORE_CALL(f->s, log_query, &q, collect, &l, &next),
			 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[0], 2);
	assert_int_equal(next, 3);
	q.after_id = next;
	memset(&l, 0, sizeof(l));
	assert_int_equal(STORE_CALL(f->s, log_query, &q, collect, &l, &next),
			 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.ids[1], 5);
	assert_int_equal(next, 0);
	/* an unknown member is an error, not an empty page */
	snprintf(q.member_no, sizeof(q.member_no), "nobody");
	assert_int_equal(STORE_CALL(f->s, log_query, &q, collect, &l, &next),
			 STORE_ENOTFOUND);
	q.member_no[0] = '\0';
	q.limit = 20000;
	assert_int_equal(STORE_CALL(f->s, log_query, &q, collect, &l, &next),
			 STORE_EINVALID);
}

struct rep {
	int sections[5];
	int64_t granted, denied, security;
};

static int report_cb(void *ctx, const struct store_report_row *r)
{
	struct rep *p = ctx;
	static const char *names[] = {"per_day", "per_benefit", "per_point",
				      "denials", "security"};

	for (int i = 0; i < 5; i++)
		if (strcmp(r->section, names[i]) == 0)
			p->sections[i]++;
	if (strcmp(r->section, "per_benefit") == 0) {
		p->granted += r->granted;
		p->denied += r->denied;
	}
	if (strcmp(r->section, "security") == 0)
		p->security += r->granted;
	if (strcmp(r->section, "per_day") == 0)
		assert_string_equal(r->key, "2026-03-15");
	return 0;
}

static int count_sec(void *ctx, const struct store_security_event *e)
{
	(*(int *)ctx)++;
	return 0;
}

static void report_and_security(void **state)
{
	struct fx *f = *state;
	struct engine_tap t[3];
	struct engine_decision d[3];
	struct rep r;
	struct store_actor who = {0, "admin"};
	int n = 0;

	fx_quota(f, "MEAL", 5, STORE_DAY);
	fx_card(f, 1, "1001", 0);
	t[0] = fx_tap(f, "K1", 1, 1, "MEAL");
	t[1] = fx_tap(f, "K1", 1, 1, "MEAL");	/* replayed */
	t[2] = fx_tap(f, "NOPE", 1, 2, "MEAL"); /* kiosk not enrolled */
	assert_int_equal(engine_decide_batch(f->e, t, 3, d, T0), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(STORE_CALL(f->s, report, T0 - 86400, T0 + 86400,
				    8 * 3600, report_cb, &r),
			 0);
	assert_int_equal(r.sections[0], 1);
	assert_int_equal(r.granted, 1);
	assert_int_equal(r.denied, 2);
	assert_int_equal(r.sections[3], 2); /* two denial reasons */
	assert_int_equal(r.security, 2);
	assert_int_equal(
	    STORE_CALL(f->s, security_list, 0, 0, 10, count_sec, &n), 0);
	assert_int_equal(n, 2);
	/* a voided grant is counted neither as granted nor as denied */
	t[0] = fx_tap(f, "K1", 1, 3, "MEAL");
	assert_int_equal(engine_decide_batch(f->e, t, 1, d, T0 + 1), 0);
	assert_int_equal(d[0].result, STORE_GRANTED);
	memset(&r, 0, sizeof(r));
	assert_int_equal(STORE_CALL(f->s, report, T0 - 86400, T0 + 86400,
				    8 * 3600, report_cb, &r),
			 0);
	assert_int_equal(r.granted, 2);
	assert_int_equal(STORE_CALL(f->s, redemption_void, d[0].redemption_id,
				    "by mistake", &who, T0 + 10),
			 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(STORE_CALL(f->s, report, T0 - 86400, T0 + 86400,
				    8 * 3600, report_cb, &r),
			 0);
	assert_int_equal(r.granted, 1);
	assert_int_equal(r.denied, 2);
}

/*
 * One writer: a second handle (another process, or a job thread of the
 * daemon) is a reader that cannot write and never flushes its view over
 * the writer's state.
 */
static void second_handle_reads(void **state)
{
	struct fx *f = *state;
	struct store *r, *r2;
	struct store_member m = mem("3001", "新人", "U1", "worker");
	struct chain_verify_result res;
	struct engine_tap t;
	struct engine_decision d;

	fx_quota(f, "MEAL", 2, STORE_DAY);
	fx_card(f, 1, "1001", 0);
	t = fx_tap(f, "K1", 1, 4, "MEAL");
	d = fx_one(f, &t, T0);
	assert_int_equal(d.result, STORE_GRANTED);
	assert_int_equal(store_sqlite_open(f->path, &r), 0);
	assert_int_equal(store_sqlite_is_readonly(r), 1);
	assert_int_equal(store_sqlite_is_readonly(f->s), 0);
	assert_int_equal(STORE_CALL(r, member_add, &m), STORE_ESTATE);
	assert_int_equal(r->ops->begin(r), STORE_ESTATE);
	assert_int_equal(STORE_CALL(r, member_get, "1001", &m), 0);
	assert_int_equal(chain_verify(r, NULL, 0, NULL, NULL, NULL, &res), 0);
	assert_int_equal(res.ok, 1);
	assert_int_equal(res.rows, 1);
	assert_int_equal(store_sqlite_open_readonly(f->path, &r2), 0);
	store_close(r2);
	store_close(r);
	/* the reader wrote nothing: the writer's memory is still ahead */
	assert_int_equal(fx_int(f, "SELECT v FROM meta WHERE k = 'snap_r'"), 0);
	assert_int_equal(fx_ctr(f, 1), 4);
	/* and the writer goes on */
	t = fx_tap(f, "K1", 1, 5, "MEAL");
	d = fx_one(f, &t, T0 + 1);
	assert_int_equal(d.result, STORE_GRANTED);
	assert_int_equal(d.left, 0);
	/* once the writer is gone, the next open is the writer */
	fx_close(f);
	assert_int_equal(store_sqlite_open(f->path, &r), 0);
	assert_int_equal(store_sqlite_is_readonly(r), 0);
	store_close(r);
	fx_open(f);
}

/* A write failing inside a transaction the caller opened is the
 * caller's to end; outside one, an admin write is atomic. */
static void transactions(void **state)
{
	struct fx *f = *state;
	struct store_staff_action a;

	assert_int_equal(f->s->ops->commit(f->s), STORE_ESTATE);
	assert_int_equal(f->s->ops->savepoint(f->s), STORE_ESTATE);
	assert_int_equal(f->s->ops->begin(f->s), 0);
	assert_int_equal(f->s->ops->begin(f->s), STORE_ESTATE);
	assert_int_equal(f->s->ops->flush(f->s), STORE_ESTATE);
	memset(&a, 0, sizeof(a));
	snprintf(a.cmd, sizeof(a.cmd), "ping");
	a.ts = T0;
	assert_int_equal(STORE_CALL(f->s, staff_append, &a), 0);
	assert_int_equal(f->s->ops->rollback(f->s), 0);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM staff_actions"), 0);
	assert_int_equal(STORE_CALL(f->s, staff_append, &a), 0);
	assert_int_equal(a.id, 1);
	assert_int_equal(fx_int(f, "SELECT count(*) FROM staff_actions"), 1);
	a.cmd[0] = '\0';
	assert_int_equal(STORE_CALL(f->s, staff_append, &a), STORE_EINVALID);
}

/*
 * An offline record uploaded long after its tap was first tried online is
 * matched by request id in the log rows stamped near the tap, whatever the
 * in-memory index still holds.
 */
static void request_near(void **state)
{
	struct fx *f = *state;
	struct store_redemption r, got;
	uint8_t other[STORE_REQID_LEN];

	memset(&r, 0, sizeof(r));
	snprintf(r.kiosk, sizeof(r.kiosk), "K1");
	snprintf(r.benefit, sizeof(r.benefit), "meal");
	memset(r.request_id, 0x5a, sizeof(r.request_id));
	r.ts = T0;
	r.kiosk_time = T0;
	assert_int_equal(f->s->ops->begin(f->s), 0);
	assert_int_equal(STORE_CALL(f->s, redemption_append, &r), 0);
	assert_int_equal(f->s->ops->commit(f->s), 0);
	assert_int_equal(f->s->ops->redemption_by_request_near(
			     f->s, "K1", r.request_id, T0 - 60, T0 + 60, &got),
			 0);
	assert_int_equal(got.id, r.id);
	/* Outside the window, another kiosk, another request: not found. */
	assert_int_equal(f->s->ops->redemption_by_request_near(
			     f->s, "K1", r.request_id, T0 + 1, T0 + 60, &got),
			 STORE_ENOTFOUND);
	assert_int_equal(f->s->ops->redemption_by_request_near(
			     f->s, "K2", r.request_id, T0 - 60, T0 + 60, &got),
			 STORE_ENOTFOUND);
	memset(other, 0xa5, sizeof(other));
	assert_int_equal(f->s->ops->redemption_by_request_near(
			     f->s, "K1", other, T0 - 60, T0 + 60, &got),
			 STORE_ENOTFOUND);
}

/*
 * The writer writes its write-behind counters and usage back in chunks so
 * that no batch waits behind a long flush: once 65536 entries wait, each
 * transaction is preceded by a chunk of a pass over the entries dirty when
 * it began, in key order (cards by id, usage by member), so that rows on
 * one page go out together.  Cards are tapped here in a shuffled order, so
 * key order is not the order of the taps.  Each chunk stamps its usage
 * rows with the heads they count up to; the snapshot is the oldest entry
 * still dirty.  After a crash, a replay from there must count no row's
 * past twice.
 */
static void small_flushes(void **state)
{
	struct fx *f = *state, g;
	enum { N = 40000, PER = 500, BEFORE = 33000 };
	struct store_member *rows = calloc(N, sizeof(*rows));
	struct engine_tap *t = calloc(PER, sizeof(*t));
	struct engine_decision *d = calloc(PER, sizeof(*d));
	int64_t *cid = calloc(N, sizeof(*cid)), m0, maxw, nw, n;
	int *order = calloc(N, sizeof(*order)), rounds;
	char no[16], cmd[800];

	assert_non_null(rows);
	assert_non_null(t);
	assert_non_null(d);
	assert_non_null(cid);
	assert_non_null(order);
	for (int i = 0; i < N; i++) {
		snprintf(no, sizeof(no), "%d", 50000 + i);
		rows[i] = mem(no, "成员", "U1", "worker");
		order[i] = (int)((long)i * 7919 % N); /* 7919 is prime */
	}
	assert_int_equal(STORE_CALL(f->s, member_import, rows, N, 2), 0);
	m0 = fx_int(f, "SELECT id FROM members WHERE no = '50000'");
	assert_int_equal(fx_int(f, "SELECT max(id) - min(id) FROM members"
				   " WHERE no >= '50000'"),
			 N - 1);
	fx_quota(f, "MEAL", 10, STORE_DAY);
	assert_int_equal(f->s->ops->begin(f->s), 0);
	for (int i = 0; i < N; i++) {
		snprintf(no, sizeof(no), "%d", 50000 + i);
		cid[i] = fx_card(f, 100 + i, no, 0);
	}
	assert_int_equal(f->s->ops->commit(f->s), 0);
	for (int b = 0; b < N / PER; b++) {
		for (int j = 0; j < PER; j++)
			t[j] = fx_tap(f, "K1", 100 + order[b * PER + j], 1,
				      "MEAL");
		assert_int_equal(engine_decide_batch(f->e, t, PER, d, T0), 0);
		for (int j = 0; j < PER; j++)
			assert_int_equal(d[j].result, STORE_GRANTED);
	}
	/*
	 * Two entries per tap: the batch after the first BEFORE taps began
	 * with 66000 waiting, so a pass over those began, and the last
	 * batches each wrote a chunk of it.  What was written is, of the
	 * cards tapped before the pass, exactly those with the lowest ids;
	 * of their members' usage rows, those of the lowest member ids.
	 */
	maxw = fx_int(f, "SELECT max(id) FROM cards WHERE last_ctr = 1");
	nw = fx_int(f, "SELECT count(*) FROM cards WHERE last_ctr = 1");
	assert_true(nw > 0 && nw < BEFORE);
	n = 0;
	for (int k = 0; k < BEFORE; k++)
		n += cid[order[k]] <= maxw;
	assert_int_equal(n, nw);
	maxw = fx_int(f, "SELECT max(member_id) FROM usage");
	nw = fx_int(f, "SELECT count(*) FROM usage");
	assert_true(nw > 0 && nw < BEFORE);
	n = 0;
	for (int k = 0; k < BEFORE; k++)
		n += m0 + order[k] <= maxw;
	assert_int_equal(n, nw);
	assert_int_equal(fx_int(f, "SELECT sum(count) FROM usage"), nw);
	assert_int_equal(fx_int(f, "PRAGMA synchronous"), 2);

	/* A crash now: the replay from the snapshot passes taps whose rows
	 * already count them (written after it), and must not count them
	 * again; once written back, every member counts exactly one tap. */
	fx_crash_copy(f, &g, 100000);
	assert_int_equal(g.s->ops->flush(g.s), 0);
	assert_int_equal(fx_int(&g, "SELECT sum(count) FROM usage"), N);
	assert_int_equal(fx_int(&g, "SELECT max(count) FROM usage"), 1);
	assert_int_equal(
	    fx_int(&g, "SELECT count(*) FROM cards WHERE last_ctr = 1"), N);
	t[0] = fx_tap(&g, "K1", 100 + order[0], 2, "MEAL");
	assert_int_equal(engine_decide_batch(g.e, t, 1, d, T0 + 1), 0);
	assert_int_equal(d[0].result, STORE_GRANTED);
	assert_int_equal(d[0].left, 8);
	fx_close(&g);

	/* The snapshot moves once a pass has written everything older.
	 * Chunks run only while 65536 entries wait, and here most taps find
	 * their card still dirty, so it takes a few rounds of taps. */
	assert_int_equal(fx_int(f, "SELECT v FROM meta WHERE k = 'snap_r'"), 0);
	for (rounds = 1;
	     rounds < 6 &&
	     fx_int(f, "SELECT v FROM meta WHERE k = 'snap_r'") == 0;
	     rounds++)
		for (int b = 0; b < N / PER; b++) {
			for (int j = 0; j < PER; j++)
				t[j] = fx_tap(f, "K1", 100 + order[b * PER + j],
					      (uint32_t)rounds + 1, "MEAL");
			assert_int_equal(
			    engine_decide_batch(f->e, t, PER, d, T0 + 1), 0);
			for (int j = 0; j < PER; j++)
				assert_int_equal(d[j].left, 9 - rounds);
		}
	assert_true(fx_int(f, "SELECT v FROM meta WHERE k = 'snap_r'") > 0);

	/* The rest is in memory, and in the tables after a reopen. */
	fx_close(f);
	fx_open(f);
	assert_int_equal(fx_int(f, "SELECT sum(count) FROM usage"),
			 (int64_t)rounds * N);
	snprintf(cmd, sizeof(cmd),
		 "SELECT count(*) FROM cards WHERE last_ctr = %d", rounds);
	assert_int_equal(fx_int(f, cmd), N);
	assert_int_equal(fx_int(f, "SELECT v FROM meta WHERE k = 'snap_r'"),
			 fx_int(f, "SELECT max(id) FROM redemptions"));
	t[0] = fx_tap(f, "K1", 100 + N - 1, (uint32_t)rounds + 1, "MEAL");
	assert_int_equal(engine_decide_batch(f->e, t, 1, d, T0 + 2), 0);
	assert_int_equal(d[0].left, 9 - rounds);
	free(rows);
	free(t);
	free(d);
	free(cid);
	free(order);
}

/*
 * The writer's memory table of usage entries has 2^18 slots.  Once half
 * of them are used, the next transaction compacts it in place: the clean
 * entries go (their rows are in the table), the dirty ones stay.  Here
 * 240,000 distinct (member, period) entries pass through it, more than it
 * ever holds (7/8 of its slots), so it was compacted; no count is lost or
 * counted twice, in memory, after a crash, or once written back.  The
 * members of one period have ids above 2^40, which the radix sort of a
 * write-back pass cannot pack: the passes that hold them sort with
 * qsort_r instead.
 */
#define UC_MEMBER(n) (1 + (n) % M + ((n) / M % P == 3 ? (int64_t)1 << 40 : 0))
static void usage_compaction(void **state)
{
	enum { M = 10000, P = 24, PER = 5000 }; /* PER divides M */
	struct fx *f = *state, g;
	struct store_redemption r;
	int64_t count, amount;
	int n = 0;
	char sql[160];

	memset(&r, 0, sizeof(r));
	snprintf(r.kiosk, sizeof(r.kiosk), "K1");
	snprintf(r.benefit, sizeof(r.benefit), "MEAL");
	r.result = STORE_GRANTED;
	r.ts = r.kiosk_time = T0;
	/* period by period, member by member; then each member of the first
	 * period once more, after its entry was compacted away */
	while (n < M * P + M) {
		assert_int_equal(f->s->ops->begin(f->s), 0);
		for (int j = 0; j < PER; j++, n++) {
			r.member_id = UC_MEMBER(n);
			r.period_start = T0 - (int64_t)(n / M % P) * 86400;
			memcpy(r.request_id, &n, sizeof(n));
			assert_int_equal(
			    STORE_CALL(f->s, redemption_append, &r), 0);
		}
		assert_int_equal(f->s->ops->commit(f->s), 0);
	}
	for (int k = 0; k < M * P; k += 997) {
		assert_int_equal(f->s->ops->usage(f->s, UC_MEMBER(k), "MEAL",
						  T0 - (int64_t)(k / M) * 86400,
						  &count, &amount),
				 0);
		assert_int_equal(count, k < M ? 2 : 1);
	}
	fx_crash_copy(f, &g, 100000);
	assert_int_equal(g.s->ops->flush(g.s), 0);
	assert_int_equal(fx_int(&g, "SELECT count(*) FROM usage"), M * P);
	assert_int_equal(fx_int(&g, "SELECT sum(count) FROM usage"), M * P + M);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM usage WHERE count = 2 AND"
		 " period_start = %d",
		 T0);
	assert_int_equal(fx_int(&g, sql), M);
	fx_close(&g);
	assert_int_equal(f->s->ops->flush(f->s), 0);
	assert_int_equal(fx_int(f, "SELECT sum(count) FROM usage"), M * P + M);
	assert_int_equal(fx_int(f, "SELECT max(count) FROM usage"), 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(schema_version),
	    T(member_import),
	    T(members),
	    T(benefits),
	    T(kiosks),
	    T(cards),
	    T(replace_keeps_usage),
	    T(log_query),
	    T(report_and_security),
	    T(transactions),
	    T(second_handle_reads),
	    T(request_near),
	    T(small_flushes),
	    T(usage_compaction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
