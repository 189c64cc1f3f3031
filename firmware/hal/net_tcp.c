/*
 * net_tcp.c - the host connection as a non-blocking TCP socket.
 *
 * connect() starts a non-blocking connect to "host:port" and reports
 * progress on later calls (see resolve() for names).  send()/recv() never
 * block.  TCP keep-alive and TCP_NODELAY are set: taps are small and must not
 * wait for Nagle.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hal/backends.h"

struct net_tcp {
	time_t resolve_failed; /* when name resolution last failed */
	char host[256];
	char port[16];
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int fd;
	int connecting;
};

/*
 * getaddrinfo() blocks, and a name server that does not answer would hold
 * up the reader loop: a numeric address is parsed without any lookup, a
 * name is resolved at start-up (hal_net_tcp_new) and then at most once a
 * minute until it resolves, after which the address is kept.
 */
static int resolve(struct net_tcp *t)
{
	struct addrinfo hints, *res = NULL;
	time_t now = time(NULL);

	if (t->addrlen)
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(t->host, t->port, &hints, &res) != 0) {
		if (t->resolve_failed && now - t->resolve_failed < 60)
			return HAL_ERR_IO;
		hints.ai_flags = 0;
		if (getaddrinfo(t->host, t->port, &hints, &res) != 0 || !res) {
			t->resolve_failed = now;
			return HAL_ERR_IO;
		}
	}
	if (!res)
		return HAL_ERR_IO;
	memcpy(&t->addr, res->ai_addr, res->ai_addrlen);
	t->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static int tcp_connect(void *ctx)
{
	struct net_tcp *t = ctx;
	int one = 1, err = 0;
	socklen_t el = sizeof(err);

	if (t->fd >= 0 && !t->connecting)
		return 0;
	if (t->fd < 0) {
		if (resolve(t) != 0)
			return HAL_ERR_IO;
		t->fd = socket(t->addr.ss_family,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (t->fd < 0)
			return HAL_ERR_IO;
		setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(t->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (connect(t->fd, (struct sockaddr *)&t->addr, t->addrlen) ==
		    0) {
			t->connecting = 0;
			return 0;
		}
		if (errno != EINPROGRESS) {
			close(t->fd);
			t->fd = -1;
			return HAL_ERR_IO;
		}
		t->connecting = 1;
	}
	struct pollfd p = {.fd = t->fd, .events = POLLOUT};
	if (poll(&p, 1, 0) == 0)
		return HAL_ERR_AGAIN;
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
		close(t->fd);
		t->fd = -1;
		t->connecting = 0;
		return HAL_ERR_IO;
	}
	t->connecting = 0;
	return 0;
}

static ssize_t tcp_send(void *ctx, const uint8_t *buf, size_t len)
{
	struct net_tcp *t = ctx;
	ssize_t n;

	if (t->fd < 0 || t->connecting)
		return HAL_ERR_NODEV;
	n = send(t->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return HAL_ERR_IO;
}

static ssize_t tcp_recv(void *ctx, uint8_t *buf, size_t cap)
{
	struct net_tcp *t = ctx;
	ssize_t n;

	if (t->fd < 0 || t->connecting)
		return HAL_ERR_NODEV;
	if (cap == 0)
		return 0;
	n = recv(t->fd, buf, cap, MSG_DONTWAIT);
	if (n > 0)
		return n;
	if (n == 0)
		return HAL_ERR_GONE; /* the host closed the connection */
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return HAL_ERR_IO;
}

static void tcp_close(void *ctx)
{
	struct net_tcp *t = ctx;

	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->connecting = 0;
}

static void tcp_wait(void *ctx, int ms)
{
	struct net_tcp *t = ctx;
	struct pollfd p = {.fd = t->fd, .events = POLLIN};

	if (ms <= 0)
		return;
	if (t->fd < 0 || t->connecting) {
		if (t->connecting)
			p.events = POLLOUT;
		else
			p.fd = -1;
	}
	poll(&p, 1, ms);
}

int hal_net_tcp_new(struct hal_net *n, const char *hostport)
{
	struct net_tcp *t = calloc(1, sizeof(*t));
	const char *colon;
	size_t hl;

	if (!t)
		return HAL_ERR_FULL;
	t->fd = -1;
	if (hostport[0] == '[') { /* [v6]:port */
		const char *end = strchr(hostport, ']');
		if (!end || end[1] != ':')
			goto bad;
		hl = (size_t)(end - hostport - 1);
		if (hl >= sizeof(t->host))
			goto bad;
		memcpy(t->host, hostport + 1, hl);
		colon = end + 1;
	} else {
		colon = strrchr(hostport, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - hostport);
		if (hl == 0 || hl >= sizeof(t->host))
			goto bad;
		memcpy(t->host, hostport, hl);
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(t->port))
		goto bad;
	snprintf(t->port, sizeof(t->port), "%s", colon + 1);
	resolve(t); /* now, before the reader loop runs */
	n->ctx = t;
	n->connect = tcp_connect;
	n->send = tcp_send;
	n->recv = tcp_recv;
	n->close = tcp_close;
	n->wait = tcp_wait;
	return 0;
bad:
	free(t);
	return HAL_ERR_ARG;
}

void hal_net_tcp_free(struct hal_net *n)
{
	if (!n->ctx)
		return;
	tcp_close(n->ctx);
	free(n->ctx);
	n->ctx = NULL;
}
