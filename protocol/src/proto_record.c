/*
 * proto_record.c - offline tap records, signed by the kiosk alone.
 *
 * A kiosk that cannot reach the host may grant within its offline limit; it
 * then keeps a record signed with its device key (ECDSA P-256), and uploads
 * it in a RECORD message when a session comes back.  The host verifies the
 * record against the kiosk's enrolled key whenever it arrives, independent
 * of the session that carried it, and keeps the signature in its log.
 *
 *   version u8 (1) | flags u8 (bit 0 = offline, set) | kiosk_id str8 |
 *   seq u64 | request_id[16] | lookup_id[16] | benefit str8 |
 *   kiosk_time u64 | reason u8 | sun str8 | sig[64]
 *
 *   sig = ECDSA-P256(kiosk key, SHA-256("tapaid v1 record" | all before sig))
 */
#include "proto_int.h"

static const char rec_label[] = "tapaid v1 record";

static int rec_check(const struct tp_record *r)
{
	int rc;

	if ((rc = str_ok(r->kiosk_id, 1, TP_KIOSK_ID_MAX, STR_PRINT)) ||
	    (rc = str_ok(r->benefit, 1, TP_BENEFIT_MAX, STR_BENEFIT)) ||
	    (rc = str_ok(r->sun, 1, TP_SUN_MAX, STR_PRINT)))
		return rc;
	if (r->seq < 1 || r->offline != 1 || r->reason >= TP_REASON__COUNT)
		return TP_ERR_VALUE;
	return TP_OK;
}

static int rec_digest(const uint8_t *buf, size_t len, uint8_t h[static 32])
{
	struct tp_sha256_ctx c;
	int rc;

	if ((rc = tp_sha256_start(&c)) ||
	    (rc = tp_sha256_update(&c, rec_label, sizeof(rec_label) - 1)) ||
	    (rc = tp_sha256_update(&c, buf, len)) ||
	    (rc = tp_sha256_finish(&c, h)))
		return rc;
	return TP_OK;
}

int tp_record_encode_signed(const struct tp_record *rec,
			    const struct tp_key *kiosk_key, uint8_t *out,
			    size_t cap, size_t *out_len)
{
	uint8_t h[32], sig[64];
	struct wbuf w;
	int rc;

	if (!rec || !kiosk_key || !out || !out_len)
		return TP_ERR_ARG;
	*out_len = 0;
	if ((rc = rec_check(rec)))
		return rc;
	wb_init(&w, out, cap);
	wb_u8(&w, 1);
	wb_u8(&w, 1);
	wb_str8(&w, rec->kiosk_id);
	wb_u64(&w, rec->seq);
	wb_bytes(&w, rec->request_id, TP_REQUEST_ID_LEN);
	wb_bytes(&w, rec->lookup_id, TP_LOOKUP_ID_LEN);
	wb_str8(&w, rec->benefit);
	wb_u64(&w, rec->kiosk_time_ms);
	wb_u8(&w, rec->reason);
	wb_str8(&w, rec->sun);
	if (w.err)
		return w.err;
	if ((rc = rec_digest(out, w.len, h)) ||
	    (rc = tp_sign(kiosk_key, h, sig)))
		return rc;
	wb_bytes(&w, sig, 64);
	if (w.err)
		return w.err;
	*out_len = w.len;
	return TP_OK;
}

int tp_record_decode(const uint8_t *buf, size_t len, struct tp_record *rec)
{
	struct rbuf r;
	uint8_t version, flags;
	int rc;

	if (!buf || !rec)
		return TP_ERR_ARG;
	memset(rec, 0, sizeof(*rec));
	if (len > TP_RECORD_MAX)
		return TP_ERR_TOO_BIG;
	if (len < TP_RECORD_MIN)
		return TP_ERR_LENGTH;
	rb_init(&r, buf, len);
	version = rb_u8(&r);
	flags = rb_u8(&r);
	if (version != 1) {
		rc = TP_ERR_VERSION;
		goto out;
	}
	if (flags != 1) {
		rc = TP_ERR_VALUE;
		goto out;
	}
	rec->offline = 1;
	if ((rc = rb_str8(&r, rec->kiosk_id, 1, TP_KIOSK_ID_MAX, STR_PRINT)))
		goto out;
	rec->seq = rb_u64(&r);
	rb_bytes(&r, rec->request_id, TP_REQUEST_ID_LEN);
	rb_bytes(&r, rec->lookup_id, TP_LOOKUP_ID_LEN);
	if ((rc = rb_str8(&r, rec->benefit, 1, TP_BENEFIT_MAX, STR_BENEFIT)))
		goto out;
	rec->kiosk_time_ms = rb_u64(&r);
	rec->reason = rb_u8(&r);
	if ((rc = rb_str8(&r, rec->sun, 1, TP_SUN_MAX, STR_PRINT)))
		goto out;
	rb_bytes(&r, rec->sig, TP_RECORD_SIG_LEN);
	if ((rc = rb_end(&r)))
		goto out;
	rc = rec_check(rec);
out:
	if (rc)
		memset(rec, 0, sizeof(*rec));
	return rc;
}

int tp_record_decode_verify(const uint8_t *buf, size_t len,
			    const struct tp_key *kiosk_pub,
			    struct tp_record *rec)
{
	uint8_t h[32];
	int rc;

	if (!kiosk_pub)
		return TP_ERR_ARG;
	if ((rc = tp_record_decode(buf, len, rec)))
		return rc;
	if ((rc = rec_digest(buf, len - TP_RECORD_SIG_LEN, h)))
		goto out;
	if (tp_verify(kiosk_pub, h, rec->sig) != TP_OK)
		rc = TP_ERR_SIGNATURE;
out:
	if (rc)
		memset(rec, 0, sizeof(*rec));
	return rc;
}
