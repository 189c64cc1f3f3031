/*
 * hostd_test.c - tapaidd end to end, on loopback, speaking TAP.
 *
 *   hostd_test ──TCP 127.0.0.1:port──▶ tapaidd -d ──▶ DATA_DIR/tapaid.db
 *      │  kiosk sessions (tests/kioskclient.c), garbage,      ▲
 *      │  2,000 idle connections                              │
 *      └──admin.sock (JSON lines)─────────────────────────────┘
 *
 * A temporary data dir gets a host key, card secrets and a config; the
 * members, benefits, kiosks and cards are set up through the admin socket.
 * Then: decisions, retries (same session and across a reconnect), replay,
 * quota, unknown and forged kiosks, garbage / truncated / oversized frames,
 * a slow reader and 2,000 half-open connections while a real kiosk is
 * served, deny list push on revoke, offline records (applied, duplicate,
 * conflict, forged), roles on the admin socket, kill -9 during a stream of
 * taps and restart (every granted tap the kiosk saw is in the log exactly
 * once, the chain verifies), a clean SIGTERM, and the threads' names and
 * priorities (the checkpointer and admin jobs below the loop and store).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tapaid/proto.h"

#include "../kioskclient.h"
#include "hostd_harness.h"

static int test_no;
static int failures;

static int ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int ok(int cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", cond ? "" : "not ", ++test_no);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		failures++;
	return cond;
}

static struct hd H;
static struct tp_key *k1, *k2, *kr, *kx;
static uint32_t ctr1 = 0; /* card 1's counter, as the card would count */

static void rid_new(uint8_t rid[16])
{
	tp_random(rid, 16);
}

static int tap(struct kc *c, int card, uint32_t ctr, const char *benefit,
	       struct tp_decision *d)
{
	char sun[300];
	uint8_t rid[16];

	h_sun(&H, card, ctr, sun, sizeof(sun));
	rid_new(rid);
	return kc_tap(c, rid, benefit, sun, d, 3000);
}

static int connect_k(struct kc *c, const char *id, struct tp_key *k)
{
	return kc_connect(c, "127.0.0.1", H.port, k, H.host_key, id, 3000);
}

/* One tap of card 1 on a fresh K1 session: granted? */
static int served(void)
{
	struct kc c;
	struct tp_decision d;
	int rc;

	if (connect_k(&c, "K1", k1) < 0)
		return 0;
	rc = tap(&c, 1, ++ctr1, "BIG", &d);
	kc_close(&c);
	return rc == 1 && d.reason == TP_REASON_GRANTED;
}

static long long sec_count(const char *kind)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM security_events WHERE kind = '%s'",
		 kind);
	return h_sql(&H, sql, NULL);
}

static int wait_closed(int fd, int ms)
{
	uint64_t until = h_ms() + (uint64_t)ms;
	char buf[256];

	while (h_ms() < until) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return 1;
		usleep(10000);
	}
	return 0;
}

static void t_check_config(void)
{
	char cmd[PATH_MAX * 2 + 64], key[PATH_MAX + 16];
	int rc;

	snprintf(cmd, sizeof(cmd), "%s -n -c %s >/dev/null 2>&1", H.bin,
		 H.conf);
	rc = system(cmd);
	ok(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "tapaidd -n accepts a good "
						  "configuration");
	snprintf(key, sizeof(key), "%s/host.key", H.dir);
	chmod(key, 0644);
	rc = system(cmd);
	ok(WIFEXITED(rc) && WEXITSTATUS(rc) == 1,
	   "tapaidd -n refuses a host key others can read");
	chmod(key, 0600);
	snprintf(key, sizeof(key), "%s/sdm-meta.key", H.dir);
	chmod(key, 0640);
	rc = system(cmd);
	ok(WIFEXITED(rc) && WEXITSTATUS(rc) == 1,
	   "tapaidd -n refuses a card secret others can read");
	chmod(key, 0600);
}

static void t_setup(void)
{
	int r = 0;

	r |= h_adminf(&H, "{\"v\":1,\"cmd\":\"ping\"}") != 1;
	r |= h_adminf(&H, "{\"v\":1,\"cmd\":\"benefit.add\",\"args\":{"
			  "\"code\":\"BIG\",\"name\":\"canteen\","
			  "\"quota\":1000000,\"per\":\"day\"}}") != 1;
	r |= h_adminf(&H, "{\"v\":1,\"cmd\":\"benefit.add\",\"args\":{"
			  "\"code\":\"TWO\",\"name\":\"park\",\"quota\":2,"
			  "\"per\":\"day\",\"offline\":5}}") != 1;
	for (int i = 1; i <= 3; i++)
		r |= h_adminf(&H,
			      "{\"v\":1,\"cmd\":\"member.add\",\"args\":{"
			      "\"no\":\"M%d\",\"name\":\"王小明%d\","
			      "\"union\":\"U1\",\"category\":\"worker\"}}",
			      i, i) != 1;
	r |= h_kiosk(&H, "K1", "P1", &k1) < 0;
	r |= h_kiosk(&H, "K2", "P1", &k2) < 0;
	r |= h_kiosk(&H, "KR", "P1", &kr) < 0;
	r |= h_adminf(&H, "{\"v\":1,\"cmd\":\"kiosk.revoke\",\"args\":{"
			  "\"id\":\"KR\"}}") != 1;
	r |= tp_key_generate(&kx) != TP_OK;
	for (int i = 1; i <= 3; i++) {
		char m[8];

		snprintf(m, sizeof(m), "M%d", i);
		r |= h_card(&H, i, m) < 0;
	}
	ok(!r, "data dir set up through the admin socket (members, "
	       "benefits, kiosks, cards)");
}

