/*
 * chain.h - the tamper-evident log: hash chains and signed checkpoints.
 *
 * Two append-only chains, each numbered 1, 2, 3... without gaps:
 *   - redemptions (every decided tap), and
 *   - staff actions (every admin request, every void, every card replace).
 * For each row: hash = SHA-256(prev_hash || canonical encoding of the row),
 * with prev_hash of row 1 = 32 zero bytes.  The canonical encoding (written
 * out in chain.c) is a domain tag, then every stored field in a fixed order,
 * integers as 8 bytes little-endian, texts as a 4-byte little-endian length
 * and the bytes.  Voiding a redemption appends a staff-action row that
 * references it; the redemption row itself is never changed.
 *
 * Checkpoints: chain_checkpoint() signs the pair of heads with the host key
 * (through a callback, so the key can live in another process).  A
 * checkpoint's digest also covers the previous checkpoint's digest, so the
 * checkpoints form a third chain.  The daemon calls it every minute and at
 * shutdown.  chain_verify() then detects:
 *   - a changed row (its hash or the next row's prev_hash no longer
 *     matches): first_bad names that row;
 *   - a removed row inside the chain (a gap in the ids);
 *   - a removed tail: a checkpoint names a head id beyond the last row, or
 *     a head hash that the row at that id does not have;
 *   - a forged or changed checkpoint (its signature or link breaks).
 * What no chain in the database can detect: removing the tail AND every
 * checkpoint after it.  A checkpoint kept outside the database closes that
 * gap: its id and digest are small (log.verify prints the last one, the
 * daemon logs each one it signs), and chain_verify() given one (struct
 * chain_kept) fails when that checkpoint is gone or different.
 */
#ifndef TAPAID_HOST_CHAIN_H
#define TAPAID_HOST_CHAIN_H

#include <stdint.h>

#include "store.h"

struct tp_key;

/* Canonical hash of one row given the previous row's hash. */
int chain_hash_redemption(const uint8_t prev[STORE_HASH_LEN],
			  const struct store_redemption *r,
			  uint8_t out[STORE_HASH_LEN]);
int chain_hash_staff(const uint8_t prev[STORE_HASH_LEN],
		     const struct store_staff_action *a,
		     uint8_t out[STORE_HASH_LEN]);
/* Digest a checkpoint signs (over every field but digest and sig). */
int chain_checkpoint_digest(const struct store_checkpoint *c,
			    uint8_t out[STORE_HASH_LEN]);

/* Signs a 32-byte digest with the host key; raw r || s.  Returns 0 or < 0. */
typedef int (*chain_sign_fn)(void *ctx, const uint8_t digest[32],
			     uint8_t sig[64]);

/*
 * Writes a checkpoint of the current heads, signed through sign(ctx, ...),
 * in its own durable transaction (must not be called inside a batch).
 * Unless force, nothing is written when both heads are those of the last
 * checkpoint (returns 1).  out (may be NULL) gets the checkpoint.
 * Returns 0 written, 1 unchanged, or a negative enum store_err / tp_err.
 */
int chain_checkpoint(struct store *s, int64_t now, chain_sign_fn sign,
		     void *ctx, int force, struct store_checkpoint *out);

/* A chain_sign_fn over a struct tp_key (ctx) in this process. */
int chain_sign_with_key(void *ctx, const uint8_t digest[32], uint8_t sig[64]);

#define CHAIN_VERIFY_ALL_SIGS                                                  \
	1 /* verify every checkpoint's signature; by                           \
	   * default the links of all are checked and                          \
	   * the signature of the last one (which, by                          \
	   * the links, vouches for all before it) */

struct chain_verify_result {
	int ok;			      /* 1 when everything verifies */
	int64_t rows;		      /* redemption rows walked */
	int64_t staff_rows;	      /* staff-action rows walked */
	int64_t checkpoints;	      /* checkpoints walked */
	const char *first_bad_table;  /* "redemptions", "staff_actions",
				       * "checkpoints" or NULL */
	int64_t first_bad;	      /* id of the first bad row, 0 if none */
	char why[200];		      /* one sentence */
	struct store_checkpoint last; /* the last checkpoint (id 0 if none) */
};

/* A checkpoint an auditor kept outside the database (from an earlier
 * log.verify or from the daemon's log). */
struct chain_kept {
	int64_t id;
	uint8_t digest[STORE_HASH_LEN];
};

/*
 * Walks both chains and all checkpoints with streaming cursors (no per-row
 * allocation).  host_pub verifies checkpoint signatures; with NULL no
 * signature is checked (the result says so in why, and ok stays 0 only if
 * something else breaks).  kept (may be NULL): that checkpoint must still
 * be there with that digest; by the links, every row it names is then
 * intact too.  progress (may be NULL) is called every 65536 rows with rows
 * done and total.  Returns 0 when the walk completed (look at res->ok), or
 * a negative enum store_err if the database failed.
 */
int chain_verify(struct store *s, const struct tp_key *host_pub, int flags,
		 const struct chain_kept *kept,
		 void (*progress)(void *ctx, int64_t done, int64_t total),
		 void *ctx, struct chain_verify_result *res);

#endif
