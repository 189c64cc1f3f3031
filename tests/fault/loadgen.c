/*
 * loadgen.c - a stream of taps from many kiosk sessions at once, for the
 * fault tests: it keeps going through host crashes and restarts, and
 * writes down every answer it got.
 *
 *   loadgen register --dir DATA --first C --count K
 *       registers virtual cards C..C+K-1 (hostd_harness UIDs) on members
 *       M1..M20 through the admin socket, counter 0.
 *   loadgen run --dir DATA --port P --kiosk ID=KEYFILE [--kiosk ...]
 *       --sessions S --taps N --first C --count K --out FILE
 *       [--window W] [--timeout-s T] [--no-reconnect]
 *       S sessions (session i speaks as kiosk i mod #kiosks), each with
 *       its own cards, each pipelining up to W taps (fresh request ids,
 *       each card's counter increasing).  Every DECISION is appended to
 *       FILE as "RID_HEX,RESULT,REASON" (RESULT 1 granted, 0 denied) and
 *       flushed at once.  When a connection fails the session reconnects
 *       (every 50 ms) and sends every tap not yet answered again, with
 *       the same request id and SUN message, in order: a retry must get
 *       the first answer back, never a second redemption.  With
 *       --no-reconnect a closed session stays closed and its unanswered
 *       taps are given up.  Exit 0 when every tap was answered (or given
 *       up with --no-reconnect), 1 on timeout.
 *
 * Progress for the test script: a line "answered N" on stderr every
 * 500 answers, and the final counts.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hostd_harness.h"
#include "kioskclient.h"
#include "tapaid/crypto.h"
#include "tapaid/proto.h"

#define MAX_KIOSKS   16
#define MAX_SESSIONS 64

struct tapr {
	uint8_t rid[16];
	int card;
	uint32_t ctr;
	char sun[160];
	int sent;     /* sent on the current connection */
	int answered; /* 1 answered, 2 given up */
};

struct sess {
	struct kc c;
	int up;
	int kiosk;
	struct tapr *taps; /* this session's taps, in order */
	int ntaps;
	int next;     /* first tap never sent */
	int inflight; /* sent on this connection, not answered */
	uint64_t retry_at;
	int dead; /* --no-reconnect and the connection closed */
};

static struct hd H;
static struct tp_key *host_pub;
static struct tp_key *kkeys[MAX_KIOSKS];
static char kids[MAX_KIOSKS][64];
static int nkiosks;
static struct sess S[MAX_SESSIONS];
static FILE *out;
static long answered, granted, reconnects, givenup, lost_inflight;

static void die(const char *msg)
{
	fprintf(stderr, "loadgen: %s\n", msg);
	exit(2);
}

static int read_hex_key(const char *dir, const char *name, uint8_t k[16])
{
	char path[PATH_MAX + 64], line[80];
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "r")))
		return -1;
	rc = fgets(line, sizeof(line), f) ? 0 : -1;
	fclose(f);
	if (rc == 0 && tp_hex_decode(line, 32, k, 16) != 0)
		rc = -1;
	tp_wipe(line, sizeof(line));
	return rc;
}

static void load_dir(const char *dir)
{
	char path[PATH_MAX + 64];

	snprintf(H.dir, sizeof(H.dir), "%s", dir);
	if (read_hex_key(dir, "card-master.key", H.master) ||
	    read_hex_key(dir, "sdm-meta.key", H.meta))
		die("cannot read the card keys in the data dir");
	snprintf(path, sizeof(path), "%s/host.pub", dir);
	if (tp_key_load_public(path, &host_pub) != 0)
		die("cannot read host.pub");
}

static void record(struct sess *s, const struct tp_decision *d)
{
	for (int i = 0; i < s->next; i++) {
		struct tapr *t = &s->taps[i];
		char hex[33];

		if (t->answered || !t->sent ||
		    memcmp(t->rid, d->request_id, 16) != 0)
			continue;
		t->answered = 1;
		s->inflight--;
		tp_hex_encode(t->rid, 16, hex, 1);
		hex[32] = '\0';
		fprintf(out, "%s,%d,%s\n", hex, d->result,
			tp_reason_name(d->reason));
		fflush(out);
		answered++;
		if (d->result == TP_RESULT_GRANTED)
			granted++;
		if (answered % 500 == 0)
			fprintf(stderr, "answered %ld\n", answered);
		return;
	}
}

static void conn_lost(struct sess *s, int no_reconnect, uint64_t now)
{
	kc_close(&s->c);
	s->up = 0;
	lost_inflight += s->inflight;
	s->inflight = 0;
	for (int i = 0; i < s->next; i++)
		s->taps[i].sent = 0;
	if (no_reconnect) {
		s->dead = 1;
		for (int i = 0; i < s->ntaps; i++)
			if (!s->taps[i].answered) {
				s->taps[i].answered = 2;
				givenup++;
			}
	}
	s->retry_at = now + 50;
}

