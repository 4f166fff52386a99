/* qeval — how numbers read in the human reports (Markdown, HTML). Every
 * function formats a value exactly as given (scaling a fraction to percent is
 * formatting, nothing is recomputed) and prints "—" for NaN (a null metric).
 * Negative numbers use the minus sign U+2212. Each writes into buf (cap
 * bytes, 48 is always enough) and returns buf. Thread-safe.
 */
#ifndef QE_REPORTS_FMT_H
#define QE_REPORTS_FMT_H

#include <stddef.h>

#define QE_FMT_CAP 48
#define QE_DASH "\xe2\x80\x94"  /* — : a value that is null or does not apply */
#define QE_MINUS "\xe2\x88\x92" /* − */
#define QE_TIMES "\xc3\x97"     /* × */

/* A fraction as a percentage with `dec` decimals: 0.2513 -> "25.13%" (dec 2). */
char *qe_fmt_pct(char *buf, size_t cap, double frac, int dec);
/* A fraction difference as signed percentage points: -0.006 -> "−0.60" (dec 2), 0.01 -> "+1.00". */
char *qe_fmt_points(char *buf, size_t cap, double frac, int dec);
/* Fixed decimals: 0.01234 -> "0.0123" (dec 4); signed = 1 adds "+" to positives. */
char *qe_fmt_fixed(char *buf, size_t cap, double v, int dec, int is_signed);
/* Significant digits: 0.0001234 -> "0.000123" (sig 3), 12345.6 -> "12346". */
char *qe_fmt_sig(char *buf, size_t cap, double v, int sig);
/* A p-value: >= 0.001 with 3 decimals, below in scientific notation ("2.1e-05"). */
char *qe_fmt_p(char *buf, size_t cap, double p);
/* Bytes in binary units: "812 B", "1.18 MiB", "3.20 GiB". */
char *qe_fmt_bytes(char *buf, size_t cap, double bytes);
/* A ratio: 3.4012 -> "3.40×". */
char *qe_fmt_ratio(char *buf, size_t cap, double v);
/* A whole count: 14042 -> "14042"; NaN -> "—". */
char *qe_fmt_count(char *buf, size_t cap, double v);
/* A large whole count with thousands separators: 1100048384 -> "1,100,048,384". */
char *qe_fmt_grouped(char *buf, size_t cap, double v);

#endif
