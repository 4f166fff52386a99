#include "reports/text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_ctl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

void qe_text_html(struct qe_text *t, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': qe_text_put(t, "&amp;"); break;
		case '<': qe_text_put(t, "&lt;"); break;
		case '>': qe_text_put(t, "&gt;"); break;
		case '"': qe_text_put(t, "&quot;"); break;
		case '\'': qe_text_put(t, "&#39;"); break;
		default: qe_text_putc(t, is_ctl(c) ? ' ' : (char)c);
		}
	}
}

void qe_text_md(struct qe_text *t, const char *s)
{
	const char *p0 = s;

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (is_ctl(c)) {
			qe_text_putc(t, ' ');
			continue;
		}
		if (strchr("\\`*<>|#&", c))
			qe_text_putc(t, '\\');
		else if (c == ']' && s[1] && strchr("([:", s[1]))
			qe_text_putc(t, '\\'); /* no link, image or link definition can form */
		else if (c == '_' && !(s > p0 && isalnum((unsigned char)s[-1]) && isalnum((unsigned char)s[1])))
			qe_text_putc(t, '\\');
		qe_text_putc(t, (char)c);
	}
}

void qe_text_csv(struct qe_text *t, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	int quote = n && (strpbrk(s, ",\"\r\n") || s[0] == ' ' || s[n - 1] == ' ');

	if (!n)
		return;
	if (quote)
		qe_text_putc(t, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"')
			qe_text_put(t, "\"\"");
		else
			qe_text_putc(t, (is_ctl(c) && c != '\r' && c != '\n') ? ' ' : (char)c);
	}
	if (quote)
		qe_text_putc(t, '"');
}

void qe_text_gp(struct qe_text *t, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\'')
			qe_text_put(t, "''");
		else
			qe_text_putc(t, is_ctl(c) ? ' ' : (char)c);
	}
}

char *qe_fmt_num(char *buf, double v)
{
	if (!isfinite(v)) {
		buf[0] = '\0';
		return buf;
	}
	if (fabs(v) < 1e15 && v == (double)(long long)v) { /* range first: the cast of a larger value is undefined */
		snprintf(buf, 32, "%lld", (long long)v);
		return buf;
	}
	snprintf(buf, 32, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, 32, "%.17g", v);
	return buf;
}

