/*
 * firmware/kiosk_conf.h - the kiosk's INI configuration file.
 *
 *   [host]   address = HOST:PORT      key = 130 hex digits (pinned host
 *            public key, raw P-256 point) or key_file = host.pub (PEM)
 *   [kiosk]  id, key (path of kiosk.key), point, benefit, lang = zh|en,
 *            state_dir (offline queue; default: the key's directory),
 *            firmware (version string reported to the host)
 *   [reader] connstring (libnfc), max_errors, usb = auto|off
 *   [offline] per_card_per_day, queue_max
 *   [timing] decision_timeout_ms, heartbeat_ms, backoff_min_ms,
 *            backoff_max_ms, result_hold_ms, apdu_timeout_ms
 *
 * Aliases, as tapaidctl kiosk config writes them: [host] pubkey = [host] key,
 * [kiosk] reader = [reader] connstring.  See tapaid-kiosk(1).
 */
#ifndef TAPAID_KIOSK_CONF_H
#define TAPAID_KIOSK_CONF_H

#include <limits.h>

#include "core/kiosk.h"

struct kiosk_conf {
	struct kiosk_config core;
	char host_addr[300];
	char key_path[PATH_MAX];
	char host_key_file[PATH_MAX];
	char state_dir[PATH_MAX];
	char connstring[1024];
	int usb_auto; /* 1: watch and reset the reader if it is on USB */
	int has_host_key;
	char err[512]; /* why parsing failed: file:line: what */
};

/*
 * Reads path into c (defaults first).  Returns 0, or -1 with c->err set.
 * The kiosk key is not loaded here; host_key_file is read (public key).
 */
int kiosk_conf_load(struct kiosk_conf *c, const char *path);
/* Same over a string (for tests); name is used in messages. */
int kiosk_conf_parse(struct kiosk_conf *c, const char *text, const char *name);

#endif
