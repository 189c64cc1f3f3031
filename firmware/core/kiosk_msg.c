/*
 * kiosk_msg.c - what the member reads, in Chinese and English, and the
 * machine-readable event line.
 *
 * Every denial reason has a sentence that says what happened and what to
 * do next, in words a member understands (no codes on screen).
 */
#include <stdio.h>
#include <string.h>

#include "kiosk_int.h"

static const char *const reason_names[KIOSK_R__COUNT] = {
    [KIOSK_R_GRANTED] = "granted",
    [KIOSK_R_UNKNOWN_CARD] = "unknown_card",
    [KIOSK_R_REVOKED_CARD] = "revoked_card",
    [KIOSK_R_REPLAYED_TAP] = "replayed_tap",
    [KIOSK_R_MEMBER_SUSPENDED] = "member_suspended",
    [KIOSK_R_NOT_ELIGIBLE] = "not_eligible",
    [KIOSK_R_QUOTA_USED_UP] = "quota_used_up",
    [KIOSK_R_WRONG_SERVICE_POINT] = "wrong_service_point",
    [KIOSK_R_OUTSIDE_HOURS] = "outside_hours",
    [KIOSK_R_KIOSK_NOT_ENROLLED] = "kiosk_not_enrolled",
    [KIOSK_R_BAD_SIGNATURE] = "bad_signature",
    [KIOSK_R_NOT_A_SERVICE_CARD] = "not_a_service_card",
    [KIOSK_R_OFFLINE_LIMIT] = "offline_limit",
    [KIOSK_R_HOST_UNAVAILABLE] = "host_unavailable",
};

/* Sentences for each denial: [reason][lang]. */
static const char *const reason_text[KIOSK_R__COUNT][2] = {
    [KIOSK_R_GRANTED] = {"Granted", "已通过"},
    [KIOSK_R_UNKNOWN_CARD] =
	{"This card is not registered. Please ask the staff at the desk.",
	 "此卡未登记，请到服务台咨询工作人员。"},
    [KIOSK_R_REVOKED_CARD] =
	{"This card has been cancelled. Please ask the staff for a new card.",
	 "此卡已停用，请联系工作人员补办新卡。"},
    [KIOSK_R_REPLAYED_TAP] =
	{"This tap was already used. Please tap your card again.",
	 "本次刷卡已使用过，请重新刷卡。"},
    [KIOSK_R_MEMBER_SUSPENDED] =
	{"Your membership is suspended. Please contact your union office.",
	 "您的会员资格已暂停，请联系所属工会。"},
    [KIOSK_R_NOT_ELIGIBLE] = {"You are not eligible for this benefit.",
			      "您不符合享受此项福利的条件。"},
    [KIOSK_R_QUOTA_USED_UP] = {"You have used up this benefit for this period.",
			       "本期福利额度已用完。"},
    [KIOSK_R_WRONG_SERVICE_POINT] =
	{"This benefit cannot be used at this service point.",
	 "此项福利不能在本服务点使用。"},
    [KIOSK_R_OUTSIDE_HOURS] = {"This benefit is not available at this time. "
			       "Please come back during service hours.",
			       "当前不在服务时间内，请在服务时间再来。"},
    [KIOSK_R_KIOSK_NOT_ENROLLED] =
	{"This kiosk is not in service. Please ask the staff.",
	 "本终端暂未启用，请联系工作人员。"},
    [KIOSK_R_BAD_SIGNATURE] =
	{"Your card could not be verified. Please ask the staff.",
	 "卡片验证失败，请联系工作人员。"},
    [KIOSK_R_NOT_A_SERVICE_CARD] =
	{"This is not a union service card. Please use your service card.",
	 "这不是工会服务卡，请使用您的服务卡。"},
    [KIOSK_R_OFFLINE_LIMIT] =
	{"The system is offline and this card has reached today's offline "
	 "limit. Please try again later.",
	 "系统暂时离线，此卡今日离线使用次数已满，请稍后再试。"},
    [KIOSK_R_HOST_UNAVAILABLE] =
	{"The system is temporarily unavailable. Please try again later.",
	 "系统暂时无法连接，请稍后再试。"},
};

