/*
 * kiosk_link.c - the kiosk's session with the host, over hal_net.
 *
 * It drives the protocol library's session (tapaid/proto.h): the signed
 * handshake against the pinned host key, sealed frames after it, and
 * reconnection with exponential back-off and jitter when anything fails.
 * Once up, it sends a STATUS heartbeat (reader state, queue depth,
 * firmware, clock), takes deny-list updates, and uploads the offline queue
 * one record at a time, in order, moving the store's cursor only when the
 * host has acknowledged the record.
 *
 * Nothing here waits: kiosk_link_service() moves what bytes it can and
 * returns.  All buffers are allocated in kiosk_link_setup().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiosk_int.h"
#include "tapaid/proto.h"

enum link_state { L_DOWN, L_CONNECTING, L_HANDSHAKE, L_UP };

#define RECORD_ACK_TIMEOUT_MS 15000
#define DENY_CHUNKS_MAX	      (KIOSK_DENY_MAX / TP_DENY_CHUNK_MAX)

struct kiosk_link {
	enum link_state st;
	struct tp_session s;
	struct tp_key *host_pub;
	uint8_t *rx, *tx, *frame, *rec;
	size_t rxlen, txlen;
	struct tp_msg msg;
	uint64_t retry_at, deadline, next_status, last_rx;
	unsigned backoff_ms;
	bool refused; /* the host said this kiosk is not enrolled */
	bool rec_inflight;
	uint64_t rec_seq;
	uint64_t rec_sent_at;
	/* A deny list being received in chunks. */
	uint8_t *deny_stage;
	uint8_t *deny_seen; /* one byte per chunk */
	uint32_t deny_ver;
	uint16_t deny_count, deny_got;
	size_t deny_n[DENY_CHUNKS_MAX];
};

int kiosk_link_setup(struct kiosk *k)
{
	struct kiosk_link *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return HAL_ERR_FULL;
	k->link = l;
	l->rx = malloc(KIOSK_NET_BUF);
	l->tx = malloc(KIOSK_NET_BUF);
	l->frame = malloc(TP_FRAME_MAX);
	l->rec = malloc(KIOSK_JREC_HDR + KIOSK_REC_MAX);
	l->deny_stage = malloc((size_t)KIOSK_DENY_MAX * KIOSK_LOOKUP_LEN);
	l->deny_seen = calloc(DENY_CHUNKS_MAX, 1);
	if (!l->rx || !l->tx || !l->frame || !l->rec || !l->deny_stage ||
	    !l->deny_seen)
		return HAL_ERR_FULL;
	rc = tp_key_from_public_raw(k->cfg.host_pub, &l->host_pub);
	if (rc != 0)
		return rc;
	l->st = L_DOWN;
	l->backoff_ms = k->cfg.backoff_min_ms;
	l->retry_at = 0;
	return 0;
}

void kiosk_link_teardown(struct kiosk *k)
{
	struct kiosk_link *l = k->link;

	if (!l)
		return;
	if (l->st != L_DOWN)
		k->hal.net.close(k->hal.net.ctx);
	tp_session_clear(&l->s);
	if (l->host_pub)
		tp_key_free(l->host_pub);
	free(l->rx);
	free(l->tx);
	free(l->frame);
	free(l->rec);
	free(l->deny_stage);
	free(l->deny_seen);
	free(l);
	k->link = NULL;
}

bool kiosk_link_up(const struct kiosk *k)
{
	return k->link && k->link->st == L_UP;
}

/* Copies a NUL-terminated string, cutting it to fit cap. */
static void scopy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static uint64_t now_ms(struct kiosk *k)
{
	return k->hal.clock.mono_ms(k->hal.clock.ctx);
}

/* Drops the connection and schedules the next attempt: back-off doubled
 * up to the maximum, with +-25% jitter so that a room of kiosks that lost
 * the host together does not come back in one burst. */
static void link_fail(struct kiosk *k, const char *why)
{
	struct kiosk_link *l = k->link;
	uint16_t r = 0;
	uint64_t wait;

	if (l->st != L_DOWN)
		k->hal.net.close(k->hal.net.ctx);
	k->st.link_error = why;
	tp_session_clear(&l->s);
	l->st = L_DOWN;
	l->rxlen = l->txlen = 0;
	l->rec_inflight = false;
	k->hal.rng.fill(k->hal.rng.ctx, &r, sizeof(r));
	wait = l->backoff_ms * 3 / 4 + (uint64_t)l->backoff_ms * r / 65535 / 2;
	l->retry_at = now_ms(k) + wait;
	l->backoff_ms *= 2;
	if (l->backoff_ms > k->cfg.backoff_max_ms)
		l->backoff_ms = k->cfg.backoff_max_ms;
}

