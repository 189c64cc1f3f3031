/*
 * gen-bench-db - builds the host benchmark's data directory:
 *
 *   DIR/tapaid.db         400,000 members (Chinese names), 150,000 cards,
 *                         200 kiosks at 100 service points, 4 benefits,
 *                         2,000,000 past redemptions over the last year,
 *                         hash-chained like real ones
 *   DIR/card-master.key, sdm-meta.key, lookup-salt.key   fixed bench keys
 *
 * usage: gen-bench-db DIR [members cards redemptions]
 *
 * It goes through the store interface (member_import, card_register,
 * redemption_append), so the data is exactly what the daemon would have
 * written; only synchronous is relaxed while generating.  Deterministic
 * (fixed PRNG seed).  Card n has UID 04 B0 nn nn nn 5E 80 and key version
 * 1; its last counter is the number of its past taps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tapaid/crypto.h"
#include "tapaid/ntag.h"

#include "../host/engine.h"
#include "../host/store.h"

#define NKIOSKS 200
#define NPOINTS 100

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t below(uint32_t n)
{
	return (uint32_t)(next() % n);
}

static const char *const surnames[] = {
    "王", "李", "张", "刘", "陈", "杨", "黄",	"赵",	"吴",	"周",
    "徐", "孙", "马", "朱", "胡", "郭", "何",	"高",	"林",	"罗",
    "郑", "梁", "谢", "宋", "唐", "许", "韩",	"冯",	"邓",	"曹",
    "彭", "曾", "肖", "田", "董", "袁", "潘",	"于",	"蒋",	"蔡",
    "余", "杜", "叶", "程", "苏", "魏", "吕",	"丁",	"任",	"沈",
    "姚", "卢", "姜", "崔", "钟", "谭", "陆",	"汪",	"范",	"金",
    "石", "廖", "贾", "夏", "韦", "付", "方",	"白",	"邹",	"孟",
    "熊", "秦", "邱", "江", "尹", "薛", "闫",	"段",	"雷",	"侯",
    "龙", "史", "陶", "黎", "贺", "顾", "毛",	"郝",	"龚",	"邵",
    "万", "钱", "严", "覃", "武", "戴", "欧阳", "司马", "诸葛", "上官",
};
static const char *const given[] = {
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳",
    "杰", "娟", "涛", "明", "超", "秀", "霞", "平", "刚", "桂", "英", "华",
    "玉", "萍", "红", "文", "辉", "建", "国", "志", "斌", "鹏", "宇", "浩",
    "俊", "峰", "亮", "海", "晨", "雪", "琳", "婷", "欣", "佳", "子", "梓",
    "轩", "睿", "博", "涵", "怡", "思", "雨", "宁", "安", "诚", "德", "福",
    "贵", "荣", "祥", "瑞", "林", "森", "清", "松", "波", "春", "秋", "云",
    "飞", "凤", "天", "成", "新", "永", "康", "健", "乐", "和", "兴", "旺",
    "隆", "泰", "嘉", "慧", "颖", "晶", "莉", "燕", "兰", "梅", "琴", "珍",
};
static const char *const categories[] = {"worker",  "worker",	    "worker",
					 "retired", "model_worker", "migrant",
					 "disabled"};
#define N(a) (sizeof(a) / sizeof(a[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(struct store *s, const char *what, int err)
{
	fprintf(stderr, "gen-bench-db: %s: %s (%d)\n", what,
		s ? store_errmsg(s) : "", err);
	exit(1);
}

static void write_key(const char *dir, const char *name, uint8_t fill)
{
	char path[512], hex[33];
	uint8_t k[16];
	int fd;

	for (int i = 0; i < 16; i++)
		k[i] = (uint8_t)(fill + i * 7);
	tp_hex_encode(k, 16, hex, 0);
	hex[32] = '\n';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, hex, 33) != 33 || close(fd) != 0) {
		perror(path);
		exit(1);
	}
}

/* The UID of bench card n. */
void gen_bench_uid(int n, uint8_t uid[7]);
void gen_bench_uid(int n, uint8_t uid[7])
{
	uid[0] = 0x04;
	uid[1] = 0xB0;
	uid[2] = (uint8_t)(n >> 16);
	uid[3] = (uint8_t)(n >> 8);
	uid[4] = (uint8_t)n;
	uid[5] = 0x5E;
	uid[6] = 0x80;
}

