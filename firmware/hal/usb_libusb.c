/*
 * usb_libusb.c - hot-plug watch and reset of a USB NFC reader (libusb-1.0).
 *
 * libnfc names a USB reader "DRIVER:BUS:ADDRESS" (pn53x_usb:001:004, its
 * libusb-0.1 heritage) or just "DRIVER" (the first one found).  This
 * backend finds that device (by location, or by the vendor:product ids
 * of the readers the driver supports), registers a hot-plug callback for
 * it, and resets it on demand (libusb_reset_device).  A reader that comes
 * back at a new address after a reset or a replug is followed: the
 * reader's connstring is rewritten before the core reopens it.
 *
 * For readers not on USB (pn532_uart on a serial port or a pty,
 * acr122_pcsc through pcscd) applies() is 0 and nothing here runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libusb.h>

#include "hal/backends.h"

/* libnfc's USB drivers and the devices they drive. */
static const struct {
	const char *driver;
	uint16_t vid, pid;
} known[] = {
    {"pn53x_usb", 0x04cc, 0x0531},  /* Philips PN531 */
    {"pn53x_usb", 0x04cc, 0x2533},  /* NXP PN533 */
    {"pn53x_usb", 0x04e6, 0x5591},  /* SCM SCL3711 */
    {"pn53x_usb", 0x04e6, 0x5594},  /* SCM SCL3712 */
    {"pn53x_usb", 0x054c, 0x0193},  /* Sony PN531 */
    {"pn53x_usb", 0x054c, 0x02e1},  /* Sony RC-S360 */
    {"pn53x_usb", 0x1fd3, 0x0608},  /* ASK LoGO */
    {"acr122_usb", 0x072f, 0x2200}, /* ACS ACR122U */
    {"acr122_usb", 0x072f, 0x90cc}, /* Touchatag */
};

struct usb_watch {
	libusb_context *usb;
	struct hal_reader *reader;
	char driver[32];
	int has_loc;   /* the connstring named bus:address */
	int bus, addr; /* where the reader is now; 0 when not found */
	uint16_t vid, pid;
	int pending;
	int hotplug;
	libusb_hotplug_callback_handle cb;
	uint64_t next_scan_ms;
};

int hal_usb_connstring_is_usb(const char *conn)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		size_t n = strlen(known[i].driver);
		if (strncmp(conn, known[i].driver, n) == 0 &&
		    (conn[n] == '\0' || conn[n] == ':'))
			return 1;
	}
	return 0;
}

/* "driver:BBB:DDD" -> bus, address.  1 when both are there. */
int hal_usb_connstring_location(const char *conn, int *bus, int *addr)
{
	const char *c = strchr(conn, ':');
	char tail;

	if (!c)
		return 0;
	if (sscanf(c + 1, "%d:%d%c", bus, addr, &tail) != 2)
		return 0;
	return *bus > 0 && *addr > 0;
}

static int is_known(const struct usb_watch *w, uint16_t vid, uint16_t pid)
{
	if (w->vid)
		return vid == w->vid && pid == w->pid;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].driver, w->driver) == 0 &&
		    known[i].vid == vid && known[i].pid == pid)
			return 1;
	return 0;
}

static void follow(struct usb_watch *w, int bus, int addr)
{
	char conn[64];

	w->bus = bus;
	w->addr = addr;
	if (w->has_loc && w->reader) {
		snprintf(conn, sizeof(conn), "%s:%03d:%03d", w->driver, bus,
			 addr);
		hal_reader_libnfc_set_connstring(w->reader, conn);
	}
}

