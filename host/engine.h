/*
 * engine.h - the host's decision for a tap.
 *
 * The daemon collects the taps that arrive during one turn of its loop and
 * hands them to engine_decide_batch(), which decides all of them inside ONE
 * write transaction (each tap in its own savepoint) and commits once with
 * synchronous=FULL: the fsync cost is shared by the batch, and no answer
 * leaves before its row is on disk.
 *
 * Checks, in this order (the first that fails names the reason, enum
 * tp_reason in tapaid/proto.h):
 *   0. a retry (same kiosk + request id, or same kiosk + offline seq) gets
 *      the stored first answer back, duplicate = 1, and nothing changes;
 *   1. kiosk enrolled and active                     -> kiosk_not_enrolled
 *   2. SUN text parses and PICC data decrypts         -> not_a_service_card
 *   3. card known by its lookup id                    -> unknown_card
 *   4. SUN CMAC right under the card's diversified key -> bad_signature
 *   5. counter > last counter seen (then stored)      -> replayed_tap
 *   6. card active                                    -> revoked_card
 *   7. member active                                  -> member_suspended
 *   8. benefit exists and is for the member's category and union
 *                                                     -> not_eligible
 *   9. service point allowed                          -> wrong_service_point
 *  10. validity dates and hours, in the point's local time -> outside_hours
 *  11. quota for the period (day/month/year in the point's local time) or
 *      balance left                                   -> quota_used_up
 * Security events are recorded for 1, 3, 4, 5 and 6.
 *
 * Counter: the SDM read counter is 24-bit.  0xFFFFFF is the last value a
 * card can produce; a tap with it is accepted once, after which every tap
 * of that card is replayed_tap (the card cannot count further: it must be
 * replaced).  A counter never wraps to 0 on the host side.
 *
 * Offline records (offline = 1): already verified by the daemon (kiosk
 * ECDSA signature, kept in the row), applied in order of seq per kiosk.  A
 * seq at or below the kiosk's last applied seq is a duplicate: the stored
 * answer comes back with duplicate = 1.  Every check above runs against the
 * record's kiosk_time; a record that would now be denied is stored with
 * result STORE_CONFLICT and the reason, for review, never dropped.  A
 * counter at or below the last seen is a conflict too (the card may have
 * been tapped online elsewhere in between); the stored counter only grows.
 * Conflicts do not count towards quota or balance.  A record of a tap the
 * kiosk denied offline (offline_reason != granted) is stored as denied with
 * the kiosk's reason (or the host's, if the host would deny it too).
 *
 * Balance benefits: balance cents per period (per = year, month, day, or
 * lifetime), amount cents per redemption; left is in cents.
 */
#ifndef TAPAID_HOST_ENGINE_H
#define TAPAID_HOST_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* File names inside the data directory (32 hex digits each, mode 0600). */
#define ENGINE_MASTER_KEY_FILE "card-master.key"
#define ENGINE_META_KEY_FILE   "sdm-meta.key"
#define ENGINE_SALT_FILE       "lookup-salt.key"

/* The key version staff issue cards at (tapaidctl card issue). */
#define ENGINE_CARD_KEY_VERSION 1

struct engine_keys {
	uint8_t master[16]; /* card master key (AN10922 diversification) */
	uint8_t meta[16];   /* SDM meta-read key, shared by all cards */
	uint8_t salt[16];   /* lookup-id salt */
};

/*
 * Reads the three key files from data_dir.  A file that group or others
 * can read is refused (TP_ERR_KEYPERM), a missing or malformed one gives
 * TP_ERR_KEYFILE.  Returns 0 or a negative enum tp_err.  Wipe keys with
 * tp_wipe() when done.
 */
int engine_load_keys(const char *data_dir, struct engine_keys *keys);

struct engine;

/*
 * Creates an engine over an open store.  keys are copied (and wiped from
 * the engine at engine_free()).  default_tz is the zone used when a kiosk
 * has none and for engine_member_usage() ("Asia/Shanghai"; NULL = "UTC").
 * Returns 0 or a negative enum tp_err.
 */
int engine_new(struct store *s, const struct engine_keys *keys,
	       const char *default_tz, struct engine **out);
void engine_free(struct engine *e);

