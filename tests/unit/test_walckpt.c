/*
 * test_walckpt.c - the WAL checkpoint thread (host/walckpt.c) keeps the
 * WAL from growing without end under a steady stream of commits.
 *
 * A PASSIVE checkpoint alone never lets SQLite start the WAL over while a
 * writer keeps appending; walckpt_catch_up, called by the writer between
 * its transactions, does.  SQLite counts the restarts in the WAL header
 * (the checkpoint sequence number, bytes 12..15), which is what this reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "test_util.h"

#include "../../host/daemon.h"
#include "../../host/store.h"

/* The WAL header's checkpoint sequence number; -1 without a WAL. */
static long wal_seq(const char *db)
{
	char path[PATH_MAX + 8];
	unsigned char h[16];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path), "%s-wal", db);
	f = fopen(path, "rb");
	if (!f)
		return -1;
	if (fread(h, 1, sizeof(h), f) == sizeof(h))
		v = (long)h[12] << 24 | (long)h[13] << 16 | (long)h[14] << 8 |
		    (long)h[15];
	fclose(f);
	return v;
}

static long wal_size(const char *db)
{
	char path[PATH_MAX + 8];
	struct stat st;

	snprintf(path, sizeof(path), "%s-wal", db);
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* One write transaction of n new members. */
static void write_batch(struct store *s, int *next, int n)
{
	assert_int_equal(s->ops->begin(s), 0);
	for (int i = 0; i < n; i++) {
		struct store_member m;

		memset(&m, 0, sizeof(m));
		snprintf(m.no, sizeof(m.no), "W%07d", (*next)++);
		snprintf(m.name, sizeof(m.name), "Member %d", *next);
		snprintf(m.union_, sizeof(m.union_), "U1");
		snprintf(m.category, sizeof(m.category), "retired");
		m.status = STORE_ACTIVE;
		assert_int_equal(s->ops->member_add(s, &m), 0);
	}
	assert_int_equal(s->ops->commit(s), 0);
}

static void wal_restarts_under_steady_writes(void **state)
{
	char dir[] = "/tmp/test-walckpt-XXXXXX", db[256], cmd[320];
	struct store *s;
	long seq0, seq = -1, big = 0;
	int next = 0, batches = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/tapaid.db", dir);
	assert_int_equal(store_sqlite_open(db, &s), STORE_OK);
	write_batch(s, &next, 1);
	seq0 = wal_seq(db);
	assert_true(seq0 >= 0);
	assert_int_equal(walckpt_start(s, db, 5), 0);
	/* Writes without a pause, as the store thread does under load, and
	 * lets the checkpointer's flag through between transactions, until
	 * the WAL has started over twice (or 20 s went by: a failure). */
	for (time_t until = time(NULL) + 20; time(NULL) < until;) {
		walckpt_catch_up(s);
		write_batch(s, &next, 100);
		batches++;
		if (wal_size(db) > big)
			big = wal_size(db);
		seq = wal_seq(db);
		if ((seq >= seq0 + 2 && big > 4L << 20) || big > 64L << 20)
			break; /* done, or failed without filling the disk */
	}
	walckpt_stop(s);
	printf("# %d batches, %d members: WAL restarts %ld, largest %.1f "
	       "MB\n",
	       batches, next, seq - seq0, big / 1048576.0);
	/* More than a WAL's worth (4 MiB) was written, and it restarted. */
	assert_true(big > 4L << 20);
	assert_true(seq >= seq0 + 2);
	/* Every row is there. */
	{
		struct store_member m;
		char no[16];

		snprintf(no, sizeof(no), "W%07d", next - 1);
		assert_int_equal(s->ops->member_get(s, no, &m), 0);
	}
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/*
 * A long read (log.verify) keeps the WAL from starting over, and it grows
 * past its usual size.  Once the reader is gone and the WAL has started
 * over, the next commit cuts the file back to 16 MiB
 * (journal_size_limit) instead of leaving it that big on disk.
 */
static void wal_cut_back_after_long_read(void **state)
{
	char dir[] = "/tmp/test-walckpt-XXXXXX", db[256], cmd[320];
	struct store *s, *r;
	sqlite3 *rh;
	int next = 0, logf = 0, done = 0;
	long big;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/tapaid.db", dir);
	assert_int_equal(store_sqlite_open(db, &s), STORE_OK);
	write_batch(s, &next, 1);
	assert_int_equal(store_sqlite_open_readonly(db, &r), STORE_OK);
	rh = store_sqlite_handle(r);
	assert_int_equal(sqlite3_exec(rh, "BEGIN; SELECT count(*) FROM members",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	while ((big = wal_size(db)) <= 20L << 20)
		write_batch(s, &next, 500);
	assert_int_equal(sqlite3_exec(rh, "COMMIT", NULL, NULL, NULL),
			 SQLITE_OK);
	store_close(r);
	assert_int_equal(sqlite3_wal_checkpoint_v2(store_sqlite_handle(s), NULL,
						   SQLITE_CHECKPOINT_PASSIVE,
						   &logf, &done),
			 SQLITE_OK);
	assert_int_equal(logf, done); /* every frame copied: it can restart */
	write_batch(s, &next, 1);
	printf("# WAL %.1f MB behind the reader, %.1f MB after\n",
	       big / 1048576.0, wal_size(db) / 1048576.0);
	assert_true(wal_size(db) <= 16L << 20);
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(wal_restarts_under_steady_writes),
	    cmocka_unit_test(wal_cut_back_after_long_read),
	};

	log_init(1, LOG_WARNING, "test_walckpt");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
