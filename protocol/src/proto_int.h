/*
 * proto_int.h - internals shared by the proto_*.c files: explicit
 * little-endian readers and writers (never a raw struct on the wire) and
 * the field checks every decoder and encoder applies.
 */
#ifndef TAPAID_PROTO_INT_H
#define TAPAID_PROTO_INT_H

#include <stdint.h>
#include <string.h>

#include "tapaid/proto.h"

/*
 * A bounded writer.  The first failure sticks in err (TP_ERR_ARG: out of
 * room), so a sequence of puts is checked once at the end.
 */
struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int err;
};

static inline void wb_init(struct wbuf *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = cap;
	w->len = 0;
	w->err = 0;
}

static inline uint8_t *wb_room(struct wbuf *w, size_t n)
{
	uint8_t *q;

	if (w->err || w->cap - w->len < n || w->len > w->cap) {
		w->err = TP_ERR_ARG;
		return NULL;
	}
	q = w->p + w->len;
	w->len += n;
	return q;
}

static inline void wb_u8(struct wbuf *w, uint8_t v)
{
	uint8_t *q = wb_room(w, 1);

	if (q)
		q[0] = v;
}

static inline void wb_u16(struct wbuf *w, uint16_t v)
{
	uint8_t *q = wb_room(w, 2);

	if (q) {
		q[0] = (uint8_t)v;
		q[1] = (uint8_t)(v >> 8);
	}
}

static inline void wb_u32(struct wbuf *w, uint32_t v)
{
	uint8_t *q = wb_room(w, 4);

	if (q)
		for (int i = 0; i < 4; i++)
			q[i] = (uint8_t)(v >> (8 * i));
}

static inline void wb_u64(struct wbuf *w, uint64_t v)
{
	uint8_t *q = wb_room(w, 8);

	if (q)
		for (int i = 0; i < 8; i++)
			q[i] = (uint8_t)(v >> (8 * i));
}

static inline void wb_bytes(struct wbuf *w, const void *b, size_t n)
{
	uint8_t *q = wb_room(w, n);

	if (q && n)
		memcpy(q, b, n);
}

/* A length-prefixed (u8) string; the caller checked its bounds. */
static inline void wb_str8(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);

	wb_u8(w, (uint8_t)n);
	wb_bytes(w, s, n);
}

/*
 * A bounded reader.  The first failure sticks in err (TP_ERR_LENGTH: the
 * body is shorter than its fields), reads after it return zeros.
 */
struct rbuf {
	const uint8_t *p;
	size_t len, off;
	int err;
};

static inline void rb_init(struct rbuf *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
	r->err = 0;
}

static inline const uint8_t *rb_take(struct rbuf *r, size_t n)
{
	const uint8_t *q;

	if (r->err || r->len - r->off < n) {
		r->err = TP_ERR_LENGTH;
		return NULL;
	}
	q = r->p + r->off;
	r->off += n;
	return q;
}

static inline uint8_t rb_u8(struct rbuf *r)
{
	const uint8_t *q = rb_take(r, 1);

	return q ? q[0] : 0;
}

static inline uint16_t rb_u16(struct rbuf *r)
{
	const uint8_t *q = rb_take(r, 2);

	return q ? (uint16_t)(q[0] | (q[1] << 8)) : 0;
}

static inline uint32_t rb_u32(struct rbuf *r)
{
	const uint8_t *q = rb_take(r, 4);
	uint32_t v = 0;

	if (q)
		for (int i = 3; i >= 0; i--)
			v = (v << 8) | q[i];
	return v;
}

static inline uint64_t rb_u64(struct rbuf *r)
{
	const uint8_t *q = rb_take(r, 8);
	uint64_t v = 0;

	if (q)
		for (int i = 7; i >= 0; i--)
			v = (v << 8) | q[i];
	return v;
}

static inline void rb_bytes(struct rbuf *r, void *out, size_t n)
{
	const uint8_t *q = rb_take(r, n);

	if (q)
		memcpy(out, q, n);
	else
		memset(out, 0, n);
}

/* Whole body consumed, exactly: 0, or the sticky error / TP_ERR_LENGTH. */
static inline int rb_end(const struct rbuf *r)
{
	if (r->err)
		return r->err;
	return r->off == r->len ? 0 : TP_ERR_LENGTH;
}

/* Character classes of the string fields (see PROTOCOL.md, "Strings"). */
enum str_class {
	STR_PRINT,   /* printable ASCII 0x21..0x7e (ids, SUN) */
	STR_TEXT,    /* printable ASCII and space 0x20..0x7e (firmware) */
	STR_BENEFIT, /* [A-Za-z0-9_.-] */
	STR_UTF8,    /* well-formed UTF-8, no control characters < 0x20 */
};

/* --- proto_msg.c --- */

/*
 * Reads a u8-length-prefixed string of min..max bytes of class cls into
 * out (max + 1 bytes, NUL-terminated).  Sets r->err on a short body,
 * returns TP_ERR_TOO_BIG / TP_ERR_VALUE on a bad length or character.
 */
int rb_str8(struct rbuf *r, char *out, size_t min, size_t max,
	    enum str_class cls);
/* Checks a NUL-terminated string before it is written. */
int str_ok(const char *s, size_t min, size_t max, enum str_class cls);

/* --- proto_frame.c --- */

/* Writes a frame header for a body of body_len bytes. */
void frame_hdr(struct wbuf *w, uint8_t version, uint8_t type,
	       uint16_t body_len);

#endif
