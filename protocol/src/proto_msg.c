/*
 * proto_msg.c - application messages: the plaintext of SEALED frames.
 *
 * Stage 3 of the receive path.  A message is one type byte and a body whose
 * length is fixed or follows from its own length fields; the decoder reads
 * field by field (little-endian), demands that the body ends exactly where
 * the fields end, then runs the same value checks (msg_check) that the
 * encoder runs before writing.  So the encoding is canonical: decode then
 * encode gives the input back, which the fuzzer asserts.
 */
#include "proto_int.h"

/* --- strings --- */

/* Well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF), no C0/DEL. */
static int utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i - 1 < k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return 0;
		i += k + 1;
	}
	return 1;
}

int str_ok(const char *s, size_t min, size_t max, enum str_class cls)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		return TP_ERR_TOO_BIG;
	if (n < min)
		return TP_ERR_VALUE;
	for (size_t i = 0; i < n && cls != STR_UTF8; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < (cls == STR_TEXT ? 0x20 : 0x21) || c > 0x7e)
			return TP_ERR_VALUE;
		if (cls == STR_BENEFIT &&
		    !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return TP_ERR_VALUE;
	}
	if (cls == STR_UTF8 && !utf8_ok((const uint8_t *)s, n))
		return TP_ERR_VALUE;
	return TP_OK;
}

int rb_str8(struct rbuf *r, char *out, size_t min, size_t max,
	    enum str_class cls)
{
	size_t n = rb_u8(r);
	const uint8_t *q;

	out[0] = 0;
	if (r->err)
		return r->err;
	if (n > max)
		return TP_ERR_TOO_BIG;
	q = rb_take(r, n);
	if (!q)
		return r->err;
	if (memchr(q, 0, n))
		return TP_ERR_VALUE;
	memcpy(out, q, n);
	out[n] = 0;
	return str_ok(out, min, max, cls);
}

/* --- value checks shared by encoder and decoder --- */

static int msg_check(const struct tp_msg *m)
{
	const struct tp_decision *d = &m->u.decision;
	int rc = 0;

	switch (m->type) {
	case TP_MSG_TAP_REQUEST:
		if ((rc = str_ok(m->u.tap.benefit, 1, TP_BENEFIT_MAX,
				 STR_BENEFIT)))
			return rc;
		return str_ok(m->u.tap.sun, 1, TP_SUN_MAX, STR_PRINT);
	case TP_MSG_DECISION:
		if (d->result > TP_RESULT_GRANTED ||
		    d->reason >= TP_REASON__COUNT ||
		    (d->result == TP_RESULT_GRANTED) !=
			(d->reason == TP_REASON_GRANTED) ||
		    d->left < -1)
			return TP_ERR_VALUE;
		if ((rc = str_ok(d->benefit, 0, TP_BENEFIT_MAX, STR_BENEFIT)))
			return rc;
		return str_ok(d->name, 0, TP_NAME_MAX, STR_UTF8);
	case TP_MSG_STATUS:
		if (m->u.status.reader_state >= TP_READER__COUNT)
			return TP_ERR_VALUE;
		return str_ok(m->u.status.firmware, 1, TP_FW_MAX, STR_TEXT);
	case TP_MSG_STATUS_ACK:
		return TP_OK;
	case TP_MSG_DENYLIST:
		if (m->u.deny.n > TP_DENY_CHUNK_MAX)
			return TP_ERR_TOO_BIG;
		if (m->u.deny.chunk_count < 1 ||
		    m->u.deny.chunk_index >= m->u.deny.chunk_count)
			return TP_ERR_VALUE;
		return TP_OK;
	case TP_MSG_RECORD:
		if (m->u.record.len > TP_RECORD_MAX)
			return TP_ERR_TOO_BIG;
		if (m->u.record.len < TP_RECORD_MIN)
			return TP_ERR_LENGTH;
		return TP_OK;
	case TP_MSG_RECORD_ACK:
		if (m->u.record_ack.status >= TP_RECORD__COUNT ||
		    m->u.record_ack.reason >= TP_REASON__COUNT)
			return TP_ERR_VALUE;
		return TP_OK;
	case TP_MSG_ERROR:
		return str_ok(m->u.error.text, 0, TP_ERROR_TEXT_MAX, STR_UTF8);
	case TP_MSG_BYE:
		return TP_OK;
	default:
		return TP_ERR_TYPE;
	}
}

/* --- decode --- */

