/*
 * ctl_log.c - tapaidctl log [filters] [--csv|--json], log verify, and
 * redemption void.
 *
 * The log is read page by page (log.query with limit and after_id), so a
 * long export streams as CSV or JSON lines without holding it all.  Names
 * are masked by the daemon unless --show-names is given (a recorded
 * request, allowed to staff and admin only).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl_int.h"

#define PAGE 5000

static const char log_usage[] =
    "tapaidctl log [--member N] [--kiosk K] [--benefit CODE] [--since DATE]\n"
    "              [--until DATE] [--result granted|denied] [--show-names]\n"
    "              [--limit N] [--csv | --json]\n"
    "tapaidctl log verify [--checkpoint ID:DIGEST] [--json]\n"
    "  DATE is YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]; a table is printed unless\n"
    "  --csv (RFC 4180, CRLF) or --json (one object per line) is given";

static const char *const cols[] = {"id",     "ts",   "kiosk",	"point",
				   "member", "name", "benefit", "result",
				   "reason", "left", "offline", "voided"};
static const char *const heads[] = {"ID",     "TIME", "KIOSK",	 "POINT",
				    "MEMBER", "NAME", "BENEFIT", "RESULT",
				    "REASON", "LEFT", "OFFLINE", "VOIDED"};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

/*
 * A row's value as text.  ts numbers become local ISO 8601 with the UTC
 * offset (the daemon reads --since/--until as local time too).
 */
static const char *cell(const cJSON *row, size_t i, char *buf, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, cols[i]);

	if (i == 1 && cJSON_IsNumber(v)) {
		time_t t = (time_t)v->valuedouble;
		struct tm tm;

		if (localtime_r(&t, &tm) != NULL &&
		    strftime(buf, cap, "%Y-%m-%dT%H:%M:%S%z", &tm) > 0)
			return buf;
	}
	return ctl_json_text(v, buf, cap);
}

enum fmt { FMT_TABLE, FMT_CSV, FMT_JSON };

static int log_verify(int argc, char **argv);

/* The last checkpoint, in the form --checkpoint takes back. */
static void print_last(const cJSON *last)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(last, "id");
	const cJSON *dg = cJSON_GetObjectItemCaseSensitive(last, "digest");
	char b[32], when[40];

	if (!cJSON_IsString(dg))
		return;
	/* its "ts" as the log table shows a row's (cols[1]) */
	cell(last, 1, when, sizeof(when));
	printf("last checkpoint %s:%s (%s)\n"
	       "keep it elsewhere; a later \"log verify --checkpoint\" with "
	       "it fails if the log was cut back past it\n",
	       ctl_json_text(id, b, sizeof(b)), dg->valuestring, when);
}

