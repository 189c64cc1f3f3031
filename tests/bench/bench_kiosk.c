/*
 * bench_kiosk.c - the kiosk's own work per tap, and its memory.
 *
 * 1. Processing time per tap: the core on fake hardware whose reader and
 *    network calls are timed and subtracted, so what remains is the
 *    kiosk's own work: reading the card (APDU building and parsing, NDEF),
 *    the lookup id, sealing the request, opening the decision, the screen
 *    (display_term to /dev/null) and the event line.  Radio time and the
 *    host (which runs inside the fake network's calls) are excluded.
 *    Beside it, the floor measured in the same run: sealing one
 *    TAP_REQUEST and opening one DECISION (the protocol work no kiosk
 *    can avoid).  Also an offline tap (ECDSA-signed record), with the
 *    store's fsync timed separately.
 * 2. Memory: the peak RSS of the real tapaid-kiosk running against the
 *    PN532 emulator through libnfc for 40 taps (host unreachable, so the
 *    offline path and the queue are exercised), beside the floor: the peak
 *    RSS of the same binary checking its configuration (-n: libraries,
 *    config and key loaded, no buffers).
 *
 * Goals (DESIGN.md): under 2 ms per tap, under 8 MB RSS.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu_helper.h"
#include "kiosk_rig.h"

static uint64_t excluded_ns;

static uint64_t ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* --- timing wrappers: what they wrap is not the kiosk's own work --- */

static struct hal_reader in_reader;
static struct hal_net in_net;
static struct hal_store in_store;

#define TIMED(expr)                                                            \
	({                                                                     \
		uint64_t t0_ = ns();                                           \
		__typeof__(expr) r_ = (expr);                                  \
		excluded_ns += ns() - t0_;                                     \
		r_;                                                            \
	})

static int t_poll(void *c, struct hal_card *card)
{
	return TIMED(in_reader.poll(in_reader.ctx, card));
}
static int t_present(void *c)
{
	return TIMED(in_reader.present(in_reader.ctx));
}
static int t_xfer(void *c, const uint8_t *a, size_t n, uint8_t *r, size_t cap,
		  int t)
{
	return TIMED(in_reader.transceive(in_reader.ctx, a, n, r, cap, t));
}
static ssize_t t_send(void *c, const uint8_t *b, size_t n)
{
	return TIMED(in_net.send(in_net.ctx, b, n));
}
static ssize_t t_recv(void *c, uint8_t *b, size_t n)
{
	return TIMED(in_net.recv(in_net.ctx, b, n));
}
static int t_connect(void *c)
{
	return TIMED(in_net.connect(in_net.ctx));
}
static uint64_t fsync_ns;
static int t_append(void *c, const uint8_t *rec, size_t len, uint64_t *seq)
{
	uint64_t t0 = ns();
	int rc = in_store.append(in_store.ctx, rec, len, seq);
	uint64_t d = ns() - t0;
	excluded_ns += d;
	fsync_ns += d;
	return rc;
}