static void benefits(struct store *s)
{
	static const struct {
		const char *code, *name;
		int kind, per;
		int64_t quota, balance, amount;
	} b[] = {
	    {"MEAL", "食堂午餐补贴", STORE_QUOTA, STORE_DAY, 3, 0, 0},
	    {"PARK", "公园入园", STORE_QUOTA, STORE_MONTH, 30, 0, 0},
	    {"EXAM", "年度体检", STORE_QUOTA, STORE_YEAR, 1, 0, 0},
	    {"CANTEEN", "餐费补贴", STORE_BALANCE, STORE_YEAR, 0, 360000, 1500},
	};
	struct store_benefit x;

	for (size_t i = 0; i < N(b); i++) {
		memset(&x, 0, sizeof(x));
		snprintf(x.code, sizeof(x.code), "%s", b[i].code);
		snprintf(x.name, sizeof(x.name), "%s", b[i].name);
		x.kind = b[i].kind;
		x.per = b[i].per;
		x.quota = b[i].quota;
		x.balance = b[i].balance;
		x.amount = b[i].amount;
		x.hours_from = x.hours_to = -1;
		int err = STORE_CALL(s, benefit_add, &x);
		if (err && err != STORE_EEXISTS)
			die(s, "benefit", err);
	}
}

int main(int argc, char **argv)
{
	const char *dir;
	char path[512];
	struct store *s;
	struct store_member *rows;
	struct store_kiosk k;
	struct engine_keys keys;
	struct engine *e;
	uint32_t *ctr;
	int64_t *card_member;
	long nmembers = 400000, ncards = 150000, nred = 2000000;
	int64_t now = (int64_t)time(NULL), start;
	double t0, t1;
	int err;

	if (argc != 2 && argc != 5) {
		fprintf(
		    stderr,
		    "usage: gen-bench-db DIR [members cards redemptions]\n");
		return 2;
	}
	dir = argv[1];
	if (argc == 5) {
		nmembers = atol(argv[2]);
		ncards = atol(argv[3]);
		nred = atol(argv[4]);
		if (nmembers < 1 || ncards < 1 || ncards > nmembers ||
		    ncards > 0xFFFFFF || nred < 0) {
			fprintf(stderr, "gen-bench-db: bad sizes\n");
			return 2;
		}
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/tapaid.db", dir);
	if (access(path, F_OK) == 0) {
		fprintf(stderr, "gen-bench-db: %s exists; remove it first\n",
			path);
		return 1;
	}
	write_key(dir, ENGINE_MASTER_KEY_FILE, 0x11);
	write_key(dir, ENGINE_META_KEY_FILE, 0x22);
	write_key(dir, ENGINE_SALT_FILE, 0x33);
	if ((err = engine_load_keys(dir, &keys)))
		die(NULL, "keys", err);
	if ((err = store_sqlite_open(path, &s))) {
		fprintf(stderr, "gen-bench-db: %s\n",
			store_sqlite_open_error());
		return 1;
	}
	if ((err = engine_new(s, &keys, "Asia/Shanghai", &e)))
		die(NULL, "engine", err);
	/* Generation only: no fsync per commit. */
	sqlite3_exec(store_sqlite_handle(s), "PRAGMA synchronous = OFF", NULL,
		     NULL, NULL);
	benefits(s);
	for (int i = 0; i < NKIOSKS; i++) {
		memset(&k, 0, sizeof(k));
		snprintf(k.id, sizeof(k.id), "K%03d", i + 1);
		snprintf(k.point, sizeof(k.point), "P%03d", i % NPOINTS + 1);
		snprintf(k.tz, sizeof(k.tz), "Asia/Shanghai");
		snprintf(k.pubkey_pem, sizeof(k.pubkey_pem),
			 "-----BEGIN PUBLIC KEY-----\nbench\n"
			 "-----END PUBLIC KEY-----\n");
		if ((err = STORE_CALL(s, kiosk_add, &k)))
			die(s, "kiosk", err);
	}

	/* Members: one import, as member.import would do it. */
	rows = calloc((size_t)nmembers, sizeof(*rows));
	if (!rows)
		die(NULL, "out of memory", 0);
	for (long i = 0; i < nmembers; i++) {
		struct store_member *m = &rows[i];
		const char *g2 = below(3) ? given[below(N(given))] : "";

		snprintf(m->no, sizeof(m->no), "M%07ld", i + 1);
		snprintf(m->name, sizeof(m->name), "%s%s%s",
			 surnames[below(N(surnames))], given[below(N(given))],
			 g2);
		snprintf(m->union_, sizeof(m->union_), "U%02u", below(40) + 1);
		snprintf(m->category, sizeof(m->category), "%s",
			 categories[below(N(categories))]);
		m->status = below(100) == 0 ? STORE_SUSPENDED : STORE_ACTIVE;
	}
	t0 = now_s();
	if ((err = STORE_CALL(s, member_import, rows, (size_t)nmembers, 2)))
		die(s, "member import", err);
	t1 = now_s();
	printf("members:     %ld imported in %.2f s (one transaction)\n",
	       nmembers, t1 - t0);
	free(rows);

	/* Cards: card n belongs to member n * members / cards + 1. */
	ctr = calloc((size_t)ncards + 1, sizeof(*ctr));
	card_member = calloc((size_t)ncards + 1, sizeof(*card_member));
	if (!ctr || !card_member)
		die(NULL, "out of memory", 0);
	t0 = now_s();
	if ((err = s->ops->begin(s)))
		die(s, "begin", err);
	for (long n = 1; n <= ncards; n++) {
		uint8_t uid[7], lookup[16];
		char no[STORE_NO_LEN];
		int64_t id;

		gen_bench_uid((int)n, uid);
		tp_card_lookup_id(keys.salt, uid, lookup);
		snprintf(no, sizeof(no), "M%07ld",
			 (long)((n - 1) * nmembers / ncards + 1));
		if ((err = STORE_CALL(s, card_register, lookup, no, 1, 0,
				      now - 400 * 86400, &id)))
			die(s, "card", err);
		card_member[n] = (n - 1) * nmembers / ncards + 1;
	}
	if ((err = s->ops->commit(s)))
		die(s, "commit", err);
	printf("cards:       %ld in %.2f s\n", ncards, now_s() - t0);

	/* Past redemptions, one year, ids and times increasing. */
	static const char *const bcodes[] = {"MEAL", "MEAL", "PARK", "EXAM",
					     "CANTEEN"};
	start = now - 365 * 86400;
	t0 = now_s();
	if ((err = s->ops->begin(s)))
		die(s, "begin", err);
	for (long i = 0; i < nred; i++) {
		struct store_redemption r;
		static struct store_member m;
		uint32_t n = below((uint32_t)ncards) + 1;
		uint32_t roll = below(100);
		uint64_t a = next(), b = next();
		char hp[33], hm[17];

		memset(&r, 0, sizeof(r));
		r.ts = start + (int64_t)((double)i * (365.0 * 86400) / nred);
		r.kiosk_time = r.ts;
		snprintf(r.kiosk, sizeof(r.kiosk), "K%03u", below(NKIOSKS) + 1);
		snprintf(r.point, sizeof(r.point), "P%03u",
			 (unsigned)((atoi(r.kiosk + 1) - 1) % NPOINTS + 1));
		memcpy(r.request_id, &a, 8);
		memcpy(r.request_id + 8, &b, 8);
		r.card_id = n;
		r.member_id = card_member[n];
		snprintf(r.benefit, sizeof(r.benefit), "%s",
			 bcodes[below(N(bcodes))]);
		r.ctr = ++ctr[n];
		r.ctr_set = 1;
		{
			struct engine_localtime lt;

			engine_localtime(e, "Asia/Shanghai", r.ts, &lt);
			r.period_start = r.benefit[0] == 'M'   ? lt.day_start
					 : r.benefit[0] == 'P' ? lt.month_start
							       : lt.year_start;
		}
		if (roll < 92) {
			r.result = STORE_GRANTED;
			r.reason = 0;
			r.left = below(3);
			if (strcmp(r.benefit, "CANTEEN") == 0)
				r.amount = 1500;
		} else {
			r.result = STORE_DENIED;
			r.reason = (uint8_t)(roll < 97 ? 6 : roll < 99 ? 3 : 4);
			r.left = r.reason == 6 ? 0 : -1;
		}
		if ((i & 1023) == 0 || r.member_id != m.id) {
			if (STORE_CALL(s, member_get_id, r.member_id, &m) == 0)
				mask_name(m.name, r.masked, 65);
		}
		tp_hex_encode((uint8_t *)&a, 8, hp, 1);
		tp_hex_encode((uint8_t *)&b, 8, hp + 16, 1);
		tp_hex_encode((uint8_t *)&a, 8, hm, 1);
		hp[32] = hm[16] = '\0';
		snprintf(r.sun, sizeof(r.sun),
			 "https://sc.union.example/t?p=%s&c=%s", hp, hm);
		if ((err = s->ops->redemption_append(s, &r)))
			die(s, "redemption", err);
		if (i % 20000 == 19999) {
			if ((err = s->ops->commit(s)) ||
			    (err = s->ops->begin(s)))
				die(s, "commit", err);
		}
	}
	/* Each card's last counter is its number of past taps. */
	for (long n = 1; n <= ncards; n++)
		if ((err = s->ops->card_set_ctr(s, n, ctr[n])))
			die(s, "counter", err);
	if ((err = s->ops->commit(s)))
		die(s, "commit", err);
	printf("redemptions: %ld in %.2f s\n", nred, now_s() - t0);
	t0 = now_s();
	/* Back to FULL so that the checkpoint fsyncs: the bench must not
	 * start while the kernel is still writing this run's pages back. */
	sqlite3_exec(store_sqlite_handle(s),
		     "ANALYZE; PRAGMA synchronous = FULL;"
		     " PRAGMA wal_checkpoint(TRUNCATE);",
		     NULL, NULL, NULL);
	sync();
	printf("analyze+checkpoint+sync: %.2f s\n", now_s() - t0);
	tp_wipe(&keys, sizeof(keys));
	engine_free(e);
	free(ctr);
	free(card_member);
	store_close(s);
	return 0;
}
