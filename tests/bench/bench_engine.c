/*
 * bench_engine - durable taps per second through engine_decide_batch()
 * against the generated bench database (tools/gen-bench-db: 400,000
 * members, 150,000 cards, 2,000,000 past redemptions), printed beside the
 * per-tap floor measured in the same run:
 *
 *   floor = SUN check + card lookup + quota count + one fsync'd commit / B
 *
 * where B is the batch size (taps sharing one commit).  Also prints the
 * batch (answer) latency p50/p99 and the process RSS.
 *
 * usage: bench_engine [DIR]   (default: <dir of this program>/../bench-db)
 * env:   BENCH_TAPS (100000), BENCH_BATCH (64)
 */
#include <libgen.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

#include "../../host/chain.h"
#include "../../host/engine.h"
#include "../../host/store.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* CPU seconds (user + system) this process used so far. */
static double cpu_s(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec / 1e6 +
	       (double)u.ru_stime.tv_sec + (double)u.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

static void bench_uid(int n, uint8_t uid[7])
{
	uid[0] = 0x04;
	uid[1] = 0xB0;
	uid[2] = (uint8_t)(n >> 16);
	uid[3] = (uint8_t)(n >> 8);
	uid[4] = (uint8_t)n;
	uid[5] = 0x5E;
	uid[6] = 0x80;
}

/* The SUN URL card n writes at counter ctr (what the reader hands over). */
static void make_sun(const struct engine_keys *k, int n, uint32_t ctr,
		     char *out, size_t cap)
{
	uint8_t uid[7], pt[16], ct[16], fk[16], mac[8];
	char hp[33], hm[17];

	bench_uid(n, uid);
	memset(pt, 0, sizeof(pt));
	pt[0] = 0xC7;
	memcpy(pt + 1, uid, 7);
	pt[8] = (uint8_t)ctr;
	pt[9] = (uint8_t)(ctr >> 8);
	pt[10] = (uint8_t)(ctr >> 16);
	uint64_t r = next();
	memcpy(pt + 11, &r, 5);
	tp_aes_ecb(k->meta, 1, pt, ct);
	tp_card_key(k->master, uid, TP_KEY_SDM_FILE, 1, fk);
	tp_sun_mac(fk, uid, ctr, "", 0, mac);
	tp_hex_encode(ct, 16, hp, 1);
	tp_hex_encode(mac, 8, hm, 1);
	hp[32] = hm[16] = '\0';
	snprintf(out, cap, "https://sc.union.example/t?p=%s&c=%s", hp, hm);
}

/* A timing wrapper around the store's commit, to split a batch's time. */
static struct store_ops timed_ops;
static int (*real_commit)(struct store *s);
static double commit_time;

static int timed_commit(struct store *s)
{
	double t0 = now_s();
	int err = real_commit(s);

	commit_time += now_s() - t0;
	return err;
}

/* WAL frames written per commit (sqlite3_wal_hook reports the WAL size). */
static long wal_prev, wal_frames, wal_commits, ckpt_pages = 1000;
static int wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
	if (pages > wal_prev)
		wal_frames += pages - wal_prev;
	else
		wal_frames += pages; /* the WAL was restarted */
	wal_prev = pages;
	wal_commits++;
	/* keep SQLite's own autocheckpoint behaviour */
	if (pages >= ckpt_pages) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
		wal_prev = 0;
	}
	return SQLITE_OK;
}

