/* qeval — the release decision per level: PASS, FAIL or not gated, from a
 * run's gate.json (reports/gate.h), with each failed check in words
 * ("MMLU Δ lower 95% bound −1.67 pts, rule needs ≥ −1.00 pts"). The reports
 * and the summary `qeval run` prints open with these lines. Pure functions of
 * their arguments: thread-safe.
 */
#ifndef QE_REPORTS_DECISION_H
#define QE_REPORTS_DECISION_H

#include <cjson/cJSON.h>

#include "harness/base/text.h"

enum qe_decision {
	QE_DECIDE_NOT_GATED = 0, /* no gate.json, or no check names the level */
	QE_DECIDE_PASS,          /* it has checks and none failed (skipped ones aside) */
	QE_DECIDE_FAIL,          /* a check of the level failed */
};

/* The decision on level `level` of run res (results.json) under gate
 * (gate.json, may be NULL). Appends to why: for FAIL each failed check in
 * words, "; " between them; for PASS how many checks passed (and were
 * skipped); for not gated under a gate why not ("the reference", "no rule
 * names it"), nothing without a gate. */
int qe_decision_level(const cJSON *res, const cJSON *gate, const char *level, struct qe_text *why);

/* "PASS", "FAIL", "not gated". Static storage. */
const char *qe_decision_name(int decision);

/* One check of gate.json in words, appended to out: "MMLU Δ lower 95% bound
 * −1.67 pts, rule needs ≥ −1.00 pts"; a check without a value gives the
 * metric and why it could not be read. */
void qe_decision_check_words(const cJSON *res, const cJSON *check, struct qe_text *out);

/* A value of metric `path` of task instance `task` (NULL: a level. metric) in
 * its unit, as the task's view says ("−1.67 pts", "25.13%", "1.52×", "0.9953"),
 * into buf (cap >= 48); its name in words into name (cap >= 96). */
void qe_decision_metric(const cJSON *res, const char *task, const char *path, double v, char *name, size_t ncap,
			char *buf, size_t cap);

#endif
