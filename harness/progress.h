/* qeval — progress display on stderr: a bar on a terminal ("level 2/6",
 * level, task, items/s, time elapsed in the level, the level's ETA and the
 * run's), plain lines every 10 s otherwise, nothing when quiet. A timer thread
 * redraws it (every second on a terminal) between the task's ticks, so a long
 * load or batch still shows time passing. Thread-safe: the calls and the
 * timer share a mutex. */
#ifndef QE_PROGRESS_H
#define QE_PROGRESS_H

#include <stddef.h>

struct qe_progress;

/* total = work units expected (0 = unknown). Caller frees with _free. */
struct qe_progress *qe_progress_new(size_t total, int quiet);

/* What is running now, e.g. ("Q4_K_M", "mmlu"). Copied. */
void qe_progress_label(struct qe_progress *p, const char *level, const char *task);

/* Which level of how many this is (index 0-based), for "level 2/6" and the
 * run's ETA. */
void qe_progress_levels(struct qe_progress *p, int index, int n);

/* n more units done. */
void qe_progress_add(struct qe_progress *p, size_t n);

/* n units found already done (resumed): counted as done, left out of the rate. */
void qe_progress_skip(struct qe_progress *p, size_t n);

/* The total changed from was to now (a task learned its real count). */
void qe_progress_recount(struct qe_progress *p, size_t was, size_t now);

/* Set the units done (a resumed task starts past 0). */
void qe_progress_set(struct qe_progress *p, size_t done);

/* Stop the timer, finish the line (terminal) and free. */
void qe_progress_free(struct qe_progress *p);

#endif
