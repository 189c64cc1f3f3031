/*
 * proto_session.c - the session state machine: signed handshake, key
 * derivation, sealed frames with strictly increasing sequence numbers.
 *
 * Handshake (PROTOCOL.md, "Handshake"):
 *
 *   kiosk                                         host
 *   HELLO  vmin vmax id  eK  nK          ----->   lookup(id) -> kiosk pub
 *                                        <-----   HELLO_REPLY v eH nH sigH
 *   verify sigH with pinned host key              sigH = Sign(host, T1)
 *   AUTH   sigK = Sign(kiosk, T2)        ----->   verify sigK with kiosk pub
 *
 *   T1 = SHA-256(label | HELLO frame | HELLO_REPLY frame up to sigH)
 *   T2 = SHA-256(label | HELLO frame | HELLO_REPLY frame | AUTH header)
 *   TH = SHA-256(label | HELLO frame | HELLO_REPLY frame | AUTH frame)
 *   k_kh | k_hk = HKDF-SHA256(salt = TH, ikm = X25519(eK, eH),
 *                             info = "tapaid v1 session keys", 64)
 *
 * So the host pays one ECDSA sign and one verify per session; every later
 * frame costs one AEAD operation.
 */
#include "proto_int.h"

static const char hs_label[] = "tapaid v1 handshake";
static const char kdf_info[] = "tapaid v1 session keys";

/* Wipes every secret the session holds. */
static void wipe_secrets(struct tp_session *s)
{
	tp_wipe(s->eph_priv, sizeof(s->eph_priv));
	tp_wipe(s->shared, sizeof(s->shared));
	tp_wipe(s->tx_key, sizeof(s->tx_key));
	tp_wipe(s->rx_key, sizeof(s->rx_key));
	tp_wipe(&s->th, sizeof(s->th));
}

/* Every error is final: wipe, remember why, refuse everything after. */
static int fail(struct tp_session *s, int rc)
{
	wipe_secrets(s);
	s->state = TP_SS_FAILED;
	s->last_err = rc;
	return rc;
}

void tp_session_clear(struct tp_session *s)
{
	if (!s)
		return;
	wipe_secrets(s);
	tp_wipe(s, sizeof(*s));
}

static int th_start(struct tp_session *s)
{
	int rc = tp_sha256_start(&s->th);

	if (!rc)
		rc = tp_sha256_update(&s->th, hs_label, sizeof(hs_label) - 1);
	return rc;
}

/* The hash of the transcript so far, leaving the running hash intact. */
static int th_peek(const struct tp_session *s, uint8_t out[static 32])
{
	struct tp_sha256_ctx c = s->th;
	int rc = tp_sha256_finish(&c, out);

	tp_wipe(&c, sizeof(c));
	return rc;
}

/* Derives both direction keys from the shared secret and the final hash. */
static int derive(struct tp_session *s)
{
	uint8_t th[32], k[64];
	static const uint8_t zero[32];
	int rc;

	if (tp_memeq(s->shared, zero, 32))
		return TP_ERR_VALUE; /* a low-order X25519 point */
	if ((rc = tp_sha256_finish(&s->th, th)))
		goto out;
	rc = tp_hkdf_sha256(th, 32, s->shared, 32, (const uint8_t *)kdf_info,
			    sizeof(kdf_info) - 1, k, sizeof(k));
	if (rc)
		goto out;
	if (s->role == TP_ROLE_KIOSK) {
		memcpy(s->tx_key, k, 32);
		memcpy(s->rx_key, k + 32, 32);
	} else {
		memcpy(s->rx_key, k, 32);
		memcpy(s->tx_key, k + 32, 32);
	}
	s->tx_seq = s->rx_seq = 0;
out:
	tp_wipe(k, sizeof(k));
	tp_wipe(s->shared, sizeof(s->shared));
	tp_wipe(&s->th, sizeof(s->th));
	return rc;
}