static const char *const msg_text[KIOSK_MSG__COUNT][2] = {
    [KIOSK_MSG_IDLE] = {"Please tap your service card", "请刷服务卡"},
    [KIOSK_MSG_IDLE_DETAIL] = {"Benefit: ", "福利项目："},
    [KIOSK_MSG_READING] = {"Reading card... please hold still",
			   "正在读卡……请勿移开"},
    [KIOSK_MSG_HOLD_STILL] = {"The card was moved away too soon",
			      "卡片移开过快"},
    [KIOSK_MSG_TAP_AGAIN] = {"Please tap your card again and hold it still",
			     "请重新刷卡并保持不动"},
    [KIOSK_MSG_READER_FAULT] = {"Card reader out of service", "读卡器暂停服务"},
    [KIOSK_MSG_READER_FAULT_DETAIL] =
	{"Restarting the reader. Please wait a moment or ask the staff.",
	 "正在重启读卡器，请稍候或联系工作人员。"},
    [KIOSK_MSG_OFFLINE_NOTE] = {"(offline, will be recorded later)",
				"（离线记录，稍后上传）"},
};

const char *kiosk_reason_name(enum kiosk_reason r)
{
	if ((unsigned)r >= KIOSK_R__COUNT)
		return "unknown";
	return reason_names[r];
}

int kiosk_reason_from_name(const char *name)
{
	for (int i = 0; i < KIOSK_R__COUNT; i++)
		if (strcmp(reason_names[i], name) == 0)
			return i;
	return -1;
}

const char *kiosk_state_name(enum kiosk_state s)
{
	static const char *const n[] = {
	    [KIOSK_STATE_IDLE] = "idle",
	    [KIOSK_STATE_CARD] = "card",
	    [KIOSK_STATE_REQUEST] = "request",
	    [KIOSK_STATE_RESULT] = "result",
	    [KIOSK_STATE_WAIT_REMOVAL] = "wait_removal",
	    [KIOSK_STATE_READER_DOWN] = "reader_down",
	};
	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

const char *kiosk_reader_state_name(enum kiosk_reader_state s)
{
	switch (s) {
	case KIOSK_READER_OK:
		return "ok";
	case KIOSK_READER_RESETTING:
		return "resetting";
	case KIOSK_READER_DOWN:
		return "down";
	}
	return "?";
}

const char *kiosk_msg_text(enum kiosk_lang lang, int id)
{
	if (id < 0 || id >= KIOSK_MSG__COUNT)
		return "";
	return msg_text[id][lang == KIOSK_LANG_ZH];
}

void kiosk_msg_decision(enum kiosk_lang lang, enum kiosk_reason r, int left,
			int offline, const char *benefit, const char *name,
			char *head, char *detail, size_t cap)
{
	int zh = lang == KIOSK_LANG_ZH;
	const char *note =
	    offline ? kiosk_msg_text(lang, KIOSK_MSG_OFFLINE_NOTE) : "";

	if ((unsigned)r >= KIOSK_R__COUNT)
		r = KIOSK_R_HOST_UNAVAILABLE;
	if (r == KIOSK_R_GRANTED) {
		if (name && name[0])
			snprintf(head, cap,
				 zh ? "已通过 — %s，您好"
				    : "Granted — welcome, %s",
				 name);
		else
			snprintf(head, cap, "%s", zh ? "已通过" : "Granted");
		if (left >= 0)
			snprintf(detail, cap,
				 zh ? "%s：本期剩余 %d 次 %s"
				    : "%s: %d left %s",
				 benefit, left, note);
		else
			snprintf(detail, cap, "%s %s", benefit, note);
	} else {
		snprintf(head, cap, "%s", zh ? "未通过" : "Not granted");
		snprintf(detail, cap, "%s", reason_text[r][zh]);
	}
	/* Drop a trailing space left by an empty note. */
	size_t n = strlen(detail);
	while (n > 0 && detail[n - 1] == ' ')
		detail[--n] = '\0';
}

/* Writes s as a JSON string body (quotes excluded), escaping what must be. */
static size_t json_str(char *out, size_t cap, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

int kiosk_event_json(char *buf, size_t cap, int granted, enum kiosk_reason r,
		     const char *benefit, int left, int offline)
{
	char b[2 * KIOSK_ID_MAX + 8], l[16];

	json_str(b, sizeof(b), benefit);
	if (left >= 0)
		snprintf(l, sizeof(l), "%d", left);
	else
		snprintf(l, sizeof(l), "null");
	return snprintf(
	    buf, cap,
	    "{\"result\":\"%s\",\"reason\":\"%s\",\"benefit\":\"%s\","
	    "\"left\":%s,\"offline\":%s}",
	    granted ? "granted" : "denied", kiosk_reason_name(r), b, l,
	    offline ? "true" : "false");
}
