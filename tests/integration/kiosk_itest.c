/*
 * kiosk_itest.c - tapaid-kiosk end to end through real libnfc.
 *
 *   tapaid-pn532emu (pty) <-- libnfc pn532_uart --> tapaid-kiosk --TCP--> test
 * host virtual NTAG 424 DNA cards                  --events FILE        (this
 * program) personalised for SUN here
 *
 * The test host runs in a thread of this program: real protocol code
 * (tp_session_init_host, the kiosk's enrolled key, sealed frames,
 * tp_record_decode_verify) with a scripted decision (firmware/hal/net_fake.c
 * served over a TCP socket).  It also verifies the SUN each tap carried
 * with the card's keys.  The kiosk binary is the real one, with its real
 * backends: reader_libnfc, net_tcp, store_file.
 *
 * Speaks TAP.  Covers: granted, each denial reason, not a service card,
 * card held in the field (one tap), card pulled mid-read, reader unplugged
 * and plugged back, host restart mid-session, host down -> offline grant
 * -> upload -> no double count, kill -9 with a non-empty queue.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emu_helper.h"
#include "hal/fakes.h"
#include "tapaid/ntag.h"

static struct fake_host H;
static pthread_mutex_t M = PTHREAD_MUTEX_INITIALIZER;
static volatile int host_up = 1, host_running = 1;
static int port;
static int tapno, failures;
static char dir[64], events[128], klog[128], conf[128], link_path[128];
static struct emu *E;
static pid_t kiosk_pid = -1;
static uint8_t meta_key[16], file_key[16];

static void __attribute__((format(printf, 2, 3)))
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%s %d - ", cond ? "ok" : "not ok", ++tapno);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		failures++;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

/* --- the test host, a thread serving fake_host over TCP --- */

static int listen_on(int p)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)p),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(fd, 4) != 0) {
		close(fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	return fd;
}

static void *host_thread(void *arg)
{
	int lfd = -1, cfd = -1;

	while (host_running) {
		if (host_up && lfd < 0)
			lfd = listen_on(port);
		if (!host_up && lfd >= 0) {
			close(lfd);
			lfd = -1;
			if (cfd >= 0)
				close(cfd);
			cfd = -1;
			pthread_mutex_lock(&M);
			fake_host_drop(&H);
			pthread_mutex_unlock(&M);
		}
		struct pollfd p[2];
		int n = 0, li = -1, ci = -1;
		if (lfd >= 0) {
			li = n;
			p[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
		}
		if (cfd >= 0) {
			ci = n;
			p[n++] = (struct pollfd){.fd = cfd, .events = POLLIN};
		}
		if (poll(p, (nfds_t)n, 20) <= 0)
			continue;
		if (li >= 0 && (p[li].revents & POLLIN)) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0) {
				if (cfd >= 0)
					close(cfd);
				cfd = c;
				ci = -1;
				pthread_mutex_lock(&M);
				fake_host_accept(&H);
				pthread_mutex_unlock(&M);
			}
		}
		if (ci >= 0 && (p[ci].revents & (POLLIN | POLLHUP | POLLERR))) {
			uint8_t b[4096];
			ssize_t r = read(cfd, b, sizeof(b));
			pthread_mutex_lock(&M);
			if (r <= 0) {
				close(cfd);
				cfd = -1;
				fake_host_drop(&H);
			} else {
				if ((size_t)r <= sizeof(H.k2h) - H.k2h_len) {
					memcpy(H.k2h + H.k2h_len, b, (size_t)r);
					H.k2h_len += (size_t)r;
				}
				fake_host_run(&H);
				if (H.h2k_len > 0 &&
				    write(cfd, H.h2k, H.h2k_len) < 0)
					H.connected = false;
				H.h2k_len = 0;
				if (!H.connected) {
					close(cfd);
					cfd = -1;
					fake_host_drop(&H);
				}
			}
			pthread_mutex_unlock(&M);
		}
	}
	if (lfd >= 0)
		close(lfd);
	if (cfd >= 0)
		close(cfd);
	return NULL;
}

/* Reads a host counter under the lock. */
#define HGET(field)                                                            \
	({                                                                     \
		pthread_mutex_lock(&M);                                        \
		__typeof__(H.field) v_ = H.field;                              \
		pthread_mutex_unlock(&M);                                      \
		v_;                                                            \
	})

