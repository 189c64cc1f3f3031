/*
 * emu_helper.h - start, drive and stop tapaid-pn532emu from a C test.
 *
 *	const char *cards[] = { "dir/card1", NULL };
 *	struct emu *e = emu_start(NULL, cards);
 *	nfc_device *pnd = nfc_open(ctx, emu_connstring(e));
 *	emu_cmd(e, reply, sizeof(reply), "remove");
 *	emu_stop(e);
 *
 * No fixed sleeps: emu_start returns once the emulator has printed its pty
 * path, and emu_cmd once the emulator has answered the command line (every
 * command gets exactly one line).  Every wait is bounded (10 s), so a
 * broken emulator fails a test instead of hanging it.
 *
 * Link: $(B)/tests/emu_helper.o, or the archive $(B)/tests/libemu_helper.a
 * when listing it in TEST_OBJS_test_X (tests/module.mk names those objects
 * twice on the link line; an archive survives that).
 */
#ifndef TAPAID_EMU_HELPER_H
#define TAPAID_EMU_HELPER_H

#include <stddef.h>
#include <sys/types.h>

struct emu;

/*
 * Forks tapaid-pn532emu with a pipe on its stdin and stdout, one
 * "--card FILE" per entry of card_files (NULL-terminated, may be NULL),
 * and waits for the pty path.  emu_path NULL means
 * $TAPAID_BUILD/bin/tapaid-pn532emu (TAPAID_BUILD defaults to "build").
 * The emulator's stderr is the caller's.  Returns NULL (with a message on
 * stderr) if it cannot start.
 */
struct emu *emu_start(const char *emu_path, const char *const *card_files);

/* "pn532_uart:/dev/pts/N" for nfc_open(); valid until emu_stop(). */
const char *emu_connstring(struct emu *e);

/* "/dev/pts/N". */
const char *emu_pty(struct emu *e);

/* The emulator's process id. */
pid_t emu_pid(struct emu *e);

/*
 * Sends one command line (printf-style, no newline needed) and waits for
 * its reply line, copied (without the newline) into reply when reply is
 * not NULL.  Returns 0 when the reply starts with "ok", 1 when it is an
 * "error ..." line, -1 when the emulator died or did not answer in time.
 * After "plug" the connstring follows the new pty.
 */
int emu_cmd(struct emu *e, char *reply, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Asks the emulator to quit, waits for it (SIGKILL after 5 s), frees e. */
void emu_stop(struct emu *e);

#endif
