/*
 * ctl_benefit.c - tapaidctl benefit add|list (adding is for admins; the
 * daemon enforces it).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"

static const char add_usage[] =
    "tapaidctl benefit add --code CODE --name NAME\n"
    "        (--quota N --per day|month|year |\n"
    "         --balance CENTS --amount CENTS [--per day|month|year])\n"
    "        [--categories a,b] [--unions a,b] [--points p,q] [--offline N]\n"
    "        [--valid-from YYYY-MM-DD] [--valid-until YYYY-MM-DD] [--hours "
    "HH:MM-HH:MM]";

/* Adds "a,b,c" to obj as an array of strings; 0 or -1 on an empty item. */
static int add_list(cJSON *obj, const char *key, const char *csv)
{
	cJSON *a = cJSON_AddArrayToObject(obj, key);
	char *dup = strdup(csv), *save = NULL, *tok;
	int rc = 0;

	if (a == NULL || dup == NULL) {
		free(dup);
		return -1;
	}
	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		if (*tok == '\0' || !ctl_utf8_text(tok, strlen(tok))) {
			rc = -1;
			break;
		}
		cJSON_AddItemToArray(a, cJSON_CreateString(tok));
	}
	if (cJSON_GetArraySize(a) == 0)
		rc = -1;
	free(dup);
	return rc;
}

static int valid_hours(const char *s)
{
	unsigned a, b, c, d;
	int n = 0;

	return sscanf(s, "%2u:%2u-%2u:%2u%n", &a, &b, &c, &d, &n) == 4 &&
	       (size_t)n == strlen(s) && strlen(s) == 11 && a < 24 && b < 60 &&
	       c < 25 && d < 60 && (c < 24 || d == 0);
}

static int benefit_add(int argc, char **argv)
{
	enum {
		O_CODE = 1,
		O_NAME,
		O_QUOTA,
		O_PER,
		O_BAL,
		O_AMT,
		O_CAT,
		O_UNI,
		O_PTS,
		O_OFF,
		O_VF,
		O_VU,
		O_HRS
	};
	static const struct option lo[] = {
	    {"code", required_argument, NULL, O_CODE},
	    {"name", required_argument, NULL, O_NAME},
	    {"quota", required_argument, NULL, O_QUOTA},
	    {"per", required_argument, NULL, O_PER},
	    {"balance", required_argument, NULL, O_BAL},
	    {"amount", required_argument, NULL, O_AMT},
	    {"categories", required_argument, NULL, O_CAT},
	    {"unions", required_argument, NULL, O_UNI},
	    {"points", required_argument, NULL, O_PTS},
	    {"offline", required_argument, NULL, O_OFF},
	    {"valid-from", required_argument, NULL, O_VF},
	    {"valid-until", required_argument, NULL, O_VU},
	    {"hours", required_argument, NULL, O_HRS},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *code = NULL, *name = NULL, *per = NULL, *vf = NULL,
		   *vu = NULL, *hours = NULL, *cat = NULL, *uni = NULL,
		   *pts = NULL;
	uint64_t quota = 0, bal = 0, amt = 0, off = 0;
	int hq = 0, hb = 0, ha = 0, ho = 0, o, rc;
	cJSON *args, *data = NULL;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case O_CODE:
			code = optarg;
			break;
		case O_NAME:
			name = optarg;
			break;
		case O_PER:
			per = optarg;
			break;
		case O_CAT:
			cat = optarg;
			break;
		case O_UNI:
			uni = optarg;
			break;
		case O_PTS:
			pts = optarg;
			break;
		case O_VF:
			vf = optarg;
			break;
		case O_VU:
			vu = optarg;
			break;
		case O_HRS:
			hours = optarg;
			break;
		case O_QUOTA:
			if (!ctl_parse_u64(optarg, 1, 1000000, &quota))
				goto bad_num;
			hq = 1;
			break;
		case O_BAL:
			if (!ctl_parse_u64(optarg, 1, 100000000000ull, &bal))
				goto bad_num;
			hb = 1;
			break;
		case O_AMT:
			if (!ctl_parse_u64(optarg, 1, 100000000000ull, &amt))
				goto bad_num;
			ha = 1;
			break;
		case O_OFF:
			if (!ctl_parse_u64(optarg, 0, 1000000, &off))
				goto bad_num;
			ho = 1;
			break;
		case 'h':
			puts(add_usage);
			return CTL_OK;
		default:
			return ctl_usage(add_usage);
		}
	}
	if (optind != argc || !code || !name || hq == hb)
		return ctl_usage(add_usage);
	if (hq && (per == NULL || (strcmp(per, "day") && strcmp(per, "month") &&
				   strcmp(per, "year")))) {
		ctl_err("--quota needs --per day, month or year");
		return CTL_USAGE;
	}
	if (hb && per && strcmp(per, "day") && strcmp(per, "month") &&
	    strcmp(per, "year")) {
		ctl_err("--per is day, month or year");
		return CTL_USAGE;
	}
	if (ha != hb) {
		ctl_err(
		    "--balance needs --amount (cents taken per redemption), "
		    "and --amount goes with --balance");
		return CTL_USAGE;
	}
	if ((vf && !ctl_valid_date(vf)) || (vu && !ctl_valid_date(vu))) {
		ctl_err("dates are YYYY-MM-DD");
		return CTL_USAGE;
	}
	if (hours && !valid_hours(hours)) {
		ctl_err("--hours is HH:MM-HH:MM, e.g. 08:00-20:00");
		return CTL_USAGE;
	}
	if (!ctl_utf8_text(name, strlen(name)) || !*name || !*code) {
		ctl_err("--code and --name must be non-empty UTF-8 text");
		return CTL_USAGE;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "code", code);
	cJSON_AddStringToObject(args, "name", name);
	if (hq) {
		cJSON_AddNumberToObject(args, "quota", (double)quota);
		cJSON_AddStringToObject(args, "per", per);
	} else {
		cJSON_AddNumberToObject(args, "balance", (double)bal);
		cJSON_AddNumberToObject(args, "amount", (double)amt);
		if (per)
			cJSON_AddStringToObject(args, "per", per);
	}
	if ((cat && add_list(args, "categories", cat) < 0) ||
	    (uni && add_list(args, "unions", uni) < 0) ||
	    (pts && add_list(args, "points", pts) < 0)) {
		cJSON_Delete(args);
		ctl_err("lists are comma-separated non-empty names");
		return CTL_USAGE;
	}
	if (ho)
		cJSON_AddNumberToObject(args, "offline", (double)off);
	if (vf)
		cJSON_AddStringToObject(args, "valid_from", vf);
	if (vu)
		cJSON_AddStringToObject(args, "valid_until", vu);
	if (hours)
		cJSON_AddStringToObject(args, "hours", hours);
	rc = ctl_rpc("benefit.add", args, &data);
	if (rc == CTL_OK)
		printf("added benefit %s\n", code);
	cJSON_Delete(data);
	return rc;
