/* qeval — release gates: rules over a run's results (docs/reports.md,
 * "Gates").
 *
 * A rules file is JSON:
 *   { "version": 1, "rules": [
 *       { "name": "MMLU drop", "task": "mmlu", "metric": "vs_ref.delta_ci95[0]",
 *         "op": ">=", "value": -0.01, "levels": "*" }, ... ] }
 * A rule is checked at each level it names ("*" = every level but the
 * reference); each check passes, fails or (with "missing": "skip") is skipped
 * when the metric could not be computed. The outcome is written to
 * RUN/gate.json (schema "qeval-gate", version 1) and, on request, as JUnit
 * XML. Thread-safe on distinct runs.
 */
#ifndef QE_REPORTS_GATE_H
#define QE_REPORTS_GATE_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "harness/base/err.h"

#define QE_GATE_VERSION 1

/* Read and check a rules file. *rules (caller frees with cJSON_Delete) is the
 * parsed file. QE_EINVAL with one line naming the file, the rule index and the
 * field for a bad rule, and for text qe_json_parse refuses (not JSON, a key
 * given twice, a NUL); QE_ENOENT / QE_EIO when it cannot be read. */
int qe_gate_rules_load(const char *path, cJSON **rules, struct qe_err *err);

/* Check rules (as qe_gate_rules_load returns them) against res (a results.json
 * tree). *outcome (caller frees) = the gate.json object: run, rules,
 * n_checks, n_passed, n_failed, n_skipped, passed, checks[] with rule, name,
 * task, level, metric, op, threshold, value, status ("pass" | "fail" |
 * "skip") and message (one line). rules_name is recorded as "rules"; run_dir
 * as "run". Pure: touches no file. */
int qe_gate_eval(const cJSON *res, const cJSON *rules, const char *run_dir, const char *rules_name, cJSON **outcome,
		 struct qe_err *err);

/* Load run_dir/results.json and rules_path, check, write run_dir/gate.json
 * and (junit_path non-NULL) JUnit XML. *n_failed = failed checks. Returns 0
 * when the checks ran, whatever their outcome; QE_EINVAL for bad rules,
 * QE_ENOENT / QE_EINPUT for a bad run directory, QE_EIO when a file cannot be
 * written. */
int qe_gate_check(const char *run_dir, const char *rules_path, const char *junit_path, int *n_failed,
		  struct qe_err *err);

/* The same, also handing back the outcome (caller frees; may be NULL). */
int qe_gate_run(const char *run_dir, const char *rules_path, const char *junit_path, int *n_failed, cJSON **outcome,
		struct qe_err *err);

/* run_dir/gate.json as an outcome (caller frees): *outcome = NULL and 0 when
 * there is none; QE_EINPUT "'DIR/gate.json' is damaged: ..." when it exists
 * but is not a whole outcome (cut short on a full disk, edited): a reader must
 * then fail, never take the gate as passed. */
int qe_gate_outcome_load(const char *run_dir, cJSON **outcome, struct qe_err *err);

/* One line per check ("FAIL  rule 0: MMLU drop @ Q4_K_M: ...") and a summary line. */
void qe_gate_print(const cJSON *outcome, FILE *f);

#endif
