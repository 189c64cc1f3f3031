/*
 * kiosk.c - the tap state machine and the reader's health.
 *
 * One call of kiosk_step() does a bounded amount of work: hot-plug events,
 * one non-blocking turn of the host link, then one step of the tap.  The
 * reader is only talked to from here; the network only through
 * kiosk_link.c, which never waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiosk_int.h"

#define IDLE_POLL_MS	    50
#define PRESENT_POLL_MS	    100
#define REQUEST_POLL_MS	    5
#define READER_RETRY_MIN_MS 500
#define READER_RETRY_MAX_MS 10000

void kiosk_config_defaults(struct kiosk_config *c)
{
	memset(c, 0, sizeof(*c));
	c->lang = KIOSK_LANG_EN;
	c->offline_per_day = 0;
	c->offline_queue_max = 10000;
	c->reader_max_errors = 3;
	c->decision_timeout_ms = 1500;
	c->heartbeat_ms = 10000;
	c->backoff_min_ms = 500;
	c->backoff_max_ms = 30000;
	c->result_hold_ms = 1500;
	c->apdu_timeout_ms = 500;
	c->fw_version = "0";
}

int64_t kiosk_local_day(const struct kiosk *k, int64_t wall)
{
	int64_t t = wall + k->hal.clock.utc_offset(k->hal.clock.ctx);
	return t >= 0 ? t / 86400 : (t - 86399) / 86400;
}

static uint64_t now_ms(struct kiosk *k)
{
	return k->hal.clock.mono_ms(k->hal.clock.ctx);
}

static void show(struct kiosk *k, enum hal_indicator ind, const char *head,
		 const char *detail)
{
	k->hal.display.show(k->hal.display.ctx, ind, head, detail);
}

static void show_idle(struct kiosk *k)
{
	snprintf(k->detail, KIOSK_TEXT_MAX, "%s%s",
		 kiosk_msg_text(k->cfg.lang, KIOSK_MSG_IDLE_DETAIL),
		 k->cfg.benefit);
	show(k, HAL_IND_IDLE, kiosk_msg_text(k->cfg.lang, KIOSK_MSG_IDLE),
	     k->detail);
}

static void show_fault(struct kiosk *k)
{
	show(k, HAL_IND_FAULT,
	     kiosk_msg_text(k->cfg.lang, KIOSK_MSG_READER_FAULT),
	     kiosk_msg_text(k->cfg.lang, KIOSK_MSG_READER_FAULT_DETAIL));
}

int kiosk_setup(const struct kiosk_config *cfg, const struct hal *hal,
		struct kiosk **out)
{
	struct kiosk *k;
	int rc;

	*out = NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return HAL_ERR_FULL;
	k->cfg = *cfg;
	k->hal = *hal;
	k->apdu = calloc(1, KIOSK_APDU_MAX);
	k->ndef = calloc(1, KIOSK_URL_MAX + 16);
	k->jrec = calloc(1, KIOSK_JREC_HDR + KIOSK_REC_MAX);
	k->head = calloc(3, KIOSK_TEXT_MAX);
	k->deny_blob = calloc(1, KIOSK_DENY_HDR +
				     (size_t)KIOSK_DENY_MAX * KIOSK_LOOKUP_LEN);
	k->off = calloc(KIOSK_OFFLINE_CARDS, sizeof(*k->off));
	if (!k->apdu || !k->ndef || !k->jrec || !k->head || !k->deny_blob ||
	    !k->off) {
		kiosk_teardown(k);
		return HAL_ERR_FULL;
	}
	k->detail = k->head + KIOSK_TEXT_MAX;
	k->event = k->detail + KIOSK_TEXT_MAX;
	k->off_day = INT64_MIN;
	rc = kiosk_link_setup(k);
	if (rc != 0) {
		kiosk_teardown(k);
		return rc;
	}
	kiosk_deny_load(k);
	kiosk_off_rebuild(k);

	k->state = KIOSK_STATE_IDLE;
	k->st.reader = KIOSK_READER_OK;
	if (k->hal.reader.open(k->hal.reader.ctx) != 0) {
		k->state = KIOSK_STATE_READER_DOWN;
		k->st.reader = KIOSK_READER_DOWN;
		k->reader_backoff_ms = READER_RETRY_MIN_MS;
		k->reader_retry_at = now_ms(k) + k->reader_backoff_ms;
		show_fault(k);
	} else {
		show_idle(k);
	}
	*out = k;
	return 0;
}

void kiosk_teardown(struct kiosk *k)
{
	if (!k)
		return;
	if (k->link)
		kiosk_link_teardown(k);
	if (k->state != KIOSK_STATE_READER_DOWN && k->hal.reader.close)
		k->hal.reader.close(k->hal.reader.ctx);
	free(k->apdu);
	free(k->ndef);
	free(k->jrec);
	free(k->head);
	free(k->deny_blob);
	free(k->off);
	memset(k, 0, sizeof(*k));
	free(k);
}

void kiosk_get_stats(const struct kiosk *k, struct kiosk_stats *st)
{
	*st = k->st;
	st->state = k->state;
	st->host_up = kiosk_link_up(k);
	st->queue_depth = k->hal.store.depth(k->hal.store.ctx);
	st->deny_entries = k->ndeny;
}

/* --- the reader's health --- */

