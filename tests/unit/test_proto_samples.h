/*
 * test_proto_samples.h - one valid example of every application message,
 * shared by the proto unit tests, the KAT generator and the fuzz seeds.
 */
#ifndef TAPAID_TEST_PROTO_SAMPLES_H
#define TAPAID_TEST_PROTO_SAMPLES_H

#include <string.h>

#include "tapaid/proto.h"

static const uint8_t sample_types[] = {
    TP_MSG_TAP_REQUEST, TP_MSG_DECISION, TP_MSG_STATUS,
    TP_MSG_STATUS_ACK,	TP_MSG_DENYLIST, TP_MSG_RECORD,
    TP_MSG_RECORD_ACK,	TP_MSG_ERROR,	 TP_MSG_BYE,
};
#define N_SAMPLE_TYPES (sizeof(sample_types) / sizeof(sample_types[0]))

static inline void sample_fill(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + 7 * i);
}

/* A valid message of the given type, with every field non-trivial. */
static inline void sample_msg(uint8_t type, struct tp_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case TP_MSG_TAP_REQUEST:
		sample_fill(m->u.tap.request_id, 16, 0x10);
		sample_fill(m->u.tap.lookup_id, 16, 0x20);
		m->u.tap.kiosk_time_ms = 1795000000123ULL;
		strcpy(m->u.tap.benefit, "MEAL15");
		strcpy(
		    m->u.tap.sun,
		    "https://t.example.org/t?p=EF963FF7828658A599F3041510671E88"
		    "&c=94EED9EE65337086");
		break;
	case TP_MSG_DECISION:
		sample_fill(m->u.decision.request_id, 16, 0x10);
		m->u.decision.result = TP_RESULT_GRANTED;
		m->u.decision.reason = TP_REASON_GRANTED;
		strcpy(m->u.decision.benefit, "MEAL15");
		m->u.decision.left = 11;
		strcpy(m->u.decision.name,
		       "\xe7\x8e\x8b*\xe6\x98\x8e"); /* 王*明 */
		m->u.decision.host_time_ms = 1795000000456ULL;
		break;
	case TP_MSG_STATUS:
		m->u.status.reader_state = TP_READER_OK;
		m->u.status.queue_depth = 3;
		m->u.status.offline_pending = 2;
		m->u.status.usb_resets = 1;
		m->u.status.denylist_version = 42;
		m->u.status.kiosk_time_ms = 1795000000789ULL;
		strcpy(m->u.status.firmware, "tapaid-kiosk 0.1.0");
		break;
	case TP_MSG_STATUS_ACK:
		m->u.status_ack.host_time_ms = 1795000000999ULL;
		m->u.status_ack.denylist_version = 43;
		break;
	case TP_MSG_DENYLIST:
		m->u.deny.version = 43;
		m->u.deny.chunk_index = 1;
		m->u.deny.chunk_count = 2;
		m->u.deny.n = 3;
		for (int i = 0; i < 3; i++)
			sample_fill(m->u.deny.ids[i], 16, (uint8_t)(0x40 + i));
		break;
	case TP_MSG_RECORD:
		m->u.record.len = TP_RECORD_MIN + 10;
		sample_fill(m->u.record.bytes, m->u.record.len, 0x55);
		break;
	case TP_MSG_RECORD_ACK:
		m->u.record_ack.record_seq = 7;
		m->u.record_ack.status = TP_RECORD_DUPLICATE;
		m->u.record_ack.reason = TP_REASON_REPLAYED_TAP;
		break;
	case TP_MSG_ERROR:
		m->u.error.code = 13;
		strcpy(m->u.error.text, "message not allowed in this state");
		break;
	case TP_MSG_BYE:
		break;
	}
}

/* A valid offline record. */
static inline void sample_record(struct tp_record *r, uint64_t seq)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->kiosk_id, "K-0001");
	r->seq = seq;
	sample_fill(r->request_id, 16, (uint8_t)(0x60 + seq));
	sample_fill(r->lookup_id, 16, 0x70);
	strcpy(r->benefit, "MEAL15");
	r->kiosk_time_ms = 1795000001000ULL + seq;
	r->reason = TP_REASON_GRANTED;
	r->offline = 1;
	strcpy(r->sun, "p=EF963FF7828658A599F3041510671E88&c=94EED9EE65337086");
}

#endif
