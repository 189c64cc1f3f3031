/*
 * firmware/hal/backends.h - constructors of the real backends, the fakes
 * used by tests, and the fault-injecting wrapper.
 *
 * Each constructor fills a struct hal_* with its functions and a ctx it
 * allocates; the matching *_close() frees it.  Returns 0 or a hal_err.
 */
#ifndef TAPAID_HAL_BACKENDS_H
#define TAPAID_HAL_BACKENDS_H

#include <stdio.h>

#include "hal/hal.h"

/* reader_libnfc.c: any libnfc connstring (pn532_uart:/dev/pts/3, ...). */
int hal_reader_libnfc_new(struct hal_reader *r, const char *connstring);
void hal_reader_libnfc_free(struct hal_reader *r);
/* Points the reader at another connstring (a USB reader that came back
 * at a new bus address); takes effect at the next open(). */
int hal_reader_libnfc_set_connstring(struct hal_reader *r, const char *conn);

/* usb_libusb.c: watches vendor:product (from the connstring's driver or
 * the config), resets the reader's device.  applies() is 0 for readers
 * that are not on USB. */
int hal_usb_libusb_new(struct hal_usb *u, struct hal_reader *reader,
		       const char *connstring);
void hal_usb_libusb_free(struct hal_usb *u);
/* Pure helpers: is this libnfc connstring a USB driver, and does it name
 * a bus and address ("pn53x_usb:001:004")? */
int hal_usb_connstring_is_usb(const char *connstring);
int hal_usb_connstring_location(const char *connstring, int *bus, int *addr);

/* net_tcp.c: host "HOST:PORT" (IPv4, IPv6 in brackets, or a name). */
int hal_net_tcp_new(struct hal_net *n, const char *hostport);
void hal_net_tcp_free(struct hal_net *n);

/* store_file.c: the offline queue in directory dir (created 0700). */
int hal_store_file_open(struct hal_store *s, const char *dir, size_t max_rec);
void hal_store_file_close(struct hal_store *s);

/* clock_posix.c, and a getrandom() source. */
void hal_clock_posix(struct hal_clock *c);
void hal_rng_posix(struct hal_rng *r);

/* display_term.c: the kiosk screen on a terminal (tty, or plain lines when
 * out is not a terminal), and the event lines on ev (may be NULL). */
int hal_display_term_new(struct hal_display *d, FILE *out, FILE *ev);
void hal_display_term_free(struct hal_display *d);

/* --- hal_fault.c: fail the Nth call of a wrapped backend --- */

/*
 * A fault plan: calls are counted per wrapped struct; from call number
 * fail_at (1-based, 0 = never) on, fail_count calls (0 = all of them:
 * persistent) return err instead of reaching the backend.
 */
struct hal_fault {
	unsigned long calls;
	unsigned long fail_at;
	unsigned long fail_count;
	int err;
	unsigned long injected;
};
/* Arms f: fail_at-th call and the (count-1) after it; count 0: forever. */
void hal_fault_arm(struct hal_fault *f, unsigned long fail_at,
		   unsigned long count, int err);
void hal_fault_reader(struct hal_reader *out, struct hal_reader *inner,
		      struct hal_fault *f);
void hal_fault_store(struct hal_store *out, struct hal_store *inner,
		     struct hal_fault *f);
void hal_fault_net(struct hal_net *out, struct hal_net *inner,
		   struct hal_fault *f);
void hal_fault_usb(struct hal_usb *out, struct hal_usb *inner,
		   struct hal_fault *f);
void hal_fault_free(void *wrapped_ctx);

#endif
