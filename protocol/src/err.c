/* err.c - names for enum tp_err. */
#include "tapaid/err.h"

static const char *const names[] = {
    [0] = "success",
    [1] = "crypto library failure",
    [2] = "no randomness available",
    [3] = "bad argument",
    [4] = "incomplete frame",
    [5] = "malformed frame",
    [6] = "length over the limit",
    [7] = "unsupported protocol version",
    [8] = "unknown message type",
    [9] = "wrong length for the message type",
    [10] = "bad signature",
    [11] = "message authentication failed",
    [12] = "replayed or reordered frame",
    [13] = "message not allowed in this state",
    [14] = "key not in the allowed set",
    [15] = "key file missing or malformed",
    [16] = "key file is readable by others",
    [17] = "not hexadecimal",
    [18] = "malformed input",
    [19] = "card returned an error status",
    [20] = "card response MAC is wrong",
    [21] = "card authentication failed",
    [22] = "I/O error",
    [23] = "out of memory",
    [24] = "counter exhausted",
    [25] = "value out of range",
    [26] = "the peer refused the session",
};

const char *tp_strerror(int err)
{
	if (err > 0 || err <= TP_ERR__MIN)
		return "unknown error";
	return names[-err];
}
