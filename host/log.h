/*
 * log.h - tapaidd logging, in the OpenBSD daemon style.
 *
 * log_warn() appends strerror(errno); log_warnx() does not.  fatal() and
 * fatalx() log and exit(1); use them only at start-up or for a broken
 * internal invariant, never for anything a peer can cause.  Messages go to
 * syslog (facility daemon) unless log_init() was told to use stderr.
 */
#ifndef TAPAID_HOST_LOG_H
#define TAPAID_HOST_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_WARN = 0, LOG_LVL_INFO = 1, LOG_LVL_DEBUG = 2 };

void log_init(int to_stderr, int level, const char *ident);
void log_setlevel(int level);
int log_getlevel(void);
/* Parses "debug", "info" or "warn"; -1 for anything else. */
int log_level_parse(const char *s);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