static void t_decisions(void)
{
	struct kc c;
	struct tp_decision d, d2;
	char sun[300];
	uint8_t rid[16];
	int rc;

	ok(connect_k(&c, "K1", k1) == 0, "K1 completes the signed handshake");
	h_sun(&H, 1, ++ctr1, sun, sizeof(sun));
	rid_new(rid);
	rc = kc_tap(&c, rid, "BIG", sun, &d, 3000);
	ok(rc == 1 && d.result == TP_RESULT_GRANTED &&
	       d.reason == TP_REASON_GRANTED,
	   "a good tap is granted (reason %s)",
	   rc == 1 ? tp_reason_name(d.reason) : "none");
	ok(rc == 1 && strcmp(d.name, "王*1") != 0 && d.name[0] != '\0' &&
	       strstr(d.name, "小明") == NULL,
	   "the answer carries a masked name (%s)", rc == 1 ? d.name : "");
	rc = kc_tap(&c, rid, "BIG", sun, &d2, 3000);
	ok(rc == 1 && d2.reason == TP_REASON_GRANTED,
	   "a retry with the same request id gets the first answer");
	ok(h_sql(&H, "SELECT count(*) FROM redemptions WHERE request_id=?1",
		 rid) == 1,
	   "and the log holds that tap once");
	rid_new(rid);
	rc = kc_tap(&c, rid, "BIG", sun, &d, 3000);
	ok(rc == 1 && d.reason == TP_REASON_REPLAYED_TAP,
	   "the same SUN under a new request id is a replayed tap (%s)",
	   rc == 1 ? tp_reason_name(d.reason) : "none");
	rc = tap(&c, 1, ++ctr1, "TWO", &d);
	rc += tap(&c, 1, ++ctr1, "TWO", &d2);
	ok(rc == 2 && d.reason == TP_REASON_GRANTED && d2.left == 0,
	   "a quota of two grants twice (left %d)", d2.left);
	rc = tap(&c, 1, ++ctr1, "TWO", &d);
	ok(rc == 1 && d.reason == TP_REASON_QUOTA_USED_UP,
	   "the third is quota_used_up");
	rc = tap(&c, 1, ++ctr1, "NOPE", &d);
	ok(rc == 1 && d.result == TP_RESULT_DENIED,
	   "an unknown benefit is denied (%s)",
	   rc == 1 ? tp_reason_name(d.reason) : "none");
	kc_close(&c);
}

static void t_retry_reconnect(void)
{
	struct kc c;
	struct tp_decision d;
	char sun[300];
	uint8_t rid[16];
	int rc;

	h_sun(&H, 1, ++ctr1, sun, sizeof(sun));
	rid_new(rid);
	rc = connect_k(&c, "K1", k1);
	rc |= kc_send_tap(&c, rid, "BIG", sun);
	kc_close(&c); /* gone before the answer */
	usleep(100000);
	rc |= connect_k(&c, "K1", k1);
	ok(rc == 0 && kc_tap(&c, rid, "BIG", sun, &d, 3000) == 1 &&
	       d.reason == TP_REASON_GRANTED,
	   "a tap retried on a new session after a lost answer is granted");
	ok(h_sql(&H, "SELECT count(*) FROM redemptions WHERE request_id=?1",
		 rid) == 1,
	   "and is in the log exactly once");
	kc_close(&c);
}

static void t_bad_kiosks(void)
{
	struct kc c;
	long long before;

	before = sec_count("kiosk_not_enrolled");
	ok(connect_k(&c, "KX", kx) < 0, "an unknown kiosk is refused");
	ok(connect_k(&c, "KR", kr) < 0, "a revoked kiosk is refused");
	usleep(50000);
	ok(sec_count("kiosk_not_enrolled") >= before + 2,
	   "both are recorded as security events");
	before = sec_count("bad_signature");
	{
		struct tp_decision d;
		char sun[300];
		uint8_t rid[16];
		int rc = connect_k(&c, "K1", kx);

		/* The kiosk cannot tell before the host answers AUTH. */
		if (rc == 0) {
			h_sun(&H, 1, ++ctr1, sun, sizeof(sun));
			rid_new(rid);
			rc =
			    kc_tap(&c, rid, "BIG", sun, &d, 2000) == 1 ? 0 : -1;
			kc_close(&c);
		}
		ok(rc < 0, "a kiosk signing with the wrong key is refused");
	}
	usleep(50000);
	ok(sec_count("bad_signature") > before,
	   "and recorded as bad_signature");
}

