/*
 * hostd_harness.h - runs tapaidd on a temporary data dir for the
 * integration tests and the benchmark: keys, config, daemon start/stop,
 * admin requests, SUN messages of virtual cards, DB queries.
 */
#ifndef TAPAID_TESTS_HOSTD_HARNESS_H
#define TAPAID_TESTS_HOSTD_HARNESS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tp_key;

struct hd {
	char dir[PATH_MAX];
	char conf[PATH_MAX];
	char log[PATH_MAX];
	char bin[PATH_MAX];
	int port;
	pid_t pid;
	int syslog; /* run with -F (syslog) instead of -d (stderr, debug) */
	struct tp_key *host_key; /* private; also verifies */
	uint8_t master[16], meta[16], salt[16];
};

/* A free TCP port on 127.0.0.1 (bind port 0, read it back). */
int h_free_port(void);
/*
 * A fresh data dir with host key, card secrets and tapaidd.conf; extra is
 * appended to [host] (e.g. "handshake_timeout_ms = 500\n"), roles_extra to
 * [roles].  0 or -1.
 */
int h_setup(struct hd *h, const char *extra, const char *roles_extra);
/* Starts tapaidd -d and waits for its admin socket; 0 or -1. */
int h_start(struct hd *h);
/* Sends sig and waits; returns the exit status (or 128+signal). */
int h_stop(struct hd *h, int sig);
/* Removes the data dir. */
void h_cleanup(struct hd *h);
/*
 * One admin request line; resp gets the answer line (NUL-terminated).
 * Returns 1 when the answer says "ok":true, 0 when false, -1 on I/O error.
 */
int h_admin(struct hd *h, const char *req, char *resp, size_t cap);
/* Sends req (several lines) on one connection and reads up to lines
 * answer lines into resp; returns the number of lines read. */
int h_admin_lines(struct hd *h, const char *req, int lines, char *resp,
		  size_t cap);
/* printf-style h_admin without the answer. */
int h_adminf(struct hd *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A kiosk key pair; its public PEM is written to DIR/ID.pub. */
int h_kiosk(struct hd *h, const char *id, const char *point,
	    struct tp_key **key);
/* UID of virtual card n. */
void h_uid(int n, uint8_t uid[7]);
/* Registers card n for member no (ctr 0). */
int h_card(struct hd *h, int n, const char *member);
/* The SUN URL card n produces at counter ctr. */
void h_sun(struct hd *h, int n, uint32_t ctr, char *out, size_t cap);
/* One integer from an SQL query on the database (read-only); -1 on error.
 * With blob != NULL, it is bound as ?1 (16 bytes). */
long long h_sql(struct hd *h, const char *sql, const uint8_t *blob);
/* Milliseconds, monotonic. */
uint64_t h_ms(void);

#endif