static int run(int port, int nsess, int ntaps, int first, int count, int window,
	       int timeout_s, int no_reconnect)
{
	int per = count / nsess;
	uint64_t end = h_ms() + (uint64_t)timeout_s * 1000;

	if (per < 1)
		die("fewer cards than sessions");
	for (int i = 0; i < nsess; i++) {
		struct sess *s = &S[i];
		uint32_t *ctr = calloc((size_t)per, sizeof(*ctr));

		s->kiosk = i % nkiosks;
		s->ntaps = ntaps / nsess + (i < ntaps % nsess);
		s->taps = calloc((size_t)s->ntaps + 1, sizeof(*s->taps));
		if (!s->taps || !ctr)
			die("out of memory");
		for (int j = 0; j < s->ntaps; j++) {
			struct tapr *t = &s->taps[j];
			int ci = j % per;

			t->card = first + i * per + ci;
			t->ctr = ++ctr[ci];
			tp_random(t->rid, 16);
			h_sun(&H, t->card, t->ctr, t->sun, sizeof(t->sun));
		}
		free(ctr);
		s->c.fd = -1;
	}
	for (;;) {
		struct pollfd pf[MAX_SESSIONS];
		int done = 1;
		uint64_t now = h_ms();

		for (int i = 0; i < nsess; i++) {
			struct sess *s = &S[i];

			pf[i].fd = -1;
			pf[i].events = POLLIN;
			if (s->dead)
				continue;
			for (int j = 0; j < s->ntaps && done; j++)
				if (!s->taps[j].answered)
					done = 0;
			if (!s->up && now >= s->retry_at) {
				int k = s->kiosk;
				if (kc_connect(&s->c, "127.0.0.1", port,
					       kkeys[k], host_pub, kids[k],
					       2000) == 0) {
					s->up = 1;
					s->next = 0; /* resend what is open */
					if (s->retry_at)
						reconnects++;
				} else {
					s->c.fd = -1;
					if (no_reconnect && s->retry_at) {
						conn_lost(s, 1, now);
						continue;
					}
					s->retry_at = now + 50;
				}
			}
			if (!s->up)
				continue;
			/* Fill the window, oldest unanswered first. */
			while (s->inflight < window && s->next < s->ntaps) {
				struct tapr *t = &s->taps[s->next++];
				if (t->answered)
					continue;
				if (kc_send_tap(&s->c, t->rid, "MEAL", t->sun) <
				    0) {
					conn_lost(s, no_reconnect, now);
					break;
				}
				t->sent = 1;
				s->inflight++;
			}
			if (s->up)
				pf[i].fd = s->c.fd;
		}
		if (done)
			break;
		if (now > end) {
			fprintf(stderr, "loadgen: timeout with taps open\n");
			return 1;
		}
		poll(pf, (nfds_t)nsess, 20);
		now = h_ms();
		for (int i = 0; i < nsess; i++) {
			struct sess *s = &S[i];
			struct tp_msg m;
			int rc;

			if (!s->up)
				continue;
			while ((rc = kc_poll(&s->c, &m)) > 0)
				if (m.type == TP_MSG_DECISION)
					record(s, &m.u.decision);
			if (rc < 0)
				conn_lost(s, no_reconnect, now);
		}
	}
	fprintf(stderr,
		"loadgen: %ld answered, %ld granted, %ld given up, %ld "
		"reconnects, %ld taps were in flight when connections were "
		"lost\n",
		answered, granted, givenup, reconnects, lost_inflight);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *outp = NULL;
	int port = 0, nsess = 4, ntaps = 100, first = 1, count = 0;
	int window = 8, timeout_s = 60, no_reconnect = 0;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc < 2)
		die("usage: loadgen register|run [options] (see loadgen.c)");
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-reconnect")) {
			no_reconnect = 1;
			continue;
		}
		if (!v)
			die("an option lacks its value");
		i++;
		if (!strcmp(a, "--dir"))
			dir = v;
		else if (!strcmp(a, "--port"))
			port = atoi(v);
		else if (!strcmp(a, "--sessions"))
			nsess = atoi(v);
		else if (!strcmp(a, "--taps"))
			ntaps = atoi(v);
		else if (!strcmp(a, "--first"))
			first = atoi(v);
		else if (!strcmp(a, "--count"))
			count = atoi(v);
		else if (!strcmp(a, "--window"))
			window = atoi(v);
		else if (!strcmp(a, "--timeout-s"))
			timeout_s = atoi(v);
		else if (!strcmp(a, "--out"))
			outp = v;
		else if (!strcmp(a, "--kiosk")) {
			const char *eq = strchr(v, '=');
			if (!eq || nkiosks == MAX_KIOSKS ||
			    (size_t)(eq - v) >= sizeof(kids[0]))
				die("--kiosk ID=KEYFILE");
			memcpy(kids[nkiosks], v, (size_t)(eq - v));
			if (tp_key_load_private(eq + 1, &kkeys[nkiosks]) != 0)
				die("cannot read a kiosk key");
			nkiosks++;
		} else
			die("unknown option");
	}
	if (!dir)
		die("--dir is needed");
	load_dir(dir);
	if (!strcmp(argv[1], "register")) {
		for (int i = 0; i < count; i++) {
			char m[16];
			snprintf(m, sizeof(m), "M%d", 1 + i % 20);
			if (h_card(&H, first + i, m) != 0)
				die("card.register failed");
		}
		return 0;
	}
	if (strcmp(argv[1], "run") != 0)
		die("register or run");
	if (!port || !outp || !nkiosks || nsess < 1 || nsess > MAX_SESSIONS ||
	    window < 1)
		die("run needs --port, --out, --kiosk; 1..64 sessions");
	if (!(out = fopen(outp, "a")))
		die("cannot open --out");
	return run(port, nsess, ntaps, first, count ? count : nsess, window,
		   timeout_s, no_reconnect);
}