int ctl_log(int argc, char **argv)
{
	enum {
		O_MEM = 1,
		O_KIO,
		O_BEN,
		O_SINCE,
		O_UNTIL,
		O_RES,
		O_SHOW,
		O_CSV,
		O_JSON,
		O_LIMIT
	};
	static const struct option lo[] = {
	    {"member", required_argument, NULL, O_MEM},
	    {"kiosk", required_argument, NULL, O_KIO},
	    {"benefit", required_argument, NULL, O_BEN},
	    {"since", required_argument, NULL, O_SINCE},
	    {"until", required_argument, NULL, O_UNTIL},
	    {"result", required_argument, NULL, O_RES},
	    {"show-names", no_argument, NULL, O_SHOW},
	    {"csv", no_argument, NULL, O_CSV},
	    {"json", no_argument, NULL, O_JSON},
	    {"limit", required_argument, NULL, O_LIMIT},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *f[6] = {0};
	static const char *const fkey[6] = {"member", "kiosk", "benefit",
					    "since",  "until", "result"};
	enum fmt fmt = FMT_TABLE;
	uint64_t limit = 0, shown = 0;
	int o, show = 0, rc = CTL_FAIL, first_page = 1;
	struct ctl_conn *c = NULL;
	struct ctl_table t;
	cJSON *after = NULL;

	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return log_verify(argc - 1, argv + 1);
	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case O_MEM:
		case O_KIO:
		case O_BEN:
		case O_SINCE:
		case O_UNTIL:
		case O_RES:
			f[o - O_MEM] = optarg;
			break;
		case O_SHOW:
			show = 1;
			break;
		case O_CSV:
			if (fmt == FMT_JSON)
				return ctl_usage(log_usage);
			fmt = FMT_CSV;
			break;
		case O_JSON:
			if (fmt == FMT_CSV)
				return ctl_usage(log_usage);
			fmt = FMT_JSON;
			break;
		case O_LIMIT:
			if (!ctl_parse_u64(optarg, 1, UINT32_MAX, &limit)) {
				ctl_err("--limit takes a positive number");
				return CTL_USAGE;
			}
			break;
		case 'h':
			puts(log_usage);
			return CTL_OK;
		default:
			return ctl_usage(log_usage);
		}
	}
	if (optind != argc)
		return ctl_usage(log_usage);
	for (int i = 3; i <= 4; i++)
		if (f[i] && !ctl_valid_date(f[i])) {
			ctl_err("--%s '%s' is not a date (YYYY-MM-DD or "
				"YYYY-MM-DDTHH:MM[:SS])",
				fkey[i], f[i]);
			return CTL_USAGE;
		}
	if (f[5] && strcmp(f[5], "granted") && strcmp(f[5], "denied")) {
		ctl_err("--result is granted or denied");
		return CTL_USAGE;
	}
	if (ctl_open(&c) != CTL_OK)
		return CTL_FAIL;
	ctl_table_init(&t, NCOLS, heads);
	if (fmt == FMT_CSV)
		ctl_csv_record(stdout, cols, NCOLS);
	for (;;) {
		cJSON *args = cJSON_CreateObject(), *data = NULL;
		const cJSON *rows, *row, *next;
		uint64_t want = PAGE;

		if (limit && limit - shown < want)
			want = limit - shown;
		for (int i = 0; i < 6; i++)
			if (f[i])
				cJSON_AddStringToObject(args, fkey[i], f[i]);
		cJSON_AddBoolToObject(args, "show_names", show);
		cJSON_AddNumberToObject(args, "limit", (double)want);
		if (after)
			cJSON_AddItemToObject(args, "after_id", after);
		after = NULL;
		if (ctl_call(c, "log.query", args, &data, NULL) != CTL_OK)
			goto out;
		if (show && after == NULL && shown == 0 && first_page) {
			first_page = 0;
			if (ctl_check_show_names(c, "log") != CTL_OK) {
				cJSON_Delete(data);
				goto out;
			}
		}
		rows = cJSON_GetObjectItemCaseSensitive(data, "rows");
		cJSON_ArrayForEach(row, rows)
		{
			char b[NCOLS][128];
			const char *v[NCOLS];

			if (fmt == FMT_JSON) {
				ctl_json_line(stdout, row);
			} else {
				for (size_t i = 0; i < NCOLS; i++)
					v[i] = cell(row, i, b[i], sizeof(b[i]));
				if (fmt == FMT_CSV)
					ctl_csv_record(stdout, v, NCOLS);
				else if (ctl_table_add(&t, v) < 0) {
					ctl_err("out of memory; use --csv");
					cJSON_Delete(data);
					goto out;
				}
			}
			shown++;
		}
		next = cJSON_GetObjectItemCaseSensitive(data, "next");
		if (!cJSON_IsNull(next) && next != NULL &&
		    cJSON_GetArraySize(rows) > 0 && (!limit || shown < limit))
			after = cJSON_Duplicate(next, 1);
		cJSON_Delete(data);
		if (after == NULL)
			break;
	}
	if (fmt == FMT_TABLE) {
		ctl_table_print(&t, stdout);
		if (shown == 0)
			fputs("(no matching log rows)\n", stderr);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		ctl_err("writing the output failed");
		goto out;
	}
	rc = CTL_OK;
out:
	cJSON_Delete(after);
	ctl_table_free(&t);
	ctl_close(c);
	return rc;
}

/*
 * --checkpoint ID:DIGEST, as log verify prints it and tapaidd logs it: a
 * checkpoint kept outside the database, which must still be in the log.
 * Adds "checkpoint" and "digest" to args; 0, or -1 if malformed.
 */
static int kept_arg(const char *s, cJSON *args)
{
	const char *colon = strchr(s, ':');
	char num[24];
	uint64_t id;

	if (!colon || (size_t)(colon - s) >= sizeof(num) ||
	    strlen(colon + 1) != 64 ||
	    strspn(colon + 1, "0123456789abcdefABCDEF") != 64)
		return -1;
	memcpy(num, s, (size_t)(colon - s));
	num[colon - s] = '\0';
	if (!ctl_parse_u64(num, 1, INT64_MAX, &id))
		return -1;
	cJSON_AddNumberToObject(args, "checkpoint", (double)id);
	cJSON_AddStringToObject(args, "digest", colon + 1);
	return 0;
}

