/*
 * chain.c - hash chains over the redemption and staff-action logs, signed
 * checkpoints of their heads, and the verifier.
 *
 * Canonical encodings (all integers 8 bytes little-endian, "str" = 4-byte
 * little-endian length then the bytes, no NUL):
 *
 * redemption: "tapaid-redemption-v1" 00 || prev_hash(32) || id || ts ||
 *   kiosk_time || card_id || member_id || left || amount || offline_seq ||
 *   period_start || ctr || result(1) || reason(1) || offline(1) ||
 *   has_sig(1) || ctr_set(1) ||
 *   request_id(16) || str kiosk || str point || str benefit ||
 *   str masked || str sun || [kiosk_sig(64) if has_sig]
 *
 * staff action: "tapaid-staff-v1" 00 || prev_hash(32) || id || ts || uid ||
 *   ref_id || ok || str role || str cmd || str args
 *
 * checkpoint digest: "tapaid-checkpoint-v1" 00 || id || ts || r_head_id ||
 *   r_head_hash(32) || s_head_id || s_head_hash(32) || prev_digest(32)
 *
 * hash = SHA-256 of the encoding (which starts with prev_hash).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tapaid/crypto.h"

#include "chain.h"

#define TAG_RED	  "tapaid-redemption-v1"
#define TAG_STAFF "tapaid-staff-v1"
#define TAG_CP	  "tapaid-checkpoint-v1"

struct enc {
	uint8_t *p;
	size_t n, cap;
	int over;
};

static void put(struct enc *e, const void *v, size_t len)
{
	if (e->n + len > e->cap) {
		e->over = 1;
		return;
	}
	memcpy(e->p + e->n, v, len);
	e->n += len;
}

static void put_u64(struct enc *e, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(e, b, 8);
}

static void put_u8(struct enc *e, uint8_t v)
{
	put(e, &v, 1);
}

static void put_str(struct enc *e, const char *s, size_t cap)
{
	size_t len = strnlen(s, cap);
	uint8_t b[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
			(uint8_t)(len >> 24)};

	put(e, b, 4);
	put(e, s, len);
}

#define RED_ENC_MAX                                                            \
	(sizeof(TAG_RED) + STORE_HASH_LEN + 10 * 8 + 5 + STORE_REQID_LEN +     \
	 5 * 4 + STORE_ID_LEN * 2 + STORE_CODE_LEN + STORE_NAME_LEN +          \
	 STORE_SUN_LEN + STORE_SIG_LEN)

/* The canonical encoding of a redemption row into buf (RED_ENC_MAX). */
static int enc_redemption(const uint8_t prev[STORE_HASH_LEN],
			  const struct store_redemption *r, uint8_t *buf,
			  size_t *len)
{
	struct enc e = {buf, 0, RED_ENC_MAX, 0};

	put(&e, TAG_RED, sizeof(TAG_RED)); /* with its NUL */
	put(&e, prev, STORE_HASH_LEN);
	put_u64(&e, (uint64_t)r->id);
	put_u64(&e, (uint64_t)r->ts);
	put_u64(&e, (uint64_t)r->kiosk_time);
	put_u64(&e, (uint64_t)r->card_id);
	put_u64(&e, (uint64_t)r->member_id);
	put_u64(&e, (uint64_t)r->left);
	put_u64(&e, (uint64_t)r->amount);
	put_u64(&e, (uint64_t)r->offline_seq);
	put_u64(&e, (uint64_t)r->period_start);
	put_u64(&e, r->ctr);
	put_u8(&e, r->result);
	put_u8(&e, r->reason);
	put_u8(&e, r->offline);
	put_u8(&e, r->has_sig ? 1 : 0);
	put_u8(&e, r->ctr_set ? 1 : 0);
	put(&e, r->request_id, STORE_REQID_LEN);
	put_str(&e, r->kiosk, sizeof(r->kiosk));
	put_str(&e, r->point, sizeof(r->point));
	put_str(&e, r->benefit, sizeof(r->benefit));
	put_str(&e, r->masked, sizeof(r->masked));
	put_str(&e, r->sun, sizeof(r->sun));
	if (r->has_sig)
		put(&e, r->kiosk_sig, STORE_SIG_LEN);
	if (e.over)
		return TP_ERR_ARG;
	*len = e.n;
	return 0;
}