static void reader_down(struct kiosk *k)
{
	k->hal.reader.close(k->hal.reader.ctx);
	k->state = KIOSK_STATE_READER_DOWN;
	k->st.reader = KIOSK_READER_DOWN;
	if (k->reader_backoff_ms == 0)
		k->reader_backoff_ms = READER_RETRY_MIN_MS;
	k->reader_retry_at = now_ms(k) + k->reader_backoff_ms;
	show_fault(k);
}

/*
 * N consecutive errors: reset the USB device (when the reader is on USB),
 * then reopen it through its driver.  If that fails the reader is down and
 * is retried with a growing delay.
 */
static void reader_recover(struct kiosk *k)
{
	struct hal_usb *u = &k->hal.usb;

	k->st.reader = KIOSK_READER_RESETTING;
	k->hal.reader.close(k->hal.reader.ctx);
	if (u->applies && u->applies(u->ctx)) {
		u->reset(u->ctx);
		k->st.reader_resets++;
	}
	k->reader_errs = 0;
	if (k->hal.reader.open(k->hal.reader.ctx) == 0) {
		k->st.reader_reopens++;
		k->st.reader = KIOSK_READER_OK;
		k->state = KIOSK_STATE_IDLE;
		k->reader_backoff_ms = 0;
		show_idle(k);
		return;
	}
	k->state = KIOSK_STATE_READER_DOWN;
	k->st.reader = KIOSK_READER_DOWN;
	k->reader_backoff_ms = READER_RETRY_MIN_MS;
	k->reader_retry_at = now_ms(k) + k->reader_backoff_ms;
	show_fault(k);
}

static void reader_error(struct kiosk *k)
{
	if (++k->reader_errs >= k->cfg.reader_max_errors)
		reader_recover(k);
}

static void reader_retry(struct kiosk *k)
{
	struct hal_usb *u = &k->hal.usb;

	if (k->hal.reader.open(k->hal.reader.ctx) == 0) {
		k->st.reader_reopens++;
		k->st.reader = KIOSK_READER_OK;
		k->state = KIOSK_STATE_IDLE;
		k->reader_errs = 0;
		k->reader_backoff_ms = 0;
		show_idle(k);
		return;
	}
	/* Every few failed reopens, try a USB reset again. */
	if (u->applies && u->applies(u->ctx) &&
	    k->reader_backoff_ms >= READER_RETRY_MAX_MS / 4) {
		u->reset(u->ctx);
		k->st.reader_resets++;
	}
	k->reader_backoff_ms *= 2;
	if (k->reader_backoff_ms > READER_RETRY_MAX_MS)
		k->reader_backoff_ms = READER_RETRY_MAX_MS;
	k->reader_retry_at = now_ms(k) + k->reader_backoff_ms;
}

