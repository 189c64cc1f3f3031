/*
 * ctl_report.c - tapaidctl report --html FILE: one self-contained HTML
 * file from the daemon's report.data.
 *
 * Everything is inline (CSS and SVG, no script, no font, no image fetch) and
 * a Content-Security-Policy forbids any network access, so the file can be
 * mailed or opened offline.  The charts scale to the width of the screen,
 * so the report reads on a phone.  Each chart is followed by its numbers as
 * a table.
 *
 * report.data sections are arrays of objects.  Each object is read
 * tolerantly: its label is the first of day/date/benefit/code/point/kiosk/
 * reason/kind/event/type that is a string, and its values are its numeric
 * members (granted, denied, count, ... in a fixed colour order).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_int.h"

#define MAXS 4

static const char *const label_keys[] = {"day",	  "date",  "benefit", "code",
					 "point", "kiosk", "reason",  "kind",
					 "event", "type",  NULL};

struct series {
	const char *key[MAXS];
	size_t n;
};

static const char *color_of(const char *k)
{
	if (!strcmp(k, "granted"))
		return "#2e7d32";
	if (!strcmp(k, "denied"))
		return "#c62828";
	if (!strcmp(k, "count"))
		return "#1565c0";
	if (!strcmp(k, "voided"))
		return "#757575";
	return "#ef6c00";
}

static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '&':
			fputs("&amp;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			fputc(*s, f);
		}
	}
}

static const char *label_of(const cJSON *o, char *buf, size_t cap)
{
	for (int i = 0; label_keys[i]; i++) {
		const cJSON *v =
		    cJSON_GetObjectItemCaseSensitive(o, label_keys[i]);

		if (cJSON_IsString(v))
			return v->valuestring;
	}
	for (const cJSON *v = o ? o->child : NULL; v; v = v->next)
		if (cJSON_IsString(v))
			return v->valuestring;
	snprintf(buf, cap, "?");
	return buf;
}

/* The numeric members found in the section, preferred ones first. */
static void find_series(const cJSON *arr, struct series *s)
{
	static const char *const pref[] = {"granted", "denied", "count",
					   "voided", NULL};
	const cJSON *o, *v;

	s->n = 0;
	for (int i = 0; pref[i] && s->n < MAXS; i++)
		cJSON_ArrayForEach(o, arr)
		{
			if (cJSON_IsNumber(
				cJSON_GetObjectItemCaseSensitive(o, pref[i]))) {
				s->key[s->n++] = pref[i];
				break;
			}
		}
	cJSON_ArrayForEach(o, arr)
	{
		cJSON_ArrayForEach(v, o)
		{
			size_t j;

			if (!cJSON_IsNumber(v) || s->n == MAXS ||
			    v->string == NULL)
				continue;
			for (j = 0; j < s->n; j++)
				if (!strcmp(s->key[j], v->string))
					break;
			/* Money is not stacked onto counts; it stays in the
			 * numbers table only when nothing else is numeric. */
			if (j == s->n && strcmp(v->string, "id") != 0 &&
			    strcmp(v->string, "ts") != 0 &&
			    strcmp(v->string, "amount") != 0)
				s->key[s->n++] = v->string;
		}
	}
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static double nice_max(double m)
{
	double p = 1;

	if (m <= 0)
		return 1;
	while (p * 10 <= m)
		p *= 10;
	if (m <= p)
		return p;
	if (m <= 2 * p)
		return 2 * p;
	if (m <= 5 * p)
		return 5 * p;
	return 10 * p;
}

/* Grid lines for an axis up to max: whole steps for small counts. */
static int nice_ticks(double max)
{
	double p = 1;

	if (max <= 5)
		return max < 1 ? 1 : (int)max;
	while (p * 10 <= max)
		p *= 10;
	return max / p == 2 ? 4 : 5;
}

static void legend(FILE *f, const struct series *s)
{
	fputs("<p class=legend>", f);
	for (size_t i = 0; i < s->n; i++) {
		fprintf(f, "<span><i style=\"background:%s\"></i>",
			color_of(s->key[i]));
		esc(f, s->key[i]);
		fputs("</span> ", f);
	}
	fputs("</p>\n", f);
}

static void numbers_table(FILE *f, const cJSON *arr, const struct series *s,
			  const char *what)
{
	const cJSON *o;
	char b[64];

	fprintf(f, "<details><summary>numbers</summary><table><tr><th>%s</th>",
		what);
	for (size_t i = 0; i < s->n; i++) {
		fputs("<th>", f);
		esc(f, s->key[i]);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	cJSON_ArrayForEach(o, arr)
	{
		fputs("<tr><td>", f);
		esc(f, label_of(o, b, sizeof(b)));
		fputs("</td>", f);
		for (size_t i = 0; i < s->n; i++)
			fprintf(f, "<td class=n>%s</td>",
				ctl_json_text(cJSON_GetObjectItemCaseSensitive(
						  o, s->key[i]),
					      b, sizeof(b)));
		fputs("</tr>\n", f);
	}
	fputs("</table></details>\n", f);
}

/* Stacked vertical bars, one per element (days). */
static void vbars(FILE *f, const cJSON *arr, const char *title)
{
	struct series s;
	const cJSON *o;
	int n = cJSON_GetArraySize(arr), i = 0, every, ticks;
	double max = 0, W = 360, H = 200, L = 34, B = 28, bw;
	char b[64];

	fprintf(f, "<section><h2>%s</h2>\n", title);
	if (n == 0) {
		fputs("<p class=empty>No data in this period.</p></section>\n",
		      f);
		return;
	}
	find_series(arr, &s);
	cJSON_ArrayForEach(o, arr)
	{
		double t = 0;

		for (size_t k = 0; k < s.n; k++)
			t += num(o, s.key[k]);
		if (t > max)
			max = t;
	}
	max = nice_max(max);
	ticks = nice_ticks(max);
	bw = (W - L - 8) / n;
	every = n > 7 ? (n + 6) / 7 : 1;
	fprintf(f,
		"<svg viewBox=\"0 0 %.0f %.0f\" role=img aria-label=\"%s\">\n",
		W, H, title);
	for (int g = 0; g <= ticks; g++) {
		double y = 10 + (H - B - 10) * (1 - (double)g / ticks);

		fprintf(f,
			"<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" "
			"class=grid />"
			"<text x=\"%.0f\" y=\"%.1f\" class=ax text-anchor=end>"
			"%g</text>\n",
			L, W - 4, y, y, L - 4, y + 4, max * g / ticks);
	}
	cJSON_ArrayForEach(o, arr)
	{
		double x = L + i * bw, y = H - B;

		fputs("<g>", f);
		for (size_t k = 0; k < s.n; k++) {
			double h = num(o, s.key[k]) / max * (H - B - 10);

			if (h <= 0)
				continue;
			y -= h;
			fprintf(f,
				"<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
				"height=\"%.2f\" fill=\"%s\"><title>",
				x + bw * 0.1, y, bw * 0.8, h,
				color_of(s.key[k]));
			esc(f, label_of(o, b, sizeof(b)));
			fprintf(f, " %s: %s</title></rect>", s.key[k],
				ctl_json_text(cJSON_GetObjectItemCaseSensitive(
						  o, s.key[k]),
					      b, sizeof(b)));
		}
		if (i % every == 0) {
			const char *lab = label_of(o, b, sizeof(b));

			/* Days print as MM-DD to fit. */
			if (strlen(lab) == 10 && lab[4] == '-')
				lab += 5;
			fprintf(f,
				"<text x=\"%.2f\" y=\"%.0f\" class=ax "
				"text-anchor=middle>",
				x + bw / 2, H - B + 15);
			esc(f, lab);
			fputs("</text>", f);
		}
		fputs("</g>\n", f);
		i++;
	}
	fputs("</svg>\n", f);
	legend(f, &s);
	numbers_table(f, arr, &s, "day");
	fputs("</section>\n", f);
}

/* Stacked horizontal bars, one row per element, biggest first as sent. */
static void hbars(FILE *f, const cJSON *arr, const char *title,
		  const char *what)
{
	struct series s;
	const cJSON *o;
	int n = cJSON_GetArraySize(arr), i = 0;
	double max = 0, W = 360, L = 118, RH = 24;
	char b[64];

	fprintf(f, "<section><h2>%s</h2>\n", title);
	if (n == 0) {
		fputs("<p class=empty>No data in this period.</p></section>\n",
		      f);
		return;
	}
	find_series(arr, &s);
	cJSON_ArrayForEach(o, arr)
	{
		double t = 0;

		for (size_t k = 0; k < s.n; k++)
			t += num(o, s.key[k]);
		if (t > max)
			max = t;
	}
	if (max <= 0)
		max = 1;
	fprintf(f,
		"<svg viewBox=\"0 0 %.0f %.0f\" role=img aria-label=\"%s\">\n",
		W, n * RH + 8, title);
	cJSON_ArrayForEach(o, arr)
	{
		double x = L, y = 4 + i * RH, t = 0;
		const char *lab = label_of(o, b, sizeof(b));

		fprintf(f,
			"<g><text x=\"%.0f\" y=\"%.0f\" class=lab "
			"text-anchor=end>",
			L - 6, y + 16);
		/* Long labels are cut so they cannot run into the bars. */
		if (ctl_utf8_width(lab) > 18) {
			char cut[128];
			size_t k = 0, w = 0;

			while (lab[k] && k < sizeof(cut) - 4 && w < 16) {
				size_t l = 1;

				while ((lab[k + l] & 0xc0) == 0x80)
					l++;
				w += l > 2 ? 2 : 1;
				k += l;
			}
			memcpy(cut, lab, k);
			strcpy(cut + k, "…");
			esc(f, cut);
		} else {
			esc(f, lab);
		}
		fputs("</text>", f);
		for (size_t k = 0; k < s.n; k++) {
			double v = num(o, s.key[k]), w = v / max * (W - L - 40);

			t += v;
			if (w <= 0)
				continue;
			fprintf(f,
				"<rect x=\"%.2f\" y=\"%.0f\" width=\"%.2f\" "
				"height=\"%.0f\" fill=\"%s\"><title>%s: %.0f"
				"</title></rect>",
				x, y + 4, w, RH - 8, color_of(s.key[k]),
				s.key[k], v);
			x += w;
		}
		fprintf(
		    f, "<text x=\"%.2f\" y=\"%.0f\" class=ax>%.0f</text></g>\n",
		    x + 4, y + 16, t);
		i++;
	}
	fputs("</svg>\n", f);
	legend(f, &s);
	numbers_table(f, arr, &s, what);
	fputs("</section>\n", f);
}

/* Security events as a table of every member of each object. */
static void events(FILE *f, const cJSON *arr)
{
	const cJSON *o, *v;
	char b[128];

	fputs("<section><h2>Security events</h2>\n", f);
	if (cJSON_GetArraySize(arr) == 0) {
		fputs("<p class=empty>None in this period.</p></section>\n", f);
		return;
	}
	fputs("<div class=scroll><table><tr>", f);
	cJSON_ArrayForEach(v, arr->child)
	{
		fputs("<th>", f);
		esc(f, v->string);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	cJSON_ArrayForEach(o, arr)
	{
		fputs("<tr>", f);
		cJSON_ArrayForEach(v, arr->child)
		{
			const cJSON *x =
			    cJSON_GetObjectItemCaseSensitive(o, v->string);

			fprintf(f, "<td%s>",
				cJSON_IsNumber(x) ? " class=n" : "");
			esc(f, ctl_json_text(x, b, sizeof(b)));
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fputs("</table></div></section>\n", f);
}

static double total(const cJSON *arr, const char *k)
{
	const cJSON *o;
	double t = 0;

	cJSON_ArrayForEach(o, arr) t += num(o, k);
	return t;
}

int ctl_report_html(FILE *f, const cJSON *data, const char *since,
		    const char *until, const char *generated)
{
	const cJSON *day = cJSON_GetObjectItemCaseSensitive(data, "per_day");
	const cJSON *ben =
	    cJSON_GetObjectItemCaseSensitive(data, "per_benefit");
	const cJSON *pt = cJSON_GetObjectItemCaseSensitive(data, "per_point");
	const cJSON *den = cJSON_GetObjectItemCaseSensitive(data, "denials");
	const cJSON *sec = cJSON_GetObjectItemCaseSensitive(data, "security");

	fputs(
	    "<!DOCTYPE html>\n<html lang=\"zh\"><head><meta "
	    "charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" "
	    "content=\"default-src "
	    "'none'; style-src 'unsafe-inline'\">\n"
	    "<title>tapaid report</title>\n<style>\n"
	    "body{font-family:system-ui,-apple-system,\"Noto Sans CJK SC\","
	    "\"PingFang SC\",sans-serif;margin:0 auto;max-width:960px;"
	    "padding:12px;color:#222;background:#fafafa}\n"
	    "h1{font-size:1.4em}h2{font-size:1.15em;margin:0 0 .4em}\n"
	    "section{background:#fff;border:1px solid #ddd;border-radius:8px;"
	    "padding:12px;margin:12px 0}\n"
	    "svg{width:100%;height:auto;display:block;max-width:720px}\n"
	    ".grid{stroke:#e0e0e0}.ax{font-size:10px;fill:#555}"
	    ".lab{font-size:11px;fill:#222}\n"
	    ".legend span{margin-right:1em;font-size:.9em}"
	    ".legend i{display:inline-block;width:.8em;height:.8em;"
	    "margin-right:.3em;vertical-align:-.05em}\n"
	    "table{border-collapse:collapse;font-size:.9em;margin-top:.4em}"
	    "td,th{border-bottom:1px solid #eee;padding:3px 8px;"
	    "text-align:left}.n{text-align:right;font-variant-numeric:"
	    "tabular-nums}\n.scroll{overflow-x:auto}.empty{color:#777}\n"
	    ".kpi{display:flex;flex-wrap:wrap;gap:8px}.kpi div{flex:1 1 120px;"
	    "background:#fff;border:1px solid #ddd;border-radius:8px;"
	    "padding:8px}.kpi b{display:block;font-size:1.5em}\n"
	    "</style></head><body>\n<h1>tapaid: redemptions report</h1>\n<p>",
	    f);
	fputs("Period: ", f);
	esc(f, since ? since : "the beginning");
	fputs(" to ", f);
	esc(f, until ? until : "now");
	fputs(". Generated ", f);
	esc(f, generated);
	fputs(".</p>\n", f);
	fprintf(f,
		"<div class=kpi><div>granted<b>%.0f</b></div>"
		"<div>denied<b>%.0f</b></div><div>security events<b>%d</b>"
		"</div></div>\n",
		total(day, "granted"), total(day, "denied"),
		cJSON_GetArraySize(sec));
	vbars(f, day, "Redemptions per day");
	hbars(f, ben, "Per benefit", "benefit");
	hbars(f, pt, "Per service point", "point");
	hbars(f, den, "Denials by reason", "reason");
	events(f, sec);
	fputs("</body></html>\n", f);
	return ferror(f) ? -1 : 0;
}

static const char report_usage[] =
    "tapaidctl report --html FILE [--since DATE] [--until DATE]\n"
    "  one self-contained HTML file (inline SVG charts, no network)";

int ctl_report(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"html", required_argument, NULL, 'o'},
	    {"since", required_argument, NULL, 's'},
	    {"until", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {0}};
	const char *out = NULL, *since = NULL, *until = NULL;
	char tmp[4096], gen[64];
	struct ctl_progress prog;
	struct ctl_conn *c;
	cJSON *args, *data = NULL;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	int o, rc;

	optind = 0;
	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (o) {
		case 'o':
			out = optarg;
			break;
		case 's':
			since = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'h':
			puts(report_usage);
			return CTL_OK;
		default:
			return ctl_usage(report_usage);
		}
	}
	if (optind != argc || out == NULL)
		return ctl_usage(report_usage);
	if ((since && !ctl_valid_date(since)) ||
	    (until && !ctl_valid_date(until))) {
		ctl_err("dates are YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]");
		return CTL_USAGE;
	}
	args = cJSON_CreateObject();
	if (since)
		cJSON_AddStringToObject(args, "since", since);
	if (until)
		cJSON_AddStringToObject(args, "until", until);
	if (ctl_open(&c) != CTL_OK) {
		cJSON_Delete(args);
		return CTL_FAIL;
	}
	ctl_progress_start(&prog, "building the report", 0);
	ctl_wait_progress = &prog;
	rc = ctl_call(c, "report.data", args, &data, NULL);
	ctl_wait_progress = NULL;
	ctl_progress_end(&prog);
	ctl_close(c);
	if (rc != CTL_OK)
		return rc;
	strftime(gen, sizeof(gen), "%Y-%m-%d %H:%M UTC", gmtime_r(&now, &tm));
	/* Write beside the target and rename, so a failure leaves no half file.
	 */
	snprintf(tmp, sizeof(tmp), "%s.tmp", out);
	f = fopen(tmp, "w");
	if (f == NULL) {
		ctl_err("cannot write %s: %m", tmp);
		cJSON_Delete(data);
		return CTL_FAIL;
	}
	rc = ctl_report_html(f, data, since, until, gen);
	if (fclose(f) != 0 || rc < 0 || rename(tmp, out) < 0) {
		ctl_err("writing %s failed: %m", out);
		unlink(tmp);
		cJSON_Delete(data);
		return CTL_FAIL;
	}
	cJSON_Delete(data);
	printf("wrote %s\n", out);
	return CTL_OK;
}