int tp_msg_decode(const uint8_t *buf, size_t len, struct tp_msg *m)
{
	struct rbuf r;
	int rc = 0;

	if (!buf || !m)
		return TP_ERR_ARG;
	memset(m, 0, sizeof(*m));
	if (len < 1)
		return TP_ERR_LENGTH;
	if (len > TP_MSG_MAX)
		return TP_ERR_TOO_BIG;
	rb_init(&r, buf + 1, len - 1);
	m->type = buf[0];

	switch (m->type) {
	case TP_MSG_TAP_REQUEST: {
		struct tp_tap_request *t = &m->u.tap;

		rb_bytes(&r, t->request_id, sizeof(t->request_id));
		rb_bytes(&r, t->lookup_id, sizeof(t->lookup_id));
		t->kiosk_time_ms = rb_u64(&r);
		if ((rc = rb_str8(&r, t->benefit, 0, TP_BENEFIT_MAX,
				  STR_UTF8)) ||
		    (rc = rb_str8(&r, t->sun, 0, TP_SUN_MAX, STR_UTF8)))
			goto out;
		break;
	}
	case TP_MSG_DECISION: {
		struct tp_decision *d = &m->u.decision;

		rb_bytes(&r, d->request_id, sizeof(d->request_id));
		d->result = rb_u8(&r);
		d->reason = rb_u8(&r);
		if ((rc = rb_str8(&r, d->benefit, 0, TP_BENEFIT_MAX, STR_UTF8)))
			goto out;
		d->left = (int32_t)rb_u32(&r);
		if ((rc = rb_str8(&r, d->name, 0, TP_NAME_MAX, STR_UTF8)))
			goto out;
		d->host_time_ms = rb_u64(&r);
		break;
	}
	case TP_MSG_STATUS: {
		struct tp_status *s = &m->u.status;

		s->reader_state = rb_u8(&r);
		s->queue_depth = rb_u32(&r);
		s->offline_pending = rb_u32(&r);
		s->usb_resets = rb_u32(&r);
		s->denylist_version = rb_u32(&r);
		s->kiosk_time_ms = rb_u64(&r);
		if ((rc = rb_str8(&r, s->firmware, 0, TP_FW_MAX, STR_UTF8)))
			goto out;
		break;
	}
	case TP_MSG_STATUS_ACK:
		m->u.status_ack.host_time_ms = rb_u64(&r);
		m->u.status_ack.denylist_version = rb_u32(&r);
		break;
	case TP_MSG_DENYLIST: {
		struct tp_denylist *dl = &m->u.deny;

		dl->version = rb_u32(&r);
		dl->chunk_index = rb_u16(&r);
		dl->chunk_count = rb_u16(&r);
		dl->n = rb_u8(&r);
		if (r.err) {
			rc = r.err;
			goto out;
		}
		if (dl->n > TP_DENY_CHUNK_MAX) {
			rc = TP_ERR_TOO_BIG;
			goto out;
		}
		rb_bytes(&r, dl->ids, (size_t)dl->n * TP_LOOKUP_ID_LEN);
		break;
	}
	case TP_MSG_RECORD: {
		struct tp_record_msg *rm = &m->u.record;

		rm->len = rb_u16(&r);
		if (r.err) {
			rc = r.err;
			goto out;
		}
		if (rm->len > TP_RECORD_MAX) {
			rc = TP_ERR_TOO_BIG;
			goto out;
		}
		rb_bytes(&r, rm->bytes, rm->len);
		break;
	}
	case TP_MSG_RECORD_ACK:
		m->u.record_ack.record_seq = rb_u64(&r);
		m->u.record_ack.status = rb_u8(&r);
		m->u.record_ack.reason = rb_u8(&r);
		break;
	case TP_MSG_ERROR:
		m->u.error.code = rb_u16(&r);
		if ((rc = rb_str8(&r, m->u.error.text, 0, TP_ERROR_TEXT_MAX,
				  STR_UTF8)))
			goto out;
		break;
	case TP_MSG_BYE:
		break;
	default:
		rc = TP_ERR_TYPE;
		goto out;
	}
	if ((rc = rb_end(&r)))
		goto out;
	rc = msg_check(m);
out:
	if (rc)
		memset(m, 0, sizeof(*m)); /* type TP_MSG_NONE: nothing usable */
	return rc;
}

/* --- encode --- */

