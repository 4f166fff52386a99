#include "reports/text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void qe_text_init(struct qe_text *t)
{
	memset(t, 0, sizeof(*t));
}

void qe_text_release(struct qe_text *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

const char *qe_text_str(const struct qe_text *t)
{
	return t->s ? t->s : "";
}

int qe_text_ok(const struct qe_text *t, struct qe_err *err)
{
	return t->oom ? qe_fail(err, QE_ENOMEM, "out of memory building a report") : 0;
}

char *qe_text_take(struct qe_text *t)
{
	char *s;

	if (t->oom) {
		qe_text_release(t);
		return NULL;
	}
	s = t->s ? t->s : strdup("");
	memset(t, 0, sizeof(*t));
	return s;
}

/* Make room for n more bytes plus the NUL; 0 or -1 (oom set). */
static int grow(struct qe_text *t, size_t n)
{
	size_t want, cap;
	char *p;

	if (t->oom)
		return -1;
	want = t->len + n + 1;
	if (want <= t->cap)
		return 0;
	cap = t->cap ? t->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(t->s, cap);
	if (!p) {
		t->oom = 1;
		return -1;
	}
	t->s = p;
	t->cap = cap;
	return 0;
}

void qe_text_putn(struct qe_text *t, const char *s, size_t n)
{
	if (!n || grow(t, n))
		return;
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

void qe_text_put(struct qe_text *t, const char *s)
{
	if (s)
		qe_text_putn(t, s, strlen(s));
}

void qe_text_putc(struct qe_text *t, char c)
{
	qe_text_putn(t, &c, 1);
}

void qe_text_printf(struct qe_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n <= 0 || grow(t, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

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
	if (v == (double)(long long)v && fabs(v) < 1e15) {
		snprintf(buf, 32, "%lld", (long long)v);
		return buf;
	}
	snprintf(buf, 32, "%.15g", v);
	if (strtod(buf, NULL) != v)
		snprintf(buf, 32, "%.17g", v);
	return buf;
}

int qe_text_save(const struct qe_text *t, const char *path, struct qe_err *err)
{
	FILE *f;
	int bad;

	if (t->oom)
		return qe_fail(err, QE_ENOMEM, "out of memory building '%s'", path);
	f = fopen(path, "wb");
	if (!f)
		return qe_fail(err, QE_EIO, "cannot write '%s': %s", path, strerror(errno));
	bad = t->len && fwrite(t->s, 1, t->len, f) != t->len;
	bad |= fclose(f) != 0;
	if (bad)
		return qe_fail(err, QE_EIO, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

int qe_file_read(const char *path, char **out, size_t *len, struct qe_err *err)
{
	struct qe_text t = { 0 };
	char chunk[65536];
	size_t n;
	FILE *f;

	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return qe_fail(err, errno == ENOENT ? QE_ENOENT : QE_EIO, "cannot read '%s': %s", path,
			       strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		qe_text_putn(&t, chunk, n);
	if (ferror(f)) {
		fclose(f);
		qe_text_release(&t);
		return qe_fail(err, QE_EIO, "cannot read '%s'", path);
	}
	fclose(f);
	if (len)
		*len = t.len;
	*out = qe_text_take(&t);
	return *out ? 0 : qe_fail(err, QE_ENOMEM, "out of memory reading '%s'", path);
}