int chain_hash_redemption(const uint8_t prev[STORE_HASH_LEN],
			  const struct store_redemption *r,
			  uint8_t out[STORE_HASH_LEN])
{
	uint8_t buf[RED_ENC_MAX];
	size_t len;
	int rc = enc_redemption(prev, r, buf, &len);

	return rc ? rc : tp_sha256(buf, len, out);
}

int chain_hash_staff(const uint8_t prev[STORE_HASH_LEN],
		     const struct store_staff_action *a,
		     uint8_t out[STORE_HASH_LEN])
{
	uint8_t buf[sizeof(TAG_STAFF) + STORE_HASH_LEN + 5 * 8 + 4 * 3 +
		    STORE_ROLE_LEN + STORE_CMD_LEN];
	struct enc e = {buf, 0, sizeof(buf), 0};
	struct tp_sha256_ctx c;
	const char *args = a->args ? a->args : "";
	size_t alen = strlen(args);
	uint8_t lb[4] = {(uint8_t)alen, (uint8_t)(alen >> 8),
			 (uint8_t)(alen >> 16), (uint8_t)(alen >> 24)};
	int rc;

	put(&e, TAG_STAFF, sizeof(TAG_STAFF));
	put(&e, prev, STORE_HASH_LEN);
	put_u64(&e, (uint64_t)a->id);
	put_u64(&e, (uint64_t)a->ts);
	put_u64(&e, a->uid);
	put_u64(&e, (uint64_t)a->ref_id);
	put_u64(&e, a->ok ? 1 : 0);
	put_str(&e, a->role, sizeof(a->role));
	put_str(&e, a->cmd, sizeof(a->cmd));
	if (e.over)
		return TP_ERR_ARG;
	/* args may be long: streamed rather than copied */
	if ((rc = tp_sha256_start(&c)) ||
	    (rc = tp_sha256_update(&c, buf, e.n)) ||
	    (rc = tp_sha256_update(&c, lb, 4)) ||
	    (rc = tp_sha256_update(&c, args, alen)) ||
	    (rc = tp_sha256_finish(&c, out)))
		return rc;
	return 0;
}

int chain_checkpoint_digest(const struct store_checkpoint *c,
			    uint8_t out[STORE_HASH_LEN])
{
	uint8_t buf[sizeof(TAG_CP) + 4 * 8 + 3 * STORE_HASH_LEN];
	struct enc e = {buf, 0, sizeof(buf), 0};

	put(&e, TAG_CP, sizeof(TAG_CP));
	put_u64(&e, (uint64_t)c->id);
	put_u64(&e, (uint64_t)c->ts);
	put_u64(&e, (uint64_t)c->r_head_id);
	put(&e, c->r_head_hash, STORE_HASH_LEN);
	put_u64(&e, (uint64_t)c->s_head_id);
	put(&e, c->s_head_hash, STORE_HASH_LEN);
	put(&e, c->prev_digest, STORE_HASH_LEN);
	if (e.over)
		return TP_ERR_ARG;
	return tp_sha256(buf, e.n, out);
}

int chain_sign_with_key(void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
	return tp_sign((const struct tp_key *)ctx, digest, sig);
}

