/*
 * kiosk_tapaidd_itest.c - the whole chain with nothing faked:
 *
 *   tapaid-pn532emu (pty) <-- libnfc pn532_uart --> tapaid-kiosk --TCP-->
 * tapaidd (SQLite) virtual NTAG 424 DNA cards personalised       --events FILE
 * set up through its with the host's keys (meta key, per-card admin socket
 *     AN10922 file key, SUN template) (hostd_harness)
 *
 * Speaks TAP.  Checks decisions the real engine makes (granted with what
 * is left, quota used up, unknown card, revoked card), then the host going
 * down: offline grant, the revoked card refused from tapaidd's deny list,
 * upload when it is back, exactly one redemption row per grant; and kill -9
 * of the kiosk with a non-empty queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "emu_helper.h"
#include "hostd_harness.h"
#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

static struct hd H;
static struct emu *E;
static int tapno, failures;
static char dir[64], events[128], klog[128], conf[128], link_path[128];
static pid_t kiosk_pid = -1;

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

static void msleep(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
}

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

static int wait_count(const char *path, const char *s, int n, int ms)
{
	uint64_t end = h_ms() + (uint64_t)ms;

	while (count_in_file(path, s) < n) {
		if (h_ms() > end)
			return 0;
		msleep(20);
	}
	return 1;
}

static int event(int n, char *out, size_t cap, int ms)
{
	uint64_t end = h_ms() + (uint64_t)ms;

	do {
		FILE *f = fopen(events, "r");
		char line[1024];
		int i = 0;
		if (f) {
			while (fgets(line, sizeof(line), f))
				if (++i == n) {
					line[strcspn(line, "\n")] = '\0';
					snprintf(out, cap, "%s", line);
					fclose(f);
					return 1;
				}
			fclose(f);
		}
		msleep(20);
	} while (h_ms() < end);
	snprintf(out, cap, "(none)");
	return 0;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	tp_hex_encode(b, n, out, 1);
	out[2 * n] = '\0';
}

/* Card n as tapaidctl card issue would leave it: uid h_uid(n), SDM
 * meta-read key = the system key, file key = AN10922 per card. */