int tp_session_init_kiosk(struct tp_session *s, const struct tp_key *kiosk_key,
			  const struct tp_key *host_pub, const char *kiosk_id)
{
	if (!s)
		return TP_ERR_ARG;
	memset(s, 0, sizeof(*s));
	if (!kiosk_key || !host_pub || !kiosk_id ||
	    !tp_key_can_sign(kiosk_key) ||
	    str_ok(kiosk_id, 1, TP_KIOSK_ID_MAX, STR_PRINT))
		return TP_ERR_ARG;
	s->role = TP_ROLE_KIOSK;
	s->state = TP_SS_INIT;
	s->own_key = kiosk_key;
	s->peer_key = host_pub;
	memcpy(s->kiosk_id, kiosk_id, strlen(kiosk_id) + 1);
	return TP_OK;
}

int tp_session_init_host(struct tp_session *s, const struct tp_key *host_key,
			 tp_kiosk_lookup_fn lookup, void *lookup_ctx)
{
	if (!s)
		return TP_ERR_ARG;
	memset(s, 0, sizeof(*s));
	if (!host_key || !lookup || !tp_key_can_sign(host_key))
		return TP_ERR_ARG;
	s->role = TP_ROLE_HOST;
	s->state = TP_SS_INIT;
	s->own_key = host_key;
	s->lookup = lookup;
	s->lookup_ctx = lookup_ctx;
	return TP_OK;
}

int tp_session_start(struct tp_session *s, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	uint8_t eph_pub[32], nonce[32];
	size_t id_len;
	struct wbuf w;
	int rc;

	if (!s || !out || !out_len)
		return TP_ERR_ARG;
	*out_len = 0;
	if (s->role != TP_ROLE_KIOSK || s->state != TP_SS_INIT)
		return TP_ERR_STATE;
	id_len = strlen(s->kiosk_id);
	if (cap < TP_FRAME_HDR_LEN + 3 + id_len + 64)
		return TP_ERR_ARG;
	if ((rc = tp_x25519_keypair(s->eph_priv, eph_pub)) ||
	    (rc = tp_random(nonce, sizeof(nonce))))
		return fail(s, rc);
	wb_init(&w, out, cap);
	frame_hdr(&w, 1, TP_FRAME_HELLO, (uint16_t)(3 + id_len + 64));
	wb_u8(&w, TP_VERSION_MIN);
	wb_u8(&w, TP_VERSION_MAX);
	wb_str8(&w, s->kiosk_id);
	wb_bytes(&w, eph_pub, 32);
	wb_bytes(&w, nonce, 32);
	if (w.err)
		return fail(s, w.err);
	if ((rc = th_start(s)) || (rc = tp_sha256_update(&s->th, out, w.len)))
		return fail(s, rc);
	s->state = TP_SS_HELLO_SENT;
	*out_len = w.len;
	return TP_OK;
}

/* A plaintext ERROR frame refusing a handshake (host side). */
static void plain_error(int err, const char *text, uint8_t *out, size_t cap,
			size_t *out_len)
{
	struct wbuf w;
	size_t n = strlen(text);

	wb_init(&w, out, cap);
	frame_hdr(&w, 1, TP_FRAME_ERROR, (uint16_t)(3 + n));
	wb_u16(&w, (uint16_t)-err);
	wb_str8(&w, text);
	*out_len = w.err ? 0 : w.len;
}