/* --- the tap --- */

/* Shows a decision, writes its event line, and waits for the card to go. */
static void finish(struct kiosk *k, const struct kiosk_decision *d, int offline)
{
	int granted = d->reason == KIOSK_R_GRANTED;

	k->st.taps++;
	if (granted) {
		k->st.granted++;
		if (offline)
			k->st.offline_granted++;
	} else {
		k->st.denied++;
	}
	kiosk_msg_decision(k->cfg.lang, d->reason, d->left, offline && granted,
			   k->cfg.benefit, d->name, k->head, k->detail,
			   KIOSK_TEXT_MAX);
	show(k, granted ? HAL_IND_GRANTED : HAL_IND_DENIED, k->head, k->detail);
	kiosk_event_json(k->event, KIOSK_TEXT_MAX, granted, d->reason,
			 k->cfg.benefit, d->left, offline);
	k->hal.display.event(k->hal.display.ctx, k->event);
	k->state = KIOSK_STATE_WAIT_REMOVAL;
	k->result_until = now_ms(k) + k->cfg.result_hold_ms;
	k->next_present_at = 0;
	k->dec_ready = false;
}

void kiosk_on_decision(struct kiosk *k, const struct kiosk_decision *d)
{
	if (k->state != KIOSK_STATE_REQUEST || !k->req_sent ||
	    memcmp(d->request_id, k->tap.request_id, 16) != 0)
		return; /* a late answer to a tap already decided */
	k->dec = *d;
	k->dec_ready = true;
}

static void go_offline(struct kiosk *k)
{
	struct kiosk_decision d;

	kiosk_offline_decide(k, &d);
	finish(k, &d, 1);
}

/* A card entered the field: read it, then ask the host (or decide). */
static void on_card(struct kiosk *k)
{
	struct kiosk_decision d;
	enum kiosk_read r;

	k->state = KIOSK_STATE_CARD;
	show(k, HAL_IND_BUSY, kiosk_msg_text(k->cfg.lang, KIOSK_MSG_READING),
	     NULL);
	memset(&k->tap, 0, sizeof(k->tap));
	memcpy(k->tap.uid, k->card.uid, k->card.uid_len);
	memcpy(k->held_uid, k->card.uid, k->card.uid_len);
	k->held_uid_len = k->card.uid_len;
	k->tap.uid_len = k->card.uid_len;
	r = kiosk_card_read(k);
	switch (r) {
	case KIOSK_READ_OK:
		k->reader_errs = 0;
		break;
	case KIOSK_READ_NOT_SERVICE_CARD:
		k->reader_errs = 0;
		memset(&d, 0, sizeof(d));
		d.reason = KIOSK_R_NOT_A_SERVICE_CARD;
		d.left = -1;
		finish(k, &d, 0);
		return;
	case KIOSK_READ_GONE:
	case KIOSK_READ_READER_ERROR:
		/* Not a tap: ask for another one and wait for the card to go.
		 */
		k->st.read_aborts++;
		show(k, HAL_IND_DENIED,
		     kiosk_msg_text(k->cfg.lang, KIOSK_MSG_HOLD_STILL),
		     kiosk_msg_text(k->cfg.lang, KIOSK_MSG_TAP_AGAIN));
		k->state = KIOSK_STATE_WAIT_REMOVAL;
		k->result_until = now_ms(k);
		k->next_present_at = 0;
		if (r == KIOSK_READ_READER_ERROR)
			reader_error(k);
		return;
	}

	k->hal.rng.fill(k->hal.rng.ctx, k->tap.request_id, 16);
	k->tap.wall = k->hal.clock.wall(k->hal.clock.ctx);
	if (kiosk_lookup_id(k, k->tap.uid, k->tap.uid_len, k->tap.lookup) != 0)
		memset(k->tap.lookup, 0, sizeof(k->tap.lookup));
	k->state = KIOSK_STATE_REQUEST;
	k->dec_ready = false;
	k->req_sent = false;
	if (kiosk_link_up(k) && kiosk_link_send_tap(k) == 0) {
		k->req_sent = true;
		k->req_deadline = now_ms(k) + k->cfg.decision_timeout_ms;
		return;
	}
	go_offline(k);
}