static int log_verify(int argc, char **argv)
{
	static const char usage[] =
	    "tapaidctl log verify [--checkpoint ID:DIGEST] [--json]";
	struct ctl_progress prog;
	struct ctl_conn *c;
	cJSON *data = NULL, *args = cJSON_CreateObject();
	const cJSON *ok, *rows, *cps, *bad, *why, *last;
	int json = 0, rc;

	if (!args)
		return CTL_FAIL;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;

		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			cJSON_Delete(args);
			puts(usage);
			return CTL_OK;
		} else if (!strncmp(argv[i], "--checkpoint=", 13))
			v = argv[i] + 13;
		else if (!strcmp(argv[i], "--checkpoint") && i + 1 < argc)
			v = argv[++i];
		else {
			cJSON_Delete(args);
			return ctl_usage(usage);
		}
		if (v &&
		    (cJSON_GetObjectItemCaseSensitive(args, "checkpoint") ||
		     kept_arg(v, args) < 0)) {
			cJSON_Delete(args);
			ctl_err("log verify: --checkpoint wants one ID:DIGEST "
				"(a number, a colon and 64 hex digits), as log "
				"verify prints it");
			return CTL_USAGE;
		}
	}
	if (ctl_open(&c) != CTL_OK) {
		cJSON_Delete(args);
		return CTL_FAIL;
	}
	ctl_progress_start(&prog, "verifying the log", 0);
	ctl_wait_progress = &prog;
	rc = ctl_call(c, "log.verify", args, &data, NULL);
	ctl_wait_progress = NULL;
	ctl_progress_end(&prog);
	ctl_close(c);
	if (rc != CTL_OK)
		return rc;
	ok = cJSON_GetObjectItemCaseSensitive(data, "ok");
	rows = cJSON_GetObjectItemCaseSensitive(data, "rows");
	cps = cJSON_GetObjectItemCaseSensitive(data, "checkpoints");
	bad = cJSON_GetObjectItemCaseSensitive(data, "first_bad");
	why = cJSON_GetObjectItemCaseSensitive(data, "why");
	last = cJSON_GetObjectItemCaseSensitive(data, "last_checkpoint");
	if (json) {
		ctl_json_line(stdout, data);
	} else {
		const cJSON *staff =
		    cJSON_GetObjectItemCaseSensitive(data, "staff_rows");
		char b1[32], b2[32], b3[32];

		printf("%s: %s redemption rows, %s staff actions, %s signed "
		       "checkpoints\n",
		       cJSON_IsTrue(ok) ? "log intact" : "LOG BROKEN",
		       ctl_json_text(rows, b1, sizeof(b1)),
		       staff ? ctl_json_text(staff, b3, sizeof(b3)) : "?",
		       ctl_json_text(cps, b2, sizeof(b2)));
		if (cJSON_IsTrue(ok) && cJSON_IsObject(last))
			print_last(last);
	}
	if (!cJSON_IsTrue(ok)) {
		char b[32];

		const cJSON *tbl =
		    cJSON_GetObjectItemCaseSensitive(data, "table");

		if (bad != NULL && !cJSON_IsNull(bad))
			ctl_err(
			    "log verify: the chain breaks at %s row %s: %s; "
			    "keep this database as evidence and restore "
			    "from a backup",
			    cJSON_IsString(tbl) ? tbl->valuestring : "log",
			    ctl_json_text(bad, b, sizeof(b)),
			    cJSON_IsString(why) ? why->valuestring
						: "hash mismatch");
		else
			ctl_err(
			    "log verify: %s; keep this database as evidence",
			    cJSON_IsString(why) ? why->valuestring
						: "the log does not verify");
		rc = CTL_FAIL;
	}
	cJSON_Delete(data);
	return rc;
}

static const char void_usage[] = "tapaidctl redemption void ID --reason TEXT";

static int redemption_void(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *reason = NULL;
	uint64_t id;
	cJSON *args, *data = NULL;
	int o, rc;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'r':
			reason = optarg;
			break;
		case 'h':
			puts(void_usage);
			return CTL_OK;
		default:
			return ctl_usage(void_usage);
		}
	}
	if (optind + 1 != argc || reason == NULL)
		return ctl_usage(void_usage);
	if (!ctl_parse_u64(argv[optind], 1, (1ull << 53), &id)) {
		ctl_err("'%s' is not a redemption id (a number from tapaidctl "
			"log)",
			argv[optind]);
		return CTL_USAGE;
	}
	if (!*reason || !ctl_utf8_text(reason, strlen(reason))) {
		ctl_err("--reason must be non-empty UTF-8 text");
		return CTL_USAGE;
	}
	args = cJSON_CreateObject();
	cJSON_AddNumberToObject(args, "id", (double)id);
	cJSON_AddStringToObject(args, "reason", reason);
	rc = ctl_rpc("redemption.void", args, &data);
	if (rc == CTL_OK)
		printf("redemption %llu voided\n", (unsigned long long)id);
	cJSON_Delete(data);
	return rc;
}

static const struct ctl_cmd redemption_cmds[] = {
    {"void", redemption_void, "void a redemption made by mistake (admin)"},
};

int ctl_redemption(int argc, char **argv)
{
	return ctl_dispatch(redemption_cmds, 1, "tapaidctl redemption", argc,
			    argv);
}