/* Waits up to ms for cond (an expression over H, read under the lock). */
#define HWAIT(cond, ms)                                                        \
	({                                                                     \
		uint64_t end_ = now_ms() + (ms);                               \
		int ok_ = 0;                                                   \
		while (!ok_ && now_ms() < end_) {                              \
			pthread_mutex_lock(&M);                                \
			ok_ = (cond);                                          \
			pthread_mutex_unlock(&M);                              \
			if (!ok_)                                              \
				msleep(20);                                    \
		}                                                              \
		ok_;                                                           \
	})

/* --- files --- */

static int count_in_file(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* The n-th event line (1-based) into out; waits up to ms for it. */
static int event(int n, char *out, size_t cap, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do {
		FILE *f = fopen(events, "r");
		char line[1024];
		int i = 0;
		if (f) {
			while (fgets(line, sizeof(line), f)) {
				if (++i == n) {
					line[strcspn(line, "\n")] = '\0';
					snprintf(out, cap, "%s", line);
					fclose(f);
					return 1;
				}
			}
			fclose(f);
		}
		msleep(20);
	} while (now_ms() < end);
	snprintf(out, cap, "(none)");
	return 0;
}

static int nevents(void)
{
	return count_in_file(events, "\"result\"");
}

/* Waits until the kiosk's screen log holds at least n lines with s. */
static int wait_screen(const char *s, int n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (count_in_file(klog, s) < n) {
		if (now_ms() > end)
			return 0;
		msleep(20);
	}
	return 1;
}

/* --- cards --- */

static void hex(const uint8_t *b, size_t n, char *out)
{
	tp_hex_encode(b, n, out, 1);
	out[2 * n] = '\0';
}

/* A blank card from the emulator, personalised for SUN as tapaidctl
 * card issue would: SDM meta-read key 1, file key 2, NDEF template. */
static int make_card(const char *path)
{
	char reply[256], line[1200], out[16384] = "", h[600];
	uint8_t file[256] = {0}, set[64];
	size_t fl, sl;
	struct tp_sdm_settings sdm;
	FILE *f;

	if (emu_cmd(E, reply, sizeof(reply), "blank %s", path) != 0)
		return -1;
	if (tp_ndef_sun_template("https://tap.example.org/t", file,
				 sizeof(file), &fl, &sdm) != 0 ||
	    tp_sdm_settings_encode(&sdm, set, sizeof(set), &sl) != 0)
		return -1;
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *o = out + strlen(out);
		size_t room = sizeof(out) - strlen(out);
		if (strncmp(line, "key1 =", 6) == 0) {
			hex(meta_key, 16, h);
			snprintf(o, room, "key1 = %s 00\n", h);
		} else if (strncmp(line, "key2 =", 6) == 0) {
			hex(file_key, 16, h);
			snprintf(o, room, "key2 = %s 00\n", h);
		} else if (strncmp(line, "file2.settings =", 16) == 0) {
			hex(set, sl, h);
			snprintf(o, room, "file2.settings = %s\n", h);
		} else if (strncmp(line, "file2.data =", 12) == 0) {
			hex(file, sizeof(file), h);
			snprintf(o, room, "file2.data = %s\n", h);
		} else {
			snprintf(o, room, "%s", line);
		}
	}
	fclose(f);
	if (!(f = fopen(path, "w")))
		return -1;
	fputs(out, f);
	return fclose(f);
}

/* --- the kiosk --- */

static void start_kiosk(void)
{
	char cfgarg[160];

	snprintf(cfgarg, sizeof(cfgarg), "%s", conf);
	kiosk_pid = fork();
	if (kiosk_pid == 0) {
		const char *b = getenv("TAPAID_BUILD");
		char bin[256];
		int fd = open(klog, O_WRONLY | O_CREAT | O_APPEND, 0600);
		snprintf(bin, sizeof(bin), "%s/bin/tapaid-kiosk",
			 b ? b : "build");
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, "tapaid-kiosk", "-c", cfgarg, "--events", events,
		      (char *)NULL);
		_exit(127);
	}
}

static void stop_kiosk(int sig)
{
	int st;

	if (kiosk_pid <= 0)
		return;
	kill(kiosk_pid, sig);
	waitpid(kiosk_pid, &st, 0);
	kiosk_pid = -1;
}

static void point_link(void)
{
	unlink(link_path);
	if (symlink(emu_pty(E), link_path) != 0)
		perror("symlink");
}

/* Puts card in the field, waits for the n-th event, takes it away and
 * waits for the kiosk to be ready again. */
static int tap(const char *card, char *ev, size_t cap)
{
	int n = nevents() + 1, ready = count_in_file(klog, "[READY]");
	char reply[128];

	emu_cmd(E, reply, sizeof(reply), "tap %s", card);
	int got = event(n, ev, cap, 8000);
	emu_cmd(E, reply, sizeof(reply), "remove");
	wait_screen("[READY]", ready + 1, 5000);
	return got;
}

