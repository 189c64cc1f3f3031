/*
 * kioskclient.c - the kiosk side of the protocol for tests and benchmarks
 * (see kioskclient.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kioskclient.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int kc_tcp(const char *host, int port)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

int kc_send_raw(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			if (poll(&pf, 1, 2000) <= 0)
				return -1;
			continue;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int kc_open(struct kc *c, const char *host, int port,
	    const struct tp_key *kiosk_key, const struct tp_key *host_pub,
	    const char *kiosk_id)
{
	uint8_t out[TP_FRAME_MAX];
	size_t n;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (tp_session_init_kiosk(&c->s, kiosk_key, host_pub, kiosk_id) !=
	    TP_OK)
		return -1;
	c->fd = kc_tcp(host, port);
	if (c->fd < 0)
		return -1;
	if (tp_session_start(&c->s, out, sizeof(out), &n) != TP_OK ||
	    kc_send_raw(c->fd, out, n) < 0) {
		kc_close(c);
		return -1;
	}
	return 0;
}

static void track_deny(struct kc *c, const struct tp_denylist *d)
{
	if (d->chunk_index == 0) {
		c->deny_chunks = 0;
		c->deny_acc = 0;
	}
	c->deny_chunks++;
	c->deny_acc += d->n;
	if (d->chunk_index + 1 == d->chunk_count &&
	    c->deny_chunks == d->chunk_count) {
		c->deny_version = d->version;
		c->deny_count = c->deny_acc;
	}
}

int kc_poll(struct kc *c, struct tp_msg *m)
{
	for (;;) {
		size_t fl;
		int rc;

		if (c->fd < 0)
			return -1;
		rc = tp_frame_split(c->rbuf, c->rlen, &fl);
		if (rc == TP_OK) {
			uint8_t reply[TP_FRAME_MAX];
			size_t rl = 0;

			rc = tp_session_recv(&c->s, c->rbuf, fl, m, reply,
					     sizeof(reply), &rl);
			memmove(c->rbuf, c->rbuf + fl, c->rlen - fl);
			c->rlen -= fl;
			if (rl > 0 && kc_send_raw(c->fd, reply, rl) < 0)
				return -1;
			if (rc != TP_OK) {
				c->last_err = rc;
				return -1;
			}
			c->established = tp_session_established(&c->s);
			if (m->type == TP_MSG_NONE)
				continue;
			if (m->type == TP_MSG_DENYLIST)
				track_deny(c, &m->u.deny);
			return 1;
		}
		if (rc != TP_ERR_NEED_MORE) {
			c->last_err = rc;
			return -1;
		}
		{
			ssize_t n = read(c->fd, c->rbuf + c->rlen,
					 sizeof(c->rbuf) - c->rlen);

			if (n == 0) {
				c->closed = 1;
				return -1;
			}
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				c->closed = 1;
				return -1;
			}
			c->rlen += (size_t)n;
		}
	}
}

int kc_wait(struct kc *c, struct tp_msg *m, int timeout_ms)
{
	uint64_t until = mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd pf = {.fd = c->fd, .events = POLLIN};
		uint64_t now;
		int rc = kc_poll(c, m);

		if (rc != 0)
			return rc;
		now = mono_ms();
		if (now >= until)
			return 0;
		poll(&pf, 1, (int)(until - now));
	}
}

int kc_wait_type(struct kc *c, int type, struct tp_msg *m, int timeout_ms)
{
	uint64_t until = mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		uint64_t now = mono_ms();
		int rc;

		if (now >= until)
			return 0;
		rc = kc_wait(c, m, (int)(until - now));
		if (rc <= 0)
			return rc;
		if (m->type == type)
			return 1;
	}
}

int kc_connect(struct kc *c, const char *host, int port,
	       const struct tp_key *kiosk_key, const struct tp_key *host_pub,
	       const char *kiosk_id, int timeout_ms)
{
	uint64_t until = mono_ms() + (uint64_t)timeout_ms;

	if (kc_open(c, host, port, kiosk_key, host_pub, kiosk_id) < 0)
		return -1;
	while (!tp_session_established(&c->s)) {
		struct pollfd pf = {.fd = c->fd, .events = POLLIN};
		struct tp_msg m;
		uint64_t now = mono_ms();
		int rc;

		if (now >= until)
			goto fail;
		poll(&pf, 1, (int)(until - now));
		rc = kc_poll(c, &m);
		if (rc < 0)
			goto fail;
		if (tp_session_established(&c->s))
			break;
	}
	c->established = 1;
	return 0;
fail:
	kc_close(c);
	return -1;
}

int kc_send(struct kc *c, const struct tp_msg *m)
{
	uint8_t out[TP_FRAME_MAX];
	size_t n;

	if (c->fd < 0 ||
	    tp_session_seal(&c->s, m, out, sizeof(out), &n) != TP_OK)
		return -1;
	return kc_send_raw(c->fd, out, n);
}

int kc_send_tap(struct kc *c, const uint8_t rid[16], const char *benefit,
		const char *sun)
{
	struct tp_msg m;
	struct timespec ts;

	memset(&m, 0, sizeof(m));
	m.type = TP_MSG_TAP_REQUEST;
	memcpy(m.u.tap.request_id, rid, 16);
	clock_gettime(CLOCK_REALTIME, &ts);
	m.u.tap.kiosk_time_ms =
	    (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	strncpy(m.u.tap.benefit, benefit, TP_BENEFIT_MAX);
	strncpy(m.u.tap.sun, sun, TP_SUN_MAX);
	return kc_send(c, &m);
}

int kc_tap(struct kc *c, const uint8_t rid[16], const char *benefit,
	   const char *sun, struct tp_decision *d, int timeout_ms)
{
	uint64_t until = mono_ms() + (uint64_t)timeout_ms;
	struct tp_msg m;

	if (kc_send_tap(c, rid, benefit, sun) < 0)
		return -1;
	for (;;) {
		uint64_t now = mono_ms();
		int rc;

		if (now >= until)
			return 0;
		rc = kc_wait_type(c, TP_MSG_DECISION, &m, (int)(until - now));
		if (rc <= 0)
			return rc;
		if (memcmp(m.u.decision.request_id, rid, 16) == 0) {
			*d = m.u.decision;
			return 1;
		}
	}
}

int kc_send_record(struct kc *c, const uint8_t *rec, size_t len)
{
	struct tp_msg m;

	if (len > sizeof(m.u.record.bytes))
		return -1;
	memset(&m, 0, sizeof(m));
	m.type = TP_MSG_RECORD;
	m.u.record.len = (uint16_t)len;
	memcpy(m.u.record.bytes, rec, len);
	return kc_send(c, &m);
}

void kc_close(struct kc *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	tp_session_clear(&c->s);
}