static int step_request(struct kiosk *k)
{
	if (k->dec_ready) {
		finish(k, &k->dec, 0);
		return 0;
	}
	/* The host went away or is too slow: the kiosk decides.  The record
	 * carries the same request id, so the host never counts it twice. */
	if (!kiosk_link_up(k) || now_ms(k) >= k->req_deadline) {
		go_offline(k);
		return 0;
	}
	return REQUEST_POLL_MS;
}

static int step_wait_removal(struct kiosk *k)
{
	struct hal_reader *r = &k->hal.reader;
	uint64_t now = now_ms(k);
	int p;

	if (now < k->next_present_at)
		return (int)(k->next_present_at - now);
	k->next_present_at = now + PRESENT_POLL_MS;
	p = r->present(r->ctx);
	if (p > 0)
		return PRESENT_POLL_MS;
	if (p < 0) {
		reader_error(k);
		if (k->state != KIOSK_STATE_WAIT_REMOVAL)
			return 0;
		return PRESENT_POLL_MS;
	}
	/* The card is gone; keep the answer up for its minimum time. */
	k->held_uid_len = 0;
	k->state = KIOSK_STATE_RESULT;
	return 0;
}

static int step_idle(struct kiosk *k)
{
	struct hal_reader *r = &k->hal.reader;
	int rc;

	memset(&k->card, 0, sizeof(k->card));
	rc = r->poll(r->ctx, &k->card);
	if (rc < 0) {
		reader_error(k);
		return IDLE_POLL_MS;
	}
	k->reader_errs = 0;
	if (rc == 0) {
		k->held_uid_len = 0; /* the field is empty */
		return IDLE_POLL_MS;
	}
	if (k->held_uid_len && k->card.uid_len == k->held_uid_len &&
	    memcmp(k->card.uid, k->held_uid, k->held_uid_len) == 0) {
		/* Still the card that was read before the reader came back. */
		k->state = KIOSK_STATE_WAIT_REMOVAL;
		k->next_present_at = 0;
		return PRESENT_POLL_MS;
	}
	on_card(k);
	return 0;
}

int kiosk_step(struct kiosk *k)
{
	struct hal_usb *u = &k->hal.usb;
	uint64_t now = now_ms(k);
	int ev = 0;

	if (u->applies && u->applies(u->ctx))
		ev = u->poll(u->ctx);
	if (ev & HAL_USB_LEFT && k->state != KIOSK_STATE_READER_DOWN)
		reader_down(k);
	if (ev & HAL_USB_ARRIVED && k->state == KIOSK_STATE_READER_DOWN)
		k->reader_retry_at = now;

	kiosk_link_service(k, now);

	switch (k->state) {
	case KIOSK_STATE_IDLE:
		return step_idle(k);
	case KIOSK_STATE_CARD: /* on_card() always leaves this state */
		k->state = KIOSK_STATE_IDLE;
		return 0;
	case KIOSK_STATE_REQUEST:
		return step_request(k);
	case KIOSK_STATE_WAIT_REMOVAL:
		return step_wait_removal(k);
	case KIOSK_STATE_RESULT:
		if (now < k->result_until)
			return (int)(k->result_until - now);
		k->state = KIOSK_STATE_IDLE;
		show_idle(k);
		return 0;
	case KIOSK_STATE_READER_DOWN:
		if (now >= k->reader_retry_at)
			reader_retry(k);
		if (k->state == KIOSK_STATE_READER_DOWN)
			return (int)(k->reader_retry_at > now
					 ? k->reader_retry_at - now
					 : IDLE_POLL_MS);
		return 0;
	}
	return IDLE_POLL_MS;
}