bad_num:
	ctl_err("'%s' is not a valid number here", optarg);
	return CTL_USAGE;
}

static const char list_usage[] = "tapaidctl benefit list [--json]";

static int benefit_list(int argc, char **argv)
{
	static const char *const head[] = {"CODE",   "NAME",	"QUOTA",
					   "PER",    "BALANCE", "CATEGORIES",
					   "POINTS", "OFFLINE"};
	static const char *const key[] = {"code",   "name",    "quota",
					  "per",    "balance", "categories",
					  "points", "offline"};
	struct ctl_table t;
	cJSON *data = NULL;
	const cJSON *b;
	int json = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts(list_usage);
			return CTL_OK;
		} else
			return ctl_usage(list_usage);
	}
	rc = ctl_rpc("benefit.list", NULL, &data);
	if (rc != CTL_OK)
		return rc;
	ctl_table_init(&t, 8, head);
	cJSON_ArrayForEach(b,
			   cJSON_GetObjectItemCaseSensitive(data, "benefits"))
	{
		char bufs[8][256];
		const char *v[8];

		if (json) {
			ctl_json_line(stdout, b);
			continue;
		}
		for (int i = 0; i < 8; i++) {
			const cJSON *x =
			    cJSON_GetObjectItemCaseSensitive(b, key[i]);

			if (cJSON_IsArray(x)) {
				const cJSON *e;
				size_t n = 0;

				bufs[i][0] = '\0';
				cJSON_ArrayForEach(e, x) if (cJSON_IsString(e))
				    n += (size_t)snprintf(
					bufs[i] + n, n < 256 ? 256 - n : 0,
					"%s%s", n ? "," : "", e->valuestring);
				v[i] = bufs[i];
			} else {
				v[i] =
				    ctl_json_text(x, bufs[i], sizeof(bufs[i]));
			}
		}
		ctl_table_add(&t, v);
	}
	if (!json)
		ctl_table_print(&t, stdout);
	ctl_table_free(&t);
	cJSON_Delete(data);
	return CTL_OK;
}

static const struct ctl_cmd benefit_cmds[] = {
    {"add", benefit_add, "define a benefit (admin)"},
    {"list", benefit_list, "list benefits"},
};

int ctl_benefit(int argc, char **argv)
{
	return ctl_dispatch(benefit_cmds, 2, "tapaidctl benefit", argc, argv);
}