static void t_garbage(void)
{
	static const uint8_t big[] = {'T', 'P', 1, 0x05, 0xff, 0xff};
	static const uint8_t trunc[] = {'T', 'P', 1, 0x01, 90, 0, 1, 1, 2};
	uint8_t junk[64];
	long long before = sec_count("malformed_frame");
	int g, o, t, s;

	tp_random(junk, sizeof(junk));
	junk[0] = 'X';
	g = kc_tcp("127.0.0.1", H.port);
	kc_send_raw(g, junk, sizeof(junk));
	ok(wait_closed(g, 1000), "a connection sending garbage is closed");
	o = kc_tcp("127.0.0.1", H.port);
	kc_send_raw(o, big, sizeof(big));
	ok(wait_closed(o, 1000),
	   "an oversized frame is refused from its header");
	t = kc_tcp("127.0.0.1", H.port);
	kc_send_raw(t, trunc, sizeof(trunc));
	s = kc_tcp("127.0.0.1", H.port);
	kc_send_raw(s, "T", 1); /* slowloris */
	ok(served(), "a real kiosk is served meanwhile");
	ok(wait_closed(t, 2500) && wait_closed(s, 2500),
	   "truncated and dribbling connections time out in the handshake");
	close(g);
	close(o);
	close(t);
	close(s);
	usleep(50000);
	ok(sec_count("malformed_frame") >= before + 2,
	   "malformed frames are recorded as security events");
}

static void t_slow_reader(void)
{
	struct kc c;
	struct tp_msg m;
	int sent = 0, good = 1;
	uint64_t until;

	if (connect_k(&c, "K2", k2) < 0) {
		ok(0, "K2 connects");
		return;
	}
	memset(&m, 0, sizeof(m));
	m.type = TP_MSG_STATUS;
	strcpy(m.u.status.firmware, "test");
	until = h_ms() + 1500;
	while (h_ms() < until) {
		for (int i = 0; i < 200; i++)
			if (kc_send(&c, &m) == 0)
				sent++;
		if (!served())
			good = 0;
	}
	ok(good,
	   "a kiosk that never reads its answers (%d frames sent) "
	   "does not stop others from being served",
	   sent);
	kc_close(&c);
}