/* Sends what is queued; false when the connection is gone. */
static bool flush(struct kiosk *k)
{
	struct kiosk_link *l = k->link;

	while (l->txlen > 0) {
		ssize_t n = k->hal.net.send(k->hal.net.ctx, l->tx, l->txlen);
		if (n < 0)
			return false;
		if (n == 0)
			break;
		memmove(l->tx, l->tx + n, l->txlen - (size_t)n);
		l->txlen -= (size_t)n;
	}
	return true;
}

static bool queue_bytes(struct kiosk *k, const uint8_t *b, size_t n)
{
	struct kiosk_link *l = k->link;

	if (n > KIOSK_NET_BUF - l->txlen)
		return false; /* the host is not reading: give up on it */
	memcpy(l->tx + l->txlen, b, n);
	l->txlen += n;
	return flush(k);
}

static bool send_msg(struct kiosk *k, const struct tp_msg *m)
{
	struct kiosk_link *l = k->link;
	size_t n;

	if (tp_session_seal(&l->s, m, l->frame, TP_FRAME_MAX, &n) != 0)
		return false;
	return queue_bytes(k, l->frame, n);
}

static enum tp_reader_state reader_state(const struct kiosk *k)
{
	switch (k->st.reader) {
	case KIOSK_READER_OK:
		return TP_READER_OK;
	case KIOSK_READER_RESETTING:
		return TP_READER_RESETTING;
	case KIOSK_READER_DOWN:
		break;
	}
	return TP_READER_ABSENT;
}

static bool send_status(struct kiosk *k)
{
	struct tp_msg m;
	size_t depth = k->hal.store.depth(k->hal.store.ctx);

	memset(&m, 0, sizeof(m));
	m.type = TP_MSG_STATUS;
	m.u.status.reader_state = (uint8_t)reader_state(k);
	m.u.status.queue_depth = (uint32_t)depth;
	m.u.status.offline_pending = (uint32_t)depth;
	m.u.status.usb_resets = k->st.reader_resets;
	m.u.status.denylist_version = (uint32_t)k->deny_version;
	m.u.status.kiosk_time_ms =
	    (uint64_t)k->hal.clock.wall(k->hal.clock.ctx) * 1000;
	scopy(m.u.status.firmware, sizeof(m.u.status.firmware),
	      k->cfg.fw_version);
	return send_msg(k, &m);
}

/* Sends the oldest queued record, if none is on its way already. */
static bool upload(struct kiosk *k)
{
	struct kiosk_link *l = k->link;
	struct hal_store *s = &k->hal.store;
	size_t len;
	uint64_t seq;
	struct tp_msg m;

	if (l->rec_inflight)
		return true;
	if (s->peek(s->ctx, &seq, l->rec, KIOSK_JREC_HDR + KIOSK_REC_MAX,
		    &len) != 0)
		return true;
	if (len <= KIOSK_JREC_HDR || len - KIOSK_JREC_HDR > TP_RECORD_MAX)
		return true; /* cannot happen: the core wrote it */
	m.type = TP_MSG_RECORD;
	m.u.record.len = (uint16_t)(len - KIOSK_JREC_HDR);
	memcpy(m.u.record.bytes, l->rec + KIOSK_JREC_HDR, m.u.record.len);
	if (!send_msg(k, &m))
		return false;
	l->rec_inflight = true;
	l->rec_seq = seq;
	l->rec_sent_at = k->hal.clock.mono_ms(k->hal.clock.ctx);
	return true;
}

static void on_deny_chunk(struct kiosk *k, const struct tp_denylist *d)
{
	struct kiosk_link *l = k->link;

	if (d->chunk_count == 0 || d->chunk_count > DENY_CHUNKS_MAX ||
	    d->chunk_index >= d->chunk_count)
		return;
	if (d->version != l->deny_ver || d->chunk_count != l->deny_count) {
		/* A new list: start over. */
		l->deny_ver = d->version;
		l->deny_count = d->chunk_count;
		l->deny_got = 0;
		memset(l->deny_seen, 0, DENY_CHUNKS_MAX);
	}
	if (l->deny_seen[d->chunk_index])
		return;
	memcpy(l->deny_stage + (size_t)d->chunk_index * TP_DENY_CHUNK_MAX *
				   KIOSK_LOOKUP_LEN,
	       d->ids, (size_t)d->n * KIOSK_LOOKUP_LEN);
	l->deny_n[d->chunk_index] = d->n;
	l->deny_seen[d->chunk_index] = 1;
	if (++l->deny_got < l->deny_count)
		return;
	/* Whole: pack the chunks and swap the list in. */
	size_t n = 0;
	for (unsigned i = 0; i < l->deny_count; i++) {
		memmove(l->deny_stage + n * KIOSK_LOOKUP_LEN,
			l->deny_stage +
			    (size_t)i * TP_DENY_CHUNK_MAX * KIOSK_LOOKUP_LEN,
			l->deny_n[i] * KIOSK_LOOKUP_LEN);
		n += l->deny_n[i];
	}
	kiosk_deny_set(k, l->deny_ver, l->deny_stage, n);
	l->deny_got = 0;
	l->deny_count = 0;
	memset(l->deny_seen, 0, DENY_CHUNKS_MAX);
}

