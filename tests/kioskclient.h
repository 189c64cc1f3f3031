/*
 * kioskclient.h - a test client that speaks the kiosk side of the
 * kiosk <-> host protocol (tapaid/proto.h) over TCP: the signed handshake
 * with a kiosk key, TAP_REQUEST -> DECISION, STATUS, offline RECORDs.
 *
 * Used by the daemon's integration tests and benchmark; other helpers may
 * reuse it.  The socket is non-blocking: kc_poll() never blocks (for many
 * sessions in one thread), the kc_wait*() calls block up to a timeout.
 * Memory: struct kc is caller-owned; nothing is allocated.
 */
#ifndef TAPAID_TESTS_KIOSKCLIENT_H
#define TAPAID_TESTS_KIOSKCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "tapaid/proto.h"

struct kc {
	int fd;
	struct tp_session s;
	int established;
	int closed;	       /* the host closed the connection */
	int last_err;	       /* the session error that failed it, 0 if none */
	uint32_t deny_version; /* last complete DENYLIST version */
	uint32_t deny_count;   /* ids in it */
	uint16_t deny_chunks;  /* chunks seen of the version being received */
	uint32_t deny_acc;     /* ids seen so far in that version */
	uint8_t rbuf[4 * TP_FRAME_MAX];
	size_t rlen;
};

/*
 * Connects to host:port and sends HELLO; no wait.  kiosk_key and host_pub
 * are borrowed and must outlive the connection.  Returns 0 or -1 (errno).
 */
int kc_open(struct kc *c, const char *host, int port,
	    const struct tp_key *kiosk_key, const struct tp_key *host_pub,
	    const char *kiosk_id);
/* kc_open and then wait for the handshake; 0, or -1 on failure/timeout. */
int kc_connect(struct kc *c, const char *host, int port,
	       const struct tp_key *kiosk_key, const struct tp_key *host_pub,
	       const char *kiosk_id, int timeout_ms);
/*
 * Reads what is there and handles one frame: 1 and *m filled with an
 * application message, 0 when nothing is complete yet, -1 when the
 * connection closed or the session failed.  DENYLIST chunks are also
 * tracked in c->deny_*.
 */
int kc_poll(struct kc *c, struct tp_msg *m);
/* Blocks up to timeout_ms for the next application message; 1, 0, -1. */
int kc_wait(struct kc *c, struct tp_msg *m, int timeout_ms);
/* Waits for a message of one type, skipping others; 1, 0 timeout, -1. */
int kc_wait_type(struct kc *c, int type, struct tp_msg *m, int timeout_ms);
/* Seals and writes m (waits for buffer space); 0 or -1. */
int kc_send(struct kc *c, const struct tp_msg *m);
/* Writes raw bytes, for garbage tests; 0 or -1. */
int kc_send_raw(int fd, const void *p, size_t n);
int kc_send_tap(struct kc *c, const uint8_t rid[16], const char *benefit,
		const char *sun);
/* Sends a TAP_REQUEST and waits for the DECISION with the same id. */
int kc_tap(struct kc *c, const uint8_t rid[16], const char *benefit,
	   const char *sun, struct tp_decision *d, int timeout_ms);
int kc_send_record(struct kc *c, const uint8_t *rec, size_t len);
void kc_close(struct kc *c);
/* A TCP connection to host:port (blocking connect, then non-blocking). */
int kc_tcp(const char *host, int port);

#endif