static void t_halfopen(void)
{
	enum { N = 2000 };
	static int fds[N];
	struct rlimit rl = {N + 256, N + 256};
	int n = 0, rc;
	uint64_t t0;

	setrlimit(RLIMIT_NOFILE, &rl);
	for (int i = 0; i < N; i++) {
		fds[i] = kc_tcp("127.0.0.1", H.port);
		if (fds[i] >= 0)
			n++;
	}
	t0 = h_ms();
	rc = served();
	ok(n == N && rc,
	   "with %d connections that never finish a handshake a real kiosk "
	   "is served (%llu ms)",
	   n, (unsigned long long)(h_ms() - t0));
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void t_denylist(void)
{
	struct kc c;
	struct tp_msg m;
	struct tp_decision d;
	uint32_t v0;
	int rc;

	if (connect_k(&c, "K1", k1) < 0) {
		ok(0, "K1 connects");
		return;
	}
	kc_wait_type(&c, TP_MSG_DENYLIST, &m, 2000);
	v0 = c.deny_version;
	ok(v0 != 0 && c.deny_count == 0,
	   "a new session gets the (empty) deny list, version %08x",
	   (unsigned)v0);
	rc = h_adminf(&H, "{\"v\":1,\"cmd\":\"card.revoke\",\"args\":{"
			  "\"card\":3,\"reason\":\"lost\"}}");
	kc_wait_type(&c, TP_MSG_DENYLIST, &m, 2000);
	ok(rc == 1 && c.deny_version != v0 && c.deny_count == 1,
	   "revoking a card pushes a new deny list to live sessions "
	   "(version %08x, %u ids)",
	   (unsigned)c.deny_version, (unsigned)c.deny_count);
	{
		uint8_t uid[7], kid[16];

		h_uid(3, uid);
		tp_kiosk_lookup_id(uid, kid);
		ok(m.type == TP_MSG_DENYLIST && m.u.deny.n == 1 &&
		       memcmp(m.u.deny.ids[0], kid, 16) == 0,
		   "the deny list names the card by the id a kiosk computes "
		   "from its UID");
	}
	{
		/* 70 more revoked cards: the list no longer fits one chunk. */
		int r2 = 0;
		uint64_t until;

		for (int i = 100; i < 170; i++) {
			char q[256];

			r2 |= h_card(&H, i, "M1");
			snprintf(q, sizeof(q),
				 "{\"v\":1,\"cmd\":\"card.revoke\",\"args\":"
				 "{\"card\":%d,\"reason\":\"stolen\"}}",
				 i - 100 + 4);
			r2 |= h_adminf(&H, "%s", q) != 1;
		}
		until = h_ms() + 3000;
		while (c.deny_count != 71 && h_ms() < until)
			kc_wait(&c, &m, 200);
		ok(!r2 && c.deny_count == 71,
		   "a deny list of 71 cards arrives whole in chunks of %d "
		   "(%u ids)",
		   TP_DENY_CHUNK_MAX, (unsigned)c.deny_count);
	}
	memset(&m, 0, sizeof(m));
	m.type = TP_MSG_STATUS;
	strcpy(m.u.status.firmware, "test");
	m.u.status.denylist_version = c.deny_version;
	kc_send(&c, &m);
	rc = kc_wait_type(&c, TP_MSG_STATUS_ACK, &m, 2000);
	ok(rc == 1 && m.u.status_ack.denylist_version == c.deny_version,
	   "STATUS_ACK carries the current deny list version");
	kill(H.pid, SIGHUP);
	usleep(100000);
	rc = tap(&c, 3, 1, "BIG", &d);
	ok(rc == 1 && d.reason == TP_REASON_REVOKED_CARD,
	   "after SIGHUP the session still works; the revoked card is "
	   "denied (%s)",
	   tp_reason_name(d.reason));
	kc_close(&c);
}

/* Per-kiosk session limit (2): a third session closes the oldest. */
static void t_session_limit(void)
{
	struct kc a, b, c3;
	struct tp_decision d;
	int rc;

	rc = connect_k(&a, "K2", k2);
	rc |= connect_k(&b, "K2", k2);
	rc |= connect_k(&c3, "K2", k2);
	usleep(100000);
	ok(rc == 0 && wait_closed(a.fd, 1000),
	   "a kiosk's third session closes its oldest one");
	ok(tap(&b, 1, ++ctr1, "BIG", &d) == 1 &&
	       tap(&c3, 1, ++ctr1, "BIG", &d) == 1,
	   "its two newest sessions are both served");
	rc = h_adminf(&H, "{\"v\":1,\"cmd\":\"kiosk.revoke\",\"args\":{"
			  "\"id\":\"K2\"}}");
	ok(rc == 1 && wait_closed(b.fd, 1000) && wait_closed(c3.fd, 1000),
	   "kiosk.revoke closes the live sessions of that kiosk");
	kc_close(&a);
	kc_close(&b);
	kc_close(&c3);
}

static int record(struct kc *c, struct tp_key *key, uint64_t seq, int card,
		  uint32_t ctr, int corrupt, struct tp_record_ack *ack)
{
	struct tp_record r;
	uint8_t buf[TP_RECORD_MAX];
	size_t n;
	struct tp_msg m;

	memset(&r, 0, sizeof(r));
	strcpy(r.kiosk_id, "K1");
	r.seq = seq;
	tp_random(r.request_id, 16);
	strcpy(r.benefit, "TWO");
	r.kiosk_time_ms = (uint64_t)time(NULL) * 1000;
	r.reason = TP_REASON_GRANTED;
	r.offline = 1;
	h_sun(&H, card, ctr, r.sun, sizeof(r.sun));
	if (tp_record_encode_signed(&r, key, buf, sizeof(buf), &n) != TP_OK)
		return -1;
	if (corrupt)
		buf[n - 1] ^= 1;
	if (kc_send_record(c, buf, n) < 0)
		return -1;
	if (kc_wait_type(c, TP_MSG_RECORD_ACK, &m, 3000) != 1)
		return -1;
	*ack = m.u.record_ack;
	return 0;
}

static void t_records(void)
{
	struct kc c;
	struct tp_record_ack a;
	int rc;

	memset(&a, 0, sizeof(a));
	if (connect_k(&c, "K1", k1) < 0) {
		ok(0, "K1 connects");
		return;
	}
	rc = record(&c, k1, 1, 2, 5, 0, &a);
	ok(rc == 0 && a.status == TP_RECORD_APPLIED && a.record_seq == 1,
	   "a signed offline record is applied (status %d, %s)", a.status,
	   tp_reason_name(a.reason));
	rc = record(&c, k1, 1, 2, 5, 0, &a);
	ok(rc == 0 && a.status == TP_RECORD_DUPLICATE,
	   "the same record again is a duplicate (status %d)", a.status);
	rc = record(&c, k1, 2, 3, 7, 0, &a);
	ok(rc == 0 && a.status == TP_RECORD_CONFLICT,
	   "an offline grant of a revoked card is kept as a conflict "
	   "(status %d, %s)",
	   a.status, tp_reason_name(a.reason));
	ok(h_sql(&H,
		 "SELECT count(*) FROM redemptions WHERE offline=1 AND "
		 "result=2",
		 NULL) == 1,
	   "the conflict is in the log, flagged");
	rc = record(&c, k2, 3, 2, 9, 0, &a);
	ok(rc == 0 && a.status == TP_RECORD_REJECTED,
	   "a record signed by another kiosk's key is rejected");
	rc = record(&c, k1, 4, 2, 11, 1, &a);
	ok(rc == 0 && a.status == TP_RECORD_REJECTED,
	   "a record with a broken signature is rejected");
	kc_close(&c);
}

/* A member import over several of the daemon's chunks: a bad row late in
 * the file stores nothing, a good file stores every row. */
/* 1 if member no exists and its member.show answer holds want. */
static int member_shows(const char *no, const char *want)
{
	char req[128], resp[4096];

	snprintf(req, sizeof(req),
		 "{\"v\":1,\"cmd\":\"member.show\",\"args\":{\"no\":\"%s\"}}",
		 no);
	return h_admin(&H, req, resp, sizeof(resp)) == 1 &&
	       strstr(resp, want) != NULL;
}

static void t_import(void)
{
	enum { ROWS = 10000, BAD = 9000 };
	size_t cap = (size_t)ROWS * 64 + 128, n;
	char *req = malloc(cap), resp[4096];
	int rc;

	if (!req) {
		ok(0, "memory for the import request");
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		n = (size_t)snprintf(req, cap,
				     "{\"v\":1,\"cmd\":\"member.import\","
				     "\"args\":{\"rows\":[");
		for (int i = 0; i < ROWS; i++)
			n += (size_t)snprintf(
			    req + n, cap - n,
			    "%s[\"IMP%05d\",\"%s\",\"U\",\"worker\"]",
			    i ? "," : "", i,
			    pass == 0 && i == BAD ? "" : "Li Ming");
		/* first_line after the rows: the line a bad row is named by
		 * is known only once the whole request is read. */
		n += (size_t)snprintf(req + n, cap - n, "%s",
				      pass == 0 ? "],\"first_line\":5}}"
						: "]}}");
		if (pass == 1) {
			/* Parsed off the loop: a ping behind it on the same
			 * connection is still answered second. */
			char *imp, *ping;

			snprintf(req + n, cap - n,
				 "\n{\"v\":1,\"cmd\":\"ping\"}\n");
			rc = h_admin_lines(&H, req, 2, resp, sizeof(resp));
			imp = strstr(resp, "\"imported\":10000");
			ping = strstr(resp, "\"version\"");
			ok(rc == 2 && imp && ping && imp < ping,
			   "an import of %d rows stores them all, and the "
			   "request behind it is answered after it",
			   ROWS);
			req[n] = '\0';
		} else
			rc = h_admin(&H, req, resp, sizeof(resp));
		if (pass == 0) {
			ok(rc == 0 && strstr(resp, "line 9005: name is empty"),
			   "an import with a bad row late in the file is "
			   "refused with its line (first_line after the "
			   "rows)");
			rc = h_admin(&H,
				     "{\"v\":1,\"cmd\":\"member.show\","
				     "\"args\":{\"no\":\"IMP00000\"}}",
				     resp, sizeof(resp));
			ok(rc == 0, "and none of its rows was stored");
		} else {
			ok(member_shows("IMP09999", "\"category\":\"worker\""),
			   "its last row is there");
		}
	}
	/* Again with four rows that change a member: rows 100 and 200
	 * suspended, row 5 another category, and row 5's member once more
	 * at the end as stored.  The job thread plans the import, and only
	 * those rows are stored; the repeated number goes in twice, in file
	 * order, so the last row wins as it does when all rows are stored. */
	n = (size_t)snprintf(req, cap,
			     "{\"v\":1,\"cmd\":\"member.import\","
			     "\"args\":{\"rows\":[");
	for (int i = 0; i < ROWS; i++)
		n += (size_t)snprintf(
		    req + n, cap - n,
		    "%s[\"IMP%05d\",\"Li Ming\",\"U\",\"%s\"%s]", i ? "," : "",
		    i, i == 5 ? "teacher" : "worker",
		    i == 100 || i == 200 ? ",\"suspended\"" : "");
	snprintf(req + n, cap - n,
		 ",[\"IMP00005\",\"Li Ming\",\"U\",\"worker\"]]}}");
	rc = h_admin(&H, req, resp, sizeof(resp));
	ok(rc == 1 && strstr(resp, "\"imported\":10001") &&
	       strstr(resp, "\"stored\":4"),
	   "an import again with four changed rows stores those four");
	ok(member_shows("IMP00200", "\"status\":\"suspended\""),
	   "a changed row is stored");
	ok(member_shows("IMP00005", "\"category\":\"worker\""),
	   "a member number twice in the file ends as its last row says");
	/* A small import is checked and compared in the loop. */
	rc = h_admin(&H,
		     "{\"v\":1,\"cmd\":\"member.import\",\"args\":{\"rows\":["
		     "[\"IMP00001\",\"Li Ming\",\"U\",\"worker\"],"
		     "[\"IMP00002\",\"Li Ming\",\"U\",\"nurse\"],"
		     "[\"NEW00001\",\"Wang Fang\",\"U\",\"nurse\"]]}}",
		     resp, sizeof(resp));
	ok(rc == 1 && strstr(resp, "\"imported\":3") &&
	       strstr(resp, "\"stored\":2"),
	   "a small import stores its new and changed rows only");
	free(req);
}

/*
 * A member written while a big import is being planned on the job thread:
 * the plan no longer says what the import changes, and the loop must plan
 * again.  The import of the same 200,000 rows comes second, so the member
 * a staff user suspended meanwhile ends as the import's row says (active),
 * and that row is the one stored.  The suspension goes out 100 ms after
 * the import: the job thread has taken its snapshot of the members by
 * then (it does first), and parsing and planning 10 MB take several times
 * that.  A plan used although stale would leave the member suspended.
 */
static void t_import_race(void)
{
	enum { ROWS = 200000 };
	size_t cap = (size_t)ROWS * 48 + 128, n = 0;
	char *req = malloc(cap), resp[4096];
	int st = -1, stale;
	pid_t kid;
	FILE *f;

	if (!req) {
		ok(0, "memory for the import request");
		return;
	}
	n += (size_t)snprintf(req, cap,
			      "{\"v\":1,\"cmd\":\"member.import\","
			      "\"args\":{\"rows\":[");
	for (int i = 0; i < ROWS; i++)
		n +=
		    (size_t)snprintf(req + n, cap - n,
				     "%s[\"RACE%06d\",\"Li Ming\",\"U\",\"w\"]",
				     i ? "," : "", i);
	snprintf(req + n, cap - n, "]}}");
	ok(h_admin(&H, req, resp, sizeof(resp)) == 1 &&
	       strstr(resp, "\"stored\":200000"),
	   "a first import of %d members stores them all", ROWS);
	fflush(NULL);
	kid = fork();
	if (kid == 0)
		_exit(h_admin(&H, req, resp, sizeof(resp)) == 1 &&
			      strstr(resp, "\"stored\":1}")
			  ? 0
			  : 1);
	usleep(100 * 1000);
	ok(h_admin(&H,
		   "{\"v\":1,\"cmd\":\"member.suspend\","
		   "\"args\":{\"no\":\"RACE000050\"}}",
		   resp, sizeof(resp)) == 1,
	   "a member is suspended while the same import runs again");
	if (kid > 0)
		waitpid(kid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	   "the import stores one row: the suspended member's");
	ok(member_shows("RACE000050", "\"status\":\"active\""),
	   "the member ends as the import, which came second, says");
	/* Which way it went, for the reader of the log. */
	stale = 0;
	if ((f = fopen(H.log, "r")) != NULL) {
		char line[512];

		while (fgets(line, sizeof(line), f))
			stale |= strstr(line, "planning again") != NULL;
		fclose(f);
	}
	printf("# the import's plan was %s\n",
	       stale ? "stale and made again" : "made after the suspension");
	/* A client that sends a big import and hangs up while it is parsed:
	 * nobody would hear the answer, so the daemon drops it, frees it off
	 * the loop and goes on answering. */
	strcat(req, "\n");
	h_admin_lines(&H, req, 0, resp, sizeof(resp));
	usleep(300 * 1000);
	ok(h_admin(&H, "{\"v\":1,\"cmd\":\"ping\"}", resp, sizeof(resp)) == 1,
	   "a client that hangs up after a big import does not stop the "
	   "daemon");
	free(req);
}

static void t_admin_roles(void)
{
	char resp[4096];
	int rc;

	rc = h_admin(&H, "{\"v\":2,\"cmd\":\"ping\"}", resp, sizeof(resp));
	ok(rc == 0 && strstr(resp, "\"code\":\"version\""),
	   "an admin request of another version is refused");
	rc = h_admin(&H, "not json", resp, sizeof(resp));
	ok(rc == 0 && strstr(resp, "\"code\":\"bad_request\""),
	   "a line that is not JSON is a bad request");
	{
		char *v, *p2;

		rc = h_admin_lines(&H,
				   "{\"v\":1,\"cmd\":\"log.verify\"}\n"
				   "{\"v\":1,\"cmd\":\"report.data\"}\n"
				   "{\"v\":1,\"cmd\":\"ping\"}\n",
				   3, resp, sizeof(resp));
		v = strstr(resp, "\"rows\"");
		p2 = strstr(resp, "\"per_day\"");
		ok(rc == 3 && v && p2 && v < p2 &&
		       strstr(p2, "\"version\"") != NULL,
		   "log.verify and report.data run off the loop and answer "
		   "in request order on one connection");
	}
	if (geteuid() != 0) {
		printf("ok %d - # SKIP role tests need root to change uid\n",
		       ++test_no);
		return;
	}
	{
		int p[2];
		pid_t pid;

		if (pipe(p) < 0)
			return;
		pid = fork();
		if (pid == 0) {
			char a[4096], b[4096], out[8300];

			close(p[0]);
			if (setgid(65534) < 0 || setuid(65534) < 0)
				_exit(1);
			h_admin(&H, "{\"v\":1,\"cmd\":\"ping\"}", a, sizeof(a));
			h_admin(&H,
				"{\"v\":1,\"cmd\":\"benefit.add\",\"args\":{"
				"\"code\":\"X\",\"name\":\"x\",\"quota\":1,"
				"\"per\":\"day\"}}",
				b, sizeof(b));
			snprintf(out, sizeof(out), "%s|%s", a, b);
			if (write(p[1], out, strlen(out)) < 0)
				_exit(1);
			_exit(0);
		}
		close(p[1]);
		memset(resp, 0, sizeof(resp));
		if (read(p[0], resp, sizeof(resp) - 1) < 0)
			resp[0] = '\0';
		close(p[0]);
		waitpid(pid, NULL, 0);
	}
	ok(strstr(resp, "\"role\":\"staff\"") != NULL,
	   "uid 65534 maps to staff through [roles]");
	ok(strstr(resp, "\"code\":\"forbidden\"") &&
	       strstr(resp, "\"need_role\":\"admin\""),
	   "staff is refused benefit.add, and told admin is needed");
	ok(h_sql(&H,
		 "SELECT count(*) FROM staff_actions WHERE "
		 "cmd='benefit.add' AND ok=0 AND uid=65534",
		 NULL) == 1,
	   "the refused request is in the staff-action log with its uid");
}

/*
 * kill -9 in the middle of a stream of pipelined taps, then restart: the
 * kiosk retries what it got no answer for, with the same request ids.
 */
static void t_kill9(void)
{
	enum { MAXT = 4000, WINDOW = 8 };
	static uint8_t rids[MAXT][16];
	static char suns[MAXT][200];
	static int state[MAXT]; /* 0 unsent, 1 in flight, 2 granted, 3 other */
	struct kc c;
	struct tp_msg m;
	int sent = 0, inflight = 0, granted = 0, bad = 0, st;
	uint64_t kill_at;

	if (connect_k(&c, "K1", k1) < 0) {
		ok(0, "K1 connects");
		return;
	}
	for (int i = 0; i < MAXT; i++) {
		rid_new(rids[i]);
		h_sun(&H, 1, ++ctr1, suns[i], sizeof(suns[i]));
	}
	kill_at = h_ms() + 400;
	while (h_ms() < kill_at && sent < MAXT) {
		while (inflight < WINDOW && sent < MAXT) {
			kc_send_tap(&c, rids[sent], "BIG", suns[sent]);
			state[sent++] = 1;
			inflight++;
		}
		if (kc_wait_type(&c, TP_MSG_DECISION, &m, 200) == 1) {
			for (int i = 0; i < sent; i++)
				if (state[i] == 1 &&
				    !memcmp(rids[i], m.u.decision.request_id,
					    16)) {
					state[i] = m.u.decision.reason ==
							   TP_REASON_GRANTED
						       ? 2
						       : 3;
					inflight--;
					break;
				}
		}
	}
	st = h_stop(&H, SIGKILL);
	/* What was still on its way to us is lost with the connection. */
	kc_close(&c);
	for (int i = 0; i < sent; i++)
		granted += state[i] == 2, bad += state[i] == 3;
	ok(st == 128 + SIGKILL && granted > 0 && bad == 0,
	   "kill -9 after %d taps sent, %d granted, %d in flight", sent,
	   granted, inflight);
	ok(h_start(&H) == 0, "tapaidd restarts on the same data dir");
	if (connect_k(&c, "K1", k1) < 0) {
		ok(0, "K1 reconnects");
		return;
	}
	for (int i = 0; i < sent; i++) {
		struct tp_decision d;

		if (state[i] != 1)
			continue;
		if (kc_tap(&c, rids[i], "BIG", suns[i], &d, 3000) == 1 &&
		    d.reason == TP_REASON_GRANTED)
			state[i] = 2, granted++;
		else
			state[i] = 3, bad++;
	}
	ok(bad == 0,
	   "every tap retried after the restart is granted "
	   "(%d failed)",
	   bad);
	kc_close(&c);
	{
		int once = 0, total = 0;

		for (int i = 0; i < sent; i++) {
			if (state[i] != 2)
				continue;
			total++;
			once += h_sql(&H,
				      "SELECT count(*) FROM redemptions WHERE "
				      "request_id=?1 AND result=1",
				      rids[i]) == 1;
		}
		ok(total == once && total == granted,
		   "every tap the kiosk saw granted (%d) is in the log "
		   "exactly once (%d)",
		   total, once);
	}
	{
		char resp[4096];
		int rc = h_admin(&H, "{\"v\":1,\"cmd\":\"log.verify\"}", resp,
				 sizeof(resp));

		ok(rc == 1 && strstr(resp, "\"ok\":true"),
		   "the hash chain verifies after the crash: %.200s", resp);
	}
}

static void t_sigterm(void)
{
	struct kc c;
	struct tp_msg m;
	long long cps = h_sql(&H, "SELECT count(*) FROM checkpoints", NULL);
	int st, bye = 0;

	if (connect_k(&c, "K1", k1) < 0) {
		ok(0, "K1 connects");
		return;
	}
	served(); /* a new row, so the shutdown checkpoint has news */
	kill(H.pid, SIGTERM);
	for (;;) {
		int rc = kc_wait(&c, &m, 3000);

		if (rc <= 0)
			break;
		if (m.type == TP_MSG_BYE) {
			bye = 1;
			break;
		}
	}
	st = h_stop(&H, 0);
	ok(bye, "SIGTERM: a live session is told BYE");
	ok(st == 0, "tapaidd exits 0 on SIGTERM");
	ok(h_sql(&H, "SELECT count(*) FROM checkpoints", NULL) > cps,
	   "a checkpoint is signed at shutdown");
	kc_close(&c);
}

/* The first line of /proc/PID/task/TID/FILE of tapaidd into buf. */
static int task_line(const char *tid, const char *file, char *buf, size_t cap)
{
	char path[96];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", (int)H.pid, tid,
		 file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	r = fgets(buf, (int)cap, f) ? 0 : -1;
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return r;
}

/*
 * The nice value of tapaidd's thread named comm (-100 if there is none):
 * the 19th field of /proc/PID/task/TID/stat.
 */
static int thread_nice_of(const char *comm)
{
	char path[64], buf[512], name[32];
	int found = -100;
	DIR *dir;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)H.pid);
	dir = opendir(path);
	if (!dir)
		return found;
	while (found == -100 && (de = readdir(dir)) != NULL) {
		const char *p;
		int field = 2;

		if (de->d_name[0] == '.' ||
		    task_line(de->d_name, "comm", name, sizeof(name)) < 0 ||
		    strcmp(name, comm) != 0 ||
		    task_line(de->d_name, "stat", buf, sizeof(buf)) < 0 ||
		    !(p = strrchr(buf, ')')))
			continue;
		/* fields after the name: state is field 3 */
		for (p++; *p && field < 19; p++)
			if (*p == ' ')
				field++;
		if (field == 19)
			found = (int)strtol(p, NULL, 10);
	}
	closedir(dir);
	return found;
}

