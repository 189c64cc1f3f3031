/*
 * store.h - the host's storage interface.
 *
 * The engine and the admin commands see storage only through this table of
 * function pointers (OpenSMTPD queue_backend style), so that a PostgreSQL
 * backend (store_pg.c) can be added later without touching the engine.
 * The embedded default is store_sqlite.c: one SQLite file in WAL mode with
 * synchronous=FULL, schema versioned through PRAGMA user_version.
 *
 * Conventions:
 *  - every function returns 0 (STORE_OK) or a negative enum store_err;
 *    store_errmsg() then holds one clear sentence ("line 17: category is
 *    empty", "member 1001 does not exist");
 *  - all records are fixed-size structs (no allocation per row); a text that
 *    does not fit its field is refused with STORE_EINVALID, never cut;
 *  - callbacks (*_fn) get a pointer valid only during the call and return 0
 *    to go on or non-zero to stop (the walk then returns that value);
 *  - the store is not thread-safe: one thread at a time uses it (tapaidd:
 *    its store thread for batches, its loop thread for admin commands,
 *    under one lock).
 *
 * Write-behind (SQLite backend): a tap appends one redemption row and
 * nothing else at a random place in a big table.  The card counters and
 * the per-period usage the engine reads and changes live in memory,
 * rebuilt at open from the last flushed snapshot plus the redemption rows
 * after it (each row says whether it stored a counter, and the period a
 * grant counts in).  Once 65,536 entries wait, they are written back a
 * chunk at a time ahead of a transaction, in passes in key order (rows on
 * one page go out together), each usage row stamped with the log position
 * it counts up to, so a replay never counts a row's past twice; flush()
 * writes all of them.  A committed tap is therefore durable through its
 * redemption row alone.
 *
 * Idempotency: redemption_by_request() finds the last 131,072 to 262,144
 * requests (an in-memory index, rebuilt from the log tail at open); an
 * offline record is also found by (kiosk, seq) at any age, and by its
 * request id in the log rows stamped near its tap time
 * (redemption_by_request_near), so a tap first tried online and uploaded
 * offline days later is never counted twice.
 *
 * Transactions: the engine opens one write transaction per batch of taps
 * (begin), runs each tap inside a savepoint, and commits once (group
 * commit).  The admin functions that write open their own transaction when
 * none is open (they must not be called inside a batch).
 *
 * Hash chains (see chain.h): redemptions form one chain and staff actions a
 * second one.  redemption_append() and staff_append() fill in id, prev_hash
 * and hash themselves (through chain_hash_*), keeping the head in memory;
 * rolling back a savepoint or a transaction puts the head back.
 *
 * Secrets of the data directory (read by engine_load_keys(), engine.h):
 *   DATA_DIR/card-master.key   card master key, 32 hex digits, mode 0600
 *   DATA_DIR/sdm-meta.key      SDM meta-read key, 32 hex digits, mode 0600
 *   DATA_DIR/lookup-salt.key   lookup-id salt, 32 hex digits, mode 0600
 */
#ifndef TAPAID_HOST_STORE_H
#define TAPAID_HOST_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SCHEMA_VERSION 2

/* Field sizes, including the terminating NUL. */
#define STORE_NO_LEN	 32   /* member number */
#define STORE_NAME_LEN	 96   /* member name, UTF-8 (32 CJK characters) */
#define STORE_UNION_LEN	 64   /* union name or code */
#define STORE_CAT_LEN	 32   /* member category */
#define STORE_ID_LEN	 32   /* kiosk id, service point id */
#define STORE_CODE_LEN	 32   /* benefit code */
#define STORE_TZ_LEN	 48   /* IANA time zone, "Asia/Shanghai" */
#define STORE_LIST_LEN	 1024 /* comma-separated list, "" = all */
#define STORE_SUN_LEN	 256  /* the SUN URL or query as read from the card */
#define STORE_REASON_LEN 16   /* card revocation reason */
#define STORE_PEM_LEN	 512  /* kiosk public key, PEM text */
#define STORE_ROLE_LEN	 16   /* staff role */
#define STORE_CMD_LEN	 32   /* admin command name */
#define STORE_DETAIL_LEN 160  /* security event detail */
#define STORE_LOOKUP_LEN 16   /* card lookup id (from tp_card_lookup_id) */
#define STORE_REQID_LEN	 16   /* kiosk request id */
#define STORE_HASH_LEN	 32   /* SHA-256 */
#define STORE_SIG_LEN	 64   /* ECDSA P-256 raw r || s */