int chain_checkpoint(struct store *s, int64_t now, chain_sign_fn sign,
		     void *ctx, int force, struct store_checkpoint *out)
{
	struct store_checkpoint last, c;
	int err, have_last;

	memset(&c, 0, sizeof(c));
	/* State kept in memory goes to its tables with every checkpoint. */
	err = s->ops->flush(s);
	if (err)
		return err;
	err = s->ops->begin(s);
	if (err)
		return err;
	err = s->ops->chain_heads(s, &c.r_head_id, c.r_head_hash, &c.s_head_id,
				  c.s_head_hash);
	if (err)
		goto fail;
	err = s->ops->checkpoint_last(s, &last);
	if (err && err != STORE_ENOTFOUND)
		goto fail;
	have_last = err == 0;
	if (!force && have_last && last.r_head_id == c.r_head_id &&
	    last.s_head_id == c.s_head_id &&
	    memcmp(last.r_head_hash, c.r_head_hash, STORE_HASH_LEN) == 0 &&
	    memcmp(last.s_head_hash, c.s_head_hash, STORE_HASH_LEN) == 0) {
		s->ops->rollback(s);
		if (out)
			*out = last;
		return 1;
	}
	c.id = have_last ? last.id + 1 : 1;
	c.ts = now;
	if (have_last)
		memcpy(c.prev_digest, last.digest, STORE_HASH_LEN);
	err = chain_checkpoint_digest(&c, c.digest);
	if (err)
		goto fail;
	err = sign(ctx, c.digest, c.sig);
	if (err)
		goto fail;
	err = s->ops->checkpoint_add(s, &c);
	if (err)
		goto fail;
	err = s->ops->commit(s);
	if (err)
		return err;
	if (out)
		*out = c;
	return 0;
fail:
	s->ops->rollback(s);
	return err;
}

/* ---- verification ------------------------------------------------------ */

/*
 * Hashing is most of a verification's work, and each row's hash depends
 * only on that row (prev_hash is part of the row), so a second thread
 * hashes while the caller's thread reads rows and checks the links and
 * checkpoints.  Rows travel in fixed chunks allocated once per walk.  If
 * the thread cannot be started, the caller hashes inline.
 */
#define HB_ROWS	  256
#define HB_CHUNKS 8

struct hb_row {
	int64_t id;
	size_t len;
	uint8_t hash[STORE_HASH_LEN];
	uint8_t enc[RED_ENC_MAX];
};

struct hb_chunk {
	int n, full;
	struct hb_row rows[HB_ROWS];
};

struct hasher {
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct hb_chunk *c;
	int head, tail, stop, threaded;
	int fill;	/* rows the caller put in the head chunk so far */
	int64_t bad_id; /* lowest row whose hash does not match, 0 if none */
};

/* Hashes a chunk's rows; the first mismatch in it (rows are in order). */
static int64_t hb_run(const struct hb_chunk *k)
{
	uint8_t d[STORE_HASH_LEN];

	for (int i = 0; i < k->n; i++)
		if (tp_sha256(k->rows[i].enc, k->rows[i].len, d) != 0 ||
		    memcmp(d, k->rows[i].hash, STORE_HASH_LEN) != 0)
			return k->rows[i].id;
	return 0;
}

