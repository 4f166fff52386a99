/* qeval — a growable text buffer, the escapes every report format needs, and
 * number formatting shared by the report writers.
 *
 * A struct qe_text is caller-owned storage: zero it (or qe_text_init), append,
 * then qe_text_release. Appends never fail visibly: on allocation failure the
 * buffer is marked (oom = 1) and later appends are ignored, so a writer checks
 * once at the end (qe_text_ok). Not thread-safe on one buffer.
 */
#ifndef QE_REPORTS_TEXT_H
#define QE_REPORTS_TEXT_H

#include <stddef.h>
#include <stdio.h>

#include "harness/err.h"

struct qe_text {
	char *s;     /* NUL-terminated contents, NULL while empty; owned */
	size_t len;  /* bytes, without the NUL */
	size_t cap;  /* bytes allocated */
	int oom;     /* 1 after an allocation failed */
};

void qe_text_init(struct qe_text *t);
void qe_text_release(struct qe_text *t);
/* Contents as a string ("" while empty); valid until the next append or release. */
const char *qe_text_str(const struct qe_text *t);
/* 0, or QE_ENOMEM (filled in err) when an append failed. */
int qe_text_ok(const struct qe_text *t, struct qe_err *err);
/* Take the contents (caller frees with free()); t is left empty. NULL on oom. */
char *qe_text_take(struct qe_text *t);

void qe_text_put(struct qe_text *t, const char *s);
void qe_text_putn(struct qe_text *t, const char *s, size_t n);
void qe_text_putc(struct qe_text *t, char c);
void qe_text_printf(struct qe_text *t, const char *fmt, ...) QE_PRINTF(2, 3);

/* Escapes (s may be NULL = nothing appended). Every one also replaces ASCII
 * control characters other than tab by a space, so dataset text cannot break a
 * line-oriented format.
 *   html:   & < > " ' as entities (text and attribute values alike; XML too)
 *   md:     backslash before \ ` * < > | # &, before ] when ( [ or : follows (so
 *           no link, image or link definition can form), and before _ unless
 *           it sits between two letters or digits (CommonMark punctuation escapes)
 *   csv:    RFC 4180 field: quoted (with "" for ") when it holds , " CR LF or
 *           leading/trailing spaces, else as is
 *   gp:     the inside of a gnuplot single-quoted string: ' doubled (gnuplot does
 *           no backslash, backquote or macro processing inside single quotes) */
void qe_text_html(struct qe_text *t, const char *s);
void qe_text_md(struct qe_text *t, const char *s);
void qe_text_csv(struct qe_text *t, const char *s);
void qe_text_gp(struct qe_text *t, const char *s);

/* A double as the shortest decimal that reads back as the same double (the
 * way cJSON prints numbers); NaN/inf as "" (CSV) — callers print null metrics
 * as empty cells. buf needs 32 bytes; returns buf. */
char *qe_fmt_num(char *buf, double v);

/* Write the whole buffer to path (created or truncated). */
int qe_text_save(const struct qe_text *t, const char *path, struct qe_err *err);

/* Read a whole file into a new NUL-terminated buffer (caller frees); *len may be NULL. */
int qe_file_read(const char *path, char **out, size_t *len, struct qe_err *err);

#endif
