/*
 * store_fake.c - the offline queue in memory, with the same contract as
 * store_file.c (sequence numbers from 1, ack in order), for fast tests.
 */
#include <stdlib.h>
#include <string.h>

#include "hal/fakes.h"

static int fs_append(void *ctx, const uint8_t *rec, size_t len, uint64_t *seq)
{
	struct fake_store *f = ctx;

	if (f->full || f->n >= FAKE_STORE_MAX)
		return HAL_ERR_FULL;
	if (len > sizeof(f->recs[0]))
		return HAL_ERR_ARG;
	memcpy(f->recs[f->n], rec, len);
	f->lens[f->n] = len;
	f->n++;
	if (seq)
		*seq = f->n;
	return 0;
}

static int fs_peek(void *ctx, uint64_t *seq, uint8_t *rec, size_t cap,
		   size_t *len)
{
	struct fake_store *f = ctx;

	if (f->acked >= f->n)
		return HAL_ERR_AGAIN;
	if (f->lens[f->acked] > cap)
		return HAL_ERR_FULL;
	memcpy(rec, f->recs[f->acked], f->lens[f->acked]);
	*len = f->lens[f->acked];
	*seq = f->acked + 1;
	return 0;
}

static int fs_ack(void *ctx, uint64_t seq)
{
	struct fake_store *f = ctx;

	if (seq != f->acked + 1 || seq > f->n)
		return HAL_ERR_ARG;
	f->acked++;
	return 0;
}

static size_t fs_depth(void *ctx)
{
	struct fake_store *f = ctx;
	return f->n - f->acked;
}

static uint64_t fs_next(void *ctx)
{
	struct fake_store *f = ctx;
	return f->n + 1;
}

static int fs_scan(void *ctx,
		   int (*fn)(void *, uint64_t, const uint8_t *, size_t),
		   void *arg)
{
	struct fake_store *f = ctx;

	for (size_t i = 0; i < f->n; i++) {
		int rc = fn(arg, i + 1, f->recs[i], f->lens[i]);
		if (rc)
			return rc;
	}
	return 0;
}

static int fs_put(void *ctx, const uint8_t *b, size_t n)
{
	struct fake_store *f = ctx;
	uint8_t *p = realloc(f->blob, n ? n : 1);

	if (!p)
		return HAL_ERR_FULL;
	memcpy(p, b, n);
	f->blob = p;
	f->blob_len = n;
	return 0;
}

static int fs_get(void *ctx, uint8_t *b, size_t cap, size_t *n)
{
	struct fake_store *f = ctx;

	if (!f->blob)
		return HAL_ERR_AGAIN;
	if (f->blob_len > cap)
		return HAL_ERR_FULL;
	memcpy(b, f->blob, f->blob_len);
	*n = f->blob_len;
	return 0;
}

void fake_store_init(struct hal_store *s, struct fake_store *f)
{
	memset(f, 0, sizeof(*f));
	s->ctx = f;
	s->append = fs_append;
	s->peek = fs_peek;
	s->ack = fs_ack;
	s->depth = fs_depth;
	s->next_seq = fs_next;
	s->scan = fs_scan;
	s->put_blob = fs_put;
	s->get_blob = fs_get;
}

void fake_store_free(struct fake_store *f)
{
	free(f->blob);
	f->blob = NULL;
}