/* Host: HELLO in, HELLO_REPLY out. */
static int host_hello(struct tp_session *s, const uint8_t *frame, size_t len,
		      const struct tp_frame_hdr *fh, uint8_t *reply, size_t cap,
		      size_t *reply_len)
{
	struct tp_hello h;
	const struct tp_key *pub = NULL;
	uint8_t eph_pub[32], nonce[32], t1[32], sig[64];
	struct wbuf w;
	int v, rc;

	if ((rc = tp_hello_decode(fh->body, fh->body_len, &h)))
		return rc;
	/* The highest version both speak. */
	v = h.version_max < TP_VERSION_MAX ? h.version_max : TP_VERSION_MAX;
	if (v < h.version_min || v < TP_VERSION_MIN) {
		plain_error(TP_ERR_VERSION, "no common protocol version", reply,
			    cap, reply_len);
		return TP_ERR_VERSION;
	}
	rc = s->lookup(s->lookup_ctx, h.kiosk_id, &pub);
	if (rc || !pub) {
		plain_error(TP_ERR_UNKNOWN_PEER, "kiosk_not_enrolled", reply,
			    cap, reply_len);
		return TP_ERR_UNKNOWN_PEER;
	}
	if (cap < TP_FRAME_HDR_LEN + TP_HELLO_REPLY_LEN)
		return TP_ERR_ARG;
	s->peer_key = pub;
	s->version = (uint8_t)v;
	memcpy(s->kiosk_id, h.kiosk_id, sizeof(s->kiosk_id));
	if ((rc = tp_x25519_keypair(s->eph_priv, eph_pub)) ||
	    (rc = tp_random(nonce, sizeof(nonce))) ||
	    (rc = tp_x25519_shared(s->eph_priv, h.eph_pub, s->shared)))
		return rc;
	tp_wipe(s->eph_priv, sizeof(s->eph_priv));

	wb_init(&w, reply, cap);
	frame_hdr(&w, s->version, TP_FRAME_HELLO_REPLY, TP_HELLO_REPLY_LEN);
	wb_u8(&w, s->version);
	wb_bytes(&w, eph_pub, 32);
	wb_bytes(&w, nonce, 32);
	if (w.err)
		return w.err;
	if ((rc = th_start(s)) || (rc = tp_sha256_update(&s->th, frame, len)) ||
	    (rc = tp_sha256_update(&s->th, reply, w.len)) ||
	    (rc = th_peek(s, t1)) || (rc = tp_sign(s->own_key, t1, sig)))
		return rc;
	wb_bytes(&w, sig, 64);
	if (w.err)
		return w.err;
	if ((rc = tp_sha256_update(&s->th, sig, 64)))
		return rc;
	s->state = TP_SS_REPLY_SENT;
	*reply_len = w.len;
	return TP_OK;
}

/* Kiosk: HELLO_REPLY in, AUTH out, session established. */
static int kiosk_reply(struct tp_session *s, const uint8_t *frame,
		       const struct tp_frame_hdr *fh, uint8_t *reply,
		       size_t cap, size_t *reply_len)
{
	struct tp_hello_reply rp;
	uint8_t t[32], sig[64];
	struct wbuf w;
	int rc;

	if ((rc = tp_hello_reply_decode(fh->body, fh->body_len, &rp)))
		return rc;
	if (rp.version < TP_VERSION_MIN || rp.version > TP_VERSION_MAX ||
	    fh->version != rp.version)
		return TP_ERR_VERSION;
	if (cap < TP_FRAME_HDR_LEN + TP_AUTH_LEN)
		return TP_ERR_ARG;
	/* T1: everything up to the host's signature. */
	if ((rc = tp_sha256_update(
		 &s->th, frame, TP_FRAME_HDR_LEN + TP_HELLO_REPLY_LEN - 64)) ||
	    (rc = th_peek(s, t)))
		return rc;
	if (tp_verify(s->peer_key, t, rp.sig) != TP_OK)
		return TP_ERR_SIGNATURE;
	if ((rc = tp_sha256_update(&s->th, rp.sig, 64)))
		return rc;
	rc = tp_x25519_shared(s->eph_priv, rp.eph_pub, s->shared);
	tp_wipe(s->eph_priv, sizeof(s->eph_priv));
	if (rc)
		return rc;
	s->version = rp.version;

	wb_init(&w, reply, cap);
	frame_hdr(&w, s->version, TP_FRAME_AUTH, TP_AUTH_LEN);
	if ((rc = tp_sha256_update(&s->th, reply, w.len)) ||
	    (rc = th_peek(s, t)) || (rc = tp_sign(s->own_key, t, sig)))
		return rc;
	wb_bytes(&w, sig, 64);
	if (w.err)
		return w.err;
	if ((rc = tp_sha256_update(&s->th, sig, 64)) || (rc = derive(s)))
		return rc;
	s->state = TP_SS_ESTABLISHED;
	*reply_len = w.len;
	return TP_OK;
}

