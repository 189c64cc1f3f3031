/*
 * display_term.c - the kiosk screen on a terminal.
 *
 * On a tty it clears the screen and draws a framed panel in the
 * indicator's colour (green granted, red denied, amber fault), and rings
 * the bell as the buzzer would beep.  Elsewhere (a log, a pipe) it writes
 * one plain line per screen: "[GRANTED] headline | detail".  The event
 * lines (JSON, one per tap) go to their own stream and are flushed at once.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hal/backends.h"

struct term {
	FILE *out;
	FILE *ev;
	int tty;
};

static const char *ind_name(enum hal_indicator i)
{
	switch (i) {
	case HAL_IND_IDLE:
		return "READY";
	case HAL_IND_BUSY:
		return "BUSY";
	case HAL_IND_GRANTED:
		return "GRANTED";
	case HAL_IND_DENIED:
		return "DENIED";
	case HAL_IND_FAULT:
		return "FAULT";
	}
	return "?";
}

static const char *ind_colour(enum hal_indicator i)
{
	switch (i) {
	case HAL_IND_GRANTED:
		return "\033[1;37;42m";
	case HAL_IND_DENIED:
		return "\033[1;37;41m";
	case HAL_IND_FAULT:
		return "\033[1;30;43m";
	case HAL_IND_BUSY:
		return "\033[1;37;44m";
	default:
		return "\033[1;37;46m";
	}
}

static void term_show(void *ctx, enum hal_indicator ind, const char *head,
		      const char *detail)
{
	struct term *t = ctx;

	if (!t->out)
		return;
	if (t->tty) {
		fprintf(t->out,
			"\033[H\033[2J\n  %s  %-8s  \033[0m\n\n  "
			"\033[1m%s\033[0m\n\n  %s\n",
			ind_colour(ind), ind_name(ind), head,
			detail ? detail : "");
		if (ind == HAL_IND_GRANTED)
			fputc('\a', t->out);
		else if (ind == HAL_IND_DENIED)
			fputs("\a\a", t->out);
	} else {
		fprintf(t->out, "[%s] %s%s%s\n", ind_name(ind), head,
			detail ? " | " : "", detail ? detail : "");
	}
	fflush(t->out);
}

static void term_event(void *ctx, const char *json)
{
	struct term *t = ctx;

	if (!t->ev)
		return;
	fputs(json, t->ev);
	fputc('\n', t->ev);
	fflush(t->ev);
}

int hal_display_term_new(struct hal_display *d, FILE *out, FILE *ev)
{
	struct term *t = calloc(1, sizeof(*t));

	if (!t)
		return HAL_ERR_FULL;
	t->out = out;
	t->ev = ev;
	t->tty = out && isatty(fileno(out));
	d->ctx = t;
	d->show = term_show;
	d->event = term_event;
	return 0;
}

void hal_display_term_free(struct hal_display *d)
{
	free(d->ctx);
	d->ctx = NULL;
}