int tp_msg_encode(const struct tp_msg *m, uint8_t *out, size_t cap,
		  size_t *out_len)
{
	struct wbuf w;
	int rc;

	if (!m || !out || !out_len)
		return TP_ERR_ARG;
	*out_len = 0;
	if ((rc = msg_check(m)))
		return rc;
	wb_init(&w, out, cap);
	wb_u8(&w, m->type);
	switch (m->type) {
	case TP_MSG_TAP_REQUEST:
		wb_bytes(&w, m->u.tap.request_id, TP_REQUEST_ID_LEN);
		wb_bytes(&w, m->u.tap.lookup_id, TP_LOOKUP_ID_LEN);
		wb_u64(&w, m->u.tap.kiosk_time_ms);
		wb_str8(&w, m->u.tap.benefit);
		wb_str8(&w, m->u.tap.sun);
		break;
	case TP_MSG_DECISION:
		wb_bytes(&w, m->u.decision.request_id, TP_REQUEST_ID_LEN);
		wb_u8(&w, m->u.decision.result);
		wb_u8(&w, m->u.decision.reason);
		wb_str8(&w, m->u.decision.benefit);
		wb_u32(&w, (uint32_t)m->u.decision.left);
		wb_str8(&w, m->u.decision.name);
		wb_u64(&w, m->u.decision.host_time_ms);
		break;
	case TP_MSG_STATUS:
		wb_u8(&w, m->u.status.reader_state);
		wb_u32(&w, m->u.status.queue_depth);
		wb_u32(&w, m->u.status.offline_pending);
		wb_u32(&w, m->u.status.usb_resets);
		wb_u32(&w, m->u.status.denylist_version);
		wb_u64(&w, m->u.status.kiosk_time_ms);
		wb_str8(&w, m->u.status.firmware);
		break;
	case TP_MSG_STATUS_ACK:
		wb_u64(&w, m->u.status_ack.host_time_ms);
		wb_u32(&w, m->u.status_ack.denylist_version);
		break;
	case TP_MSG_DENYLIST:
		wb_u32(&w, m->u.deny.version);
		wb_u16(&w, m->u.deny.chunk_index);
		wb_u16(&w, m->u.deny.chunk_count);
		wb_u8(&w, m->u.deny.n);
		wb_bytes(&w, m->u.deny.ids,
			 (size_t)m->u.deny.n * TP_LOOKUP_ID_LEN);
		break;
	case TP_MSG_RECORD:
		wb_u16(&w, m->u.record.len);
		wb_bytes(&w, m->u.record.bytes, m->u.record.len);
		break;
	case TP_MSG_RECORD_ACK:
		wb_u64(&w, m->u.record_ack.record_seq);
		wb_u8(&w, m->u.record_ack.status);
		wb_u8(&w, m->u.record_ack.reason);
		break;
	case TP_MSG_ERROR:
		wb_u16(&w, m->u.error.code);
		wb_str8(&w, m->u.error.text);
		break;
	case TP_MSG_BYE:
		break;
	}
	if (w.err)
		return w.err;
	*out_len = w.len;
	return TP_OK;
}

const char *tp_msg_type_name(int type)
{
	switch (type) {
	case TP_MSG_NONE:
		return "NONE";
	case TP_MSG_TAP_REQUEST:
		return "TAP_REQUEST";
	case TP_MSG_DECISION:
		return "DECISION";
	case TP_MSG_STATUS:
		return "STATUS";
	case TP_MSG_STATUS_ACK:
		return "STATUS_ACK";
	case TP_MSG_DENYLIST:
		return "DENYLIST";
	case TP_MSG_RECORD:
		return "RECORD";
	case TP_MSG_RECORD_ACK:
		return "RECORD_ACK";
	case TP_MSG_ERROR:
		return "ERROR";
	case TP_MSG_BYE:
		return "BYE";
	default:
		return "?";
	}
}

int tp_kiosk_lookup_id(const uint8_t uid[static 7], uint8_t out[static 16])
{
	static const char label[] = "tapaid card lookup v1";
	struct tp_sha256_ctx c;
	uint8_t h[32];
	int rc;

	if ((rc = tp_sha256_start(&c)) ||
	    (rc = tp_sha256_update(&c, label, sizeof(label) - 1)) ||
	    (rc = tp_sha256_update(&c, uid, 7)) ||
	    (rc = tp_sha256_finish(&c, h)))
		return rc;
	memcpy(out, h, 16);
	return TP_OK;
}