/* Acts on one authenticated message.  false: drop the connection. */
static bool on_msg(struct kiosk *k, const struct tp_msg *m)
{
	struct kiosk_link *l = k->link;
	struct kiosk_decision d;

	switch (m->type) {
	case TP_MSG_DECISION:
		memcpy(d.request_id, m->u.decision.request_id, 16);
		d.reason = m->u.decision.reason < KIOSK_R__COUNT
			       ? (enum kiosk_reason)m->u.decision.reason
			       : KIOSK_R_HOST_UNAVAILABLE;
		d.left = m->u.decision.left;
		scopy(d.name, sizeof(d.name), m->u.decision.name);
		kiosk_on_decision(k, &d);
		return true;
	case TP_MSG_STATUS_ACK:
		k->st.clock_offset_s =
		    (int64_t)(m->u.status_ack.host_time_ms / 1000) -
		    k->hal.clock.wall(k->hal.clock.ctx);
		return true;
	case TP_MSG_DENYLIST:
		on_deny_chunk(k, &m->u.deny);
		return true;
	case TP_MSG_RECORD_ACK:
		if (!l->rec_inflight ||
		    m->u.record_ack.record_seq != l->rec_seq)
			return true; /* not ours to ack: ignore */
		/* Applied, conflict, duplicate or rejected: the host has
		 * it or never will; either way it is not sent again. */
		if (k->hal.store.ack(k->hal.store.ctx, l->rec_seq) != 0) {
			k->st.store_errors++;
			return false; /* retry after a reconnect */
		}
		l->rec_inflight = false;
		k->st.records_uploaded++;
		return upload(k);
	case TP_MSG_ERROR:
		/* The host revoked this kiosk: no offline grants from now on
		 * (they could never be logged), until a session works again. */
		if (m->u.error.code == (uint16_t)-TP_ERR_UNKNOWN_PEER)
			l->refused = true;
		return false;
	case TP_MSG_BYE:
	default:
		return false;
	}
}

/* Reads what has arrived and feeds whole frames to the session.
 * Returns NULL, or why the connection must be dropped. */
static const char *receive(struct kiosk *k, uint64_t now)
{
	struct kiosk_link *l = k->link;
	size_t fl, rn;

	for (;;) {
		ssize_t n = k->hal.net.recv(k->hal.net.ctx, l->rx + l->rxlen,
					    KIOSK_NET_BUF - l->rxlen);
		if (n < 0)
			return "connection closed";
		if (n == 0)
			break;
		l->rxlen += (size_t)n;
		l->last_rx = now;
		for (;;) {
			int rc = tp_frame_split(l->rx, l->rxlen, &fl);
			if (rc == TP_ERR_NEED_MORE)
				break;
			if (rc != 0)
				return tp_strerror(rc);
			rc = tp_session_recv(&l->s, l->rx, fl, &l->msg,
					     l->frame, TP_FRAME_MAX, &rn);
			if (rc == TP_ERR_REFUSED &&
			    tp_session_peer_error(&l->s) ==
				-TP_ERR_UNKNOWN_PEER)
				l->refused = true;
			if (rc != 0)
				return tp_strerror(rc);
			if (rn > 0 && !queue_bytes(k, l->frame, rn))
				return "cannot send";
			memmove(l->rx, l->rx + fl, l->rxlen - fl);
			l->rxlen -= fl;
			if (l->st == L_HANDSHAKE &&
			    tp_session_established(&l->s)) {
				l->st = L_UP;
				l->refused = false;
				l->backoff_ms = k->cfg.backoff_min_ms;
				k->st.host_connects++;
				l->next_status = now;
			}
			if (l->msg.type != TP_MSG_NONE && !on_msg(k, &l->msg))
				return l->msg.type == TP_MSG_ERROR ||
					       l->msg.type == TP_MSG_BYE
					   ? "the host closed the session"
					   : "cannot act on a message";
		}
		if (l->rxlen == KIOSK_NET_BUF)
			return "receive buffer full"; /* not with TP_FRAME_MAX
						       */
	}
	return NULL;
}

