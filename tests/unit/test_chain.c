/*
 * test_chain.c - the tamper-evident log (host/chain.c): a clean log
 * verifies; a changed row, a rewritten row, a removed row, a removed tail,
 * a changed staff action and a forged checkpoint are each detected and
 * named; so is a tail cut off with its checkpoints, against a checkpoint
 * kept outside the database.
 */
#include "host_fixture.h"

#define T0 1773540000

struct cx {
	struct fx *f;
	struct tp_key *key;
};

static void staff(struct fx *f, const char *cmd, const char *args)
{
	struct store_staff_action a;

	memset(&a, 0, sizeof(a));
	a.ts = T0;
	a.uid = 1000;
	snprintf(a.role, sizeof(a.role), "staff");
	snprintf(a.cmd, sizeof(a.cmd), "%s", cmd);
	a.args = args;
	a.ok = 1;
	assert_int_equal(STORE_CALL(f->s, staff_append, &a), 0);
}

/* Ten taps, three staff actions, one checkpoint. */
static int setup(void **state)
{
	struct cx *c = calloc(1, sizeof(*c));
	struct engine_tap t[10];
	struct engine_decision d[10];

	c->f = fx_new();
	fx_quota(c->f, "MANY", 100, STORE_DAY);
	fx_card(c->f, 1, "1001", 0);
	for (int i = 0; i < 10; i++)
		t[i] = fx_tap(c->f, "K1", 1, (uint32_t)i + 1, "MANY");
	assert_int_equal(engine_decide_batch(c->f->e, t, 10, d, T0), 0);
	staff(c->f, "member.add", "{\"no\":\"1001\"}");
	staff(c->f, "benefit.add", "{\"code\":\"MANY\"}");
	staff(c->f, "kiosk.add", "{\"id\":\"K1\"}");
	assert_int_equal(tp_key_generate(&c->key), 0);
	assert_int_equal(chain_checkpoint(c->f->s, T0 + 60, chain_sign_with_key,
					  c->key, 0, NULL),
			 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct cx *c = *state;

	tp_key_free(c->key);
	fx_free(c->f);
	free(c);
	return 0;
}

static struct chain_verify_result verify(struct cx *c)
{
	struct chain_verify_result r;

	assert_int_equal(chain_verify(c->f->s, c->key, CHAIN_VERIFY_ALL_SIGS,
				      NULL, NULL, NULL, &r),
			 0);
	return r;
}

static void expect_bad(const struct chain_verify_result *r, const char *table,
		       int64_t id)
{
	if (r->ok || !r->first_bad_table || strcmp(r->first_bad_table, table) ||
	    r->first_bad != id)
		fail_msg("want %s row %lld named; got ok=%d %s %lld: %s", table,
			 (long long)id, r->ok,
			 r->first_bad_table ? r->first_bad_table : "-",
			 (long long)r->first_bad, r->why);
}

static void clean_log_verifies(void **state)
{
	struct cx *c = *state;
	struct chain_verify_result r = verify(c);

	assert_int_equal(r.ok, 1);
	assert_int_equal(r.rows, 10);
	assert_int_equal(r.staff_rows, 3);
	assert_int_equal(r.checkpoints, 1);
	assert_int_equal(r.last.r_head_id, 10);
	assert_int_equal(r.last.s_head_id, 3);
	assert_null(r.first_bad_table);
}

/* The store refuses to change or delete chained rows. */
static void append_only(void **state)
{
	struct cx *c = *state;
	sqlite3 *db = store_sqlite_handle(c->f->s);

	assert_int_not_equal(sqlite3_exec(db,
					  "UPDATE redemptions SET left_ = 9",
					  NULL, NULL, NULL),
			     SQLITE_OK);
	assert_int_not_equal(
	    sqlite3_exec(db, "DELETE FROM staff_actions", NULL, NULL, NULL),
	    SQLITE_OK);
}

/* Someone with the file drops the triggers and edits a field. */
static void changed_row_is_named(void **state)
{
	struct cx *c = *state;
	struct chain_verify_result r;

	fx_sql(c->f, "DROP TRIGGER red_no_update;"
		     "UPDATE redemptions SET left_ = 99 WHERE id = 4");
	r = verify(c);
	expect_bad(&r, "redemptions", 4);
	assert_non_null(strstr(r.why, "row 4"));
}

/* ... and recomputes that row's hash: the next row no longer links. */
static void rewritten_row_breaks_link(void **state)
{
	struct cx *c = *state;
	struct store_redemption row;
	struct chain_verify_result r;
	sqlite3_stmt *st;
	int voided;

	assert_int_equal(STORE_CALL(c->f->s, redemption_get, 6, &row, &voided),
			 0);
	row.result = STORE_DENIED;
	assert_int_equal(chain_hash_redemption(row.prev_hash, &row, row.hash),
			 0);
	fx_sql(c->f, "DROP TRIGGER red_no_update");
	assert_int_equal(sqlite3_prepare_v2(store_sqlite_handle(c->f->s),
					    "UPDATE redemptions SET result = 0,"
					    " hash = ?1 WHERE id = 6",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, row.hash, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	r = verify(c);
	expect_bad(&r, "redemptions", 7);
	assert_non_null(strstr(r.why, "link"));
}

/* Rewriting the last row (hash recomputed): the checkpoint catches it. */
static void rewritten_head_is_named(void **state)
{
	struct cx *c = *state;
	struct store_redemption row;
	struct chain_verify_result r;
	sqlite3_stmt *st;
	int voided;

	assert_int_equal(STORE_CALL(c->f->s, redemption_get, 10, &row, &voided),
			 0);
	row.left = 42;
	assert_int_equal(chain_hash_redemption(row.prev_hash, &row, row.hash),
			 0);
	fx_sql(c->f, "DROP TRIGGER red_no_update");
	assert_int_equal(sqlite3_prepare_v2(store_sqlite_handle(c->f->s),
					    "UPDATE redemptions SET left_ = 42,"
					    " hash = ?1 WHERE id = 10",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_blob(st, 1, row.hash, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	r = verify(c);
	expect_bad(&r, "redemptions", 10);
	assert_non_null(strstr(r.why, "checkpoint"));
}

static void removed_row_is_named(void **state)
{
	struct cx *c = *state;
	struct chain_verify_result r;

	fx_sql(c->f, "DROP TRIGGER red_no_delete;"
		     "DELETE FROM redemptions WHERE id = 5");
	r = verify(c);
	expect_bad(&r, "redemptions", 5);
	assert_non_null(strstr(r.why, "missing"));
}

/* Cutting off the tail leaves a consistent chain, but the checkpoint
 * signed a longer one. */
static void removed_tail_is_detected(void **state)
{
	struct cx *c = *state;
	struct chain_verify_result r;

	fx_sql(c->f, "DROP TRIGGER red_no_delete;"
		     "DELETE FROM redemptions WHERE id > 8");
	r = verify(c);
	expect_bad(&r, "redemptions", 9);
	assert_non_null(strstr(r.why, "tail"));
	/* the same for the staff chain */
	teardown(state);
	setup(state);
	c = *state;
	fx_sql(c->f, "DROP TRIGGER staff_no_delete;"
		     "DELETE FROM staff_actions WHERE id = 3");
	r = verify(c);
	expect_bad(&r, "staff_actions", 3);
}

static void changed_staff_action_is_named(void **state)
{
	struct cx *c = *state;
	struct chain_verify_result r;

	fx_sql(c->f, "DROP TRIGGER staff_no_update;"
		     "UPDATE staff_actions SET uid = 0 WHERE id = 2");
	r = verify(c);
	expect_bad(&r, "staff_actions", 2);
}

static void forged_checkpoint_is_detected(void **state)
{
	struct cx *c = *state;
	struct chain_verify_result r;
	struct tp_key *other;

	/* a checkpoint signed by someone else */
	assert_int_equal(tp_key_generate(&other), 0);
	staff(c->f, "ping", "");
	assert_int_equal(chain_checkpoint(c->f->s, T0 + 120,
					  chain_sign_with_key, other, 0, NULL),
			 0);
	r = verify(c);
	expect_bad(&r, "checkpoints", 2);
	assert_non_null(strstr(r.why, "signature"));
	/* the default mode checks the last signature, which is the bad one */
	assert_int_equal(chain_verify(c->f->s, c->key, 0, NULL, NULL, NULL, &r),
			 0);
	expect_bad(&r, "checkpoints", 2);
	tp_key_free(other);
	/* a checkpoint edited to follow a cut tail */
	fx_sql(c->f, "DELETE FROM checkpoints WHERE id = 2;"
		     "UPDATE checkpoints SET r_head_id = 8 WHERE id = 1");
	r = verify(c);
	expect_bad(&r, "checkpoints", 1);
}

/*
 * Cutting off the tail together with the checkpoints that signed it leaves
 * a log that verifies on its own.  A checkpoint kept outside the database
 * catches it: gone, or (once the daemon signed new ones) different.
 */
static void kept_checkpoint_catches_a_deeper_cut(void **state)
{
	struct cx *c = *state;
	struct engine_tap t[5];
	struct engine_decision d[5];
	struct store_checkpoint cp2;
	struct chain_kept kept;
	struct chain_verify_result r;

	for (int i = 0; i < 5; i++)
		t[i] = fx_tap(c->f, "K1", 1, (uint32_t)i + 11, "MANY");
	assert_int_equal(engine_decide_batch(c->f->e, t, 5, d, T0 + 100), 0);
	assert_int_equal(chain_checkpoint(c->f->s, T0 + 120,
					  chain_sign_with_key, c->key, 0, &cp2),
			 0);
	assert_int_equal(cp2.id, 2);
	kept.id = cp2.id;
	memcpy(kept.digest, cp2.digest, sizeof(kept.digest));
	/* intact: the kept checkpoint is there */
	assert_int_equal(
	    chain_verify(c->f->s, c->key, 0, &kept, NULL, NULL, &r), 0);
	assert_int_equal(r.ok, 1);
	assert_non_null(strstr(r.why, "kept"));
	/* a wrong digest for it is not the one kept */
	kept.digest[7] ^= 1;
	assert_int_equal(
	    chain_verify(c->f->s, c->key, 0, &kept, NULL, NULL, &r), 0);
	expect_bad(&r, "checkpoints", 2);
	kept.digest[7] ^= 1;
	/* the five new rows and checkpoint 2 removed */
	fx_sql(c->f, "DROP TRIGGER red_no_delete;"
		     "DELETE FROM redemptions WHERE id > 10;"
		     "DELETE FROM checkpoints WHERE id = 2");
	r = verify(c);
	assert_int_equal(r.ok, 1); /* what the database alone cannot see */
	assert_int_equal(
	    chain_verify(c->f->s, c->key, 0, &kept, NULL, NULL, &r), 0);
	expect_bad(&r, "checkpoints", 2);
	assert_non_null(strstr(r.why, "gone"));
	/* the host signs a new checkpoint 2 over the shorter log */
	staff(c->f, "ping", "");
	assert_int_equal(chain_checkpoint(c->f->s, T0 + 180,
					  chain_sign_with_key, c->key, 0, NULL),
			 0);
	r = verify(c);
	assert_int_equal(r.ok, 1);
	assert_int_equal(
	    chain_verify(c->f->s, c->key, 0, &kept, NULL, NULL, &r), 0);
	expect_bad(&r, "checkpoints", 2);
	assert_non_null(strstr(r.why, "cut back or rewritten"));
}

static void checkpoint_only_when_changed(void **state)
{
	struct cx *c = *state;
	struct store_checkpoint cp;

	assert_int_equal(chain_checkpoint(c->f->s, T0 + 120,
					  chain_sign_with_key, c->key, 0, &cp),
			 1);
	assert_int_equal(cp.id, 1);
	assert_int_equal(chain_checkpoint(c->f->s, T0 + 180,
					  chain_sign_with_key, c->key, 1, &cp),
			 0);
	assert_int_equal(cp.id, 2);
	staff(c->f, "ping", "");
	assert_int_equal(chain_checkpoint(c->f->s, T0 + 240,
					  chain_sign_with_key, c->key, 0, &cp),
			 0);
	assert_int_equal(cp.id, 3);
	assert_int_equal(cp.s_head_id, 4);
	assert_int_equal(verify(c).ok, 1);
}

/* Voiding appends a staff action; the redemption row is untouched. */
static void void_is_appended(void **state)
{
	struct cx *c = *state;
	struct store_actor who = {0, "admin"};
	struct store_redemption before, after;
	int voided;

	assert_int_equal(
	    STORE_CALL(c->f->s, redemption_get, 3, &before, &voided), 0);
	assert_int_equal(voided, 0);
	assert_int_equal(
	    STORE_CALL(c->f->s, redemption_void, 3, "mistake", &who, T0 + 100),
	    0);
	assert_int_equal(
	    STORE_CALL(c->f->s, redemption_void, 3, "again", &who, T0 + 101),
	    STORE_ECONFLICT);
	assert_int_equal(
	    STORE_CALL(c->f->s, redemption_get, 3, &after, &voided), 0);
	assert_int_equal(voided, 1);
	assert_memory_equal(before.hash, after.hash, 32);
	assert_int_equal(fx_int(c->f, "SELECT ref_id FROM staff_actions "
				      "WHERE cmd = 'redemption.voided'"),
			 3);
	assert_int_equal(verify(c).ok, 1);
}

static int64_t prog_calls;
static void progress(void *ctx, int64_t done, int64_t total)
{
	prog_calls++;
	assert_true(done <= total);
}

/* Many rows stream through one cursor; progress is reported. */
static void many_rows(void **state)
{
	struct cx *c = *state;
	struct engine_tap t[250];
	struct engine_decision d[250];
	struct chain_verify_result r;
	uint32_t ctr = 100;

	for (int b = 0; b < 4; b++) {
		for (int i = 0; i < 250; i++)
			t[i] = fx_tap(c->f, "K1", 1, ctr++, "MANY");
		assert_int_equal(engine_decide_batch(c->f->e, t, 250, d,
						     T0 + 86400 * (b + 1)),
				 0);
	}
	assert_int_equal(chain_checkpoint(c->f->s, T0 + 5 * 86400,
					  chain_sign_with_key, c->key, 0, NULL),
			 0);
	prog_calls = 0;
	assert_int_equal(
	    chain_verify(c->f->s, c->key, 0, NULL, progress, NULL, &r), 0);
	assert_int_equal(r.ok, 1);
	assert_int_equal(r.rows, 1010);
	assert_true(prog_calls >= 1);
	/* rows are hashed on a second thread in chunks of 256: a changed
	 * row deep inside is still the one named, and an earlier broken
	 * link (row 301 after row 300 was rewritten) comes first */
	fx_sql(c->f, "DROP TRIGGER red_no_update;"
		     "UPDATE redemptions SET masked = 'x' WHERE id = 700");
	r = verify(c);
	expect_bad(&r, "redemptions", 700);
	fx_sql(c->f, "UPDATE redemptions SET prev_hash = zeroblob(32)"
		     " WHERE id = 301");
	r = verify(c);
	expect_bad(&r, "redemptions", 301);
	fx_sql(c->f, "UPDATE redemptions SET ctr = 0 WHERE id = 299");
	r = verify(c);
	expect_bad(&r, "redemptions", 299);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(clean_log_verifies),
	    T(append_only),
	    T(changed_row_is_named),
	    T(rewritten_row_breaks_link),
	    T(rewritten_head_is_named),
	    T(removed_row_is_named),
	    T(removed_tail_is_detected),
	    T(changed_staff_action_is_named),
	    T(forged_checkpoint_is_detected),
	    T(kept_checkpoint_catches_a_deeper_cut),
	    T(checkpoint_only_when_changed),
	    T(void_is_appended),
	    T(many_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
