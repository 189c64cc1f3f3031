/*
 * kiosk_offline.c - what the kiosk decides on its own when the host cannot
 * answer: the last deny list it received, and how often each card has been
 * granted offline today.
 *
 * A benefit that allows offline use is granted up to cfg.offline_per_day
 * times per card per local day, unless the card is on the deny list.  Each
 * such grant is written to the store as a signed record, and the store has
 * fsync'd it before the member sees "granted".  The per-card counts are
 * rebuilt from the store at start-up, so a power cut does not reset them.
 */
#include <stdlib.h>
#include <string.h>

#include "kiosk_int.h"
#include "tapaid/proto.h"

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/*
 * The card lookup id of the RF UID (tp_kiosk_lookup_id, the function the
 * host uses to index its deny list).  Only 7-byte UIDs have one.
 */
int kiosk_lookup_id(const struct kiosk *k, const uint8_t *uid, size_t uid_len,
		    uint8_t out[KIOSK_LOOKUP_LEN])
{
	if (uid_len != TP_RF_UID_LEN)
		return -1;
	return tp_kiosk_lookup_id(uid, out);
}

static uint8_t *deny_ids(const struct kiosk *k)
{
	return k->deny_blob + KIOSK_DENY_HDR;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, KIOSK_LOOKUP_LEN);
}

bool kiosk_deny_has(const struct kiosk *k, const uint8_t id[KIOSK_LOOKUP_LEN])
{
	return k->ndeny > 0 && bsearch(id, deny_ids(k), k->ndeny,
				       KIOSK_LOOKUP_LEN, cmp_id) != NULL;
}

static const uint8_t deny_magic[8] = {'T', 'P', 'K', 'D', 'E', 'N', 'Y', '1'};

int kiosk_deny_set(struct kiosk *k, uint64_t version, const uint8_t *ids,
		   size_t n)
{
	struct hal_store *s = &k->hal.store;

	if (n > KIOSK_DENY_MAX)
		n = KIOSK_DENY_MAX; /* keep the first ones: fail towards denial
				     */
	memmove(deny_ids(k), ids, n * KIOSK_LOOKUP_LEN);
	qsort(deny_ids(k), n, KIOSK_LOOKUP_LEN, cmp_id);
	k->ndeny = n;
	k->deny_version = version;
	memcpy(k->deny_blob, deny_magic, 8);
	put64(k->deny_blob + 8, n);
	put64(k->deny_blob + 16, version);
	memset(k->deny_blob + 24, 0, KIOSK_DENY_HDR - 24);
	return s->put_blob(s->ctx, k->deny_blob,
			   KIOSK_DENY_HDR + n * KIOSK_LOOKUP_LEN);
}

void kiosk_deny_load(struct kiosk *k)
{
	struct hal_store *s = &k->hal.store;
	size_t len = 0,
	       cap = KIOSK_DENY_HDR + KIOSK_DENY_MAX * KIOSK_LOOKUP_LEN;
	uint64_t n;

	k->ndeny = 0;
	if (s->get_blob(s->ctx, k->deny_blob, cap, &len) != 0 ||
	    len < KIOSK_DENY_HDR || memcmp(k->deny_blob, deny_magic, 8) != 0)
		return;
	n = get64(k->deny_blob + 8);
	if (n > KIOSK_DENY_MAX || len != KIOSK_DENY_HDR + n * KIOSK_LOOKUP_LEN)
		return;
	k->ndeny = (size_t)n;
	k->deny_version = get64(k->deny_blob + 16);
}

/* --- offline use per card and day --- */

static void off_roll(struct kiosk *k, int64_t wall)
{
	int64_t day = kiosk_local_day(k, wall);

	if (day != k->off_day) {
		memset(k->off, 0,
		       sizeof(*k->off) * (size_t)KIOSK_OFFLINE_CARDS);
		k->noff = 0;
		k->off_day = day;
	}
}