enum store_err {
	STORE_OK = 0,
	STORE_ENOTFOUND = -1, /* no such member, card, kiosk, benefit, row */
	STORE_EEXISTS = -2,   /* the key is already taken */
	STORE_EINVALID = -3,  /* a field is empty, too long or out of range */
	STORE_ECONFLICT =
	    -4,		    /* the state does not allow it (already revoked) */
	STORE_EFULL = -5,   /* the disk (or max_page_count) is full */
	STORE_EBUSY = -6,   /* the database is locked by another process */
	STORE_EIO = -7,	    /* an I/O or other database error */
	STORE_ENOMEM = -8,  /* out of memory */
	STORE_ESCHEMA = -9, /* schema newer than this program, or corrupt */
	STORE_ESTATE = -10, /* call not allowed now (transaction state) */
};

/* Status of members, cards, kiosks (stored as these integers). */
enum store_status {
	STORE_ACTIVE = 0,
	STORE_SUSPENDED = 1, /* members */
	STORE_REVOKED = 2,   /* cards, kiosks */
};

/* Result of a stored tap. */
enum store_result {
	STORE_DENIED = 0,
	STORE_GRANTED = 1,
	STORE_CONFLICT = 2, /* an offline grant that would now be denied */
};

enum store_benefit_kind {
	STORE_QUOTA = 0,   /* quota per period */
	STORE_BALANCE = 1, /* money balance (cents) per period */
};

enum store_period {
	STORE_DAY = 0,
	STORE_MONTH = 1,
	STORE_YEAR = 2,
	STORE_LIFETIME = 3, /* never resets (balance benefits only) */
};

struct store_member {
	int64_t id; /* internal row id, filled by the store */
	char no[STORE_NO_LEN];
	char name[STORE_NAME_LEN];
	char union_[STORE_UNION_LEN];
	char category[STORE_CAT_LEN];
	int status; /* STORE_ACTIVE or STORE_SUSPENDED */
};

struct store_card {
	int64_t id; /* the card id shown to staff */
	uint8_t lookup[STORE_LOOKUP_LEN];
	int64_t member_id;
	char member_no[STORE_NO_LEN];
	int key_version;
	int status;		       /* STORE_ACTIVE or STORE_REVOKED */
	char reason[STORE_REASON_LEN]; /* lost|stolen|left|damaged|replaced */
	uint32_t last_ctr;	       /* last SDM read counter accepted */
	int64_t issued;		       /* unix seconds */
	int64_t replaced_by;	       /* card id, 0 if none */
};

struct store_kiosk {
	char id[STORE_ID_LEN];
	char point[STORE_ID_LEN];
	char tz[STORE_TZ_LEN];
	char pubkey_pem[STORE_PEM_LEN];
	int status;	     /* STORE_ACTIVE or STORE_REVOKED */
	int64_t last_seen;   /* unix seconds, 0 = never */
	int64_t offline_seq; /* last offline record seq applied, 0 = none */
	int64_t added;
};

