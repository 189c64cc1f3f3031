/*
 * net_fake.c - a network whose far end is a host in the same process.
 *
 * The host side is real protocol code: tp_session_init_host() with the
 * host's private key, the kiosk's enrolled public key, the signed
 * handshake, sealed frames, and tp_record_decode_verify() for offline
 * records.  Only the decision itself is scripted (fake_host.reason/left).
 * Like the real host it answers a repeated request id with the first
 * decision and never counts a redemption twice.
 */
#include <string.h>

#include "hal/fakes.h"

static int lookup(void *ctx, const char *kiosk_id, const struct tp_key **pub)
{
	struct fake_host *h = ctx;

	if (h->refuse)
		return TP_ERR_UNKNOWN_PEER;
	*pub = h->kiosk_pub;
	return 0;
}

static void out_bytes(struct fake_host *h, const uint8_t *b, size_t n)
{
	if (n <= sizeof(h->h2k) - h->h2k_len) {
		memcpy(h->h2k + h->h2k_len, b, n);
		h->h2k_len += n;
	}
}

static void seal(struct fake_host *h, const struct tp_msg *m)
{
	uint8_t f[TP_FRAME_MAX];
	size_t n;

	if (tp_session_seal(&h->s, m, f, sizeof(f), &n) == 0)
		out_bytes(h, f, n);
}

static int seen(struct fake_host *h, const uint8_t id[16])
{
	for (unsigned i = 0; i < h->nseen; i++)
		if (memcmp(h->seen_req[i], id, 16) == 0)
			return (int)i;
	return -1;
}

static void remember(struct fake_host *h, const uint8_t id[16], int reason)
{
	if (h->nseen < FAKE_HOST_REQ_MAX) {
		memcpy(h->seen_req[h->nseen], id, 16);
		h->seen_reason[h->nseen] = (uint8_t)reason;
		h->nseen++;
	}
	if (reason == TP_REASON_GRANTED)
		h->redemptions++;
}

static void send_deny(struct fake_host *h)
{
	struct tp_msg m;
	unsigned chunks =
	    (h->ndeny + TP_DENY_CHUNK_MAX - 1) / TP_DENY_CHUNK_MAX;

	if (chunks == 0)
		chunks = 1;
	for (unsigned c = 0; c < chunks; c++) {
		memset(&m, 0, sizeof(m));
		m.type = TP_MSG_DENYLIST;
		m.u.deny.version = h->deny_version;
		m.u.deny.chunk_index = (uint16_t)c;
		m.u.deny.chunk_count = (uint16_t)chunks;
		unsigned first = c * TP_DENY_CHUNK_MAX, n = h->ndeny - first;
		if (n > TP_DENY_CHUNK_MAX)
			n = TP_DENY_CHUNK_MAX;
		if (first > h->ndeny)
			n = 0;
		m.u.deny.n = (uint8_t)n;
		memcpy(m.u.deny.ids, h->deny_ids[first], (size_t)n * 16);
		seal(h, &m);
	}
}

static void on_msg(struct fake_host *h, const struct tp_msg *in)
{
	struct tp_msg m;
	struct tp_record rec;
	int i;

	memset(&m, 0, sizeof(m));
	switch (in->type) {
	case TP_MSG_TAP_REQUEST:
		h->taps++;
		memcpy(h->last_sun, in->u.tap.sun, sizeof(h->last_sun));
		memcpy(h->last_lookup, in->u.tap.lookup_id, 16);
		i = seen(h, in->u.tap.request_id);
		m.type = TP_MSG_DECISION;
		memcpy(m.u.decision.request_id, in->u.tap.request_id, 16);
		m.u.decision.reason =
		    (uint8_t)(i >= 0 ? h->seen_reason[i] : h->reason);
		if (i < 0)
			remember(h, in->u.tap.request_id, h->reason);
		m.u.decision.result = m.u.decision.reason == TP_REASON_GRANTED;
		memcpy(m.u.decision.benefit, in->u.tap.benefit,
		       sizeof(m.u.decision.benefit));
		m.u.decision.left = h->left;
		memcpy(m.u.decision.name, h->name, sizeof(h->name));
		m.u.decision.host_time_ms = (uint64_t)h->host_time_ms;
		if (!h->silent)
			seal(h, &m);
		break;
	case TP_MSG_STATUS:
		h->statuses++;
		h->last_status = in->u.status;
		m.type = TP_MSG_STATUS_ACK;
		m.u.status_ack.host_time_ms = (uint64_t)h->host_time_ms;
		m.u.status_ack.denylist_version = h->deny_version;
		seal(h, &m);
		if (h->deny_version > in->u.status.denylist_version)
			send_deny(h);
		break;
	case TP_MSG_RECORD:
		h->records++;
		m.type = TP_MSG_RECORD_ACK;
		if (tp_record_decode_verify(in->u.record.bytes,
					    in->u.record.len, h->kiosk_pub,
					    &rec) != 0) {
			m.u.record_ack.status = TP_RECORD_REJECTED;
			m.u.record_ack.reason = TP_REASON_BAD_SIGNATURE;
			tp_record_decode(in->u.record.bytes, in->u.record.len,
					 &rec);
		} else if (seen(h, rec.request_id) >= 0) {
			h->dup_records++;
			m.u.record_ack.status = TP_RECORD_DUPLICATE;
		} else {
			remember(h, rec.request_id, TP_REASON_GRANTED);
			m.u.record_ack.status = TP_RECORD_APPLIED;
		}
		m.u.record_ack.record_seq = rec.seq;
		if (!h->no_record_ack)
			seal(h, &m);
		break;
	default:
		break;
	}
}