static void *hb_main(void *arg)
{
	struct hasher *h = arg;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		struct hb_chunk *k = &h->c[h->tail];
		int64_t bad;

		while (!k->full && !h->stop)
			pthread_cond_wait(&h->cv, &h->mu);
		if (!k->full)
			break; /* stopped, nothing left */
		pthread_mutex_unlock(&h->mu);
		bad = hb_run(k);
		pthread_mutex_lock(&h->mu);
		if (bad && (!h->bad_id || bad < h->bad_id))
			h->bad_id = bad;
		k->full = 0;
		h->tail = (h->tail + 1) % HB_CHUNKS;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static int hb_start(struct hasher *h)
{
	memset(h, 0, sizeof(*h));
	h->c = calloc(HB_CHUNKS, sizeof(*h->c));
	if (!h->c)
		return STORE_ENOMEM;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	h->threaded = pthread_create(&h->thr, NULL, hb_main, h) == 0;
	return 0;
}

/*
 * The slot for the next row.  A chunk is the caller's until it is marked
 * full and the thread's until the thread marks it empty again, so the
 * caller waits for that before it starts filling a chunk.
 */
static struct hb_row *hb_slot(struct hasher *h)
{
	struct hb_chunk *k = &h->c[h->head];

	if (h->threaded && h->fill == 0) {
		pthread_mutex_lock(&h->mu);
		while (k->full)
			pthread_cond_wait(&h->cv, &h->mu);
		pthread_mutex_unlock(&h->mu);
	}
	return &k->rows[h->fill];
}

static void hb_push(struct hasher *h)
{
	struct hb_chunk *k = &h->c[h->head];

	if (++h->fill < HB_ROWS)
		return;
	h->fill = 0;
	if (!h->threaded) {
		int64_t bad;

		k->n = HB_ROWS;
		bad = hb_run(k);
		if (bad && !h->bad_id)
			h->bad_id = bad;
		return;
	}
	pthread_mutex_lock(&h->mu);
	k->n = HB_ROWS;
	k->full = 1;
	h->head = (h->head + 1) % HB_CHUNKS;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

/* Hashes what is left, stops the thread; returns the lowest bad row. */
static int64_t hb_finish(struct hasher *h)
{
	struct hb_chunk *k = &h->c[h->head];

	if (!h->threaded) {
		int64_t bad;

		k->n = h->fill;
		bad = hb_run(k);
		if (bad && !h->bad_id)
			h->bad_id = bad;
	} else {
		pthread_mutex_lock(&h->mu);
		if (h->fill > 0) {
			k->n = h->fill;
			k->full = 1;
			h->head = (h->head + 1) % HB_CHUNKS;
		}
		h->stop = 1;
		pthread_cond_broadcast(&h->cv);
		pthread_mutex_unlock(&h->mu);
		pthread_join(h->thr, NULL);
	}
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	free(h->c);
	return h->bad_id;
}

struct walk {
	struct store *s;
	struct chain_verify_result *res;
	void (*progress)(void *ctx, int64_t done, int64_t total);
	void *ctx;
	int64_t done, total;
};

__attribute__((format(printf, 4, 5))) static void
bad(struct walk *w, const char *table, int64_t id, const char *fmt, ...)
{
	va_list ap;

	if (w->res->first_bad_table)
		return; /* keep the first */
	w->res->ok = 0;
	w->res->first_bad_table = table;
	w->res->first_bad = id;
	va_start(ap, fmt);
	vsnprintf(w->res->why, sizeof(w->res->why), fmt, ap);
	va_end(ap);
}

static void tick(struct walk *w)
{
	if (++w->done % 65536 == 0 && w->progress)
		w->progress(w->ctx, w->done, w->total);
}

/* The head id and hash a checkpoint holds for one chain. */
static void cp_head(const struct store_checkpoint *c, int staff, int64_t *id,
		    const uint8_t **hash)
{
	*id = staff ? c->s_head_id : c->r_head_id;
	*hash = staff ? c->s_head_hash : c->r_head_hash;
}

/*
 * Walks one chain (staff = 0: redemptions, 1: staff actions) and, beside
 * it, the checkpoints in order, comparing each checkpoint's head with the
 * row it names.  Returns 0 (look at res) or a store error.
 */
static int walk_chain(struct walk *w, int staff)
{
	struct store *s = w->s;
	const char *table = staff ? "staff_actions" : "redemptions";
	struct store_cursor *rows = NULL, *cps = NULL;
	struct store_redemption r;
	struct store_staff_action a;
	struct store_checkpoint cp;
	uint8_t prev[STORE_HASH_LEN] = {0}, h[STORE_HASH_LEN];
	int64_t expect = 1, cp_id = 0;
	const uint8_t *cp_hash, *row_hash, *row_prev;
	int64_t row_id, hash_bad;
	struct hasher hb;
	int rc, have_cp, err = 0;

	if (!staff && (err = hb_start(&hb)))
		return err;
	err = s->ops->cursor_open(
	    s, staff ? STORE_CUR_STAFF : STORE_CUR_REDEMPTIONS, 0, &rows);
	if (err)
		goto out;
	err = s->ops->cursor_open(s, STORE_CUR_CHECKPOINTS, 0, &cps);
	if (err)
		goto out;
	have_cp = s->ops->cursor_next(cps, &cp);
	if (have_cp < 0) {
		err = have_cp;
		goto out;
	}
	/* Checkpoints taken while this chain was empty. */
	while (have_cp == 1) {
		cp_head(&cp, staff, &cp_id, &cp_hash);
		if (cp_id != 0)
			break;
		have_cp = s->ops->cursor_next(cps, &cp);
	}
	for (;;) {
		rc = s->ops->cursor_next(rows, staff ? (void *)&a : (void *)&r);
		if (rc < 0) {
			err = rc;
			goto out;
		}
		if (rc == 0)
			break;
		row_id = staff ? a.id : r.id;
		row_hash = staff ? a.hash : r.hash;
		row_prev = staff ? a.prev_hash : r.prev_hash;
		tick(w);
		if (row_id != expect) {
			bad(w, table, expect,
			    "row %lld is missing (the next row is %lld)",
			    (long long)expect, (long long)row_id);
			goto out;
		}
		if (staff) {
			w->res->staff_rows++;
			rc = chain_hash_staff(a.prev_hash, &a, h);
			if (!rc && memcmp(h, row_hash, STORE_HASH_LEN) != 0) {
				bad(w, table, row_id,
				    "row %lld was changed: its content does "
				    "not give its hash",
				    (long long)row_id);
				goto out;
			}
		} else {
			struct hb_row *slot = hb_slot(&hb);

			w->res->rows++;
			slot->id = r.id;
			memcpy(slot->hash, r.hash, STORE_HASH_LEN);
			rc = enc_redemption(r.prev_hash, &r, slot->enc,
					    &slot->len);
			if (!rc)
				hb_push(&hb);
		}
		if (rc) {
			bad(w, table, row_id, "row %lld cannot be encoded",
			    (long long)row_id);
			goto out;
		}
		if (memcmp(row_prev, prev, STORE_HASH_LEN) != 0) {
			bad(w, table, row_id,
			    "row %lld does not link to row %lld (one of them "
			    "was rewritten)",
			    (long long)row_id, (long long)row_id - 1);
			goto out;
		}
		while (have_cp == 1) {
			cp_head(&cp, staff, &cp_id, &cp_hash);
			if (cp_id > row_id)
				break;
			if (cp_id < row_id) {
				bad(w, "checkpoints", cp.id,
				    "checkpoint %lld names %s row %lld out of "
				    "order",
				    (long long)cp.id, table, (long long)cp_id);
				goto out;
			}
			if (memcmp(cp_hash, row_hash, STORE_HASH_LEN) != 0) {
				bad(w, table, row_id,
				    "row %lld differs from the hash signed in "
				    "checkpoint %lld",
				    (long long)row_id, (long long)cp.id);
				goto out;
			}
			have_cp = s->ops->cursor_next(cps, &cp);
		}
		if (have_cp < 0) {
			err = have_cp;
			goto out;
		}
		memcpy(prev, row_hash, STORE_HASH_LEN);
		expect = row_id + 1;
	}
	if (have_cp == 1) {
		cp_head(&cp, staff, &cp_id, &cp_hash);
		bad(w, table, expect,
		    "the tail was removed: checkpoint %lld names row %lld, "
		    "the %s end at row %lld",
		    (long long)cp.id, (long long)cp_id, table,
		    (long long)expect - 1);
	}
out:
	if (rows)
		s->ops->cursor_close(rows);
	if (cps)
		s->ops->cursor_close(cps);
	if (!staff) {
		/* A changed row comes before any later break it causes. */
		hash_bad = hb_finish(&hb);
		if (!err && hash_bad &&
		    (!w->res->first_bad_table ||
		     strcmp(w->res->first_bad_table, "checkpoints") == 0 ||
		     hash_bad <= w->res->first_bad)) {
			w->res->first_bad_table = NULL;
			bad(w, table, hash_bad,
			    "row %lld was changed: its content does not give "
			    "its hash",
			    (long long)hash_bad);
		}
	}
	return err;
}

/* Links of the checkpoint chain, their signatures, and the kept one. */
static int walk_checkpoints(struct walk *w, const struct tp_key *pub, int flags,
			    const struct chain_kept *kept)
{
	struct store *s = w->s;
	struct store_cursor *cps = NULL;
	struct store_checkpoint cp;
	uint8_t prev[STORE_HASH_LEN] = {0}, d[STORE_HASH_LEN];
	int64_t expect = 1;
	int rc, err;

	err = s->ops->cursor_open(s, STORE_CUR_CHECKPOINTS, 0, &cps);
	if (err)
		return err;
	memset(&w->res->last, 0, sizeof(w->res->last));
	while ((rc = s->ops->cursor_next(cps, &cp)) == 1) {
		w->res->checkpoints++;
		if (cp.id != expect) {
			bad(w, "checkpoints", expect,
			    "checkpoint %lld is missing", (long long)expect);
			break;
		}
		if (chain_checkpoint_digest(&cp, d) ||
		    memcmp(d, cp.digest, STORE_HASH_LEN) != 0) {
			bad(w, "checkpoints", cp.id,
			    "checkpoint %lld was changed", (long long)cp.id);
			break;
		}
		if (memcmp(cp.prev_digest, prev, STORE_HASH_LEN) != 0) {
			bad(w, "checkpoints", cp.id,
			    "checkpoint %lld does not link to the one before",
			    (long long)cp.id);
			break;
		}
		if (kept && cp.id == kept->id &&
		    memcmp(cp.digest, kept->digest, STORE_HASH_LEN) != 0) {
			bad(w, "checkpoints", cp.id,
			    "checkpoint %lld differs from the one kept: the "
			    "log was cut back or rewritten since",
			    (long long)cp.id);
			break;
		}
		if (pub && (flags & CHAIN_VERIFY_ALL_SIGS) &&
		    tp_verify(pub, cp.digest, cp.sig) != 0) {
			bad(w, "checkpoints", cp.id,
			    "checkpoint %lld has a bad host signature",
			    (long long)cp.id);
			break;
		}
		memcpy(prev, cp.digest, STORE_HASH_LEN);
		w->res->last = cp;
		expect = cp.id + 1;
	}
	s->ops->cursor_close(cps);
	if (rc < 0)
		return rc;
	if (kept && kept->id > w->res->last.id && !w->res->first_bad_table)
		bad(w, "checkpoints", kept->id,
		    "checkpoint %lld, which was kept, is gone: the checkpoints "
		    "end at %lld, so the log was cut back",
		    (long long)kept->id, (long long)w->res->last.id);
	/* By the links, the last signature vouches for every checkpoint. */
	if (!w->res->first_bad_table && pub && w->res->last.id &&
	    tp_verify(pub, w->res->last.digest, w->res->last.sig) != 0)
		bad(w, "checkpoints", w->res->last.id,
		    "checkpoint %lld has a bad host signature",
		    (long long)w->res->last.id);
	return 0;
}

int chain_verify(struct store *s, const struct tp_key *host_pub, int flags,
		 const struct chain_kept *kept,
		 void (*progress)(void *ctx, int64_t done, int64_t total),
		 void *ctx, struct chain_verify_result *res)
{
	struct walk w = {s, res, progress, ctx, 0, 0};
	int64_t nr = 0, ns = 0;
	int err;

	memset(res, 0, sizeof(*res));
	res->ok = 1;
	if ((err = s->ops->count(s, STORE_CUR_REDEMPTIONS, &nr)) ||
	    (err = s->ops->count(s, STORE_CUR_STAFF, &ns)))
		return err;
	w.total = nr + ns;
	if ((err = walk_checkpoints(&w, host_pub, flags, kept)))
		return err;
	if (!res->first_bad_table && (err = walk_chain(&w, 0)))
		return err;
	if (!res->first_bad_table && (err = walk_chain(&w, 1)))
		return err;
	if (progress)
		progress(ctx, w.done, w.total);
	if (res->ok)
		snprintf(res->why, sizeof(res->why),
			 "%lld redemptions, %lld staff actions and %lld "
			 "checkpoints verify%s%s",
			 (long long)res->rows, (long long)res->staff_rows,
			 (long long)res->checkpoints,
			 kept ? ", the kept checkpoint among them" : "",
			 host_pub ? "" : " (signatures not checked)");
	return 0;
}