/* Kiosks are served at the process's priority; the background gives way. */
static void t_threads(void)
{
	static const struct {
		const char *comm, *what;
		int by;
	} want[] = {
	    {"tapaidd-store", "the store thread", 0},
	    {"tapaidd-ckpt", "the WAL checkpointer", 10},
	    {"tapaidd-job", "admin jobs (log.verify)", 10},
	};
	int loop = thread_nice_of("tapaidd");

	/* log.verify starts the job thread */
	h_adminf(&H, "{\"v\":1,\"cmd\":\"log.verify\"}");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int n = thread_nice_of(want[i].comm);
		int exp = loop + want[i].by > 19 ? 19 : loop + want[i].by;

		ok(loop != -100 && n == exp,
		   "%s runs %d nice steps below the loop (%s: %d, loop %d)",
		   want[i].what, want[i].by, want[i].comm, n, loop);
	}
}

int main(void)
{
	if (h_setup(&H, "handshake_timeout_ms = 1000\n", "staff = 65534\n") <
	    0) {
		printf("not ok 1 - set up a data dir\n");
		return 1;
	}
	chmod(H.dir, 0711); /* uid 65534 reaches admin.sock (role tests) */
	t_check_config();
	if (!ok(h_start(&H) == 0, "tapaidd starts (log %s)", H.log)) {
		h_cleanup(&H);
		return 1;
	}
	t_setup();
	t_threads();
	t_decisions();
	t_retry_reconnect();
	t_bad_kiosks();
	t_garbage();
	t_slow_reader();
	t_halfopen();
	t_denylist();
	t_records();
	t_session_limit();
	t_admin_roles();
	t_import();
	t_import_race();
	t_kill9();
	t_sigterm();
	printf("1..%d\n", test_no);
	if (failures) {
		fprintf(stderr, "daemon log kept in %s\n", H.log);
		setenv("TAPAID_KEEP", "1", 1);
	}
	h_cleanup(&H);
	return failures ? 1 : 0;
}
