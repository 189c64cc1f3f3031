/*
 * proto_reason.c - the names of enum tp_reason, as DESIGN.md spells them.
 * These exact strings go into logs, the kiosk's event lines and tapaidctl
 * output; the numbers go on the wire.
 */
#include <string.h>

#include "tapaid/proto.h"

static const char *const reason_names[TP_REASON__COUNT] = {
    [TP_REASON_GRANTED] = "granted",
    [TP_REASON_UNKNOWN_CARD] = "unknown_card",
    [TP_REASON_REVOKED_CARD] = "revoked_card",
    [TP_REASON_REPLAYED_TAP] = "replayed_tap",
    [TP_REASON_MEMBER_SUSPENDED] = "member_suspended",
    [TP_REASON_NOT_ELIGIBLE] = "not_eligible",
    [TP_REASON_QUOTA_USED_UP] = "quota_used_up",
    [TP_REASON_WRONG_SERVICE_POINT] = "wrong_service_point",
    [TP_REASON_OUTSIDE_HOURS] = "outside_hours",
    [TP_REASON_KIOSK_NOT_ENROLLED] = "kiosk_not_enrolled",
    [TP_REASON_BAD_SIGNATURE] = "bad_signature",
    [TP_REASON_NOT_A_SERVICE_CARD] = "not_a_service_card",
    [TP_REASON_OFFLINE_LIMIT] = "offline_limit",
    [TP_REASON_HOST_UNAVAILABLE] = "host_unavailable",
};

const char *tp_reason_name(int reason)
{
	if (reason < 0 || reason >= TP_REASON__COUNT)
		return NULL;
	return reason_names[reason];
}

int tp_reason_from_name(const char *name)
{
	if (!name)
		return TP_ERR_VALUE;
	for (int i = 0; i < TP_REASON__COUNT; i++)
		if (strcmp(name, reason_names[i]) == 0)
			return i;
	return TP_ERR_VALUE;
}
