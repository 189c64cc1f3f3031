/*
 * config.c - tapaidd.conf (INI, parsed with inih).
 *
 * [host] holds paths, the kiosk listen address and limits; [roles] maps OS
 * users (names or numeric uids, comma separated) to admin, staff and
 * auditor.  Unknown sections or keys are errors, so that a typo in a limit
 * is caught by `tapaidd -n` rather than silently ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "daemon.h"

struct parse_ctx {
	struct daemon_config *cf;
	char *err;
	size_t errlen;
	int failed;
	int have_key;
	FILE *f;
	int line; /* the line inih is working on, counted by read_line() */
};

/* inih is built without line numbers in the handler: count them here. */
static char *read_line(char *str, int num, void *stream)
{
	struct parse_ctx *p = stream;
	char *r = fgets(str, num, p->f);

	if (r)
		p->line++;
	return r;
}

static int set_err(struct parse_ctx *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_err(struct parse_ctx *p, int line, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	if (p->failed)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(p->err, p->errlen, "%s line %d: %s", p->cf->path, line,
			 msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->cf->path, msg);
	p->failed = 1;
	return 0;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = (int)n;
	return 0;
}

static int copy_str(char *dst, size_t len, const char *v)
{
	if (strlen(v) >= len)
		return -1;
	strcpy(dst, v);
	return 0;
}

/* Splits "host:port" or "[v6]:port". */
static int parse_listen(struct daemon_config *cf, const char *v)
{
	const char *colon;
	size_t hl;
	int port;

	if (v[0] == '[') {
		const char *rb = strchr(v, ']');

		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - v - 1);
		v++;
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - v);
	}
	if (hl == 0 || hl >= sizeof(cf->listen_host))
		return -1;
	if (parse_int(colon + 1, 0, 65535, &port))
		return -1;
	memcpy(cf->listen_host, v, hl);
	cf->listen_host[hl] = '\0';
	snprintf(cf->listen_port, sizeof(cf->listen_port), "%d", port);
	return 0;
}

static int add_role(struct parse_ctx *p, int line, enum role r,
		    const char *list)
{
	struct daemon_config *cf = p->cf;
	char *dup = strdup(list), *save = NULL, *tok;

	if (!dup)
		return set_err(p, line, "out of memory");
	for (tok = strtok_r(dup, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *e;
		uid_t uid;
		struct role_map *nr;

		while (isspace((unsigned char)*tok))
			tok++;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		if (isdigit((unsigned char)*tok)) {
			int n;

			if (parse_int(tok, 0, INT_MAX, &n)) {
				free(dup);
				return set_err(p, line, "bad uid '%s'", tok);
			}
			uid = (uid_t)n;
		} else {
			struct passwd pw, *res = NULL;
			char buf[4096];

			if (getpwnam_r(tok, &pw, buf, sizeof(buf), &res) ||
			    !res) {
				set_err(p, line,
					"no such user '%s' in [roles]; use an "
					"existing user name or a numeric uid",
					tok);
				free(dup);
				return 0;
			}
			uid = res->pw_uid;
		}
		nr = realloc(cf->roles, (cf->nroles + 1) * sizeof(*nr));
		if (!nr) {
			free(dup);
			return set_err(p, line, "out of memory");
		}
		cf->roles = nr;
		cf->roles[cf->nroles].uid = uid;
		cf->roles[cf->nroles].role = r;
		cf->nroles++;
	}
	free(dup);
	return 1;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_ctx *p = user;
	struct daemon_config *cf = p->cf;
	int line = p->line;

	if (p->failed)
		return 0;
	if (!name) /* a section header alone */
		return 1;
	if (strcmp(section, "host") == 0) {
		struct {
			const char *key;
			int *dst, lo, hi;
		} ints[] = {
		    {"max_sessions", &cf->max_sessions, 1, 1000000},
		    {"max_halfopen", &cf->max_halfopen, 1, 1000000},
		    {"max_sessions_per_kiosk", &cf->max_sessions_per_kiosk, 1,
		     1000},
		    {"handshake_timeout_ms", &cf->handshake_timeout_ms, 10,
		     600000},
		    {"idle_timeout_s", &cf->idle_timeout_s, 1, 86400},
		    {"checkpoint_interval_s", &cf->checkpoint_interval_s, 1,
		     60},
		};

		for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
			if (strcmp(name, ints[i].key))
				continue;
			if (parse_int(value, ints[i].lo, ints[i].hi,
				      ints[i].dst))
				return set_err(p, line,
					       "%s must be a number from %d "
					       "to %d",
					       name, ints[i].lo, ints[i].hi);
			return 1;
		}
		if (strcmp(name, "data_dir") == 0) {
			if (value[0] != '/' ||
			    copy_str(cf->data_dir, sizeof(cf->data_dir), value))
				return set_err(p, line,
					       "data_dir must be an absolute "
					       "path");
		} else if (strcmp(name, "listen") == 0) {
			if (parse_listen(cf, value))
				return set_err(p, line,
					       "listen must be ADDRESS:PORT, "
					       "e.g. 127.0.0.1:7420");
		} else if (strcmp(name, "host_key") == 0) {
			if (copy_str(cf->host_key, sizeof(cf->host_key), value))
				return set_err(p, line, "host_key too long");
			p->have_key = 1;
		} else if (strcmp(name, "card_url") == 0) {
			if ((strncmp(value, "https://", 8) != 0 &&
			     strncmp(value, "http://", 7) != 0) ||
			    copy_str(cf->card_url, sizeof(cf->card_url), value))
				return set_err(
				    p, line,
				    "card_url must be an http(s) URL "
				    "of at most 199 characters");
		} else if (strcmp(name, "log_level") == 0) {
			int l = log_level_parse(value);

			if (l < 0)
				return set_err(p, line,
					       "log_level must be debug, info "
					       "or warn");
			cf->log_level = l;
		} else {
			return set_err(p, line, "unknown key '%s' in [host]",
				       name);
		}
		return 1;
	}
	if (strcmp(section, "roles") == 0) {
		enum role r;

		if (strcmp(name, "admin") == 0)
			r = ROLE_ADMIN;
		else if (strcmp(name, "staff") == 0)
			r = ROLE_STAFF;
		else if (strcmp(name, "auditor") == 0)
			r = ROLE_AUDITOR;
		else
			return set_err(p, line,
				       "unknown role '%s' (admin, staff or "
				       "auditor)",
				       name);
		return add_role(p, line, r, value);
	}
	return set_err(p, line, "unknown section [%s]", section);
}

