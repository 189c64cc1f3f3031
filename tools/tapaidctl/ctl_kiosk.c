/*
 * ctl_kiosk.c - tapaidctl kiosk add|revoke|list|config (managing kiosks is
 * for admins; the daemon enforces it).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"

static const char add_usage[] =
    "tapaidctl kiosk add --id K --point P --pubkey FILE [--tz ZONE]";

static int kiosk_add(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"point", required_argument, NULL, 'p'},
	    {"pubkey", required_argument, NULL, 'k'},
	    {"tz", required_argument, NULL, 't'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *id = NULL, *point = NULL, *pub = NULL, *tz = NULL;
	cJSON *args, *data = NULL;
	char *pem = NULL;
	size_t len;
	int o, rc;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'i':
			id = optarg;
			break;
		case 'p':
			point = optarg;
			break;
		case 'k':
			pub = optarg;
			break;
		case 't':
			tz = optarg;
			break;
		case 'h':
			puts(add_usage);
			return CTL_OK;
		default:
			return ctl_usage(add_usage);
		}
	}
	if (optind != argc || !id || !point || !pub)
		return ctl_usage(add_usage);
	rc = ctl_read_file(pub, 16384, &pem, &len);
	if (rc < 0) {
		ctl_err("cannot read %s: %s", pub, strerror(-rc));
		return CTL_FAIL;
	}
	if (strstr(pem, "PRIVATE KEY") != NULL) {
		free(pem);
		ctl_err("%s is a private key; give the kiosk's public key "
			"(kiosk.pub)",
			pub);
		return CTL_FAIL;
	}
	if (strstr(pem, "-----BEGIN PUBLIC KEY-----") == NULL) {
		free(pem);
		ctl_err("%s is not a PEM public key (made by tapaid-kiosk "
			"--enroll)",
			pub);
		return CTL_FAIL;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "id", id);
	cJSON_AddStringToObject(args, "point", point);
	cJSON_AddStringToObject(args, "pubkey", pem);
	if (tz)
		cJSON_AddStringToObject(args, "tz", tz);
	free(pem);
	rc = ctl_rpc("kiosk.add", args, &data);
	if (rc == CTL_OK)
		printf("added kiosk %s at %s\n", id, point);
	cJSON_Delete(data);
	return rc;
}

static int kiosk_revoke(int argc, char **argv)
{
	static const char usage[] = "tapaidctl kiosk revoke K";
	cJSON *args, *data = NULL;
	int rc;

	if (ctl_want_help(argc, argv)) {
		puts(usage);
		return CTL_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return ctl_usage(usage);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "id", argv[1]);
	rc = ctl_rpc("kiosk.revoke", args, &data);
	if (rc == CTL_OK)
		printf("kiosk %s revoked; its sessions are closed\n", argv[1]);
	cJSON_Delete(data);
	return rc;
}

static int kiosk_list(int argc, char **argv)
{
	static const char usage[] = "tapaidctl kiosk list [--json]";
	static const char *const head[] = {"ID", "POINT", "STATUS",
					   "LAST SEEN"};
	static const char *const key[] = {"id", "point", "status", "last_seen"};
	cJSON *data = NULL;
	int json = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts(usage);
			return CTL_OK;
		} else
			return ctl_usage(usage);
	}
	rc = ctl_rpc("kiosk.list", NULL, &data);
	if (rc != CTL_OK)
		return rc;
	ctl_print_list(data, "kiosks", 4, head, key, json);
	cJSON_Delete(data);
	return CTL_OK;
}

static const char config_usage[] =
    "tapaidctl kiosk config K --reader CONNSTRING --key KDIR/kiosk.key "
    "--benefit CODE [--lang zh|en]\n"
    "  prints a ready kiosk configuration on stdout (the key is named by its\n"
    "  path; its contents never leave the kiosk's directory)";

static int kiosk_config(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"reader", required_argument, NULL, 'r'},
	    {"key", required_argument, NULL, 'k'},
	    {"benefit", required_argument, NULL, 'b'},
	    {"lang", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *reader = NULL, *key = NULL, *benefit = NULL, *lang = "zh";
	char abs[PATH_MAX];
	cJSON *args, *data = NULL;
	const cJSON *cfg;
	int o, rc;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'r':
			reader = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'b':
			benefit = optarg;
			break;
		case 'l':
			lang = optarg;
			break;
		case 'h':
			puts(config_usage);
			return CTL_OK;
		default:
			return ctl_usage(config_usage);
		}
	}
	if (optind + 1 != argc || !reader || !key || !benefit)
		return ctl_usage(config_usage);
	if (strcmp(lang, "zh") && strcmp(lang, "en")) {
		ctl_err("--lang is zh or en");
		return CTL_USAGE;
	}
	/* The kiosk reads the key by path; make it absolute if it exists. */
	if (realpath(key, abs) != NULL)
		key = abs;
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "id", argv[optind]);
	cJSON_AddStringToObject(args, "reader", reader);
	cJSON_AddStringToObject(args, "key", key);
	cJSON_AddStringToObject(args, "benefit", benefit);
	cJSON_AddStringToObject(args, "lang", lang);
	rc = ctl_rpc("kiosk.config", args, &data);
	if (rc == CTL_OK) {
		cfg = cJSON_GetObjectItemCaseSensitive(data, "config");
		if (cJSON_IsString(cfg))
			fputs(cfg->valuestring, stdout);
		else {
			ctl_err("tapaidd sent no configuration text");
			rc = CTL_FAIL;
		}
	}
	cJSON_Delete(data);
	return rc;
}

static const struct ctl_cmd kiosk_cmds[] = {
    {"add", kiosk_add, "enrol a kiosk by its public key (admin)"},
    {"revoke", kiosk_revoke, "revoke a kiosk (admin)"},
    {"list", kiosk_list, "list kiosks"},
    {"config", kiosk_config, "print a kiosk's configuration (admin)"},
};

int ctl_kiosk(int argc, char **argv)
{
	return ctl_dispatch(kiosk_cmds, 4, "tapaidctl kiosk", argc, argv);
}