/* Host: AUTH in, session established. */
static int host_auth(struct tp_session *s, const uint8_t *frame,
		     const struct tp_frame_hdr *fh)
{
	struct tp_auth a;
	uint8_t t2[32];
	int rc;

	if ((rc = tp_auth_decode(fh->body, fh->body_len, &a)))
		return rc;
	if ((rc = tp_sha256_update(&s->th, frame, TP_FRAME_HDR_LEN)) ||
	    (rc = th_peek(s, t2)))
		return rc;
	if (tp_verify(s->peer_key, t2, a.sig) != TP_OK)
		return TP_ERR_SIGNATURE;
	if ((rc = tp_sha256_update(&s->th, a.sig, 64)) || (rc = derive(s)))
		return rc;
	s->state = TP_SS_ESTABLISHED;
	return TP_OK;
}

/* Which application messages each side may receive (and the other send). */
static int allowed_from(uint8_t role_of_sender, uint8_t type)
{
	switch (type) {
	case TP_MSG_TAP_REQUEST:
	case TP_MSG_STATUS:
	case TP_MSG_RECORD:
		return role_of_sender == TP_ROLE_KIOSK;
	case TP_MSG_DECISION:
	case TP_MSG_STATUS_ACK:
	case TP_MSG_DENYLIST:
	case TP_MSG_RECORD_ACK:
		return role_of_sender == TP_ROLE_HOST;
	case TP_MSG_ERROR:
	case TP_MSG_BYE:
		return 1;
	default:
		return 0;
	}
}

static uint8_t peer_role(const struct tp_session *s)
{
	return s->role == TP_ROLE_KIOSK ? TP_ROLE_HOST : TP_ROLE_KIOSK;
}

/*
 * Stage 4: the frame opened under the expected sequence number and decoded
 * into an allowed message; only now does the receive state move.
 */
static int session_accept(struct tp_session *s, const struct tp_msg *m)
{
	if (!allowed_from(peer_role(s), m->type))
		return TP_ERR_STATE;
	s->rx_seq++;
	if (m->type == TP_MSG_BYE) {
		wipe_secrets(s);
		s->state = TP_SS_CLOSED;
	}
	return TP_OK;
}

static int recv_sealed(struct tp_session *s, const uint8_t *frame, size_t len,
		       const struct tp_frame_hdr *fh, struct tp_msg *msg)
{
	uint8_t pt[TP_MSG_MAX];
	size_t pt_len = 0;
	int rc;

	if (fh->version != s->version)
		return TP_ERR_VERSION;
	rc = tp_frame_open(s->rx_key, s->rx_seq, frame, len, pt, sizeof(pt),
			   &pt_len);
	if (!rc)
		rc = tp_msg_decode(pt, pt_len, msg);
	if (!rc)
		rc = session_accept(s, msg);
	/* the plaintext is never longer than the frame */
	tp_wipe(pt, len < sizeof(pt) ? len : sizeof(pt));
	return rc;
}