void fake_host_run(struct fake_host *h)
{
	struct tp_msg m;
	uint8_t reply[TP_FRAME_MAX];
	size_t fl, rn;

	while (h->connected && h->k2h_len > 0) {
		int rc = tp_frame_split(h->k2h, h->k2h_len, &fl);
		if (rc == TP_ERR_NEED_MORE)
			return;
		if (rc != 0) {
			fake_host_drop(h);
			return;
		}
		bool was_up = tp_session_established(&h->s);
		rc = tp_session_recv(&h->s, h->k2h, fl, &m, reply,
				     sizeof(reply), &rn);
		memmove(h->k2h, h->k2h + fl, h->k2h_len - fl);
		h->k2h_len -= fl;
		if (rn > 0)
			out_bytes(h, reply, rn);
		if (rc != 0) {
			/* Let the kiosk read the ERROR frame, then close. */
			h->connected = false;
			return;
		}
		if (!was_up && tp_session_established(&h->s))
			h->handshakes++;
		if (m.type != TP_MSG_NONE)
			on_msg(h, &m);
	}
}

void fake_host_drop(struct fake_host *h)
{
	h->connected = false;
	h->h2k_len = 0;
	h->k2h_len = 0;
	tp_session_clear(&h->s);
}

void fake_host_accept(struct fake_host *h)
{
	fake_host_drop(h);
	h->connects++;
	h->connected = true;
	h->k2h_len = h->h2k_len = 0;
	tp_session_init_host(&h->s, h->host_key, lookup, h);
}

static int fn_connect(void *ctx)
{
	struct fake_host *h = ctx;

	if (h->down)
		return HAL_ERR_IO;
	h->connects++;
	h->connected = true;
	h->k2h_len = h->h2k_len = 0;
	tp_session_init_host(&h->s, h->host_key, lookup, h);
	return 0;
}

static ssize_t fn_send(void *ctx, const uint8_t *b, size_t n)
{
	struct fake_host *h = ctx;

	if (!h->connected || h->down)
		return HAL_ERR_GONE;
	if (n > sizeof(h->k2h) - h->k2h_len)
		n = sizeof(h->k2h) - h->k2h_len;
	memcpy(h->k2h + h->k2h_len, b, n);
	h->k2h_len += n;
	return (ssize_t)n;
}

static ssize_t fn_recv(void *ctx, uint8_t *b, size_t cap)
{
	struct fake_host *h = ctx;
	size_t n;

	if (h->down)
		fake_host_drop(h);
	/*
	 * Like a network, answers to what the kiosk sends in one turn of its
	 * receive loop arrive in a later turn: after a recv that gave bytes,
	 * the next one gives nothing and the host does not run.
	 */
	if (h->turn_done) {
		h->turn_done = false;
		return h->connected ? 0 : HAL_ERR_GONE;
	}
	fake_host_run(h);
	if (h->h2k_len == 0)
		return h->connected ? 0 : HAL_ERR_GONE;
	h->turn_done = true;
	n = h->h2k_len < cap ? h->h2k_len : cap;
	memcpy(b, h->h2k, n);
	memmove(h->h2k, h->h2k + n, h->h2k_len - n);
	h->h2k_len -= n;
	return (ssize_t)n;
}

static void fn_close(void *ctx)
{
	fake_host_drop(ctx);
}

static void fn_wait(void *ctx, int ms)
{
}

void fake_net_init(struct hal_net *n, struct fake_host *h)
{
	n->ctx = h;
	n->connect = fn_connect;
	n->send = fn_send;
	n->recv = fn_recv;
	n->close = fn_close;
	n->wait = fn_wait;
}