int config_load(const char *path, struct daemon_config *cf, char *err,
		size_t errlen)
{
	struct parse_ctx p = {cf, err, errlen, 0, 0, NULL, 0};
	FILE *f;
	int rc;

	memset(cf, 0, sizeof(*cf));
	if (copy_str(cf->path, sizeof(cf->path), path)) {
		snprintf(err, errlen, "config path too long");
		return -1;
	}
	strcpy(cf->data_dir, "/var/lib/tapaid");
	strcpy(cf->listen_host, "127.0.0.1");
	strcpy(cf->listen_port, "7420");
	strcpy(cf->card_url, "https://tap.tapaid.invalid/t");
	cf->log_level = LOG_LVL_INFO;
	cf->max_sessions = 4096;
	cf->max_halfopen = 2048;
	cf->max_sessions_per_kiosk = 2;
	cf->handshake_timeout_ms = 5000;
	cf->idle_timeout_s = 600;
	cf->checkpoint_interval_s = 60;

	f = fopen(path, "r");
	p.f = f;
	if (!f) {
		snprintf(err, errlen, "cannot read %s: %s", path,
			 strerror(errno));
		return -1;
	}
	rc = ini_parse_stream(read_line, &p, handler, &p);
	fclose(f);
	if (!p.failed && rc > 0)
		set_err(&p, rc, "not a valid INI line");
	if (!p.failed && rc < 0)
		set_err(&p, 0, "cannot parse");
	if (!p.failed && !p.have_key &&
	    snprintf(cf->host_key, sizeof(cf->host_key), "%s/host.key",
		     cf->data_dir) >= (int)sizeof(cf->host_key))
		set_err(&p, 0, "data_dir too long");
	if (!p.failed && cf->max_halfopen > cf->max_sessions)
		cf->max_halfopen = cf->max_sessions;
	if (p.failed) {
		config_free(cf);
		return -1;
	}
	return 0;
}

void config_free(struct daemon_config *cf)
{
	free(cf->roles);
	cf->roles = NULL;
	cf->nroles = 0;
}

enum role config_role(const struct daemon_config *cf, uid_t uid)
{
	enum role best = ROLE_NONE;

	if (uid == geteuid())
		return ROLE_ADMIN;
	for (size_t i = 0; i < cf->nroles; i++)
		if (cf->roles[i].uid == uid && cf->roles[i].role > best)
			best = cf->roles[i].role;
	return best;
}

const char *role_name(enum role r)
{
	switch (r) {
	case ROLE_ADMIN:
		return "admin";
	case ROLE_STAFF:
		return "staff";
	case ROLE_AUDITOR:
		return "auditor";
	default:
		return "none";
	}
}