static void rss(long *cur, long *peak)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	*cur = *peak = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*cur = atol(line + 6);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*peak = atol(line + 6);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	char dir[512], path[600], self[512];
	struct store *s;
	struct engine *e;
	struct engine_keys keys;
	sqlite3 *db;
	sqlite3_stmt *st;
	uint32_t *last;
	int ncards = 0, nmembers = 0;
	long ntaps = getenv("BENCH_TAPS") ? atol(getenv("BENCH_TAPS")) : 100000;
	int batch = getenv("BENCH_BATCH") ? atoi(getenv("BENCH_BATCH")) : 64;
	struct engine_tap *taps;
	struct engine_decision *dec;
	double *lat, t_sun, t_cmac, t_lookup, t_quota, t_commit, floor_us,
	    total = 0;
	long granted = 0, denied_reason[16] = {0}, nb = 0;
	long rss_cur, rss_peak;
	double cpu_total = 0;
	char loadavg[64];
	int64_t redemptions = 0;

	/* Fresh request ids every run: the same ids would be retries. */
	tp_random(&rng, sizeof(rng));
	rng |= 1;
	if (argc > 1) {
		snprintf(dir, sizeof(dir), "%s", argv[1]);
	} else {
		snprintf(self, sizeof(self), "%s", argv[0]);
		snprintf(dir, sizeof(dir), "%s/../bench-db", dirname(self));
	}
	if (ntaps < batch || batch < 1 || batch > 4096) {
		fprintf(stderr, "bench_engine: bad BENCH_TAPS/BENCH_BATCH\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/tapaid.db", dir);
	if (engine_load_keys(dir, &keys) != 0 ||
	    store_sqlite_open(path, &s) != 0) {
		fprintf(stderr,
			"bench_engine: no bench database in %s (run "
			"gen-bench-db %s): %s\n",
			dir, dir, store_sqlite_open_error());
		return 1;
	}
	if (engine_new(s, &keys, "Asia/Shanghai", &e) != 0)
		return 1;
	db = store_sqlite_handle(s);
	/* The hook replaces SQLite's autocheckpoint: it does the same, at
	 * the store's wal_autocheckpoint (or BENCH_CKPT pages). */
	{
		sqlite3_stmt *w;

		if (sqlite3_prepare_v2(db, "PRAGMA wal_autocheckpoint", -1, &w,
				       NULL) == SQLITE_OK &&
		    sqlite3_step(w) == SQLITE_ROW)
			ckpt_pages = sqlite3_column_int(w, 0);
		sqlite3_finalize(w);
		if (getenv("BENCH_CKPT"))
			ckpt_pages = atol(getenv("BENCH_CKPT"));
	}
	sqlite3_wal_hook(db, wal_hook, NULL);
	timed_ops = *s->ops;
	real_commit = timed_ops.commit;
	timed_ops.commit = timed_commit;
	s->ops = &timed_ops;
	if (getenv("BENCH_PRAGMA")) /* experiments: extra pragmas */
		sqlite3_exec(db, getenv("BENCH_PRAGMA"), NULL, NULL, NULL);

	/* The cards' last counters, to make fresh readings. */
	sqlite3_prepare_v2(db, "SELECT max(id) FROM cards", -1, &st, NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		ncards = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_prepare_v2(db, "SELECT max(id) FROM members", -1, &st, NULL);
	if (sqlite3_step(st) == SQLITE_ROW)
		nmembers = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	s->ops->count(s, STORE_CUR_REDEMPTIONS, &redemptions);
	last = calloc((size_t)ncards + 1, sizeof(*last));
	sqlite3_prepare_v2(db, "SELECT id, last_ctr FROM cards", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		int id = sqlite3_column_int(st, 0);

		if (id >= 1 && id <= ncards)
			last[id] = (uint32_t)sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	printf("bench_engine: %s: %d members, %d cards, %lld redemptions; "
	       "%ld taps, %d per commit\n",
	       path, nmembers, ncards, (long long)redemptions, ntaps, batch);

	/* ---- the engine ---- */
	taps = calloc((size_t)batch, sizeof(*taps));
	dec = calloc((size_t)batch, sizeof(*dec));
	lat = calloc((size_t)(ntaps / batch + 1), sizeof(*lat));
	for (long done = 0; done + batch <= ntaps; done += batch) {
		for (int i = 0; i < batch; i++) {
			struct engine_tap *t = &taps[i];
			int n = (int)(next() % (uint64_t)ncards) + 1;
			uint64_t a = next(), b = next();
			uint32_t pick = (uint32_t)(next() % 10);

			memset(t, 0, sizeof(*t));
			snprintf(t->kiosk, sizeof(t->kiosk), "K%03u",
				 (unsigned)(next() % 200) + 1);
			memcpy(t->request_id, &a, 8);
			memcpy(t->request_id + 8, &b, 8);
			snprintf(t->benefit, sizeof(t->benefit), "%s",
				 pick < 6   ? "MEAL"
				 : pick < 9 ? "PARK"
					    : "CANTEEN");
			make_sun(&keys, n, ++last[n], t->sun, sizeof(t->sun));
			t->kiosk_time = time(NULL);
		}
		double t0 = now_s(), c0 = cpu_s();
		int err = engine_decide_batch(e, taps, (size_t)batch, dec,
					      (int64_t)time(NULL));
		double dt = now_s() - t0, dc = cpu_s() - c0;

		if (err) {
			fprintf(stderr, "bench_engine: batch failed: %s\n",
				store_errmsg(s));
			return 1;
		}
		if (done < 10L * batch) {
			commit_time = 0;
			wal_frames = wal_commits = 0;
			continue; /* warm-up: not counted */
		}
		total += dt;
		cpu_total += dc;
		lat[nb++] = dt * 1e3;
		for (int i = 0; i < batch; i++) {
			if (dec[i].result == STORE_GRANTED)
				granted++;
			else
				denied_reason[dec[i].reason & 15]++;
		}
	}
	/* ---- floor, measured here ---- */
	enum { NS = 20000 };
	static char suns[256][256];
	static int sun_card[256];
	double v[64];

	for (int i = 0; i < 256; i++) {
		sun_card[i] = (int)(next() % (uint64_t)ncards) + 1;
		make_sun(&keys, sun_card[i], last[sun_card[i]] + 1, suns[i],
			 sizeof(suns[i]));
	}
	/*
	 * Measured after the engine ran, so that both see the same warm
	 * caches.  SUN check: parse, decrypt PICC, lookup id, card key,
	 * CMAC; and the CMAC check alone (DESIGN.md's 0.4 us figure).
	 */
	{
		struct tp_sun_msg msg;
		uint8_t uid[7], fk[16];
		uint32_t c;

		tp_sun_parse(suns[0], strlen(suns[0]), &msg);
		tp_sun_decrypt_picc(keys.meta, msg.picc_enc, uid, &c);
		tp_card_key(keys.master, uid, TP_KEY_SDM_FILE, 1, fk);
		for (int r = 0; r < 21; r++) {
			double t0 = now_s();

			for (int i = 0; i < NS / 20; i++)
				if (tp_sun_check_mac(fk, uid, c, msg.mac_in,
						     msg.mac_in_len, msg.mac))
					return 1;
			v[r] = (now_s() - t0) / (NS / 20) * 1e6;
		}
		t_cmac = median(v, 21);
	}
	for (int r = 0; r < 21; r++) {
		double t0 = now_s();

		for (int i = 0; i < NS / 20; i++) {
			struct tp_sun_msg msg;
			uint8_t uid[7], lk[16], fk[16];
			uint32_t c;
			const char *u = suns[i & 255];

			if (tp_sun_parse(u, strlen(u), &msg) ||
			    tp_sun_decrypt_picc(keys.meta, msg.picc_enc, uid,
						&c) ||
			    tp_card_lookup_id(keys.salt, uid, lk) ||
			    tp_card_key(keys.master, uid, TP_KEY_SDM_FILE, 1,
					fk) ||
			    tp_sun_check_mac(fk, uid, c, msg.mac_in,
					     msg.mac_in_len, msg.mac)) {
				fprintf(stderr,
					"bench_engine: SUN check failed\n");
				return 1;
			}
		}
		v[r] = (now_s() - t0) / (NS / 20) * 1e6;
	}
	t_sun = median(v, 21);
	/* Card lookup (card + member by lookup id) and quota count, inside
	 * a transaction as in a batch; random rows, cold or warm cache. */
	s->ops->begin(s);
	for (int r = 0; r < 21; r++) {
		double t0 = now_s();

		for (int i = 0; i < 500; i++) {
			uint8_t uid[7], lk[16];
			struct store_card c;
			struct store_member m;

			bench_uid((int)(next() % (uint64_t)ncards) + 1, uid);
			tp_card_lookup_id(keys.salt, uid, lk);
			if (s->ops->card_find(s, lk, &c, &m) != 0) {
				fprintf(stderr, "bench_engine: card missing\n");
				return 1;
			}
		}
		v[r] = (now_s() - t0) / 500 * 1e6;
	}
	t_lookup = median(v, 21);
	{
		struct engine_localtime lt;

		engine_localtime(e, "Asia/Shanghai", time(NULL), &lt);
		for (int r = 0; r < 21; r++) {
			double t0 = now_s();

			for (int i = 0; i < 500; i++) {
				int64_t cnt, amt;

				s->ops->usage(
				    s,
				    (int64_t)(next() % (uint64_t)nmembers) + 1,
				    "MEAL", lt.day_start, &cnt, &amt);
			}
			v[r] = (now_s() - t0) / 500 * 1e6;
		}
		t_quota = median(v, 21);
	}
	s->ops->rollback(s);
	/* One fsync'd commit of a small write that really changes a page
	 * (SQLite skips writing a row that did not change). */
	sqlite3_exec(db,
		     "CREATE TABLE IF NOT EXISTS bench_scratch(id INTEGER"
		     " PRIMARY KEY, v INTEGER)",
		     NULL, NULL, NULL);
	for (int r = 0; r < 21; r++) {
		double t0 = now_s();

		s->ops->begin(s);
		sqlite3_exec(db,
			     "INSERT OR REPLACE INTO bench_scratch"
			     " VALUES(1, random())",
			     NULL, NULL, NULL);
		if (s->ops->commit(s) != 0) {
			fprintf(stderr, "bench_engine: commit: %s\n",
				store_errmsg(s));
			return 1;
		}
		v[r] = (now_s() - t0) * 1e6;
	}
	t_commit = median(v, 21);
	floor_us = t_sun + t_lookup + t_quota + t_commit / batch;

	long decided = nb * batch;
	int64_t after = 0;

	s->ops->count(s, STORE_CUR_REDEMPTIONS, &after);
	printf("redemptions after the run: %lld (+%lld)\n", (long long)after,
	       (long long)(after - redemptions));
	double tps = (double)decided / total;
	double per_tap = total / (double)decided * 1e6;

	qsort(lat, (size_t)nb, sizeof(*lat), cmp_d);
	{
		FILE *la = fopen("/proc/loadavg", "r");

		if (!la || !fgets(loadavg, sizeof(loadavg), la))
			snprintf(loadavg, sizeof(loadavg), "?");
		if (la)
			fclose(la);
		loadavg[strcspn(loadavg, " ")] = '\0';
	}
	rss(&rss_cur, &rss_peak);
	printf("floor (medians of 21 runs, this run):\n");
	printf("  SUN check (parse+decrypt+lookup id+card key+CMAC) %8.2f us\n",
	       t_sun);
	printf("  of which the SUN CMAC check alone                 %8.2f us\n",
	       t_cmac);
	printf("  card lookup (card+member by lookup id)            %8.2f us\n",
	       t_lookup);
	printf("  quota count (usage of member, benefit, today)     %8.2f us\n",
	       t_quota);
	printf("  one fsync'd commit                                %8.2f us "
	       "(/%d = %.2f us a tap)\n",
	       t_commit, batch, t_commit / batch);
	printf("  floor per tap                                     %8.2f us "
	       "= %.0f taps/s\n",
	       floor_us, 1e6 / floor_us);
	printf("engine: %ld taps in %.2f s = %.0f durable taps/s (%.2f us a "
	       "tap), %.2fx the floor\n",
	       decided, total, tps, per_tap, per_tap / floor_us);
	printf("  CPU used by the engine: %.2f us a tap = %.0f taps per CPU "
	       "second (the machine is shared: load %s)\n",
	       cpu_total / (double)decided * 1e6, (double)decided / cpu_total,
	       loadavg);
	printf("  of which COMMIT (WAL write + fsync, checkpoints) %.2f s = "
	       "%.0f%%\n",
	       commit_time, 100 * commit_time / total);
	printf("  WAL frames per commit %.1f (%.2f a tap)\n",
	       wal_commits ? (double)wal_frames / wal_commits : 0.0,
	       (double)wal_frames / (double)decided);
	printf("  granted %ld (%.1f%%); denied: quota_used_up %ld, other %ld\n",
	       granted, 100.0 * (double)granted / (double)decided,
	       denied_reason[6], decided - granted - denied_reason[6]);
	printf("  batch latency (= answer time) p50 %.2f ms, p99 %.2f ms, max "
	       "%.2f ms\n",
	       lat[nb / 2], lat[nb * 99 / 100], lat[nb - 1]);
	printf("  goal >= 10000 taps/s: %s\n",
	       tps >= 10000 ? "met" : "NOT met");
	printf("RSS: %ld kB now, %ld kB peak (goal < 131072 kB): %s\n", rss_cur,
	       rss_peak, rss_peak < 131072 ? "met" : "NOT met");
	if (!getenv("BENCH_NO_VERIFY")) {
		struct chain_verify_result res;
		double t0 = now_s(), dt;

		if (chain_verify(s, NULL, 0, NULL, NULL, NULL, &res) != 0) {
			fprintf(stderr, "bench_engine: verify: %s\n",
				store_errmsg(s));
			return 1;
		}
		dt = now_s() - t0;
		printf(
		    "log verify: %lld rows in %.2f s = %.2f s per 10 million "
		    "(goal < 30 s): %s\n",
		    (long long)(res.rows + res.staff_rows), dt,
		    dt * 1e7 / (double)(res.rows + res.staff_rows),
		    res.ok ? "chain ok" : res.why);
		rss(&rss_cur, &rss_peak);
		printf("RSS after verify: %ld kB peak\n", rss_peak);
	}
	free(taps);
	free(dec);
	free(lat);
	free(last);
	engine_free(e);
	store_close(s);
	tp_wipe(&keys, sizeof(keys));
	return 0;
}