static bool start_handshake(struct kiosk *k, uint64_t now)
{
	struct kiosk_link *l = k->link;
	size_t n;

	if (tp_session_init_kiosk(&l->s, k->cfg.kiosk_key, l->host_pub,
				  k->cfg.kiosk_id) != 0 ||
	    tp_session_start(&l->s, l->frame, TP_FRAME_MAX, &n) != 0)
		return false;
	l->st = L_HANDSHAKE;
	l->deadline = now + TP_HANDSHAKE_TIMEOUT_MS;
	l->last_rx = now;
	return queue_bytes(k, l->frame, n);
}

void kiosk_link_service(struct kiosk *k, uint64_t now)
{
	struct kiosk_link *l = k->link;
	int rc;

	switch (l->st) {
	case L_DOWN:
		if (now < l->retry_at)
			return;
		l->deadline = now + TP_HANDSHAKE_TIMEOUT_MS;
		l->st = L_CONNECTING;
		/* fall through */
	case L_CONNECTING:
		rc = k->hal.net.connect(k->hal.net.ctx);
		if (rc == HAL_ERR_AGAIN && now < l->deadline)
			return;
		if (rc != 0 || !start_handshake(k, now)) {
			link_fail(k, rc == HAL_ERR_AGAIN ? "connect timed out"
							 : "cannot connect");
			return;
		}
		break;
	case L_HANDSHAKE:
	case L_UP:
		break;
	}
	const char *why = flush(k) ? receive(k, now) : "cannot send";
	if (why) {
		link_fail(k, why);
		return;
	}
	if (l->st == L_HANDSHAKE) {
		if (now >= l->deadline)
			link_fail(k, "handshake timed out");
		return;
	}
	/* A host that went silent (no RST, e.g. a cable pulled) is dead
	 * after three missed heartbeat answers. */
	if (now > l->last_rx &&
	    now - l->last_rx > 3 * (uint64_t)k->cfg.heartbeat_ms + 5000) {
		link_fail(k, "the host went silent");
		return;
	}
	if (now >= l->next_status) {
		if (!send_status(k)) {
			link_fail(k, "cannot send");
			return;
		}
		l->next_status = now + k->cfg.heartbeat_ms;
	}
	/* A record the host never acknowledges: start a new session, which
	 * sends it again (the host answers a duplicate as such). */
	if (l->rec_inflight && now > l->rec_sent_at &&
	    now - l->rec_sent_at > RECORD_ACK_TIMEOUT_MS) {
		link_fail(k, "no acknowledgement of an offline record");
		return;
	}
	if (!upload(k))
		link_fail(k, "cannot send");
}

int kiosk_link_send_tap(struct kiosk *k)
{
	struct tp_msg m;

	memset(&m, 0, sizeof(m));
	m.type = TP_MSG_TAP_REQUEST;
	memcpy(m.u.tap.request_id, k->tap.request_id, 16);
	memcpy(m.u.tap.lookup_id, k->tap.lookup, 16);
	m.u.tap.kiosk_time_ms = (uint64_t)k->tap.wall * 1000;
	scopy(m.u.tap.benefit, sizeof(m.u.tap.benefit), k->cfg.benefit);
	scopy(m.u.tap.sun, sizeof(m.u.tap.sun), k->tap.url);
	if (!send_msg(k, &m)) {
		link_fail(k, "cannot send");
		return -1;
	}
	return 0;
}

bool kiosk_link_refused(const struct kiosk *k)
{
	return k->link && k->link->refused;
}

int kiosk_link_record(struct kiosk *k, uint8_t *out, size_t cap, size_t *len)
{
	struct tp_record r;

	memset(&r, 0, sizeof(r));
	scopy(r.kiosk_id, sizeof(r.kiosk_id), k->cfg.kiosk_id);
	r.seq = k->hal.store.next_seq(k->hal.store.ctx);
	memcpy(r.request_id, k->tap.request_id, 16);
	memcpy(r.lookup_id, k->tap.lookup, 16);
	scopy(r.benefit, sizeof(r.benefit), k->cfg.benefit);
	/* The time of the tap on the host's clock, as far as the kiosk knows
	 * it: its own clock corrected by the offset learned from the last
	 * STATUS_ACK, so a skewed kiosk files its record on the right day. */
	r.kiosk_time_ms = (uint64_t)(k->tap.wall + k->st.clock_offset_s) * 1000;
	r.reason = TP_REASON_GRANTED;
	r.offline = 1;
	scopy(r.sun, sizeof(r.sun), k->tap.url);
	return tp_record_encode_signed(&r, k->cfg.kiosk_key, out, cap, len);
}