int tp_session_recv(struct tp_session *s, const uint8_t *frame, size_t len,
		    struct tp_msg *msg, uint8_t *reply, size_t cap,
		    size_t *reply_len)
{
	struct tp_frame_hdr fh;
	struct tp_plain_error pe;
	int rc;

	if (!s || !msg || !reply_len || (!reply && cap))
		return TP_ERR_ARG;
	msg->type = TP_MSG_NONE;
	*reply_len = 0;
	if (s->state == TP_SS_FAILED || s->state == TP_SS_CLOSED ||
	    (s->role != TP_ROLE_KIOSK && s->role != TP_ROLE_HOST))
		return TP_ERR_STATE;
	if ((rc = tp_frame_parse(frame, len, &fh)))
		return fail(s, rc);

	/* A plaintext ERROR ends any handshake; it is never trusted. */
	if (fh.type == TP_FRAME_ERROR && s->state != TP_SS_ESTABLISHED) {
		if ((rc = tp_plain_error_decode(fh.body, fh.body_len, &pe)))
			return fail(s, rc);
		s->peer_error = pe.code;
		return fail(s, TP_ERR_REFUSED);
	}

	switch (s->state) {
	case TP_SS_INIT:
		if (s->role != TP_ROLE_HOST || fh.type != TP_FRAME_HELLO) {
			rc = TP_ERR_STATE;
			break;
		}
		rc = host_hello(s, frame, len, &fh, reply, cap, reply_len);
		break;
	case TP_SS_HELLO_SENT:
		rc = fh.type == TP_FRAME_HELLO_REPLY
			 ? kiosk_reply(s, frame, &fh, reply, cap, reply_len)
			 : TP_ERR_STATE;
		break;
	case TP_SS_REPLY_SENT:
		rc = fh.type == TP_FRAME_AUTH ? host_auth(s, frame, &fh)
					      : TP_ERR_STATE;
		break;
	case TP_SS_ESTABLISHED:
		rc = fh.type == TP_FRAME_SEALED
			 ? recv_sealed(s, frame, len, &fh, msg)
			 : TP_ERR_STATE;
		break;
	default:
		rc = TP_ERR_STATE;
	}
	if (rc) {
		/* Only a host's plaintext refusal may stay in reply. */
		if (!(s->role == TP_ROLE_HOST &&
		      (rc == TP_ERR_UNKNOWN_PEER || rc == TP_ERR_VERSION) &&
		      s->state == TP_SS_INIT))
			*reply_len = 0;
		memset(msg, 0, sizeof(*msg));
		return fail(s, rc);
	}
	return TP_OK;
}

int tp_session_seal(struct tp_session *s, const struct tp_msg *m, uint8_t *out,
		    size_t cap, size_t *out_len)
{
	uint8_t pt[TP_MSG_MAX];
	size_t pt_len = 0;
	int rc;

	if (!s || !m || !out || !out_len)
		return TP_ERR_ARG;
	*out_len = 0;
	if (s->state != TP_SS_ESTABLISHED)
		return TP_ERR_STATE;
	if (!allowed_from(s->role, m->type))
		return TP_ERR_STATE;
	if (s->tx_seq >= TP_SEQ_LIMIT)
		return fail(s, TP_ERR_COUNTER);
	rc = tp_msg_encode(m, pt, sizeof(pt), &pt_len);
	if (!rc)
		rc = tp_frame_seal(s->tx_key, s->version, s->tx_seq, pt, pt_len,
				   out, cap, out_len);
	tp_wipe(pt, pt_len);
	if (rc)
		return rc; /* nothing was sent: the session is unchanged */
	s->tx_seq++;
	if (m->type == TP_MSG_BYE) {
		wipe_secrets(s);
		s->state = TP_SS_CLOSED;
	}
	return TP_OK;
}

int tp_session_established(const struct tp_session *s)
{
	return s && s->state == TP_SS_ESTABLISHED;
}

const char *tp_session_kiosk_id(const struct tp_session *s)
{
	if (!s || (s->role == TP_ROLE_HOST && s->state != TP_SS_ESTABLISHED &&
		   s->state != TP_SS_CLOSED))
		return "";
	return s->kiosk_id;
}

const struct tp_key *tp_session_peer_key(const struct tp_session *s)
{
	return s ? s->peer_key : NULL;
}

int tp_session_error(const struct tp_session *s)
{
	return s ? s->last_err : TP_ERR_ARG;
}

int tp_session_peer_error(const struct tp_session *s)
{
	return s ? s->peer_error : 0;
}
