/*
 * bench_host.c - tapaidd under load: granted, durably committed taps per
 * second and the answer time (p50/p99) with many kiosk sessions open on
 * loopback, beside the floor measured in the same run.
 *
 *   bench_host [DATA_DIR [SECONDS [SESSIONS]]]
 *
 * DATA_DIR is the generated bench database (hostcore's gen-bench-db:
 * 400,000 members, 150,000 cards, 2,000,000 past redemptions); default
 * $TAPAID_BUILD/bench-db.  The bench adds a host key, a config, its own
 * kiosks (keys kept in DATA_DIR/bench-kiosks/) and a benefit with a quota
 * no tap will exhaust, then:
 *
 *   1. floor: engine_decide_batch() in this process on the same database,
 *      batches of SESSIONS taps (the per-tap cost of deciding and storing,
 *      no network, no session crypto), and one durable commit of 1 tap;
 *   2. tapaidd -c DATA_DIR/tapaidd.conf: SESSIONS kiosk sessions, each with
 *      one tap in flight (a kiosk waits for its answer), for SECONDS.
 *
 * A tap of card n uses the generator's UID and key version 1, with a
 * counter above anything the generator wrote.  Cards come in turn by id,
 * or in a random order with BENCH_RANDOM_CARDS=1 (floor and load alike).
 * BENCH_VERIFY=1 adds an open load of 10,000 taps/s while an auditor's
 * log.verify walks the whole log (tapaidd's job thread).
 *
 * Open-load answer times count from when each tap was due.  Each phase
 * also prints the share of taps over 20 ms among those sent in quiet
 * 100 ms slots (no vCPU lost over 10 ms to the hypervisor in the slot or
 * the two before) and among the others; BENCH_TIMELINE=1 lists the slots
 * with slow taps and their steal.
 */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tapaid/crypto.h"
#include "tapaid/proto.h"

#include "../../host/engine.h"
#include "../../host/store.h"
#include "../integration/hostd_harness.h"
#include "../kioskclient.h"

#define BENEFIT	 "BENCH"
#define CTR_BASE 200000u

/* SUN generation needs ntag.h, which no file may include with proto.h. */
int bench_sun(const uint8_t meta[16], const uint8_t master[16], int card,
	      uint32_t ctr, char *out, size_t cap);

static struct hd H;
static long why[TP_REASON__COUNT];
static struct engine_keys K;
static long ncards;    /* usable cards: active, member active */
static int *cards;     /* their generator numbers (= card ids) */
static uint32_t *ctrs; /* by card number */

