/* qeval — gnuplot as a tool: run it on a script, get an SVG element back.
 *
 * gnuplot is a runtime dependency, not a library: when it is not installed
 * the reports still render, without charts, and say so. Scripts are built by
 * the callers with every piece of data text inside single-quoted strings
 * escaped by qe_text_gp (gnuplot does no substitution inside them), and the
 * SVG terminal escapes text for XML, so the returned element can be inlined
 * into HTML as it is. Thread-safe (each call uses its own temporary folder).
 */
#ifndef QE_REPORTS_GNUPLOT_H
#define QE_REPORTS_GNUPLOT_H

#include "harness/base/err.h"

/* The program to run: program when non-NULL and non-empty, else $QE_GNUPLOT
 * when set and non-empty, else "gnuplot" (looked up in PATH). */
const char *qe_gnuplot_program(const char *program);

struct qe_gnuplot_opts {
	const char *program;   /* see qe_gnuplot_program; NULL = default */
	int width, height;     /* SVG user units (pixels at 100%); 0 = 560 x 440, with 17-unit text: at
	                        * least 11 px when a phone shows the chart 370 px wide */
	const char *id_prefix; /* prepended to every id in the SVG (and the references to
				* them) so several charts can share one page; NULL = none */
	double timeout_s;      /* gnuplot is killed after this long; 0 = $QEVAL_GNUPLOT_TIMEOUT
				* when set (seconds), else 60 */
};

/* The timeout a call with timeout_s uses (see qe_gnuplot_opts). */
double qe_gnuplot_timeout(double timeout_s);

/* Run gnuplot with the SVG terminal (noenhanced: text shows as written) and
 * script, which draws one plot and sets neither terminal nor output.
 * *svg = the "<svg ...>...</svg>" element, without the XML prologue; caller
 * frees with free().
 * QE_ENOTSUP when the program cannot be started (not installed: the message
 * says so) or did not finish within the timeout (killed, with its process
 * group: a caller then draws no more charts), QE_ERUNTIME when gnuplot fails
 * (the message quotes its first error line) or its output is not one sane SVG
 * element (no <svg>...</svg>, a script, a foreign object, an event handler,
 * over 16 MiB), QE_EIO for temporary-file trouble. */
int qe_gnuplot_svg(const struct qe_gnuplot_opts *o, const char *script, char **svg, struct qe_err *err);

#endif