/* Looks for our reader on the bus.  1 when found (and followed). */
static int scan(struct usb_watch *w)
{
	libusb_device **list;
	ssize_t n = libusb_get_device_list(w->usb, &list);
	int found = 0;

	if (n < 0)
		return 0;
	for (ssize_t i = 0; i < n && !found; i++) {
		struct libusb_device_descriptor d;
		int bus = libusb_get_bus_number(list[i]);
		int addr = libusb_get_device_address(list[i]);

		if (libusb_get_device_descriptor(list[i], &d) != 0)
			continue;
		if (w->has_loc && !w->vid) {
			/* First look: the device at the named location. */
			if (bus == w->bus && addr == w->addr) {
				w->vid = d.idVendor;
				w->pid = d.idProduct;
				found = 1;
			}
			continue;
		}
		if (is_known(w, d.idVendor, d.idProduct)) {
			if (!w->vid) {
				w->vid = d.idVendor;
				w->pid = d.idProduct;
			}
			if (bus != w->bus || addr != w->addr)
				follow(w, bus, addr);
			found = 1;
		}
	}
	libusb_free_device_list(list, 1);
	return found;
}

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
				  libusb_hotplug_event ev, void *arg)
{
	struct usb_watch *w = arg;
	struct libusb_device_descriptor d;
	int bus = libusb_get_bus_number(dev);
	int addr = libusb_get_device_address(dev);

	if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT) {
		if (bus == w->bus && addr == w->addr) {
			w->pending |= HAL_USB_LEFT;
			w->bus = w->addr = 0;
		}
		return 0;
	}
	if (libusb_get_device_descriptor(dev, &d) == 0 &&
	    is_known(w, d.idVendor, d.idProduct)) {
		follow(w, bus, addr);
		w->pending |= HAL_USB_ARRIVED;
	}
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int uw_applies(void *ctx)
{
	struct usb_watch *w = ctx;
	return w->usb != NULL;
}

static int uw_poll(void *ctx)
{
	struct usb_watch *w = ctx;
	struct timeval zero = {0, 0};
	int ev;

	if (!w->usb)
		return 0;
	if (w->hotplug) {
		libusb_handle_events_timeout_completed(w->usb, &zero, NULL);
	} else if (mono_ms() >= w->next_scan_ms) {
		/* No hot-plug support here: look once a second. */
		int was = w->bus != 0;
		int now = scan(w);
		if (was && !now) {
			w->pending |= HAL_USB_LEFT;
			w->bus = w->addr = 0;
		} else if (!was && now) {
			w->pending |= HAL_USB_ARRIVED;
		}
		w->next_scan_ms = mono_ms() + 1000;
	}
	ev = w->pending;
	w->pending = 0;
	return ev;
}

static int uw_reset(void *ctx)
{
	struct usb_watch *w = ctx;
	libusb_device **list;
	ssize_t n;
	int rc = HAL_ERR_NODEV;

	if (!w->usb)
		return HAL_ERR_NODEV;
	if (!w->bus)
		scan(w);
	n = libusb_get_device_list(w->usb, &list);
	if (n < 0)
		return HAL_ERR_IO;
	for (ssize_t i = 0; i < n; i++) {
		libusb_device_handle *h;
		if (libusb_get_bus_number(list[i]) != w->bus ||
		    libusb_get_device_address(list[i]) != w->addr)
			continue;
		if (libusb_open(list[i], &h) != 0) {
			rc = HAL_ERR_IO;
			break;
		}
		int r = libusb_reset_device(h);
		/* NOT_FOUND: it re-enumerated; hot-plug will follow it. */
		rc = (r == 0 || r == LIBUSB_ERROR_NOT_FOUND) ? 0 : HAL_ERR_IO;
		libusb_close(h);
		break;
	}
	libusb_free_device_list(list, 1);
	return rc;
}

int hal_usb_libusb_new(struct hal_usb *u, struct hal_reader *reader,
		       const char *conn)
{
	struct usb_watch *w = calloc(1, sizeof(*w));
	const char *c;

	if (!w)
		return HAL_ERR_FULL;
	u->ctx = w;
	u->applies = uw_applies;
	u->poll = uw_poll;
	u->reset = uw_reset;
	if (!hal_usb_connstring_is_usb(conn))
		return 0; /* a UART or pty reader: nothing to watch */
	w->reader = reader;
	c = strchr(conn, ':');
	snprintf(w->driver, sizeof(w->driver), "%.*s",
		 (int)(c ? (size_t)(c - conn) : strlen(conn)), conn);
	w->has_loc = hal_usb_connstring_location(conn, &w->bus, &w->addr);
	if (libusb_init(&w->usb) != 0) {
		w->usb = NULL;
		return HAL_ERR_NODEV;
	}
	scan(w);
	if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG) &&
	    libusb_hotplug_register_callback(
		w->usb,
		LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED |
		    LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
		0, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
		LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, w, &w->cb) == 0)
		w->hotplug = 1;
	return 0;
}

void hal_usb_libusb_free(struct hal_usb *u)
{
	struct usb_watch *w = u->ctx;

	if (!w)
		return;
	if (w->usb) {
		if (w->hotplug)
			libusb_hotplug_deregister_callback(w->usb, w->cb);
		libusb_exit(w->usb);
	}
	free(w);
	u->ctx = NULL;
}
