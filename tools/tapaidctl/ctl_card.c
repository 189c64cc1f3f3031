/*
 * ctl_card.c - tapaidctl card issue|replace|revoke|show|list.  Issuing and
 * replacing talk to the staff reader and live in ctl_issue.c.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_int.h"

static const char revoke_usage[] =
    "tapaidctl card revoke CARD --reason lost|stolen|left|damaged";

static int card_revoke(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"reason", required_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	static const char *const reasons[] = {"lost", "stolen", "left",
					      "damaged", NULL};
	const char *reason = NULL;
	cJSON *args, *data = NULL;
	int o, rc, i;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'r':
			reason = optarg;
			break;
		case 'h':
			puts(revoke_usage);
			return CTL_OK;
		default:
			return ctl_usage(revoke_usage);
		}
	}
	if (optind + 1 != argc || reason == NULL)
		return ctl_usage(revoke_usage);
	for (i = 0; reasons[i]; i++)
		if (!strcmp(reason, reasons[i]))
			break;
	if (reasons[i] == NULL) {
		ctl_err("--reason is one of lost, stolen, left, damaged");
		return CTL_USAGE;
	}
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "card", argv[optind]);
	cJSON_AddStringToObject(args, "reason", reason);
	rc = ctl_rpc("card.revoke", args, &data);
	if (rc == CTL_OK)
		printf("card %s revoked (%s)\n", argv[optind], reason);
	cJSON_Delete(data);
	return rc;
}

static int card_show(int argc, char **argv)
{
	static const char usage[] = "tapaidctl card show CARD [--json]";
	const char *card = NULL;
	cJSON *args, *data = NULL;
	int json = 0, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			puts(usage);
			return CTL_OK;
		} else if (argv[i][0] != '-' && card == NULL)
			card = argv[i];
		else
			return ctl_usage(usage);
	}
	if (card == NULL)
		return ctl_usage(usage);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "card", card);
	rc = ctl_rpc("card.show", args, &data);
	if (rc == CTL_OK) {
		if (json)
			ctl_json_line(stdout, data);
		else
			ctl_print_object(stdout, data, 0);
	}
	cJSON_Delete(data);
	return rc;
}

static int card_list(int argc, char **argv)
{
	static const char usage[] = "tapaidctl card list --member N [--json]";
	static const char *const head[] = {"CARD",   "MEMBER",	    "STATUS",
					   "REASON", "KEY VERSION", "LAST CTR",
					   "ISSUED"};
	static const char *const key[] = {"card",   "member",	   "status",
					  "reason", "key_version", "last_ctr",
					  "issued"};
	static const struct option lo[] = {
	    {"member", required_argument, NULL, 'm'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *member = NULL;
	cJSON *args, *data = NULL;
	int json = 0, o, rc;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'm':
			member = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			puts(usage);
			return CTL_OK;
		default:
			return ctl_usage(usage);
		}
	}
	if (optind != argc || member == NULL)
		return ctl_usage(usage);
	args = cJSON_CreateObject();
	cJSON_AddStringToObject(args, "member", member);
	rc = ctl_rpc("card.list", args, &data);
	if (rc != CTL_OK)
		return rc;
	ctl_print_list(data, "cards", 7, head, key, json);
	cJSON_Delete(data);
	return CTL_OK;
}

static const struct ctl_cmd card_cmds[] = {
    {"issue", ctl_card_issue, "personalise a blank NTAG 424 DNA for a member"},
    {"replace", ctl_card_replace, "issue a new card in place of an old one"},
    {"revoke", card_revoke, "revoke a card (lost, stolen, left, damaged)"},
    {"show", card_show, "show one card"},
    {"list", card_list, "list a member's cards"},
    {"read", ctl_card_read, "print the URL (SUN) a card on a reader gives"},
};

int ctl_card(int argc, char **argv)
{
	return ctl_dispatch(card_cmds, sizeof(card_cmds) / sizeof(card_cmds[0]),
			    "tapaidctl card", argc, argv);
}