static int sun_ok(const char *uidhex, uint32_t *ctr)
{
	struct tp_sun_msg m;
	struct tp_sun_result r;
	char sun[TP_SUN_MAX + 1], u[15];

	pthread_mutex_lock(&M);
	memcpy(sun, H.last_sun, sizeof(sun));
	pthread_mutex_unlock(&M);
	if (tp_sun_parse(sun, strlen(sun), &m) != 0 ||
	    tp_sun_verify(meta_key, file_key, &m, &r) != 0)
		return 0;
	hex(r.uid, 7, u);
	*ctr = r.ctr;
	return strcmp(u, uidhex) == 0;
}

static void write_conf(const uint8_t host_pub[65], int per_day)
{
	char h[140];
	FILE *f = fopen(conf, "w");

	hex(host_pub, 65, h);
	fprintf(f,
		"[host]\naddress = 127.0.0.1:%d\nkey = %s\n"
		"[kiosk]\nid = K-IT-1\nkey = %s/k/kiosk.key\npoint = P1\n"
		"benefit = MEAL\nlang = en\nstate_dir = %s/state\n"
		"[reader]\nconnstring = pn532_uart:%s\nmax_errors = 3\n"
		"[offline]\nper_card_per_day = %d\n"
		"[timing]\nresult_hold_ms = 100\nheartbeat_ms = 1000\n"
		"backoff_min_ms = 200\nbackoff_max_ms = 1000\n"
		"decision_timeout_ms = 1500\n",
		port, h, dir, dir, link_path, per_day);
	fclose(f);
}

