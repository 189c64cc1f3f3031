/*
 * tcpproxy.c - a TCP relay between kiosks and the host that the fault
 * tests can partition on command.
 *
 *   tcpproxy TARGET_PORT
 *
 * Listens on 127.0.0.1 (a free port, printed as the first line on
 * standard output) and relays every connection to 127.0.0.1:TARGET_PORT.
 * Then reads one command per line on standard input and answers each
 * with one line ("ok ..."):
 *
 *   pass        relay both ways (the start state)
 *   drop        full partition: nothing goes through either way; the
 *               connections stay open (as a dead link looks to TCP) and
 *               new connections are accepted but relay nothing
 *   drop-down   half partition: kiosk -> host still goes through, the
 *               host's answers are lost
 *   heal        close every connection that saw a partition (their
 *               streams lost bytes, as a NAT that forgot its state
 *               resets them), then relay as in pass
 *   status      "ok conns=N up=BYTES down=BYTES dropped=BYTES"
 *
 * End of input ends the relay, so a relay whose test died does not
 * linger.  One thread, poll(); bytes are relayed without buffering
 * beyond one read.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXC 256

enum mode { PASS, DROP, DROP_DOWN };

struct pair {
	int k, h;    /* kiosk side, host side; -1 when unused */
	int tainted; /* saw a partition */
};

static struct pair P[MAXC];
static enum mode mode = PASS;
static unsigned long long up_bytes, down_bytes, dropped;

static void pair_close(struct pair *p)
{
	if (p->k >= 0)
		close(p->k);
	if (p->h >= 0)
		close(p->h);
	p->k = p->h = -1;
	p->tainted = 0;
}

static int npairs(void)
{
	int n = 0;

	for (int i = 0; i < MAXC; i++)
		n += P[i].k >= 0;
	return n;
}

static void taint_all(void)
{
	for (int i = 0; i < MAXC; i++)
		if (P[i].k >= 0)
			P[i].tainted = 1;
}

static void command(char *line)
{
	line[strcspn(line, "\r\n")] = '\0';
	if (!strcmp(line, "pass")) {
		mode = PASS;
		printf("ok pass\n");
	} else if (!strcmp(line, "drop")) {
		mode = DROP;
		taint_all();
		printf("ok drop %d\n", npairs());
	} else if (!strcmp(line, "drop-down")) {
		mode = DROP_DOWN;
		taint_all();
		printf("ok drop-down %d\n", npairs());
	} else if (!strcmp(line, "heal")) {
		int n = 0;
		for (int i = 0; i < MAXC; i++)
			if (P[i].k >= 0 && P[i].tainted) {
				struct linger lg = {1, 0}; /* RST */
				setsockopt(P[i].k, SOL_SOCKET, SO_LINGER, &lg,
					   sizeof(lg));
				pair_close(&P[i]);
				n++;
			}
		mode = PASS;
		printf("ok heal %d\n", n);
	} else if (!strcmp(line, "status")) {
		printf("ok conns=%d up=%llu down=%llu dropped=%llu\n", npairs(),
		       up_bytes, down_bytes, dropped);
	} else {
		printf("error unknown command '%s'\n", line);
	}
	fflush(stdout);
}

/* Moves what is readable on from to to (or drops it); -1 when closed. */
static int relay(int from, int to, int drop, unsigned long long *count)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (n < 0)
		return 0;
	if (drop) {
		dropped += (unsigned long long)n;
		return 0;
	}
	*count += (unsigned long long)n;
	for (ssize_t o = 0; o < n;) {
		ssize_t w = write(to, buf + o, (size_t)(n - o));
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = to, .events = POLLOUT};
			poll(&pf, 1, 1000);
			continue;
		}
		if (w <= 0)
			return -1;
		o += w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int target, ls, one = 1;
	char line[256];
	size_t llen = 0;

	if (argc != 2 || (target = atoi(argv[1])) <= 0) {
		fprintf(stderr, "usage: tcpproxy TARGET_PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < MAXC; i++)
		P[i].k = P[i].h = -1;
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(ls, 64) < 0 || getsockname(ls, (struct sockaddr *)&a, &al)) {
		perror("tcpproxy: listen");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		struct pollfd pf[2 + 2 * MAXC];
		int idx[2 + 2 * MAXC], np = 0;

		pf[np].fd = 0;
		pf[np].events = POLLIN;
		idx[np++] = -1;
		pf[np].fd = ls;
		pf[np].events = POLLIN;
		idx[np++] = -2;
		for (int i = 0; i < MAXC; i++) {
			if (P[i].k < 0)
				continue;
			pf[np].fd = P[i].k;
			pf[np].events = POLLIN;
			idx[np++] = i;
			pf[np].fd = P[i].h;
			pf[np].events = POLLIN;
			idx[np++] = i;
		}
		if (poll(pf, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (int j = 0; j < np; j++) {
			if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (idx[j] == -1) {
				ssize_t n = read(0, line + llen,
						 sizeof(line) - 1 - llen);
				if (n <= 0)
					return 0;
				llen += (size_t)n;
				line[llen] = '\0';
				char *nl;
				while ((nl = strchr(line, '\n'))) {
					*nl = '\0';
					command(line);
					memmove(line, nl + 1,
						llen - (size_t)(nl + 1 - line) +
						    1);
					llen -= (size_t)(nl + 1 - line);
				}
				if (llen == sizeof(line) - 1)
					llen = 0;
			} else if (idx[j] == -2) {
				int k = accept4(ls, NULL, NULL,
						SOCK_NONBLOCK | SOCK_CLOEXEC);
				int slot = -1;
				if (k < 0)
					continue;
				for (int i = 0; i < MAXC && slot < 0; i++)
					if (P[i].k < 0)
						slot = i;
				struct sockaddr_in t = a;
				t.sin_port = htons((uint16_t)target);
				int h = socket(AF_INET,
					       SOCK_STREAM | SOCK_CLOEXEC, 0);
				if (slot < 0 || h < 0 ||
				    connect(h, (struct sockaddr *)&t,
					    sizeof(t)) < 0) {
					close(k);
					if (h >= 0)
						close(h);
					continue;
				}
				fcntl(h, F_SETFL, O_NONBLOCK);
				setsockopt(h, IPPROTO_TCP, TCP_NODELAY, &one,
					   sizeof(one));
				setsockopt(k, IPPROTO_TCP, TCP_NODELAY, &one,
					   sizeof(one));
				P[slot].k = k;
				P[slot].h = h;
				P[slot].tainted = mode != PASS;
			} else {
				struct pair *p = &P[idx[j]];
				int rc;
				if (p->k < 0)
					continue;
				if (pf[j].fd == p->k)
					rc = relay(p->k, p->h, mode == DROP,
						   &up_bytes);
				else
					rc = relay(p->h, p->k, mode != PASS,
						   &down_bytes);
				if (rc < 0)
					pair_close(p);
			}
		}
	}
}