static uint64_t clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t now_us(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

/* A BENCH_* switch: on only when set to 1. */
static int env_on(const char *name)
{
	const char *v = getenv(name);

	return v && strcmp(v, "1") == 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void die(const char *what) __attribute__((noreturn));

/*
 * The load generator's own randomness (request ids, arrival gaps): a
 * xorshift seeded once from tp_random, not a getrandom() call per tap.
 * Real kiosks spend their own CPU on this; here it would be taken from the
 * 2 cores the host is measured on.  Request ids only need to be unique.
 */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t x = rng_state;

	if (x == 0) {
		tp_random(&x, sizeof(x));
		x |= 1;
	}
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static void rng_bytes(uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng_next();

		memcpy(out + i, &v, n - i < 8 ? n - i : 8);
	}
}

static int random_cards; /* BENCH_RANDOM_CARDS=1 */

/*
 * The card of the next tap: every usable card in turn, by id or (with
 * random_cards, after shuffle_cards) in a random order, as members of a
 * real union would come.  By id, consecutive taps touch neighbouring rows
 * and pages, which flatters the page cache and the counter write-back; at
 * random they do not.  Either way a card comes back only after all the
 * others: two taps of one card in flight at once could overtake each
 * other and the second be refused as a replayed counter.
 */
static int next_card(void)
{
	static long c;

	c = (c + 1) % ncards;
	return cards[c];
}

static void shuffle_cards(void)
{
	for (long i = ncards - 1; i > 0; i--) {
		long j = (long)(rng_next() % (uint64_t)(i + 1));
		int t = cards[i];

		cards[i] = cards[j];
		cards[j] = t;
	}
}

/* Cards a tap can be granted on: active, of an active member. */
static long load_cards(void)
{
	char path[PATH_MAX + 64];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long n = 0, cap = 0, maxid = 0;

	snprintf(path, sizeof(path), "%s/tapaid.db", H.dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) ||
	    sqlite3_prepare_v2(db,
			       "SELECT c.id FROM cards c JOIN members m ON "
			       "m.id = c.member_id WHERE c.status = 0 AND "
			       "m.status = 0 AND c.key_version = 1 ORDER BY "
			       "c.id",
			       -1, &st, NULL))
		die("cannot read the cards");
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			cards = realloc(cards, (size_t)cap * sizeof(*cards));
		}
		cards[n] = sqlite3_column_int(st, 0);
		if (cards[n] > maxid)
			maxid = cards[n];
		n++;
	}
	sqlite3_finalize(st);
	/* Each run appends to the log: say how big it is, so that runs on a
	 * grown copy are not taken for runs on the generated one. */
	if (sqlite3_prepare_v2(db,
			       "SELECT coalesce(max(id), 0) FROM redemptions",
			       -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		printf(
		    "bench_host: %lld redemptions in the log before this run "
		    "(make bench starts each time from bench-db.orig)\n",
		    (long long)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	ctrs = calloc((size_t)maxid + 1, sizeof(*ctrs));
	return n;
}

static void mk_tap(struct engine_tap *t, const char *kiosk)
{
	int card = next_card();

	memset(t, 0, sizeof(*t));
	snprintf(t->kiosk, sizeof(t->kiosk), "%s", kiosk);
	tp_random(t->request_id, sizeof(t->request_id));
	snprintf(t->benefit, sizeof(t->benefit), "%s", BENEFIT);
	bench_sun(K.meta, K.master, card, ++ctrs[card], t->sun, sizeof(t->sun));
	t->kiosk_time = (int64_t)time(NULL);
}

static void die(const char *what)
{
	fprintf(stderr, "bench_host: %s\n", what);
	h_stop(&H, SIGKILL);
	exit(1);
}

/* Kiosk keys persist across runs: the kiosks table keeps their pubkeys. */
static struct tp_key *kiosk_key(struct store *s, int i)
{
	char path[PATH_MAX + 64], id[16];
	struct tp_key *k = NULL;
	struct store_kiosk sk;
	FILE *f;
	size_t n;
	int rc;

	snprintf(id, sizeof(id), "B%04d", i);
	snprintf(path, sizeof(path), "%s/bench-kiosks/%s.key", H.dir, id);
	if (tp_key_load_private(path, &k) == TP_OK)
		return k;
	if (tp_key_generate(&k) != TP_OK || tp_key_save_private(k, path))
		die("cannot make a kiosk key");
	snprintf(path, sizeof(path), "%s/bench-kiosks/%s.pub", H.dir, id);
	if (tp_key_save_public(k, path) != TP_OK)
		die("cannot save a kiosk key");
	memset(&sk, 0, sizeof(sk));
	f = fopen(path, "r");
	if (!f)
		die("cannot read a kiosk key");
	n = fread(sk.pubkey_pem, 1, sizeof(sk.pubkey_pem) - 1, f);
	fclose(f);
	sk.pubkey_pem[n] = '\0';
	snprintf(sk.id, sizeof(sk.id), "%s", id);
	snprintf(sk.point, sizeof(sk.point), "P%03d", i % 100 + 1);
	snprintf(sk.tz, sizeof(sk.tz), "Asia/Shanghai");
	sk.added = (int64_t)time(NULL);
	rc = s->ops->kiosk_add(s, &sk);
	if (rc < 0)
		die(store_errmsg(s));
	return k;
}

static void write_conf(void)
{
	char path[PATH_MAX + 64], text[2048];
	FILE *f;

	snprintf(path, sizeof(path), "%s/host.key", H.dir);
	if (tp_key_load_private(path, &H.host_key) != TP_OK) {
		if (tp_key_generate(&H.host_key) != TP_OK ||
		    tp_key_save_private(H.host_key, path) != TP_OK)
			die("cannot make the host key");
	}
	H.port = h_free_port();
	snprintf(text, sizeof(text),
		 "[host]\ndata_dir = %s\nlisten = 127.0.0.1:%d\n"
		 "host_key = %s/host.key\nlog_level = warn\n"
		 "max_sessions = 4096\nmax_halfopen = 2048\n"
		 "max_sessions_per_kiosk = 2\nidle_timeout_s = 600\n"
		 "[roles]\nadmin = root\n",
		 H.dir, H.port, H.dir);
	snprintf(H.conf, sizeof(H.conf), "%s/tapaidd.conf", H.dir);
	snprintf(H.log, sizeof(H.log), "%s/tapaidd.log", H.dir);
	f = fopen(H.conf, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		die("cannot write the config");
}

#define SLOTS 8 /* taps one session may have in flight (open loop) */

struct sess {
	struct kc c;
	uint8_t rid[SLOTS][16];
	uint64_t sent_us[SLOTS];
	uint64_t sent_wall_us[SLOTS];
	int used[SLOTS];
	int inflight;
	uint64_t next_us; /* open loop: when the next tap is due */
};

#define TL_SLOTS 1200 /* 100 ms each: two minutes */

struct load {
	long granted, denied, late;
	long all; /* every answer, warm-up included (for CPU per tap) */
	uint32_t *lat;
	size_t nlat, cap;
	/* From when the tap was due to the answer's host_time_ms (tapaidd's
	 * wall clock, whole ms): the part of each answer time before tapaidd
	 * wrote the answer, without this client's delay in reading it. */
	uint32_t *hlat;
	size_t nhlat;
	/* Per 100 ms after the warm-up: taps, taps over the goal's 20 ms
	 * and the slowest, for BENCH_TIMELINE=1. */
	uint32_t tl_n[TL_SLOTS], tl_slow[TL_SLOTS], tl_max[TL_SLOTS];
	uint64_t t_warm; /* CLOCK_MONOTONIC, microseconds */
	double steal;	 /* % of all CPU time the hypervisor took, or -1 */
	/* Per 100 ms slot, the most one vCPU lost to the hypervisor (ms,
	 * -1 unknown).  A slot is quiet when no vCPU lost more than 10 ms
	 * in it or in the two slots before (a stall's backlog takes a while
	 * to drain): taps sent in quiet slots, and how many took over 20 ms. */
	int tl_steal[TL_SLOTS];
	long quiet_n, quiet_slow, loud_n, loud_slow;
	int nslots, quiet_slots, steal_most;
};

static long read_rss_kb(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			v = atol(line + strlen(field) + 1);
	fclose(f);
	return v;
}

/*
 * The hypervisor's share per vCPU, sampled every 10 ms from /proc/stat by
 * a thread of its own.  The average over a phase (steal_pct) hides what
 * matters for a tail: a vCPU stopped for 30 ms stops whatever thread of
 * the daemon or of this client was on it, and the taps behind it wait.
 * The kernel counts steal in clock ticks (10 ms here), so a slot of 100 ms
 * shows 0, 10, 20 ... ms.  Samples go round a ring that holds more than a
 * phase; the main thread reads the newest after each phase.
 */
#define ST_CPUS 16
#define ST_RING 8192 /* 82 s at 10 ms */
struct st_sample {
	uint64_t t;	     /* CLOCK_MONOTONIC, us */
	uint64_t all, steal; /* the machine's CPU time and steal, ticks */
	uint32_t tick[ST_CPUS];
};
static struct st_sample st_ring[ST_RING];
static atomic_size_t st_n; /* samples taken; the newest at st_n - 1 */
static atomic_int st_stop;
static int st_ncpu;

/* One sample: the "cpu" line's totals, and each vCPU's steal (at most
 * ST_CPUS of them); how many vCPUs it read, 0 if none. */
static int steal_read(struct st_sample *x)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	x->all = x->steal = 0;
	while (fgets(line, sizeof(line), f) && n < ST_CPUS) {
		unsigned long long v[8];

		if (strncmp(line, "cpu", 3) != 0)
			break;
		/* "cpu " is the machine's total, "cpuN " one vCPU: tell them
		 * apart by the digit (a %d would skip the blank and read the
		 * total's first column as a vCPU number). */
		if (sscanf(line + 3 + strcspn(line + 3, " "),
			   " %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
			   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			   &v[7]) != 8)
			continue;
		if (line[3] >= '0' && line[3] <= '9') {
			x->tick[n++] = (uint32_t)v[7];
		} else {
			for (int i = 0; i < 8; i++)
				x->all += v[i];
			x->steal = v[7];
		}
	}
	fclose(f);
	return n;
}

static void *steal_sampler(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	while (!atomic_load(&st_stop)) {
		size_t k = atomic_load_explicit(&st_n, memory_order_relaxed);
		struct st_sample *x = &st_ring[k % ST_RING];

		x->t = now_us();
		if (steal_read(x) != st_ncpu)
			break;
		atomic_store_explicit(&st_n, k + 1, memory_order_release);
		ts.tv_nsec += 10000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_nsec -= 1000000000;
			ts.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	return NULL;
}

static pthread_t st_thr;

static void steal_start(void)
{
	struct st_sample x;

	st_ncpu = steal_read(&x);
	if (st_ncpu > 0 && pthread_create(&st_thr, NULL, steal_sampler, NULL))
		st_ncpu = 0;
}

static void steal_end(void)
{
	if (st_ncpu <= 0)
		return;
	atomic_store(&st_stop, 1);
	pthread_join(st_thr, NULL);
}

/* The newest sample taken at or before t, or NULL. */
static const struct st_sample *steal_at(uint64_t t)
{
	size_t n = atomic_load_explicit(&st_n, memory_order_acquire);

	for (size_t back = 1; back <= n && back < ST_RING - 16; back++) {
		const struct st_sample *x = &st_ring[(n - back) % ST_RING];

		if (x->t <= t)
			return x;
	}
	return NULL;
}

/* The samples at t0 and t1, or 0 if they do not cover the time between:
 * a sampler that stopped (or fell behind) says nothing. */
static int steal_span(uint64_t t0, uint64_t t1, const struct st_sample **a,
		      const struct st_sample **b)
{
	*a = steal_at(t0);
	*b = steal_at(t1);
	return *a && *b && t0 - (*a)->t <= 20000 && t1 - (*b)->t <= 20000;
}

/* The most one vCPU lost to the hypervisor between t0 and t1, in ms, or
 * -1 if the samples do not cover it. */
static int steal_ms(uint64_t t0, uint64_t t1)
{
	const struct st_sample *a, *b;
	uint32_t most = 0;

	if (!steal_span(t0, t1, &a, &b))
		return -1;
	for (int c = 0; c < st_ncpu; c++)
		if (b->tick[c] - a->tick[c] > most)
			most = b->tick[c] - a->tick[c];
	return (int)(most * 1000 / (uint32_t)sysconf(_SC_CLK_TCK));
}

/* The hypervisor's share of all CPU time between t0 and t1 (%), or -1. */
static double steal_pct(uint64_t t0, uint64_t t1)
{
	const struct st_sample *a, *b;

	if (!steal_span(t0, t1, &a, &b) || b->all <= a->all)
		return -1;
	return (double)(b->steal - a->steal) * 100 / (double)(b->all - a->all);
}

/* CPU time (user + system) of a process, in microseconds. */
static double cpu_us(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1e6 / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Sends a tap that was due at due (CLOCK_MONOTONIC, us; now in the closed
 * loop).  Its answer time counts from due, not from when this client got
 * round to it: a client that falls behind its schedule must not hide the
 * wait from the figures (coordinated omission).
 */
static void send_tap(struct sess *s, uint64_t due)
{
	uint64_t now;
	char sun[TP_SUN_MAX + 1];
	int card = next_card(), k;

	for (k = 0; k < SLOTS && s->used[k]; k++)
		;
	if (k == SLOTS)
		return;
	bench_sun(K.meta, K.master, card, ++ctrs[card], sun, sizeof(sun));
	rng_bytes(s->rid[k], 16);
	now = now_us();
	if (due > now)
		due = now;
	s->sent_us[k] = due;
	/* The wall clock, as tapaidd stamps its answers (host_time_ms). */
	s->sent_wall_us[k] = clock_us(CLOCK_REALTIME) - (now - due);
	s->used[k] = 1;
	s->inflight++;
	if (kc_send_tap(&s->c, s->rid[k], BENEFIT, sun) < 0)
		die("a session failed to send");
}

/* Exponential gap (microseconds) for a Poisson stream of rate per second. */
static uint64_t gap_us(double rate)
{
	uint32_t r = (uint32_t)(rng_next() >> 32);
	double u;

	u = ((double)r + 1.0) / 4294967297.0;
	return (uint64_t)(-log(u) / rate * 1e6);
}

/* Fills the steal fields of L for the slots from t_warm to t_end. */
static void steal_slots(struct load *L, uint64_t t_end)
{
	int last = -100; /* the last slot where a vCPU lost over 10 ms */

	L->nslots = L->quiet_slots = L->steal_most = 0;
	L->quiet_n = L->quiet_slow = L->loud_n = L->loud_slow = 0;
	for (size_t b = 0; b < TL_SLOTS; b++) {
		uint64_t t0 = L->t_warm + b * 100000;
		int ms;

		if (t0 + 100000 > t_end)
			break;
		ms = steal_ms(t0, t0 + 100000);
		L->tl_steal[b] = ms;
		L->nslots++;
		if (ms < 0 || ms > 10)
			last = (int)b;
		if (ms > L->steal_most)
			L->steal_most = ms;
		/* The first two slots count as quiet only if the warm-up
		 * second before them was: not known here, so not quiet. */
		if (b >= 2 && (int)b - last > 2) {
			L->quiet_slots++;
			L->quiet_n += L->tl_n[b];
			L->quiet_slow += L->tl_slow[b];
		} else {
			L->loud_n += L->tl_n[b];
			L->loud_slow += L->tl_slow[b];
		}
	}
}

static double share(long part, long all)
{
	return all ? 100.0 * (double)part / (double)all : 0;
}

static void print_steal(const struct load *L)
{
	if (st_ncpu <= 0 || !L->nslots)
		return;
	printf("bench_host:   per 100 ms, the hypervisor took at most %d ms "
	       "of a vCPU; over 20 ms: %.2f%% of %ld taps in the %d quiet "
	       "slots (no vCPU lost over 10 ms in the slot or the two "
	       "before), %.2f%% of %ld in the %d others\n",
	       L->steal_most, share(L->quiet_slow, L->quiet_n), L->quiet_n,
	       L->quiet_slots, share(L->loud_slow, L->loud_n), L->loud_n,
	       L->nslots - L->quiet_slots);
}

/*
 * Runs the sessions for warm + seconds.  rate == 0: closed loop, each
 * session sends its next tap as soon as its answer is in (saturation).
 * rate > 0: open loop, taps arrive as a Poisson stream of rate per second
 * spread over the sessions, so the answer time is measured at a load the
 * host can carry rather than in its own queue.
 */
static void run_load(struct sess *ss, int nsess, int ep, double seconds,
		     double rate, struct load *L)
{
	uint64_t t0 = now_us(), t_warm = t0 + 1000000,
		 t_end = t_warm + (uint64_t)(seconds * 1e6);
	double per = rate / nsess;
	int rc;

	memset(L, 0, sizeof(*L));
	L->cap = (size_t)(seconds * 100000) + 100000;
	L->lat = malloc(L->cap * sizeof(*L->lat));
	L->hlat = malloc(L->cap * sizeof(*L->hlat));
	if (!L->lat || !L->hlat)
		die("out of memory for the answer times");
	for (int i = 0; i < nsess; i++) {
		if (rate > 0)
			ss[i].next_us = t0 + gap_us(per);
		else
			send_tap(&ss[i], now_us());
	}
	while (now_us() < t_end) {
		struct epoll_event evs[512];
		int n = epoll_wait(ep, evs, 512, rate > 0 ? 1 : 1000);
		uint64_t now;

		for (int j = 0; j < n; j++) {
			struct sess *x = &ss[evs[j].data.u32];
			struct tp_msg m;

			while ((rc = kc_poll(&x->c, &m)) > 0) {
				int k;

				if (m.type != TP_MSG_DECISION)
					continue;
				for (k = 0; k < SLOTS; k++)
					if (x->used[k] &&
					    !memcmp(m.u.decision.request_id,
						    x->rid[k], 16))
						break;
				if (k == SLOTS)
					continue;
				x->used[k] = 0;
				x->inflight--;
				L->all++;
				now = now_us();
				if (m.u.decision.reason != TP_REASON_GRANTED) {
					L->denied++;
					why[m.u.decision.reason %
					    TP_REASON__COUNT]++;
				} else if (x->sent_us[k] >= t_warm &&
					   now <= t_end) {
					uint32_t us =
					    (uint32_t)(now - x->sent_us[k]);
					size_t b =
					    (x->sent_us[k] - t_warm) / 100000;

					int64_t h =
					    (int64_t)m.u.decision.host_time_ms *
						1000 -
					    (int64_t)x->sent_wall_us[k];

					L->granted++;
					if (L->nlat < L->cap)
						L->lat[L->nlat++] = us;
					if (L->nhlat < L->cap)
						L->hlat[L->nhlat++] =
						    h < 0 ? 0 : (uint32_t)h;
					if (b < TL_SLOTS) {
						L->tl_n[b]++;
						L->tl_slow[b] += us > 20000;
						if (us > L->tl_max[b])
							L->tl_max[b] = us;
					}
				}
				if (rate == 0)
					send_tap(x, now_us());
			}
			if (rc < 0)
				die("a session failed under load");
		}
		if (rate > 0) {
			now = now_us();
			for (int i = 0; i < nsess; i++)
				while (ss[i].next_us <= now) {
					if (ss[i].inflight < SLOTS)
						send_tap(&ss[i], ss[i].next_us);
					else
						L->late++;
					ss[i].next_us += gap_us(per);
				}
		}
	}
	/* Let what is in flight come back before the next run. */
	{
		uint64_t until = now_us() + 5000000;
		int left = 1;

		while (left && now_us() < until) {
			struct epoll_event evs[512];
			int n = epoll_wait(ep, evs, 512, 100);

			for (int j = 0; j < n; j++) {
				struct sess *x = &ss[evs[j].data.u32];
				struct tp_msg m;

				while (kc_poll(&x->c, &m) > 0) {
					if (m.type != TP_MSG_DECISION)
						continue;
					for (int k = 0; k < SLOTS; k++)
						if (x->used[k] &&
						    !memcmp(
							m.u.decision.request_id,
							x->rid[k], 16)) {
							x->used[k] = 0;
							x->inflight--;
						}
				}
			}
			left = 0;
			for (int i = 0; i < nsess; i++)
				left += ss[i].inflight;
		}
	}
	L->t_warm = t_warm;
	steal_slots(L, t_end);
	L->steal = steal_pct(t_warm, t_end);
	qsort(L->lat, L->nlat, sizeof(*L->lat), cmp_u32);
	qsort(L->hlat, L->nhlat, sizeof(*L->hlat), cmp_u32);
}

/*
 * BENCH_TIMELINE=1: where in an open-load run the slow taps were, per
 * 100 ms, with the warm-up's end on CLOCK_MONOTONIC to line them up with
 * a trace (perf record -k CLOCK_MONOTONIC).  Stalls show as a few slots
 * in a row; scattered slots are taps waiting for a CPU.
 */
static void print_timeline(const struct load *L)
{
	if (!env_on("BENCH_TIMELINE"))
		return;
	printf("bench_host: timeline: warm-up ended at %.6f s on "
	       "CLOCK_MONOTONIC; slots of 100 ms with taps over 20 ms:\n",
	       L->t_warm / 1e6);
	for (size_t b = 0; b < TL_SLOTS && L->tl_n[b]; b++)
		if (L->tl_slow[b])
			printf("bench_host:   at %5.1f s: %u of %u taps over "
			       "20 ms, slowest %.1f ms; a vCPU lost %d ms to "
			       "the hypervisor\n",
			       b / 10.0, L->tl_slow[b], L->tl_n[b],
			       L->tl_max[b] / 1000.0, L->tl_steal[b]);
}

/* The p-th percentile in ms of n sorted times in microseconds. */
static double pct_of(const uint32_t *v, size_t n, int p)
{
	return n ? v[n * (size_t)p / 100] / 1000.0 : 0;
}

static double pct(const struct load *L, int p)
{
	return pct_of(L->lat, L->nlat, p);
}

/*
 * An open load of 10,000 taps/s while a log.verify runs, from a child (the
 * admin call blocks until the walk is done).  The verify starts with the
 * load; how long it took says how much of the phase it covered.
 */
static void verify_phase(struct sess *ss, int nsess, int ep, double seconds)
{
	struct load L;
	int fd[2], st = 0;
	uint64_t took = 0;
	pid_t kid;

	if (pipe(fd) < 0)
		die("pipe");
	kid = fork();
	if (kid < 0)
		die("fork");
	if (kid == 0) {
		uint64_t t = now_us();
		int r;

		close(fd[0]);
		r = h_adminf(&H, "{\"v\":1,\"cmd\":\"log.verify\"}");
		t = now_us() - t;
		if (write(fd[1], &t, sizeof(t)) != (ssize_t)sizeof(t))
			_exit(2);
		_exit(r == 1 ? 0 : 1);
	}
	close(fd[1]);
	run_load(ss, nsess, ep, seconds, 10000, &L);
	if (read(fd[0], &took, sizeof(took)) != (ssize_t)sizeof(took))
		took = 0;
	close(fd[0]);
	waitpid(kid, &st, 0);
	printf("bench_host: open load of 10000 taps/s during log.verify "
	       "(%s in %.1f s, from the start of the phase): %.0f granted/s, "
	       "answer p50 %.2f ms, p99 %.2f ms\n",
	       WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "verified" : "FAILED",
	       (double)took / 1e6, L.granted / seconds, pct(&L, 50),
	       pct(&L, 99));
	print_steal(&L);
	fflush(stdout);
	free(L.lat);
	free(L.hlat);
}

int main(int argc, char **argv)
{
	const char *b = getenv("TAPAID_BUILD");
	char bdir[PATH_MAX];
	double seconds = argc > 2 ? atof(argv[2]) : 10;
	int nsess = argc > 3 ? atoi(argv[3]) : 1000;
	char path[PATH_MAX + 64];
	struct store *s;
	struct engine *e;
	struct store_benefit bf;
	struct tp_key **kkeys;
	struct engine_tap *taps;
	struct engine_decision *dec;
	struct sess *ss;
	double floor_us, commit_ms;
	uint64_t t0;
	long denied = 0;
	int ep, rc;
	struct rlimit rl = {8192, 8192};

	setrlimit(RLIMIT_NOFILE, &rl);
	random_cards = env_on("BENCH_RANDOM_CARDS");
	steal_start();
	if (!b) {
		/* make bench runs BUILD/tests/bench_host: BUILD is two up. */
		char *p;

		snprintf(bdir, sizeof(bdir), "%s", argv[0]);
		for (int up = 0; up < 2 && (p = strrchr(bdir, '/')); up++)
			*p = '\0';
		b = strchr(argv[0], '/') ? bdir : "build";
	}
	memset(&H, 0, sizeof(H));
	H.pid = -1;
	if (argc > 1)
		snprintf(H.dir, sizeof(H.dir), "%s", argv[1]);
	else
		snprintf(H.dir, sizeof(H.dir), "%s/bench-db", b);
	snprintf(H.bin, sizeof(H.bin), "%s/bin/tapaidd", b);
	{
		/* The config wants an absolute data_dir. */
		char abs[PATH_MAX];

		if (realpath(H.dir, abs))
			snprintf(H.dir, sizeof(H.dir), "%s", abs);
	}
	snprintf(path, sizeof(path), "%s/tapaid.db", H.dir);
	if (access(path, R_OK) != 0) {
		fprintf(stderr,
			"bench_host: no generated database in %s (make bench "
			"builds it with gen-bench-db)\n",
			H.dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/bench-kiosks", H.dir);
	mkdir(path, 0700);
	if (engine_load_keys(H.dir, &K) != TP_OK)
		die("cannot load the card keys of the bench data dir");
	write_conf();

	/* ---- set up and measure the floor in-process -------------------- */
	snprintf(path, sizeof(path), "%s/tapaid.db", H.dir);
	if (store_sqlite_open(path, &s) != STORE_OK)
		die(store_sqlite_open_error());
	ncards = load_cards();
	if (ncards <= 0)
		die("no usable cards in the database");
	if (random_cards)
		shuffle_cards();
	/* Counters above the generator's and every earlier run's. */
	{
		long long m =
		    h_sql(&H, "SELECT max(last_ctr) FROM cards", NULL);
		uint32_t base =
		    m >= (long long)CTR_BASE ? (uint32_t)m + 1 : CTR_BASE;

		for (long i = 0; i < ncards; i++)
			ctrs[cards[i]] = base;
	}
	memset(&bf, 0, sizeof(bf));
	snprintf(bf.code, sizeof(bf.code), BENEFIT);
	snprintf(bf.name, sizeof(bf.name), "bench benefit");
	bf.kind = STORE_QUOTA;
	bf.per = STORE_DAY;
	bf.quota = 1000000000;
	bf.hours_from = bf.hours_to = -1;
	rc = s->ops->benefit_add(s, &bf);
	if (rc < 0 && rc != STORE_EEXISTS)
		die(store_errmsg(s));
	kkeys = calloc((size_t)nsess, sizeof(*kkeys));
	for (int i = 0; i < nsess; i++)
		kkeys[i] = kiosk_key(s, i + 1);
	if (engine_new(s, &K, "Asia/Shanghai", &e) != 0)
		die("cannot start the engine");
	taps = calloc((size_t)nsess, sizeof(*taps));
	dec = calloc((size_t)nsess, sizeof(*dec));
	{
		uint64_t best = UINT64_MAX, one = UINT64_MAX;

		for (int round = 0; round < 4; round++) {
			uint64_t t;

			for (int i = 0; i < nsess; i++)
				mk_tap(&taps[i], "B0001");
			t = now_us();
			if (engine_decide_batch(e, taps, (size_t)nsess, dec,
						(int64_t)time(NULL)) != 0)
				die("floor batch failed");
			t = now_us() - t;
			if (dec[0].reason != TP_REASON_GRANTED)
				die("floor tap not granted: wrong keys or "
				    "cards?");
			if (t < best)
				best = t;
		}
		for (int round = 0; round < 5; round++) {
			uint64_t t;

			mk_tap(&taps[0], "B0001");
			t = now_us();
			engine_decide_batch(e, taps, 1, dec,
					    (int64_t)time(NULL));
			t = now_us() - t;
			if (t < one)
				one = t;
		}
		floor_us = (double)best / nsess;
		commit_ms = (double)one / 1000.0;
	}
	/* The daemon starts counters from the database, not from ours. */
	engine_free(e);
	store_close(s);

	/* ---- the daemon under load --------------------------------------- */
	if (h_start(&H) != 0)
		die("tapaidd did not start (see DATA_DIR/tapaidd.log)");
	ss = calloc((size_t)nsess, sizeof(*ss));
	ep = epoll_create1(0);
	t0 = now_us();
	{
		/* Kiosks come up in waves of 64 handshakes, not all at once. */
		int up = 0, opened = 0;

		while (up < nsess) {
			struct epoll_event evs[256];
			int n;

			while (opened < nsess && opened - up < 64) {
				char id[16];
				struct epoll_event ev = {.events = EPOLLIN,
							 .data.u32 = opened};

				snprintf(id, sizeof(id), "B%04d", opened + 1);
				if (kc_open(&ss[opened].c, "127.0.0.1", H.port,
					    kkeys[opened], H.host_key, id) < 0)
					die("cannot connect");
				epoll_ctl(ep, EPOLL_CTL_ADD, ss[opened].c.fd,
					  &ev);
				opened++;
			}
			n = epoll_wait(ep, evs, 256, 5000);
			if (n <= 0)
				die("handshakes stalled");
			for (int j = 0; j < n; j++) {
				struct sess *x = &ss[evs[j].data.u32];
				struct tp_msg m;
				int was = x->c.established;

				while ((rc = kc_poll(&x->c, &m)) > 0)
					;
				if (rc < 0)
					die("a handshake failed");
				if (!was && tp_session_established(&x->c.s)) {
					x->c.established = 1;
					up++;
				}
			}
		}
	}
	fflush(stdout);
	printf("bench_host: %d sessions up in %.2f s (%.2f ms per "
	       "handshake)\n",
	       nsess, (double)(now_us() - t0) / 1e6,
	       (double)(now_us() - t0) / 1e3 / nsess);
	fflush(stdout);
	{
		struct load sat, open;
		double floor_rate = 1e6 / floor_us, offered;
		long hwm;

		double d0 = cpu_us(H.pid), c0 = cpu_us(getpid()), dcpu, ccpu;
		long all;

		run_load(ss, nsess, ep, seconds, 0, &sat);
		dcpu = cpu_us(H.pid) - d0;
		ccpu = cpu_us(getpid()) - c0;
		all = sat.all ? sat.all : 1;
		printf("bench_host: saturation (each of %d sessions with one "
		       "tap in flight): %.0f granted durable taps/s, answer "
		       "p50 %.2f ms, p99 %.2f ms\n",
		       nsess, sat.granted / seconds, pct(&sat, 50),
		       pct(&sat, 99));
		printf("bench_host: CPU per tap: tapaidd %.1f us, this client "
		       "%.1f us; tapaidd got %.0f%% of a core (the engine "
		       "floor below is wall time, fsync included)\n",
		       dcpu / all, ccpu / all,
		       dcpu / ((seconds + 1) * 1e6) * 100);
		fflush(stdout);
		{
			/* The goal rate, offered whatever the closed loop got:
			 * the closed loop leaves the host idle while this one
			 * client thread prepares the next thousand taps. */
			struct load goal;

			d0 = cpu_us(H.pid);
			run_load(ss, nsess, ep, seconds, 10000, &goal);
			dcpu = cpu_us(H.pid) - d0;
			printf("bench_host: open load of 10000 taps/s over %d "
			       "sessions: %.0f granted durable taps/s, answer "
			       "p50 %.2f ms, p99 %.2f ms (%ld taps waited for "
			       "a free slot); tapaidd used %.0f%% of a core; "
			       "answered by tapaidd's clock within %.0f ms "
			       "for 99%%; the hypervisor took %.1f%% of the "
			       "CPU\n",
			       nsess, goal.granted / seconds, pct(&goal, 50),
			       pct(&goal, 99), goal.late,
			       dcpu / ((seconds + 1) * 1e6) * 100,
			       pct_of(goal.hlat, goal.nhlat, 99), goal.steal);
			print_steal(&goal);
			print_timeline(&goal);
			fflush(stdout);
			denied += goal.denied;
			free(goal.lat);
			free(goal.hlat);
		}
		offered = sat.granted / seconds * 0.5;
		if (offered > 10000)
			offered = 10000;
		run_load(ss, nsess, ep, seconds, offered, &open);
		hwm = read_rss_kb(H.pid, "VmHWM:");
		printf("bench_host: open load of %.0f taps/s over %d sessions: "
		       "%.0f granted/s, answer p50 %.2f ms, p99 %.2f ms "
		       "(%ld taps waited for a free slot); answered by "
		       "tapaidd's clock within %.0f ms for 99%%; the "
		       "hypervisor took %.1f%% of the CPU\n",
		       offered, nsess, open.granted / seconds, pct(&open, 50),
		       pct(&open, 99), open.late,
		       pct_of(open.hlat, open.nhlat, 99), open.steal);
		print_steal(&open);
		print_timeline(&open);
		if (env_on("BENCH_VERIFY"))
			verify_phase(ss, nsess, ep, seconds);
		printf("bench_host: floor in this run: engine %.1f us/tap in "
		       "batches of %d = %.0f taps/s on one core; one durable "
		       "commit of 1 tap %.2f ms; saturation/floor = %.2f\n",
		       floor_us, nsess, floor_rate, commit_ms,
		       sat.granted / seconds / floor_rate);
		printf("bench_host: tapaidd peak RSS %.1f MB; %ld usable "
		       "cards; denied %ld\n",
		       hwm / 1024.0, ncards, sat.denied + open.denied);
		for (int i = 0; i < TP_REASON__COUNT; i++)
			if (why[i])
				printf("bench_host: denied %s: %ld\n",
				       tp_reason_name(i), why[i]);
		printf("bench_host: cards %s\n",
		       random_cards ? "in a random order (BENCH_RANDOM_CARDS=1)"
				    : "in turn by id");
		printf("bench_host: goal >= 10000 durable taps/s, p99 < 20 "
		       "ms, RSS < 128 MB\n");
		denied += sat.denied + open.denied;
		free(sat.lat);
		free(sat.hlat);
		free(open.lat);
		free(open.hlat);
	}
	for (int i = 0; i < nsess; i++)
		kc_close(&ss[i].c);
	h_stop(&H, SIGTERM);
	steal_end();
	return denied ? 1 : 0;
}
