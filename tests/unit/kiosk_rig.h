/*
 * kiosk_rig.h - a kiosk core on fakes, for the unit tests and the bench.
 *
 * Every hal struct is a fake (firmware/hal/fakes.h); the host at the far
 * end of the fake network is real protocol code with its own key pair,
 * and the kiosk has its own enrolled key pair.
 */
#ifndef TAPAID_KIOSK_RIG_H
#define TAPAID_KIOSK_RIG_H

#include <stdlib.h>
#include <string.h>

#include "core/kiosk.h"
#include "core/kiosk_int.h"
#include "hal/backends.h"
#include "hal/fakes.h"

struct rig {
	struct fake_reader rd;
	struct fake_usb usb;
	struct fake_display disp;
	struct fake_clock clk;
	struct fake_store st;
	struct fake_host host;
	struct hal hal;
	struct kiosk_config cfg;
	struct tp_key *kkey, *hkey, *kpub;
	struct kiosk *k;
};

static const uint8_t rig_uid[7] = {0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x80};
static const uint8_t rig_uid2[7] = {0x04, 0x66, 0x77, 0x88, 0x99, 0xAA, 0x80};

/* Fills r with fakes and keys; call rig_start() after changing cfg. */
static inline int rig_init(struct rig *r)
{
	uint8_t raw[65];

	memset(r, 0, sizeof(*r));
	fake_reader_init(&r->hal.reader, &r->rd);
	fake_usb_init(&r->hal.usb, &r->usb);
	fake_display_init(&r->hal.display, &r->disp);
	fake_clock_init(&r->hal.clock, &r->hal.rng, &r->clk);
	fake_store_init(&r->hal.store, &r->st);
	fake_net_init(&r->hal.net, &r->host);
	r->usb.revive = &r->rd;
	if (tp_key_generate(&r->kkey) || tp_key_generate(&r->hkey) ||
	    tp_key_public_raw(r->kkey, raw) ||
	    tp_key_from_public_raw(raw, &r->kpub))
		return -1;
	r->host.host_key = r->hkey;
	r->host.kiosk_pub = r->kpub;
	r->host.reason = TP_REASON_GRANTED;
	r->host.left = 3;
	r->host.host_time_ms = (r->clk.wall + 5) * 1000;
	kiosk_config_defaults(&r->cfg);
	snprintf(r->cfg.kiosk_id, sizeof(r->cfg.kiosk_id), "K-0001");
	snprintf(r->cfg.service_point, sizeof(r->cfg.service_point), "P1");
	snprintf(r->cfg.benefit, sizeof(r->cfg.benefit), "MEAL");
	r->cfg.kiosk_key = r->kkey;
	r->cfg.fw_version = "test-1";
	r->cfg.result_hold_ms = 200;
	if (tp_key_public_raw(r->hkey, r->cfg.host_pub))
		return -1;
	return 0;
}

static inline int rig_start(struct rig *r)
{
	return kiosk_setup(&r->cfg, &r->hal, &r->k);
}

static inline void rig_free(struct rig *r)
{
	kiosk_teardown(r->k);
	r->k = NULL;
	fake_store_free(&r->st);
	fake_host_drop(&r->host);
	tp_key_free(r->kkey);
	tp_key_free(r->hkey);
	tp_key_free(r->kpub);
}

/* Runs the kiosk for ms of fake time, moving the clock as it asks. */
static inline void rig_run(struct rig *r, unsigned ms)
{
	uint64_t end = r->clk.mono + ms;

	while (r->clk.mono < end) {
		int w = kiosk_step(r->k);
		if (w < 1)
			w = 1;
		if (w > 20)
			w = 20;
		r->clk.mono += (uint64_t)w;
		if (r->clk.mono % 1000 < (uint64_t)w)
			r->clk.wall++;
	}
}

#endif