static void wrap(struct rig *r)
{
	in_reader = r->hal.reader;
	r->hal.reader.poll = t_poll;
	r->hal.reader.present = t_present;
	r->hal.reader.transceive = t_xfer;
	in_net = r->hal.net;
	r->hal.net.send = t_send;
	r->hal.net.recv = t_recv;
	r->hal.net.connect = t_connect;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Runs one tap to its event and back to idle; returns the kiosk's own ns. */
static uint64_t one_tap(struct rig *r, const uint8_t *uid)
{
	unsigned n = r->disp.nevents;
	struct kiosk_stats st;
	uint64_t t0 = ns(), ex0 = excluded_ns;

	fake_reader_tap(&r->rd, uid);
	for (int i = 0; i < 1000 && r->disp.nevents == n; i++) {
		kiosk_step(r->k);
		r->clk.mono += 1;
	}
	fake_reader_remove(&r->rd);
	for (int i = 0; i < 1000; i++) {
		r->clk.mono += 100;
		kiosk_step(r->k);
		kiosk_get_stats(r->k, &st);
		if (st.state == KIOSK_STATE_IDLE)
			break;
	}
	return (ns() - t0) - (excluded_ns - ex0);
}

static uint64_t floor_p99;

/* CPU time of this thread (a system call here: used around whole runs). */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The floor: seal a TAP_REQUEST (kiosk), open a DECISION (kiosk). */
static uint64_t floor_ns(struct rig *r)
{
	struct tp_session ks, hs;
	uint8_t f1[TP_FRAME_MAX], f2[TP_FRAME_MAX], buf[TP_FRAME_MAX];
	size_t n1, n2, rn;
	struct tp_msg m, got;
	static uint64_t v[2000];

	tp_session_init_kiosk(&ks, r->kkey, r->kpub, "K-0001");
	(void)hs;
	/* A real pair of sessions: the kiosk's key as the host's too is
	 * fine for timing; handshake through both ends. */
	struct tp_key *hpub = NULL;
	uint8_t raw[65];
	tp_key_public_raw(r->hkey, raw);
	tp_key_from_public_raw(raw, &hpub);
	tp_session_init_kiosk(&ks, r->kkey, hpub, "K-0001");
	struct fake_host *h = &r->host;
	(void)h;
	struct tp_session host;
	/* host side with a lookup giving the kiosk's public key */
	extern int bench_lookup(void *, const char *, const struct tp_key **);
	tp_session_init_host(&host, r->hkey, bench_lookup, r);
	tp_session_start(&ks, f1, sizeof(f1), &n1);
	tp_session_recv(&host, f1, n1, &got, f2, sizeof(f2), &n2);
	tp_session_recv(&ks, f2, n2, &got, f1, sizeof(f1), &n1);
	tp_session_recv(&host, f1, n1, &got, f2, sizeof(f2), &n2);
	if (!tp_session_established(&ks) || !tp_session_established(&host)) {
		fprintf(stderr, "bench_kiosk: handshake failed\n");
		exit(1);
	}
	for (int i = 0; i < 2000; i++) {
		memset(&m, 0, sizeof(m));
		m.type = TP_MSG_DECISION;
		m.u.decision.reason = 0;
		m.u.decision.result = 1;
		m.u.decision.left = 3;
		snprintf(m.u.decision.benefit, sizeof(m.u.decision.benefit),
			 "MEAL");
		tp_session_seal(&host, &m, f2, sizeof(f2), &n2);
		memset(&m, 0, sizeof(m));
		m.type = TP_MSG_TAP_REQUEST;
		snprintf(m.u.tap.benefit, sizeof(m.u.tap.benefit), "MEAL");
		snprintf(
		    m.u.tap.sun, sizeof(m.u.tap.sun),
		    "https://tap.example.org/"
		    "t?p=00112233445566778899AABBCCDDEEFF&c=0011223344556677");
		uint64_t t0 = ns();
		tp_session_seal(&ks, &m, f1, sizeof(f1), &n1);
		tp_session_recv(&ks, f2, n2, &got, buf, sizeof(buf), &rn);
		v[i] = ns() - t0;
		tp_session_recv(&host, f1, n1, &got, buf, sizeof(buf), &rn);
	}
	tp_key_free(hpub);
	qsort(v, 2000, sizeof(v[0]), cmp_u64);
	floor_p99 = v[1980];
	return v[1000];
}

int bench_lookup(void *ctx, const char *id, const struct tp_key **pub);
int bench_lookup(void *ctx, const char *id, const struct tp_key **pub)
{
	struct rig *r = ctx;
	*pub = r->kpub;
	return 0;
}

static void time_per_tap(void)
{
	static struct rig r;
	static uint64_t v[2000];
	char dir[64];
	FILE *devnull = fopen("/dev/null", "w");
	enum { N = 2000 };

	rig_init(&r);
	r.cfg.result_hold_ms = 0;
	r.cfg.offline_per_day = 1000;
	r.cfg.offline_queue_max = 1000000;
	snprintf(r.host.name, sizeof(r.host.name), "王*明");
	hal_display_term_new(&r.hal.display, devnull, devnull);
	wrap(&r);
	if (rig_start(&r) != 0) {
		fprintf(stderr, "bench_kiosk: setup failed\n");
		exit(1);
	}
	for (int i = 0; i < 50; i++) {
		kiosk_step(r.k);
		r.clk.mono += 10;
	}
	for (int i = 0; i < 20; i++) /* warm up */
		one_tap(&r, rig_uid);
	uint64_t c0 = cpu_ns();
	for (int i = 0; i < N; i++)
		v[i] = one_tap(&r, i % 2 ? rig_uid : rig_uid2);
	uint64_t cpu_per_tap = (cpu_ns() - c0) / N;
	qsort(v, N, sizeof(v[0]), cmp_u64);
	uint64_t med = v[N / 2], p99 = v[N * 99 / 100];
	uint64_t fl = floor_ns(&r);
	printf(
	    "kiosk processing per online tap: median %.1f us, p90 %.1f us, "
	    "p99 %.1f us (goal < 2000 us); floor (seal TAP_REQUEST + open "
	    "DECISION) median %.1f us, p99 %.1f us; ratio of medians %.1fx\n",
	    med / 1e3, v[N * 9 / 10] / 1e3, p99 / 1e3, fl / 1e3,
	    floor_p99 / 1e3, (double)med / (double)fl);
	printf("  upper bound, CPU time per tap with nothing subtracted (fake "
	       "card and the host's protocol work included): %.1f us\n"
	       "  (wall clock minus reader and network calls; a p99 in "
	       "milliseconds is the scheduler of this shared 2-core machine)\n",
	       cpu_per_tap / 1e3);
	kiosk_teardown(r.k);
	hal_display_term_free(&r.hal.display);

	/* Offline taps: signed record, file store (fsync timed apart). */
	snprintf(dir, sizeof(dir), "/tmp/tk_bench_XXXXXX");
	if (!mkdtemp(dir))
		exit(1);
	r.host.down = true;
	r.hal.net = in_net;
	r.hal.reader = in_reader;
	fake_display_init(&r.hal.display, &r.disp);
	hal_store_file_open(&in_store, dir, KIOSK_JREC_HDR_MAX);
	r.hal.store = in_store;
	r.hal.store.append = t_append;
	wrap(&r);
	if (rig_start(&r) != 0)
		exit(1);
	enum { NO = 200 };
	static uint64_t vo[NO];
	fsync_ns = 0;
	uint64_t co = cpu_ns();
	for (int i = 0; i < NO; i++) {
		uint8_t uid[7];
		memcpy(uid, rig_uid, 7);
		uid[3] = (uint8_t)i;
		vo[i] = one_tap(&r, uid);
	}
	uint64_t cpu_off = (cpu_ns() - co) / NO;
	qsort(vo, NO, sizeof(vo[0]), cmp_u64);
	printf("kiosk processing per offline tap (ECDSA-signed record): median "
	       "%.1f us, p99 %.1f us (goal < 2000 us); the store's write+fsync "
	       "apart: mean %.1f us; CPU time per offline tap, all included: "
	       "%.1f us\n",
	       vo[NO / 2] / 1e3, vo[NO * 99 / 100] / 1e3, fsync_ns / 1e3 / NO,
	       cpu_off / 1e3);
	kiosk_teardown(r.k);
	hal_store_file_close(&in_store);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		exit(1);
	fake_store_free(&r.st);
	tp_key_free(r.kkey);
	tp_key_free(r.hkey);
	tp_key_free(r.kpub);
	fclose(devnull);
}

/* --- memory of the real program --- */

static long run_rss(const char *bin, const char *conf, const char *events,
		    int check, struct emu *e, const char *card, int taps)
{
	struct rusage ru;
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		if (check)
			execl(bin, "tapaid-kiosk", "-c", conf, "-n",
			      (char *)NULL);
		else
			execl(bin, "tapaid-kiosk", "-c", conf, "--events",
			      events, (char *)NULL);
		_exit(127);
	}
	if (!check) {
		char reply[128];
		struct timespec d = {0, 400 * 1000000};
		nanosleep(&d, NULL);
		for (int i = 0; i < taps; i++) {
			emu_cmd(e, reply, sizeof(reply), "tap %s", card);
			d.tv_nsec = 150 * 1000000;
			nanosleep(&d, NULL);
			emu_cmd(e, reply, sizeof(reply), "remove");
			nanosleep(&d, NULL);
		}
		kill(pid, SIGTERM);
	}
	if (wait4(pid, &st, 0, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

static void memory(void)
{
	char dir[64], conf[128], events[128], card[128], kdir[128], cmd[512];
	char reply[256], h[140];
	const char *b = getenv("TAPAID_BUILD");
	char bin[256];
	struct tp_key *hk;
	uint8_t raw[65];
	struct emu *e;

	snprintf(bin, sizeof(bin), "%s/bin/tapaid-kiosk", b ? b : "build");
	snprintf(dir, sizeof(dir), "/tmp/tk_bench_XXXXXX");
	if (!mkdtemp(dir))
		exit(1);
	snprintf(kdir, sizeof(kdir), "%s/k", dir);
	snprintf(conf, sizeof(conf), "%s/kiosk.conf", dir);
	snprintf(events, sizeof(events), "%s/events", dir);
	snprintf(card, sizeof(card), "%s/card", dir);
	snprintf(cmd, sizeof(cmd), "%s --enroll --dir %s >/dev/null", bin,
		 kdir);
	if (system(cmd) != 0 || tp_key_generate(&hk) != 0 ||
	    tp_key_public_raw(hk, raw) != 0)
		exit(1);
	tp_key_free(hk);
	e = emu_start(NULL, NULL);
	if (!e)
		exit(1);
	/* A card with a URL in its NDEF file is all the kiosk reads. */
	emu_cmd(e, reply, sizeof(reply), "blank %s", card);
	{
		uint8_t file[256] = {0};
		size_t fl = fake_ndef_file(
		    "https://tap.example.org/"
		    "t?p=00112233445566778899AABBCCDDEEFF&c=0011223344556677",
		    file, sizeof(file));
		char hx[600], line[1200], out[16384] = "";
		FILE *f = fopen(card, "r");
		(void)fl;
		while (f && fgets(line, sizeof(line), f)) {
			if (strncmp(line, "file2.data =", 12) == 0) {
				tp_hex_encode(file, sizeof(file), hx, 1);
				hx[512] = '\0';
				snprintf(line, sizeof(line),
					 "file2.data = %s\n", hx);
			}
			strncat(out, line, sizeof(out) - strlen(out) - 1);
		}
		if (f)
			fclose(f);
		f = fopen(card, "w");
		fputs(out, f);
		fclose(f);
	}
	tp_hex_encode(raw, 65, h, 1);
	h[130] = '\0';
	FILE *f = fopen(conf, "w");
	fprintf(
	    f,
	    "[host]\naddress = 127.0.0.1:1\nkey = %s\n"
	    "[kiosk]\nid = K-B\nkey = %s/kiosk.key\nbenefit = MEAL\n"
	    "[reader]\nconnstring = %s\n[offline]\nper_card_per_day = 1000\n"
	    "[timing]\nresult_hold_ms = 50\n",
	    h, kdir, emu_connstring(e));
	fclose(f);
	long floor_kb = run_rss(bin, conf, events, 1, e, card, 0);
	long kb = run_rss(bin, conf, events, 0, e, card, 40);
	int n = 0;
	f = fopen(events, "r");
	while (f && fgets(reply, sizeof(reply), f))
		n++;
	if (f)
		fclose(f);
	printf("tapaid-kiosk peak RSS over %d taps through libnfc + emulator: "
	       "%.2f MB (goal < 8 MB); floor (same binary, -n: libraries, "
	       "config, key) %.2f MB; ratio %.2fx\n",
	       n, kb / 1024.0, floor_kb / 1024.0,
	       (double)kb / (double)floor_kb);
	emu_stop(e);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		exit(1);
}

int main(void)
{
	time_per_tap();
	memory();
	return 0;
}