struct store_benefit {
	char code[STORE_CODE_LEN];
	char name[STORE_NAME_LEN];
	int kind;	 /* enum store_benefit_kind */
	int per;	 /* enum store_period */
	int64_t quota;	 /* STORE_QUOTA: redemptions per period */
	int64_t balance; /* STORE_BALANCE: cents per period */
	int64_t amount;	 /* STORE_BALANCE: cents per redemption */
	char categories[STORE_LIST_LEN]; /* "a,b"; "" = every category */
	char unions[STORE_LIST_LEN];	 /* "" = every union */
	char points[STORE_LIST_LEN];	 /* "" = every service point */
	int offline;	     /* grants a kiosk may give offline, 0 = none */
	int32_t valid_from;  /* YYYYMMDD local, 0 = no start */
	int32_t valid_until; /* YYYYMMDD local, inclusive, 0 = no end */
	int hours_from;	     /* minutes after local midnight, -1 = all day */
	int hours_to;	     /* exclusive; may be < hours_from (overnight) */
};

/*
 * One row of the redemption log: every decided tap, granted or not (a tap
 * answered host_unavailable is not stored).  The kiosk's request id is
 * unique per kiosk; an offline record's seq is unique per kiosk.
 */
struct store_redemption {
	int64_t id; /* 1, 2, 3... without gaps: the chain position */
	int64_t ts; /* unix seconds: host time online, kiosk time offline */
	char kiosk[STORE_ID_LEN];
	char point[STORE_ID_LEN];
	uint8_t request_id[STORE_REQID_LEN];
	int64_t card_id;   /* 0 when the card is not known */
	int64_t member_id; /* 0 when not known */
	char benefit[STORE_CODE_LEN];
	uint8_t result; /* enum store_result */
	uint8_t reason; /* enum tp_reason (tapaid/proto.h) */
	uint8_t offline;
	uint8_t has_sig;
	int64_t left;	/* what is left this period after this tap, -1 n/a */
	int64_t amount; /* cents taken (balance benefits), else 0 */
	int64_t offline_seq; /* 0 for online taps */
	int64_t kiosk_time;
	int64_t period_start; /* the quota/balance period a grant counts in
			       * (unix seconds; 0 = lifetime or n/a) */
	uint32_t ctr;	 /* SDM read counter of the tap, 0 if not decrypted */
	uint8_t ctr_set; /* 1: this tap stored ctr as the card's last counter
			  * (card_set_ctr in the same transaction) */
	char masked[STORE_NAME_LEN];
	char sun[STORE_SUN_LEN];	  /* card's SUN text (keeps the CMAC) */
	uint8_t kiosk_sig[STORE_SIG_LEN]; /* offline record signature */
	uint8_t prev_hash[STORE_HASH_LEN];
	uint8_t hash[STORE_HASH_LEN];
};

/* Who did a staff action (from SO_PEERCRED and the role table). */
struct store_actor {
	uint32_t uid;
	char role[STORE_ROLE_LEN];
};

struct store_staff_action {
	int64_t id; /* 1, 2, 3... without gaps */
	int64_t ts;
	uint32_t uid;
	char role[STORE_ROLE_LEN];
	char cmd[STORE_CMD_LEN];
	const char *args; /* JSON text, NUL-terminated; "" if none.  On read,
			   * points into the store until the next call. */
	int64_t ref_id;	  /* redemption id for redemption.void, else 0 */
	int ok;		  /* 1 done/allowed, 0 refused */
	uint8_t prev_hash[STORE_HASH_LEN];
	uint8_t hash[STORE_HASH_LEN];
};

/* Kinds of security events (stored as text). */
#define STORE_SEC_BAD_SIGNATURE "bad_signature"
#define STORE_SEC_REPLAYED	"replayed_tap"
#define STORE_SEC_UNKNOWN_CARD	"unknown_card"
#define STORE_SEC_REVOKED_CARD	"revoked_card"
#define STORE_SEC_UNKNOWN_KIOSK "kiosk_not_enrolled"
#define STORE_SEC_MALFORMED	"malformed_frame"
#define STORE_SEC_FORBIDDEN	"forbidden"

struct store_security_event {
	int64_t id;
	int64_t ts;
	char kind[STORE_CMD_LEN];
	char kiosk[STORE_ID_LEN]; /* "" if none */
	int64_t card_id;	  /* 0 if none */
	char detail[STORE_DETAIL_LEN];
};