int main(void)
{
	char card1[128], card2[128], blank[128], ev[512], cmd[512], reply[256];
	char uid1[15] = "", uid2[15] = "";
	struct tp_key *hkey = NULL, *kpub = NULL;
	uint8_t hpub[65];
	pthread_t th;
	struct stat st;
	uint32_t ctr1 = 0;

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/tk_it_XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(events, sizeof(events), "%s/events.log", dir);
	snprintf(klog, sizeof(klog), "%s/kiosk.log", dir);
	snprintf(conf, sizeof(conf), "%s/kiosk.conf", dir);
	snprintf(link_path, sizeof(link_path), "%s/reader", dir);
	snprintf(card1, sizeof(card1), "%s/card1", dir);
	snprintf(card2, sizeof(card2), "%s/card2", dir);
	snprintf(blank, sizeof(blank), "%s/blank", dir);
	tp_random(meta_key, 16);
	tp_random(file_key, 16);

	/* Enrolment makes the key pair, private part 0600. */
	const char *b = getenv("TAPAID_BUILD");
	snprintf(cmd, sizeof(cmd),
		 "%s/bin/tapaid-kiosk --enroll --dir %s/k >%s/enroll.out",
		 b ? b : "build", dir, dir);
	int rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s/k/kiosk.key", dir);
	ok(rc == 0 && stat(cmd, &st) == 0 && (st.st_mode & 0777) == 0600,
	   "--enroll makes kiosk.key with mode 0600");
	snprintf(cmd, sizeof(cmd), "%s/k/kiosk.pub", dir);
	ok(tp_key_load_public(cmd, &kpub) == 0, "--enroll makes kiosk.pub");
	snprintf(cmd, sizeof(cmd),
		 "%s/bin/tapaid-kiosk --enroll --dir %s/k 2>/dev/null",
		 b ? b : "build", dir);
	ok(WEXITSTATUS(system(cmd)) == 1,
	   "--enroll refuses to overwrite a key");

	if (tp_key_generate(&hkey) || tp_key_public_raw(hkey, hpub) || !kpub) {
		printf("Bail out! keys\n");
		return 1;
	}
	H.host_key = hkey;
	H.kiosk_pub = kpub;
	H.reason = TP_REASON_GRANTED;
	H.left = 4;
	H.host_time_ms = (int64_t)time(NULL) * 1000;
	int lfd = listen_on(0); /* pick the port */
	close(lfd);
	pthread_create(&th, NULL, host_thread, NULL);

	E = emu_start(NULL, NULL);
	if (!E) {
		printf("Bail out! emulator\n");
		return 1;
	}
	point_link();
	ok(make_card(card1) == 0 && make_card(card2) == 0 &&
	       emu_cmd(E, reply, sizeof(reply), "blank %s", blank) == 0,
	   "personalised two virtual cards for SUN, one left blank");
	write_conf(hpub, 2);
	snprintf(cmd, sizeof(cmd), "%s/bin/tapaid-kiosk -c %s -n >/dev/null",
		 b ? b : "build", conf);
	ok(system(cmd) == 0, "tapaid-kiosk -n accepts the configuration");

	start_kiosk();
	ok(HWAIT(H.handshakes >= 1, 8000) && wait_screen("[READY]", 1, 8000),
	   "kiosk opens the reader and completes the signed handshake");

	/* granted */
	tap(card1, ev, sizeof(ev));
	ok(strcmp(ev,
		  "{\"result\":\"granted\",\"reason\":\"granted\","
		  "\"benefit\":\"MEAL\",\"left\":4,\"offline\":false}") == 0,
	   "granted: %s", ev);
	FILE *cf = fopen(card1, "r");
	if (cf) {
		char l[256];
		while (fgets(l, sizeof(l), cf))
			if (sscanf(l, "uid = %14s", uid1) == 1)
				break;
		fclose(cf);
	}
	cf = fopen(card2, "r");
	if (cf) {
		char l[256];
		while (fgets(l, sizeof(l), cf))
			if (sscanf(l, "uid = %14s", uid2) == 1)
				break;
		fclose(cf);
	}
	int sok = sun_ok(uid1, &ctr1);
	ok(sok, "the host verified the card's SUN (uid %s ctr %u)", uid1, ctr1);
	uint8_t u1[7], lk[16];
	tp_hex_decode(uid1, 14, u1, 7);
	tp_kiosk_lookup_id(u1, lk);
	uint8_t got_lk[16];
	pthread_mutex_lock(&M);
	memcpy(got_lk, H.last_lookup, 16);
	pthread_mutex_unlock(&M);
	ok(memcmp(got_lk, lk, 16) == 0,
	   "the tap carried the card's lookup id, not its UID");

	/* each denial reason the host can give */
	for (int r = TP_REASON_UNKNOWN_CARD; r <= TP_REASON_BAD_SIGNATURE;
	     r++) {
		char want[256];
		pthread_mutex_lock(&M);
		H.reason = (enum tp_reason)r;
		H.left = -1;
		pthread_mutex_unlock(&M);
		tap(card1, ev, sizeof(ev));
		snprintf(want, sizeof(want),
			 "{\"result\":\"denied\",\"reason\":\"%s\",\"benefit\":"
			 "\"MEAL\","
			 "\"left\":null,\"offline\":false}",
			 tp_reason_name(r));
		ok(strcmp(ev, want) == 0, "denied %s: %s", tp_reason_name(r),
		   ev);
	}
	pthread_mutex_lock(&M);
	H.reason = TP_REASON_GRANTED;
	H.left = 3;
	pthread_mutex_unlock(&M);
	ok(count_in_file(klog, "This card has been cancelled") >= 1 &&
	       count_in_file(klog, "[DENIED] Not granted") >= 10,
	   "each denial shows its sentence on the screen");

	/* not a service card */
	unsigned taps_before = HGET(taps);
	tap(blank, ev, sizeof(ev));
	ok(strstr(ev, "\"not_a_service_card\"") != NULL &&
	       HGET(taps) == taps_before,
	   "a blank NTAG 424 DNA is not a service card: %s", ev);

	/* card held in the field: one tap */
	int n0 = nevents();
	taps_before = HGET(taps);
	emu_cmd(E, reply, sizeof(reply), "tap %s", card1);
	event(n0 + 1, ev, sizeof(ev), 8000);
	msleep(3000);
	ok(nevents() == n0 + 1 && HGET(taps) == taps_before + 1,
	   "a card held in the field for 3 s is one tap (%d events)",
	   nevents() - n0);
	int ready = count_in_file(klog, "[READY]");
	emu_cmd(E, reply, sizeof(reply), "remove");
	wait_screen("[READY]", ready + 1, 5000);
	uint32_t c2 = 0;
	tap(card1, ev, sizeof(ev));
	sok = sun_ok(uid1, &c2);
	ok(sok && c2 > ctr1, "a new tap reads a new SUN (ctr %u > %u)", c2,
	   ctr1);

	/* card pulled mid-read */
	n0 = nevents();
	int aborts = count_in_file(klog, "moved away too soon");
	ready = count_in_file(klog, "[READY]");
	emu_cmd(E, reply, sizeof(reply), "tap %s", card1);
	emu_cmd(E, reply, sizeof(reply), "tear-after 3");
	ok(wait_screen("moved away too soon", aborts + 1, 5000),
	   "card pulled mid-read: the member is asked to tap again");
	emu_cmd(E, reply, sizeof(reply), "remove");
	wait_screen("[READY]", ready + 1, 5000);
	ok(nevents() == n0, "card pulled mid-read: no decision, no event");
	tap(card1, ev, sizeof(ev));
	ok(strstr(ev, "\"granted\"") != NULL, "the next tap works: %s", ev);

	/* the reader disappears and comes back */
	int faults = count_in_file(klog, "[FAULT]");
	emu_cmd(E, reply, sizeof(reply), "unplug");
	ok(wait_screen("[FAULT]", faults + 1, 8000),
	   "reader unplugged: the screen says out of service");
	ok(HWAIT(H.last_status.reader_state == TP_READER_ABSENT, 5000),
	   "reader unplugged: the host hears it in STATUS");
	ready = count_in_file(klog, "[READY]");
	emu_cmd(E, reply, sizeof(reply), "plug");
	point_link();
	ok(wait_screen("[READY]", ready + 1, 15000),
	   "reader plugged back: reopened through libnfc");
	ok(HWAIT(H.last_status.reader_state == TP_READER_OK, 5000) &&
	       HGET(last_status.usb_resets) == 0,
	   "status back to ok; no USB reset for a UART reader");
	tap(card1, ev, sizeof(ev));
	ok(strstr(ev, "\"granted\"") != NULL, "tap after replug: %s", ev);

	/* host restart mid-session */
	unsigned hs = HGET(handshakes);
	host_up = 0;
	msleep(500);
	host_up = 1;
	ok(HWAIT(H.handshakes > hs && tp_session_established(&H.s), 8000),
	   "host restarted: the kiosk reconnects with a new handshake");
	tap(card1, ev, sizeof(ev));
	ok(strstr(ev, "\"granted\"") != NULL &&
	       strstr(ev, "\"offline\":false") != NULL,
	   "tap after the host restart: %s", ev);

	/* host down: offline grant, upload, no double count */
	unsigned red0 = HGET(redemptions);
	host_up = 0;
	msleep(300);
	tap(card2, ev, sizeof(ev));
	ok(strcmp(ev, "{\"result\":\"granted\",\"reason\":\"granted\","
		      "\"benefit\":\"MEAL\",\"left\":1,\"offline\":true}") == 0,
	   "host down: granted offline: %s", ev);
	host_up = 1;
	ok(HWAIT(H.records >= 1, 8000), "host back: the record is uploaded");
	msleep(1500);
	ok(HGET(records) == 1 && HGET(redemptions) == red0 + 1 &&
	       HGET(dup_records) == 0,
	   "uploaded once, counted once (records %u)", HGET(records));
	ok(HWAIT(H.last_status.queue_depth == 0, 4000),
	   "queue empty after upload");

	/* kill -9 with a non-empty queue */
	host_up = 0;
	msleep(300);
	tap(card2, ev, sizeof(ev));
	ok(strstr(ev, "\"offline\":true") && strstr(ev, "\"left\":0"),
	   "offline grant 2 of 2 for this card today: %s", ev);
	tap(card1, ev, sizeof(ev));
	ok(strstr(ev, "\"offline\":true") && strstr(ev, "\"granted\""),
	   "offline grant for the other card: %s", ev);
	stop_kiosk(SIGKILL);
	emu_cmd(E, reply, sizeof(reply), "unclaim");
	ready = count_in_file(klog, "[READY]");
	start_kiosk();
	wait_screen("[READY]", ready + 1, 8000);
	tap(card2, ev, sizeof(ev));
	ok(strstr(ev, "\"offline_limit\"") != NULL,
	   "after kill -9: the day's offline count survived: %s", ev);
	unsigned rec0 = HGET(records);
	host_up = 1;
	ok(HWAIT(H.records >= rec0 + 2, 8000),
	   "after kill -9: the queue is uploaded");
	msleep(2000);
	ok(HGET(records) == rec0 + 2 && HGET(dup_records) == 0 &&
	       HGET(redemptions) == red0 + 3,
	   "after kill -9: nothing lost, nothing doubled (records %u, dups %u)",
	   HGET(records) - rec0, HGET(dup_records));

	stop_kiosk(SIGTERM);
	emu_stop(E);
	host_running = 0;
	pthread_join(th, NULL);
	tp_key_free(hkey);
	tp_key_free(kpub);
	if (failures == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	} else {
		printf("# logs kept in %s\n", dir);
	}
	printf("1..%d\n", tapno);
	return failures ? 1 : 0;
}
