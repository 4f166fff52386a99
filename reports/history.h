/* qeval — nightly history: a JSON Lines file with one summary per run, and a
 * static dashboard drawn from it (docs/reports.md, "History").
 *
 * Each line is an object {"schema": "qeval-history", "version": 1, "date",
 * "commit", "machine", "run", "model", "model_sha256", "engine", "complete",
 * "partial", "limit", "gate", "metrics"}; "metrics" maps task -> level ->
 * metric path -> number (or null), "gate" is the run's gate outcome in short
 * ({passed, n_checks, n_failed, failed: [{rule, task, level, metric}]}) or
 * null when the run has no gate.json. Each add appends one line (the file is
 * rewritten whole through temp + fsync + rename).
 * Not safe for two writers appending to one file at the same moment.
 */
#ifndef QE_REPORTS_HISTORY_H
#define QE_REPORTS_HISTORY_H

#include <cjson/cJSON.h>

#include "harness/base/err.h"

#define QE_HISTORY_VERSION 1

/* The history line of a run (caller frees): res is its results.json, gate its
 * gate.json or NULL; commit and date NULL = results.json's qeval.git and
 * created. */
int qe_history_entry(const cJSON *res, const cJSON *gate, const char *run_dir, const char *commit, const char *date,
		     cJSON **out, struct qe_err *err);

/* Read run_dir/results.json (and run_dir/gate.json when present) and append
 * its line to history (created when missing). A damaged gate.json is
 * QE_EINPUT (qe_gate_outcome_load): nothing is added. */
int qe_history_add(const char *history, const char *run_dir, const char *commit, const char *date,
		   struct qe_err *err);

struct qe_history_render_opts {
	int charts;            /* 1 = gnuplot charts (default) */
	const char *gnuplot;   /* NULL = $QE_GNUPLOT, else "gnuplot" */
};

/* Draw out_dir/index.html (self-contained: charts inline) from history: every
 * metric of every task per level over the runs, gate failures marked.
 * *n_runs (may be NULL) = lines read; lines that are not history entries are
 * counted, left out and mentioned on the page. o may be NULL. */
int qe_history_render(const char *history, const char *out_dir, const struct qe_history_render_opts *o, int *n_runs,
		      struct qe_err *err);

#endif
