/*
 * proto_hs.c - pure decoders and encoders of the plaintext handshake frame
 * bodies: HELLO, HELLO_REPLY, AUTH and the plaintext ERROR a host sends to
 * refuse a handshake.  Each checks the exact length its fields imply.
 */
#include "proto_int.h"

int tp_hello_decode(const uint8_t *body, size_t len, struct tp_hello *h)
{
	struct rbuf r;
	int rc;

	if (!body || !h)
		return TP_ERR_ARG;
	memset(h, 0, sizeof(*h));
	rb_init(&r, body, len);
	h->version_min = rb_u8(&r);
	h->version_max = rb_u8(&r);
	if ((rc = rb_str8(&r, h->kiosk_id, 1, TP_KIOSK_ID_MAX, STR_PRINT)))
		goto out;
	rb_bytes(&r, h->eph_pub, sizeof(h->eph_pub));
	rb_bytes(&r, h->nonce, sizeof(h->nonce));
	if ((rc = rb_end(&r)))
		goto out;
	if (h->version_min < 1 || h->version_min > h->version_max)
		rc = TP_ERR_VALUE;
out:
	if (rc)
		memset(h, 0, sizeof(*h));
	return rc;
}

int tp_hello_reply_decode(const uint8_t *body, size_t len,
			  struct tp_hello_reply *rp)
{
	struct rbuf r;
	int rc;

	if (!body || !rp)
		return TP_ERR_ARG;
	memset(rp, 0, sizeof(*rp));
	rb_init(&r, body, len);
	rp->version = rb_u8(&r);
	rb_bytes(&r, rp->eph_pub, sizeof(rp->eph_pub));
	rb_bytes(&r, rp->nonce, sizeof(rp->nonce));
	rb_bytes(&r, rp->sig, sizeof(rp->sig));
	rc = rb_end(&r);
	if (!rc && rp->version < 1)
		rc = TP_ERR_VALUE;
	if (rc)
		memset(rp, 0, sizeof(*rp));
	return rc;
}

int tp_auth_decode(const uint8_t *body, size_t len, struct tp_auth *a)
{
	struct rbuf r;
	int rc;

	if (!body || !a)
		return TP_ERR_ARG;
	rb_init(&r, body, len);
	rb_bytes(&r, a->sig, sizeof(a->sig));
	rc = rb_end(&r);
	if (rc)
		memset(a, 0, sizeof(*a));
	return rc;
}

int tp_plain_error_decode(const uint8_t *body, size_t len,
			  struct tp_plain_error *e)
{
	struct rbuf r;
	int rc;

	if (!body || !e)
		return TP_ERR_ARG;
	memset(e, 0, sizeof(*e));
	rb_init(&r, body, len);
	e->code = rb_u16(&r);
	if ((rc = rb_str8(&r, e->text, 0, TP_ERROR_TEXT_MAX, STR_UTF8)) ||
	    (rc = rb_end(&r)))
		memset(e, 0, sizeof(*e));
	return rc;
}