/* Open addressing over a fixed table; the id is a hash already. */
static struct kiosk_offcount *
off_slot(struct kiosk *k, const uint8_t id[KIOSK_LOOKUP_LEN], bool create)
{
	uint32_t h = (uint32_t)id[0] | (uint32_t)id[1] << 8 |
		     (uint32_t)id[2] << 16 | (uint32_t)id[3] << 24;

	for (size_t i = 0; i < KIOSK_OFFLINE_CARDS; i++) {
		struct kiosk_offcount *o =
		    &k->off[(h + i) % KIOSK_OFFLINE_CARDS];
		if (o->in_use && memcmp(o->lookup, id, KIOSK_LOOKUP_LEN) == 0)
			return o;
		if (!o->in_use) {
			/* Keep a quarter free so probes stay short. */
			if (!create || k->noff >= KIOSK_OFFLINE_CARDS * 3 / 4)
				return NULL;
			memcpy(o->lookup, id, KIOSK_LOOKUP_LEN);
			o->in_use = 1;
			o->used = 0;
			k->noff++;
			return o;
		}
	}
	return NULL;
}

unsigned kiosk_off_used(struct kiosk *k, const uint8_t id[KIOSK_LOOKUP_LEN],
			int64_t wall)
{
	struct kiosk_offcount *o;

	off_roll(k, wall);
	o = off_slot(k, id, false);
	return o ? o->used : 0;
}

int kiosk_off_note(struct kiosk *k, const uint8_t id[KIOSK_LOOKUP_LEN],
		   int64_t wall)
{
	struct kiosk_offcount *o;

	off_roll(k, wall);
	o = off_slot(k, id, true);
	if (!o)
		return -1;
	if (o->used < UINT16_MAX)
		o->used++;
	return 0;
}

/* The journal entry header: lookup id, wall time (LE), request id. */
static int rebuild_one(void *arg, uint64_t seq, const uint8_t *rec, size_t len)
{
	struct kiosk *k = arg;
	int64_t wall;

	if (len < KIOSK_JREC_HDR)
		return 0;
	wall = (int64_t)get64(rec + KIOSK_LOOKUP_LEN);
	if (kiosk_local_day(k, wall) == k->off_day)
		kiosk_off_note(k, rec, wall);
	return 0;
}

void kiosk_off_rebuild(struct kiosk *k)
{
	struct hal_store *s = &k->hal.store;

	off_roll(k, k->hal.clock.wall(k->hal.clock.ctx));
	s->scan(s->ctx, rebuild_one, k);
}

/*
 * Decides k->tap without the host.  A grant is final only once the signed
 * record is on stable storage; if the store fails, the member is told the
 * system is unavailable rather than granted something nobody will know of.
 */
void kiosk_offline_decide(struct kiosk *k, struct kiosk_decision *d)
{
	struct hal_store *s = &k->hal.store;
	struct kiosk_tap *t = &k->tap;
	unsigned used;
	size_t rlen = 0;
	uint64_t seq;

	memcpy(d->request_id, t->request_id, sizeof(d->request_id));
	d->left = -1;
	d->name[0] = '\0';
	d->reason = KIOSK_R_HOST_UNAVAILABLE;
	if (kiosk_link_refused(k)) {
		/* A kiosk the host does not know must not grant on its own. */
		d->reason = KIOSK_R_KIOSK_NOT_ENROLLED;
		return;
	}
	if (k->cfg.offline_per_day == 0 || t->uid_len == 0 ||
	    kiosk_lookup_id(k, t->uid, t->uid_len, t->lookup) != 0)
		return;
	if (kiosk_deny_has(k, t->lookup)) {
		d->reason = KIOSK_R_REVOKED_CARD;
		return;
	}
	used = kiosk_off_used(k, t->lookup, t->wall);
	if (used >= k->cfg.offline_per_day) {
		d->reason = KIOSK_R_OFFLINE_LIMIT;
		d->left = 0;
		return;
	}
	if (s->depth(s->ctx) >= k->cfg.offline_queue_max)
		return;
	if (kiosk_link_record(k, k->jrec + KIOSK_JREC_HDR, KIOSK_REC_MAX,
			      &rlen) != 0)
		return;
	memcpy(k->jrec, t->lookup, KIOSK_LOOKUP_LEN);
	put64(k->jrec + KIOSK_LOOKUP_LEN, (uint64_t)t->wall);
	memcpy(k->jrec + KIOSK_LOOKUP_LEN + 8, t->request_id, 16);
	if (s->append(s->ctx, k->jrec, KIOSK_JREC_HDR + rlen, &seq) != 0)
		return;
	kiosk_off_note(k, t->lookup, t->wall);
	d->reason = KIOSK_R_GRANTED;
	d->left = (int)(k->cfg.offline_per_day - used - 1);
}