static int make_card(int n, const char *path)
{
	char reply[256], line[1200], out[16384] = "", h[600];
	uint8_t uid[7], fk[16], file[256] = {0}, set[64];
	size_t fl, sl;
	struct tp_sdm_settings sdm;
	FILE *f;

	h_uid(n, uid);
	if (emu_cmd(E, reply, sizeof(reply), "blank %s", path) != 0 ||
	    tp_card_key(H.master, uid, TP_KEY_SDM_FILE, 1, fk) != 0 ||
	    tp_ndef_sun_template("https://tap.example.org/t", file,
				 sizeof(file), &fl, &sdm) != 0 ||
	    tp_sdm_settings_encode(&sdm, set, sizeof(set), &sl) != 0)
		return -1;
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *o = out + strlen(out);
		size_t room = sizeof(out) - strlen(out);
		if (strncmp(line, "uid =", 5) == 0) {
			hex(uid, 7, h);
			snprintf(o, room, "uid = %s\n", h);
		} else if (strncmp(line, "key1 =", 6) == 0) {
			hex(H.meta, 16, h);
			snprintf(o, room, "key1 = %s 00\n", h);
		} else if (strncmp(line, "key2 =", 6) == 0) {
			hex(fk, 16, h);
			snprintf(o, room, "key2 = %s 01\n", h);
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
	tp_wipe(fk, sizeof(fk));
	if (!(f = fopen(path, "w")))
		return -1;
	fputs(out, f);
	return fclose(f);
}

static void start_kiosk(void)
{
	kiosk_pid = fork();
	if (kiosk_pid == 0) {
		const char *b = getenv("TAPAID_BUILD");
		char bin[256];
		int fd = open(klog, O_WRONLY | O_CREAT | O_APPEND, 0600);
		snprintf(bin, sizeof(bin), "%s/bin/tapaid-kiosk",
			 b ? b : "build");
		dup2(fd, 1);
		dup2(fd, 2);
		execl(bin, "tapaid-kiosk", "-c", conf, "--events", events,
		      (char *)NULL);
		_exit(127);
	}
}

static void stop_kiosk(int sig)
{
	int st;

	if (kiosk_pid > 0) {
		kill(kiosk_pid, sig);
		waitpid(kiosk_pid, &st, 0);
	}
	kiosk_pid = -1;
}

static int tap(const char *card, char *ev, size_t cap)
{
	int n = count_in_file(events, "\"result\"") + 1;
	int ready = count_in_file(klog, "[READY]");
	char reply[128];

	emu_cmd(E, reply, sizeof(reply), "tap %s", card);
	int got = event(n, ev, cap, 8000);
	emu_cmd(E, reply, sizeof(reply), "remove");
	wait_count(klog, "[READY]", ready + 1, 5000);
	return got;
}

/* Rows of the log that grant something (online, offline or conflict). */
static long long redemptions(void)
{
	return h_sql(&H, "SELECT count(*) FROM redemptions WHERE result != 0",
		     NULL);
}

int main(void)
{
	char card1[128], card2[128], card3[128], card9[128];
	char cmd[PATH_MAX + 256], ev[512], pem[1024], esc[2048];
	const char *b = getenv("TAPAID_BUILD");
	int rc;

	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/tk_hd_XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(events, sizeof(events), "%s/events.log", dir);
	snprintf(klog, sizeof(klog), "%s/kiosk.log", dir);
	snprintf(conf, sizeof(conf), "%s/kiosk.conf", dir);
	snprintf(link_path, sizeof(link_path), "%s/reader", dir);
	snprintf(card1, sizeof(card1), "%s/card1", dir);
	snprintf(card2, sizeof(card2), "%s/card2", dir);
	snprintf(card3, sizeof(card3), "%s/card3", dir);
	snprintf(card9, sizeof(card9), "%s/card9", dir);

	if (h_setup(&H, NULL, NULL) < 0 || h_start(&H) < 0) {
		printf("Bail out! tapaidd does not start\n");
		return 1;
	}
	snprintf(cmd, sizeof(cmd),
		 "%s/bin/tapaid-kiosk --enroll --dir %s/k >/dev/null",
		 b ? b : "build", dir);
	rc = system(cmd);
	snprintf(cmd, sizeof(cmd), "%s/k/kiosk.pub", dir);
	FILE *f = fopen(cmd, "r");
	size_t n = f ? fread(pem, 1, sizeof(pem) - 1, f) : 0;
	if (f)
		fclose(f);
	pem[n] = '\0';
	size_t o = 0;
	for (size_t i = 0; pem[i] && o + 3 < sizeof(esc); i++) {
		if (pem[i] == '\n') {
			esc[o++] = '\\';
			esc[o++] = 'n';
		} else {
			esc[o++] = pem[i];
		}
	}
	esc[o] = '\0';
	rc |= h_adminf(
		  &H,
		  "{\"v\":1,\"cmd\":\"kiosk.add\",\"args\":{\"id\":\"K-KIOSK\","
		  "\"point\":\"P1\",\"pubkey\":\"%s\",\"tz\":\"UTC\"}}",
		  esc) != 1;
	rc |= h_adminf(&H, "{\"v\":1,\"cmd\":\"benefit.add\",\"args\":{"
			   "\"code\":\"MEAL\",\"name\":\"canteen\",\"quota\":2,"
			   "\"per\":\"day\",\"offline\":1}}") != 1;
	for (int i = 1; i <= 3; i++)
		rc |= h_adminf(&H,
			       "{\"v\":1,\"cmd\":\"member.add\",\"args\":{"
			       "\"no\":\"M%d\",\"name\":\"王小明%d\","
			       "\"union\":\"U1\",\"category\":\"worker\"}}",
			       i, i) != 1;
	rc |= h_card(&H, 1, "M1") < 0;
	rc |= h_card(&H, 2, "M2") < 0;
	rc |= h_card(&H, 3, "M3") < 0;
	ok(rc == 0,
	   "tapaidd set up: kiosk enrolled with its --enroll key, "
	   "benefit MEAL (2 a day, 1 offline), three members and cards");

	E = emu_start(NULL, NULL);
	if (!E) {
		printf("Bail out! emulator\n");
		return 1;
	}
	unlink(link_path);
	if (symlink(emu_pty(E), link_path) != 0)
		return 1;
	ok(make_card(1, card1) == 0 && make_card(2, card2) == 0 &&
	       make_card(3, card3) == 0 && make_card(9, card9) == 0,
	   "four virtual cards personalised with the host's keys (9 is not "
	   "registered)");

	/* The kiosk's configuration as tapaidctl kiosk config gets it from
	 * tapaidd, plus what the test tunes. */
	char req[1024], resp[8192];
	snprintf(req, sizeof(req),
		 "{\"v\":1,\"cmd\":\"kiosk.config\",\"args\":{\"id\":"
		 "\"K-KIOSK\",\"reader\":\"pn532_uart:%s\",\"key\":"
		 "\"%s/k/kiosk.key\",\"benefit\":\"MEAL\",\"lang\":\"zh\"}}",
		 link_path, dir);
	cJSON *j = h_admin(&H, req, resp, sizeof(resp)) == 1 ? cJSON_Parse(resp)
							     : NULL;
	const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(data, "config");
	f = fopen(conf, "w");
	if (cJSON_IsString(text))
		fputs(text->valuestring, f);
	fprintf(f, "[offline]\nper_card_per_day = 1\n"
		   "[timing]\nresult_hold_ms = 100\nheartbeat_ms = 1000\n"
		   "backoff_min_ms = 200\nbackoff_max_ms = 1000\n");
	fclose(f);
	ok(cJSON_IsString(text),
	   "tapaidd's kiosk.config gives the kiosk's configuration");
	cJSON_Delete(j);
	snprintf(cmd, sizeof(cmd), "%s/bin/tapaid-kiosk -c %s -n >/dev/null",
		 b ? b : "build", conf);
	ok(system(cmd) == 0, "tapaid-kiosk accepts it (-n)");
	start_kiosk();
	ok(wait_count(klog, "host connected", 1, 10000) &&
	       wait_count(klog, "[READY]", 1, 10000),
	   "the kiosk opens the reader and the session with tapaidd");

	tap(card1, ev, sizeof(ev));
	ok(strcmp(ev,
		  "{\"result\":\"granted\",\"reason\":\"granted\","
		  "\"benefit\":\"MEAL\",\"left\":1,\"offline\":false}") == 0,
	   "granted by tapaidd, one left: %s", ev);
	ok(count_in_file(klog, "已通过") >= 1 &&
	       count_in_file(klog, "剩余 1 次") >= 1,
	   "the screen says so in Chinese, with what is left");
	tap(card1, ev, sizeof(ev));
	ok(strstr(ev, "\"granted\"") && strstr(ev, "\"left\":0"),
	   "granted again, none left: %s", ev);
	tap(card1, ev, sizeof(ev));
	ok(strstr(ev, "\"quota_used_up\"") != NULL, "then quota used up: %s",
	   ev);
	tap(card9, ev, sizeof(ev));
	ok(strstr(ev, "\"unknown_card\"") != NULL, "an unregistered card: %s",
	   ev);
	rc = h_adminf(&H, "{\"v\":1,\"cmd\":\"card.revoke\",\"args\":{"
			  "\"card\":2,\"reason\":\"lost\"}}");
	tap(card2, ev, sizeof(ev));
	ok(rc == 1 && strstr(ev, "\"revoked_card\"") != NULL,
	   "a revoked card: %s", ev);
	long long red = redemptions();
	ok(red == 2, "tapaidd logged the two grants (%lld rows)", red);
	ok(h_sql(&H, "SELECT count(*) FROM redemptions", NULL) == 5,
	   "and the three denials, one row per tap");

	/* The host goes down: offline grant, then upload, counted once. */
	h_stop(&H, SIGTERM);
	ok(wait_count(klog, "host disconnected", 1, 5000),
	   "tapaidd stopped: the kiosk notices");
	tap(card3, ev, sizeof(ev));
	ok(strcmp(ev, "{\"result\":\"granted\",\"reason\":\"granted\","
		      "\"benefit\":\"MEAL\",\"left\":0,\"offline\":true}") == 0,
	   "host down: granted offline: %s", ev);
	tap(card3, ev, sizeof(ev));
	ok(strstr(ev, "\"offline_limit\"") != NULL,
	   "the day's offline allowance is used: %s", ev);
	tap(card2, ev, sizeof(ev));
	ok(strstr(ev, "\"revoked_card\"") != NULL,
	   "offline, the revoked card is refused from tapaidd's deny list: %s",
	   ev);

	/* kill -9 with that record in the queue, then the host comes back. */
	stop_kiosk(SIGKILL);
	char reply[64];
	emu_cmd(E, reply, sizeof(reply), "unclaim");
	int hc = count_in_file(klog, "host connected");
	start_kiosk();
	if (h_start(&H) < 0) {
		printf("Bail out! tapaidd does not restart\n");
		return 1;
	}
	ok(wait_count(klog, "host connected", hc + 1, 10000),
	   "restarted kiosk reconnects to the restarted tapaidd");
	uint64_t end = h_ms() + 8000;
	while (h_ms() < end &&
	       h_sql(&H, "SELECT count(*) FROM redemptions WHERE offline=1",
		     NULL) < 1)
		msleep(50);
	msleep(1500);
	long long off =
	    h_sql(&H, "SELECT count(*) FROM redemptions WHERE offline=1", NULL);
	FILE *evf = fopen(events, "r");
	char l[512];
	int granted_off = 0;
	while (evf && fgets(l, sizeof(l), evf))
		if (strstr(l, "\"granted\",\"reason\"") &&
		    strstr(l, "\"offline\":true"))
			granted_off++;
	if (evf)
		fclose(evf);
	ok(off == granted_off && redemptions() == red + off &&
	       h_sql(&H, "SELECT count(DISTINCT request_id) FROM redemptions",
		     NULL) ==
		   h_sql(&H, "SELECT count(*) FROM redemptions", NULL),
	   "every offline grant reached the log exactly once after kill -9 "
	   "(%d granted offline, %lld offline rows)",
	   granted_off, off);
	snprintf(cmd, sizeof(cmd), "%s/k/queue/queue.cur", dir);
	struct stat st;
	ok(stat(cmd, &st) == 0, "the upload cursor is on disk");

	stop_kiosk(SIGTERM);
	emu_stop(E);
	h_stop(&H, SIGTERM);
	if (failures == 0) {
		h_cleanup(&H);
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	} else {
		printf("# logs kept in %s and %s\n", dir, H.dir);
	}
	printf("1..%d\n", tapno);
	return failures ? 1 : 0;
}