/*
 * A signed checkpoint of both chain heads (chain.h).  Checkpoints are
 * themselves chained: digest covers the previous checkpoint's digest.
 */
struct store_checkpoint {
	int64_t id;
	int64_t ts;
	int64_t r_head_id; /* redemption chain head, 0 = empty chain */
	uint8_t r_head_hash[STORE_HASH_LEN];
	int64_t s_head_id; /* staff-action chain head */
	uint8_t s_head_hash[STORE_HASH_LEN];
	uint8_t prev_digest[STORE_HASH_LEN];
	uint8_t digest[STORE_HASH_LEN];
	uint8_t sig[STORE_SIG_LEN];
};

/* log.query filter; empty strings and zeroes mean "any". */
struct store_log_filter {
	char member_no[STORE_NO_LEN];
	char kiosk[STORE_ID_LEN];
	char benefit[STORE_CODE_LEN];
	int64_t since;	  /* ts >= since, 0 = any */
	int64_t until;	  /* ts < until, 0 = any */
	int result;	  /* -1 any, else enum store_result */
	int64_t after_id; /* paging: rows with id > after_id */
	int limit;	  /* at most this many rows (1..10000; 0 = 100) */
};

/* One log.query row: the redemption plus what the query joins in. */
struct store_log_row {
	struct store_redemption r;
	char member_no[STORE_NO_LEN];
	char name[STORE_NAME_LEN]; /* full name: the caller masks it */
	int voided;
};

/* One line of report.data (section names in store_report_fn). */
struct store_report_row {
	const char *section;	  /* "per_day","per_benefit","per_point",
				   * "denials","security" */
	char key[STORE_NAME_LEN]; /* YYYY-MM-DD, benefit code, point, reason
				   * (enum tp_reason as decimal), event kind */
	int64_t granted;	  /* granted taps (security: event count) */
	int64_t denied;		  /* denied taps (conflicts counted here) */
	int64_t amount;		  /* cents granted */
};

typedef int (*store_member_fn)(void *ctx, const struct store_member *m);
typedef int (*store_card_fn)(void *ctx, const struct store_card *c);
typedef int (*store_kiosk_fn)(void *ctx, const struct store_kiosk *k);
typedef int (*store_benefit_fn)(void *ctx, const struct store_benefit *b);
typedef int (*store_log_fn)(void *ctx, const struct store_log_row *row);
typedef int (*store_sec_fn)(void *ctx, const struct store_security_event *e);
typedef int (*store_report_fn)(void *ctx, const struct store_report_row *r);

/* Streaming cursors over the chained tables, in id order (chain_verify). */
enum store_cursor_kind {
	STORE_CUR_REDEMPTIONS = 0, /* rows: struct store_redemption */
	STORE_CUR_STAFF = 1,	   /* rows: struct store_staff_action */
	STORE_CUR_CHECKPOINTS = 2, /* rows: struct store_checkpoint */
};
struct store_cursor;

struct store;

struct store_ops {
	const char *name; /* "sqlite" */
	void (*close)(struct store *s);
	const char *(*errmsg)(struct store *s);

	/* --- transactions (engine batches) --- */
	int (*begin)(struct store *s);	/* write transaction */
	int (*commit)(struct store *s); /* durable when it returns 0 */
	int (*rollback)(struct store *s);
	int (*savepoint)(struct store *s); /* one level, per tap */
	int (*release)(struct store *s);
	int (*rollback_to)(struct store *s); /* undo since savepoint, release */
	/* Generation: increases whenever kiosks or benefits change, so that
	 * the engine can keep them cached. */
	uint64_t (*generation)(struct store *s);

