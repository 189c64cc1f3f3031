/*
 * hal_fault.c - fault injection for any backend, in the manner of SQLite's
 * test_vfs.c: a wrapper counts the calls that touch the device and fails
 * the Nth one (and the next few, or all of them from then on) with a
 * chosen error, without the backend knowing.
 *
 * Only the calls that do I/O are counted: reader poll/present/transceive,
 * store append/ack/put_blob, net connect/send/recv, usb reset.
 */
#include <stdlib.h>

#include "hal/backends.h"

void hal_fault_arm(struct hal_fault *f, unsigned long fail_at,
		   unsigned long count, int err)
{
	f->calls = 0;
	f->fail_at = fail_at;
	f->fail_count = count;
	f->err = err;
	f->injected = 0;
}

/* Counts a call; returns the error to inject, or 0 to pass it through. */
static int hit(struct hal_fault *f)
{
	unsigned long n = ++f->calls;

	if (f->fail_at == 0 || n < f->fail_at)
		return 0;
	if (f->fail_count != 0 && n >= f->fail_at + f->fail_count)
		return 0;
	f->injected++;
	return f->err;
}

struct wrap {
	struct hal_fault *f;
	union {
		struct hal_reader reader;
		struct hal_store store;
		struct hal_net net;
		struct hal_usb usb;
	} in;
};

static struct wrap *wrap_new(struct hal_fault *f)
{
	struct wrap *w = calloc(1, sizeof(*w));

	if (!w)
		abort(); /* test-only code: out of memory is fatal */
	w->f = f;
	return w;
}

void hal_fault_free(void *wrapped_ctx)
{
	free(wrapped_ctx);
}

/* --- reader --- */
static int r_open(void *c)
{
	struct wrap *w = c;
	return w->in.reader.open(w->in.reader.ctx);
}
static void r_close(void *c)
{
	struct wrap *w = c;
	w->in.reader.close(w->in.reader.ctx);
}
static int r_poll(void *c, struct hal_card *card)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.reader.poll(w->in.reader.ctx, card);
}
static int r_present(void *c)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.reader.present(w->in.reader.ctx);
}
static int r_xfer(void *c, const uint8_t *a, size_t n, uint8_t *r, size_t cap,
		  int t)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e
		 : w->in.reader.transceive(w->in.reader.ctx, a, n, r, cap, t);
}
static const char *r_name(void *c)
{
	struct wrap *w = c;
	return w->in.reader.name(w->in.reader.ctx);
}

void hal_fault_reader(struct hal_reader *out, struct hal_reader *inner,
		      struct hal_fault *f)
{
	struct wrap *w = wrap_new(f);

	w->in.reader = *inner;
	out->ctx = w;
	out->open = r_open;
	out->close = r_close;
	out->poll = r_poll;
	out->present = r_present;
	out->transceive = r_xfer;
	out->name = r_name;
}

/* --- store --- */
static int s_append(void *c, const uint8_t *rec, size_t len, uint64_t *seq)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.store.append(w->in.store.ctx, rec, len, seq);
}
static int s_peek(void *c, uint64_t *seq, uint8_t *rec, size_t cap, size_t *len)
{
	struct wrap *w = c;
	return w->in.store.peek(w->in.store.ctx, seq, rec, cap, len);
}
static int s_ack(void *c, uint64_t seq)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.store.ack(w->in.store.ctx, seq);
}
static size_t s_depth(void *c)
{
	struct wrap *w = c;
	return w->in.store.depth(w->in.store.ctx);
}
static uint64_t s_next(void *c)
{
	struct wrap *w = c;
	return w->in.store.next_seq(w->in.store.ctx);
}
static int s_scan(void *c, int (*fn)(void *, uint64_t, const uint8_t *, size_t),
		  void *arg)
{
	struct wrap *w = c;
	return w->in.store.scan(w->in.store.ctx, fn, arg);
}
static int s_put(void *c, const uint8_t *b, size_t n)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.store.put_blob(w->in.store.ctx, b, n);
}
static int s_get(void *c, uint8_t *b, size_t cap, size_t *n)
{
	struct wrap *w = c;
	return w->in.store.get_blob(w->in.store.ctx, b, cap, n);
}

void hal_fault_store(struct hal_store *out, struct hal_store *inner,
		     struct hal_fault *f)
{
	struct wrap *w = wrap_new(f);

	w->in.store = *inner;
	out->ctx = w;
	out->append = s_append;
	out->peek = s_peek;
	out->ack = s_ack;
	out->depth = s_depth;
	out->next_seq = s_next;
	out->scan = s_scan;
	out->put_blob = s_put;
	out->get_blob = s_get;
}

/* --- net --- */
static int n_connect(void *c)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.net.connect(w->in.net.ctx);
}
static ssize_t n_send(void *c, const uint8_t *b, size_t n)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.net.send(w->in.net.ctx, b, n);
}
static ssize_t n_recv(void *c, uint8_t *b, size_t n)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.net.recv(w->in.net.ctx, b, n);
}
static void n_close(void *c)
{
	struct wrap *w = c;
	w->in.net.close(w->in.net.ctx);
}
static void n_wait(void *c, int ms)
{
	struct wrap *w = c;
	w->in.net.wait(w->in.net.ctx, ms);
}

void hal_fault_net(struct hal_net *out, struct hal_net *inner,
		   struct hal_fault *f)
{
	struct wrap *w = wrap_new(f);

	w->in.net = *inner;
	out->ctx = w;
	out->connect = n_connect;
	out->send = n_send;
	out->recv = n_recv;
	out->close = n_close;
	out->wait = n_wait;
}

/* --- usb --- */
static int u_applies(void *c)
{
	struct wrap *w = c;
	return w->in.usb.applies(w->in.usb.ctx);
}
static int u_poll(void *c)
{
	struct wrap *w = c;
	return w->in.usb.poll(w->in.usb.ctx);
}
static int u_reset(void *c)
{
	struct wrap *w = c;
	int e = hit(w->f);
	return e ? e : w->in.usb.reset(w->in.usb.ctx);
}

void hal_fault_usb(struct hal_usb *out, struct hal_usb *inner,
		   struct hal_fault *f)
{
	struct wrap *w = wrap_new(f);

	w->in.usb = *inner;
	out->ctx = w;
	out->applies = u_applies;
	out->poll = u_poll;
	out->reset = u_reset;
}
