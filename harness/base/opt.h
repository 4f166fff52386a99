/* qeval — small helpers for command-line values. */
#ifndef QE_OPT_H
#define QE_OPT_H

#include <stddef.h>

#include "harness/base/err.h"

/* Parse a whole decimal integer within [lo, hi]; `name` is the option for
 * the message ("--threads"). */
int qe_opt_int(const char *s, long lo, long hi, const char *name, long *out, struct qe_err *err);
int qe_opt_double(const char *s, const char *name, double *out, struct qe_err *err);

/* Split a comma list into trimmed, non-empty items. Returns the count;
 * *items is malloc'ed with the strings in one block: caller frees *items. */
size_t qe_opt_split(const char *s, char ***items);

/* Print a command's usage text to stdout (help) and return 0. */
int qe_opt_help(const char *text);

/* One line "qeval CMD: message" to stderr and the exit code for status. */
int qe_opt_die(const char *cmd, const struct qe_err *err);

#endif