	/* --- hot path (inside a transaction) --- */
	int (*kiosk_get)(struct store *s, const char *id,
			 struct store_kiosk *k);
	int (*kiosk_touch)(struct store *s, const char *id, int64_t last_seen,
			   int64_t offline_seq /* -1: leave as is */);
	/* The card with this lookup id and its member (member->id == 0 when
	 * the card has no member row). */
	int (*card_find)(struct store *s,
			 const uint8_t lookup[STORE_LOOKUP_LEN],
			 struct store_card *c, struct store_member *m);
	int (*card_set_ctr)(struct store *s, int64_t card_id, uint32_t ctr);
	int (*benefit_get)(struct store *s, const char *code,
			   struct store_benefit *b);
	/* Granted, not voided redemptions of member for benefit in the period
	 * that starts at period_start (struct store_redemption.period_start):
	 * their number and the sum of their amounts. */
	int (*usage)(struct store *s, int64_t member_id, const char *benefit,
		     int64_t period_start, int64_t *count, int64_t *amount);
	int (*redemption_by_request)(struct store *s, const char *kiosk,
				     const uint8_t rid[STORE_REQID_LEN],
				     struct store_redemption *r);
	int (*redemption_by_seq)(struct store *s, const char *kiosk,
				 int64_t seq, struct store_redemption *r);
	/* The same, searched in the log itself among rows stamped from..until
	 * (for offline records older than the in-memory request index). */
	int (*redemption_by_request_near)(struct store *s, const char *kiosk,
					  const uint8_t rid[STORE_REQID_LEN],
					  int64_t from, int64_t until,
					  struct store_redemption *r);
	/* Fills r->id, prev_hash, hash; STORE_EEXISTS on a duplicate request
	 * id or offline seq. */
	int (*redemption_append)(struct store *s, struct store_redemption *r);
	int (*security_add)(struct store *s, struct store_security_event *e);

	/* --- members (admin) --- */
	/* All or nothing, in one transaction; an existing number is updated.
	 * On error errmsg names the line: first_line + index of the row. */
	int (*member_import)(struct store *s, const struct store_member *rows,
			     size_t n, int first_line);
	int (*member_add)(struct store *s, struct store_member *m);
	int (*member_get)(struct store *s, const char *no,
			  struct store_member *m);
	int (*member_get_id)(struct store *s, int64_t id,
			     struct store_member *m);
	int (*member_set_status)(struct store *s, const char *no, int status);
	int (*member_count)(struct store *s, int64_t *n);

	/* --- benefits (admin) --- */
	int (*benefit_add)(struct store *s, const struct store_benefit *b);
	int (*benefit_list)(struct store *s, store_benefit_fn fn, void *ctx);

	/* --- kiosks (admin) --- */
	int (*kiosk_add)(struct store *s, const struct store_kiosk *k);
	int (*kiosk_revoke)(struct store *s, const char *id);
	int (*kiosk_list)(struct store *s, store_kiosk_fn fn, void *ctx);

	/* --- cards (admin) --- */
	/* New active card for member_no; STORE_EEXISTS if the lookup id is
	 * registered.  *card_id gets the new id. */
	int (*card_register)(struct store *s,
			     const uint8_t lookup[STORE_LOOKUP_LEN],
			     const char *member_no, int key_version,
			     uint32_t ctr, int64_t now, int64_t *card_id);
	int (*card_revoke)(struct store *s, int64_t card_id,
			   const char *reason);
	/* One transaction: revoke old (reason "replaced"), register the new
	 * card for the same member (usage is per member, so it follows), and
	 * append a staff-action row "card.replace" by actor.  STORE_ECONFLICT
	 * if old is already revoked. */
	int (*card_replace)(struct store *s, int64_t old_id,
			    const uint8_t lookup[STORE_LOOKUP_LEN],
			    int key_version, uint32_t ctr, int64_t now,
			    const struct store_actor *actor, int64_t *new_id);
	int (*card_get)(struct store *s, int64_t card_id, struct store_card *c);
	int (*card_list)(struct store *s, int64_t member_id, store_card_fn fn,
			 void *ctx);