/* One tap as the daemon received it. */
struct engine_tap {
	char kiosk[STORE_ID_LEN];	     /* authenticated kiosk id */
	uint8_t request_id[STORE_REQID_LEN]; /* the kiosk's random id */
	char benefit[STORE_CODE_LEN];
	char sun[STORE_SUN_LEN]; /* SUN URL or query text read from the card */
	int64_t kiosk_time;	 /* unix seconds, the kiosk's clock */
	uint8_t offline;	 /* 1: an offline record from the queue */
	uint8_t has_sig;
	int64_t offline_seq;		  /* record seq (offline only, > 0) */
	uint8_t offline_reason;		  /* the kiosk's own offline decision
					   * (enum tp_reason): a record of an offline
					   * denial is stored as denied, never counted */
	uint8_t kiosk_sig[STORE_SIG_LEN]; /* the record's signature */
	/* Filled by engine_tap_prepare() (off the store thread), else by the
	 * decision itself. */
	struct engine_card_data {
		uint8_t prepared;    /* 1: the fields below hold for sun[] */
		uint8_t picc_ok;     /* SUN parsed, PICC data decrypted */
		uint8_t lookup_err;  /* the lookup id could not be derived */
		uint8_t mac_checked; /* mac_ok is worked out for cards at */
		uint8_t mac_ok;	     /* ENGINE_CARD_KEY_VERSION */
		uint8_t uid[7];
		uint32_t ctr;
		uint8_t lookup[STORE_LOOKUP_LEN];
	} card;
};

/*
 * Decrypts the tap's SUN PICC data under the meta key, derives the card's
 * lookup id and checks the SUN's CMAC under the card key of version
 * ENGINE_CARD_KEY_VERSION, so that the thread that decides the batch need
 * not: the card cryptography that needs no database.  A card of another
 * key version is checked at the decision.  Any thread; the keys are only
 * read.  engine_tap_wipe() clears the result (the UID) after use.
 */
void engine_tap_prepare(const struct engine_keys *keys, struct engine_tap *t);
void engine_tap_wipe(struct engine_tap *t);

/* The answer to one tap. */
struct engine_decision {
	uint8_t result;	   /* enum store_result */
	uint8_t reason;	   /* enum tp_reason */
	uint8_t duplicate; /* 1: the stored answer to an earlier request */
	char masked[STORE_NAME_LEN]; /* "王*明", "" when no member known */
	char benefit[STORE_CODE_LEN];
	int64_t left;	       /* left this period after this tap, -1 n/a */
	int64_t redemption_id; /* 0 when nothing was stored */
};

/*
 * Decides taps[0..n) in one transaction and commits it durably; now is the
 * host's clock (unix seconds).  Taps are decided in array order, so of two
 * taps of one card in one batch the first wins.  Each tap runs in its own
 * savepoint: a failure of one tap's statements denies that tap with
 * host_unavailable and undoes only its changes.
 *
 * Returns 0 when the batch is committed (out[i] are final), or a negative
 * enum store_err when the commit (or BEGIN) failed, e.g. STORE_EFULL: then
 * every out[i] is denied with host_unavailable, nothing of the batch is
 * stored, and the next batch tries again from a clean state.
 */
int engine_decide_batch(struct engine *e, const struct engine_tap *taps,
			size_t n, struct engine_decision *out, int64_t now);

/* Usage of one benefit by a member in the period containing now. */
struct engine_usage {
	char benefit[STORE_CODE_LEN];
	int64_t used;	      /* redemptions (quota) or cents (balance) */
	int64_t left;	      /* quota or cents left */
	const char *period;   /* "day","month","year","lifetime" */
	int64_t period_start; /* unix seconds */
};
typedef int (*engine_usage_fn)(void *ctx, const struct engine_usage *u);

/*
 * For member.show: every benefit the member is eligible for, with what is
 * used and left in the current period (engine's default time zone).
 * Opens no transaction of its own (reads).  Returns 0 or enum store_err.
 */
int engine_member_usage(struct engine *e, int64_t member_id, int64_t now,
			engine_usage_fn fn, void *ctx);

/*
 * Start of the period (enum store_period) containing t in time zone tz
 * (IANA name; NULL or "" = UTC), and its end (start of the next period).
 * Also gives the local date as YYYYMMDD and minutes after local midnight
 * as the wall clock shows them (on a DST day, not the minutes elapsed).
 * Results are cached per zone and day.  Not thread-safe (uses TZ).
 * Returns 0, or TP_ERR_VALUE for an unknown zone (then UTC is used).
 */
struct engine_localtime {
	int64_t day_start, day_end;
	int64_t month_start, month_end;
	int64_t year_start, year_end;
	int32_t yyyymmdd;
	int minute; /* minutes after local midnight, by the wall clock */
	/* the UTC offset (s) from day_start, and from shift_at on (a day with
	 * a DST change; shift_at = day_end on other days) */
	int64_t off0, off1, shift_at;
};
int engine_localtime(struct engine *e, const char *tz, int64_t t,
		     struct engine_localtime *lt);

/* --- mask.c --- */

/*
 * Masks a UTF-8 name for display: the first and last code points stay,
 * each one between becomes '*' ("王小明" -> "王*明", "欧阳小明" ->
 * "欧**明"); a two-code-point name keeps the first ("王明" -> "王*"); a
 * one-code-point name becomes "*".  Invalid UTF-8 bytes count as one code
 * point each.  out always gets a NUL-terminated string (cut at a code point
 * if outsz is too small).  Returns the length written.
 */
size_t mask_name(const char *name, char *out, size_t outsz);

#endif
