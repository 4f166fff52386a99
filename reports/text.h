/* qeval — the escapes every report format needs, and number formatting shared
 * by the report writers (the buffer itself: harness/base/text.h). */
#ifndef QE_REPORTS_TEXT_H
#define QE_REPORTS_TEXT_H

#include <stddef.h>

#include "harness/base/text.h"

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

#endif