	/* --- log (admin) --- */
	/* Rows matching f in id order; *next = id of the last row returned
	 * when more may follow, else 0. */
	int (*log_query)(struct store *s, const struct store_log_filter *f,
			 store_log_fn fn, void *ctx, int64_t *next);
	/* Appends a "redemption.void" staff action referencing id (never
	 * changes the redemption row).  STORE_ECONFLICT if already voided or
	 * not granted. */
	int (*redemption_void)(struct store *s, int64_t id, const char *reason,
			       const struct store_actor *actor, int64_t now);
	int (*redemption_get)(struct store *s, int64_t id,
			      struct store_redemption *r, int *voided);
	/* Aggregates over since <= ts < until; per_day in UTC + utc_offset
	 * seconds. */
	int (*report)(struct store *s, int64_t since, int64_t until,
		      int64_t utc_offset, store_report_fn fn, void *ctx);

	/* --- security events --- */
	int (*security_list)(struct store *s, int64_t since, int64_t after_id,
			     int limit, store_sec_fn fn, void *ctx);

	/* --- staff actions (own transaction unless one is open) --- */
	int (*staff_append)(struct store *s, struct store_staff_action *a);

	/* Writes state the backend keeps in memory ahead of its tables (the
	 * SQLite backend: card counters and usage, see store_sqlite.c) in its
	 * own transaction.  chain_checkpoint() and close call it; calling it
	 * more often is harmless.  Not inside a transaction. */
	int (*flush)(struct store *s);

	/* --- chain support --- */
	int (*chain_heads)(struct store *s, int64_t *r_id,
			   uint8_t r_hash[STORE_HASH_LEN], int64_t *s_id,
			   uint8_t s_hash[STORE_HASH_LEN]);
	int (*checkpoint_last)(struct store *s, struct store_checkpoint *c);
	int (*checkpoint_add)(struct store *s, struct store_checkpoint *c);
	int (*cursor_open)(struct store *s, int kind, int64_t after_id,
			   struct store_cursor **cur);
	/* 1 = *row filled, 0 = end, < 0 = error.  row is the struct named
	 * by kind. */
	int (*cursor_next)(struct store_cursor *cur, void *row);
	void (*cursor_close)(struct store_cursor *cur);
	/* Row counts of a table for progress (STORE_CUR_*). */
	int (*count)(struct store *s, int kind, int64_t *n);
};

/* Every backend's handle starts with this. */
struct store {
	const struct store_ops *ops;
};

/*
 * Opens (creating if needed) the SQLite database at path, applies the
 * schema migrations up to STORE_SCHEMA_VERSION, sets WAL and
 * synchronous=FULL.  *out is freed with store_close().
 * @retval STORE_ESCHEMA the file's user_version is newer than this program.
 */
int store_sqlite_open(const char *path, struct store **out);

/*
 * Only one handle writes (it holds the flock on PATH-writer and keeps the
 * write-behind state).  store_sqlite_open() on a database that already
 * has a writer (another process, or another handle in this one, e.g. a
 * job thread) gives a read-only handle: every write returns STORE_ESTATE,
 * reads see what is committed (counters and usage as last flushed).
 * store_sqlite_open_readonly() always gives one (log verify, reports).
 */
int store_sqlite_open_readonly(const char *path, struct store **out);
int store_sqlite_is_readonly(struct store *s);

/* Why the last store_sqlite_open() failed in this thread (one sentence). */
const char *store_sqlite_open_error(void);

/* The sqlite3 * behind a store_sqlite handle (tests, bench, tools only). */
void *store_sqlite_handle(struct store *s);

/* Name of an enum store_err ("not_found", "exists", "invalid", "conflict",
 * "storage", "internal") as the admin socket's "code". */
const char *store_err_code(int err);

/* Thin wrappers, so callers read store_member_add(s, &m). */
#define STORE_CALL(s, fn, ...) ((s)->ops->fn((s), __VA_ARGS__))
static inline void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}
static inline const char *store_errmsg(struct store *s)
{
	return s->ops->errmsg(s);
}

#endif
