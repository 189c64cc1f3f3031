/*
 * proto_frame.c - framing over a byte stream and AEAD sealing of frames.
 *
 * Stages 1 and 2 of the receive path (see proto.h): tp_frame_split finds a
 * frame and validates its header; tp_frame_open checks the sequence number
 * and the tag.  Neither takes a session: they are fuzzed alone.
 *
 *   header  magic 'T' 'P' | version u8 | type u8 | body_len u16 LE
 *   SEALED  body = seq u64 LE | ciphertext | tag[16]
 *           AEAD = ChaCha20-Poly1305, nonce = seq, AD = header | seq
 */
#include "proto_int.h"

/* Body length bounds per frame type; 0/0 marks an unknown type. */
static int body_bounds(uint8_t type, size_t *min, size_t *max)
{
	switch (type) {
	case TP_FRAME_HELLO:
		*min = TP_HELLO_MIN;
		*max = TP_HELLO_MAX;
		return 0;
	case TP_FRAME_HELLO_REPLY:
		*min = *max = TP_HELLO_REPLY_LEN;
		return 0;
	case TP_FRAME_AUTH:
		*min = *max = TP_AUTH_LEN;
		return 0;
	case TP_FRAME_ERROR:
		*min = 3;
		*max = TP_PLAIN_ERROR_MAX;
		return 0;
	case TP_FRAME_SEALED:
		*min = TP_SEALED_MIN;
		*max = TP_SEALED_MAX;
		return 0;
	default:
		return TP_ERR_TYPE;
	}
}

/*
 * Checks as much of the header as len bytes allow, byte by byte, so that
 * garbage is refused at its first byte and an oversized length before the
 * body is awaited.
 */
int tp_frame_split(const uint8_t *buf, size_t len, size_t *frame_len)
{
	size_t min, max, body;

	if (!buf || !frame_len)
		return TP_ERR_ARG;
	*frame_len = 0;
	if (len >= 1 && buf[0] != TP_FRAME_MAGIC0)
		return TP_ERR_FRAME;
	if (len >= 2 && buf[1] != TP_FRAME_MAGIC1)
		return TP_ERR_FRAME;
	if (len >= 3 && (buf[2] < TP_VERSION_MIN || buf[2] > TP_VERSION_MAX))
		return TP_ERR_VERSION;
	if (len >= 4) {
		if (body_bounds(buf[3], &min, &max))
			return TP_ERR_TYPE;
		/* HELLO and a plaintext ERROR keep the version 1 layout. */
		if ((buf[3] == TP_FRAME_HELLO || buf[3] == TP_FRAME_ERROR) &&
		    buf[2] != 1)
			return TP_ERR_VERSION;
	}
	if (len < TP_FRAME_HDR_LEN)
		return TP_ERR_NEED_MORE;
	body = (size_t)buf[4] | ((size_t)buf[5] << 8);
	if (body > max)
		return TP_ERR_TOO_BIG;
	if (body < min)
		return TP_ERR_LENGTH;
	if (len - TP_FRAME_HDR_LEN < body)
		return TP_ERR_NEED_MORE;
	*frame_len = TP_FRAME_HDR_LEN + body;
	return TP_OK;
}

int tp_frame_parse(const uint8_t *frame, size_t len, struct tp_frame_hdr *h)
{
	size_t fl;
	int rc;

	if (!h)
		return TP_ERR_ARG;
	memset(h, 0, sizeof(*h));
	rc = tp_frame_split(frame, len, &fl);
	if (rc == TP_ERR_NEED_MORE)
		return TP_ERR_LENGTH; /* a whole frame was promised */
	if (rc)
		return rc;
	if (fl != len)
		return TP_ERR_LENGTH;
	h->version = frame[2];
	h->type = frame[3];
	h->body_len = (uint16_t)(frame[4] | (frame[5] << 8));
	h->body = frame + TP_FRAME_HDR_LEN;
	return TP_OK;
}

void frame_hdr(struct wbuf *w, uint8_t version, uint8_t type, uint16_t body_len)
{
	wb_u8(w, TP_FRAME_MAGIC0);
	wb_u8(w, TP_FRAME_MAGIC1);
	wb_u8(w, version);
	wb_u8(w, type);
	wb_u16(w, body_len);
}

int tp_seq_check(uint64_t expected, uint64_t got)
{
	if (expected >= TP_SEQ_LIMIT)
		return TP_ERR_COUNTER;
	if (got != expected)
		return TP_ERR_REPLAY;
	return TP_OK;
}

int tp_frame_seal(const uint8_t key[static 32], uint8_t version, uint64_t seq,
		  const uint8_t *pt, size_t pt_len, uint8_t *out, size_t cap,
		  size_t *out_len)
{
	struct wbuf w;
	uint8_t *ct, *tag;
	size_t body;
	int rc;

	if (!pt || !out || !out_len)
		return TP_ERR_ARG;
	*out_len = 0;
	if (pt_len < 1)
		return TP_ERR_LENGTH;
	if (pt_len > TP_MSG_MAX)
		return TP_ERR_TOO_BIG;
	if (seq >= TP_SEQ_LIMIT)
		return TP_ERR_COUNTER;
	if (version < TP_VERSION_MIN || version > TP_VERSION_MAX)
		return TP_ERR_VERSION;
	body = TP_SEALED_OVERHEAD + pt_len;
	wb_init(&w, out, cap);
	frame_hdr(&w, version, TP_FRAME_SEALED, (uint16_t)body);
	wb_u64(&w, seq);
	ct = wb_room(&w, pt_len);
	tag = wb_room(&w, TP_AEAD_TAG_LEN);
	if (w.err)
		return w.err;
	rc = tp_aead_seal(key, seq, out, TP_FRAME_HDR_LEN + 8, pt, pt_len, ct,
			  tag);
	if (rc) {
		tp_wipe(out, w.len);
		return rc;
	}
	*out_len = w.len;
	return TP_OK;
}

int tp_frame_open(const uint8_t key[static 32], uint64_t expect_seq,
		  const uint8_t *frame, size_t len, uint8_t *pt, size_t cap,
		  size_t *pt_len)
{
	struct tp_frame_hdr h;
	struct rbuf r;
	uint64_t seq;
	size_t ct_len;
	int rc;

	if (!pt || !pt_len)
		return TP_ERR_ARG;
	*pt_len = 0;
	rc = tp_frame_parse(frame, len, &h);
	if (rc)
		return rc;
	if (h.type != TP_FRAME_SEALED)
		return TP_ERR_TYPE;
	rb_init(&r, h.body, h.body_len);
	seq = rb_u64(&r);
	rc = tp_seq_check(expect_seq, seq);
	if (rc)
		return rc;
	ct_len = h.body_len - TP_SEALED_OVERHEAD;
	if (cap < ct_len)
		return TP_ERR_ARG;
	rc = tp_aead_open(key, seq, frame, TP_FRAME_HDR_LEN + 8, h.body + 8,
			  ct_len, h.body + 8 + ct_len, pt);
	if (rc)
		return rc == TP_ERR_MAC ? TP_ERR_MAC : rc;
	*pt_len = ct_len;
	return TP_OK;
}
