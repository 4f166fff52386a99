/* qeval — progress display on stderr: a bar on a terminal (items/s, ETA,
 * current level and task), plain lines every 10 s otherwise, nothing when
 * quiet. Not thread-safe: one progress is ticked by one thread. */
#ifndef QE_PROGRESS_H
#define QE_PROGRESS_H

#include <stddef.h>

struct qe_progress;

/* total = work units expected (0 = unknown). Caller frees with _free. */
struct qe_progress *qe_progress_new(size_t total, int quiet);

/* What is running now, e.g. ("Q4_K_M", "mmlu"). Copied. */
void qe_progress_label(struct qe_progress *p, const char *level, const char *task);

/* n more units done. */
void qe_progress_add(struct qe_progress *p, size_t n);

/* Set the units done (a resumed task starts past 0). */
void qe_progress_set(struct qe_progress *p, size_t done);

/* Finish the line (terminal) and free. */
void qe_progress_free(struct qe_progress *p);

#endif
