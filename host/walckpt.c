/*
 * walckpt.c - checkpoints the SQLite WAL from a second thread.
 *
 * With SQLite's automatic checkpoint, the commit that crosses the WAL size
 * threshold also copies the WAL into the database file and fsyncs it: a
 * random-write fsync over the whole file, inside the event loop, in front
 * of every answer of that batch.  Here the loop's connection has
 * wal_autocheckpoint off and this thread, on its own connection, runs a
 * PASSIVE checkpoint every interval: it never blocks the writer, and the
 * loop only ever fsyncs the WAL it appends to (synchronous=FULL, so the
 * durability of an answered tap does not depend on this thread at all).
 *
 * A PASSIVE checkpoint never restarts the WAL: SQLite goes back to the
 * start of the file only when a write transaction begins with every frame
 * already copied, and under a steady stream of taps the writer has always
 * appended more by then.  The WAL would grow without end, and every fsync
 * of a growing file also writes its inode.  So once a pass has copied a
 * big WAL (WALCKPT_RESTART_FRAMES), the store thread copies the few frames
 * written meanwhile itself, between two batches (walckpt_catch_up), and
 * its next transaction starts the WAL over.
 *
 * The thread touches nothing of the daemon but its own sqlite3 handle and
 * the flag it raises for walckpt_catch_up.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "daemon.h"
#include "store.h"

static pthread_t thr;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int running, stopping;
static sqlite3 *cdb;
static int interval_ms;
static atomic_int catch_up; /* a pass copied a big WAL: finish it */

/* 4 MiB of 4 KiB pages: smaller WALs restart on their own, between taps. */
#define WALCKPT_RESTART_FRAMES 1024
/* At most this many passes in a row, until at most this many frames were
 * added during the last one. */
#define WALCKPT_PASSES	    4
#define WALCKPT_LEFT_FRAMES 128

static void *run(void *arg)
{
	(void)arg;
	thread_role("tapaidd-ckpt", 10); /* after the loop and the store */
	pthread_mutex_lock(&mu);
	while (!stopping) {
		struct timespec ts;
		int logf = 0, done = 0, rc;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)interval_ms * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&cv, &mu, &ts);
		if (stopping)
			break;
		pthread_mutex_unlock(&mu);
		/* Passes until the writer added few frames during the last
		 * one: what the store thread is left to copy stays small. */
		for (int pass = 0, prev = -1; pass < WALCKPT_PASSES; pass++) {
			rc = sqlite3_wal_checkpoint_v2(
			    cdb, NULL, SQLITE_CHECKPOINT_PASSIVE, &logf, &done);
			if (rc != SQLITE_OK) {
				if (rc != SQLITE_BUSY)
					log_warnx("WAL checkpoint: %s",
						  sqlite3_errmsg(cdb));
				break;
			}
			if (logf < WALCKPT_RESTART_FRAMES)
				break;
			if ((prev >= 0 && logf >= prev &&
			     logf - prev <= WALCKPT_LEFT_FRAMES) ||
			    pass == WALCKPT_PASSES - 1) {
				atomic_store(&catch_up, 1);
				break;
			}
			prev = logf;
		}
		pthread_mutex_lock(&mu);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int walckpt_start(struct store *s, const char *dbpath, int every_ms)
{
	sqlite3 *main = store_sqlite_handle(s);

	if (!main)
		return -1;
	if (sqlite3_open_v2(dbpath, &cdb, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		log_warnx("WAL checkpointer: cannot open %s: %s", dbpath,
			  cdb ? sqlite3_errmsg(cdb) : "out of memory");
		sqlite3_close(cdb);
		cdb = NULL;
		return -1;
	}
	sqlite3_busy_timeout(cdb, 1000);
	sqlite3_exec(cdb, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
	interval_ms = every_ms;
	stopping = 0;
	if (pthread_create(&thr, NULL, run, NULL) != 0) {
		sqlite3_close(cdb);
		cdb = NULL;
		return -1;
	}
	running = 1;
	/* Only now: without the thread, SQLite's own checkpoints stay on. */
	sqlite3_wal_autocheckpoint(main, 0);
	return 0;
}

void walckpt_catch_up(struct store *s)
{
	sqlite3 *main;
	int logf = 0, done = 0, rc;

	if (!running || !atomic_exchange(&catch_up, 0))
		return;
	main = store_sqlite_handle(s);
	if (!main)
		return;
	/* No transaction is open here and this thread is the only writer:
	 * unless a reader holds an old snapshot, this copies every frame. */
	rc = sqlite3_wal_checkpoint_v2(main, NULL, SQLITE_CHECKPOINT_PASSIVE,
				       &logf, &done);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_warnx("WAL checkpoint: %s", sqlite3_errmsg(main));
}

void walckpt_stop(struct store *s)
{
	sqlite3 *main = s ? store_sqlite_handle(s) : NULL;

	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thr, NULL);
	running = 0;
	sqlite3_close(cdb);
	cdb = NULL;
	if (main)
		sqlite3_wal_autocheckpoint(main, 1000);
}
