/* qeval — the sensitivity scan that `qeval sensitivity` runs and `qeval
 * recommend` builds on (docs/recipes.md): tensor groups of a model, one
 * recipe level per (group, low type) quantizing only that group, a control
 * level equal to the reference, and reading the finished run back. */
#ifndef QE_CLI_SCAN_H
#define QE_CLI_SCAN_H

#include <cjson/cJSON.h>

#include "harness/base/err.h"

#define QE_SCAN_MAX_GROUPS 256
#define QE_SCAN_MAX_TYPES 8

struct qe_scan_group {
	char name[64];      /* "attn_q", "blk.3", "token_embd" */
	char pattern[160];  /* the tensors it names: a regular expression */
	double n_elements;  /* weights in it */
};

struct qe_scan {
	char model[4096];
	char base[32];                         /* base recipe's type ("Q4_K_M"), "" = the reference file itself */
	char rest[16];                         /* ggml type everything else keeps without a base ("f16") */
	char ref_name[64];                     /* the reference level's name */
	char imatrix[4096];                    /* importance matrix for every scan level, "" = none */
	struct qe_scan_group g[QE_SCAN_MAX_GROUPS];
	int n_g;
	char types[QE_SCAN_MAX_TYPES][16];     /* the low types, ggml names ("q4_K") */
	int n_types;
};

/* s's groups from the model's 2-D weights: how = "kind" (one group per
 * kind, every layer), "layer" (one per layer, every kind), "layers:K" (one
 * per K consecutive layers: blk.0-3, blk.4-7, ...; the last one may be
 * shorter) or "kind," with one of the last two (both sets). Fills model, rest and ref_name too (s->base already set).
 * QE_EINVAL for another how, errors of reading the model. */
int qe_scan_groups(const char *model, const char *how, struct qe_scan *s, struct qe_err *err);

/* The types list "q4_K,Q3_K" into s (ggml names); QE_EINVAL naming a bad one. */
int qe_scan_types(const char *list, struct qe_scan *s, struct qe_err *err);

/* The level name of group g at type t: "attn_q@q4_K". */
void qe_scan_level_name(const struct qe_scan *s, int g, int t, char *buf, size_t cap);

/* The plan's levels: the reference, "control" (the reference again, the
 * scan's zero), then every group at every type. Caller frees. */
cJSON *qe_scan_levels(const struct qe_scan *s);

/* The recipe level object of a mix: group g at type types[g] (-1 = left as
 * the reference or base has it). Caller frees. */
cJSON *qe_scan_mix_level(const struct qe_scan *s, const char *name, const int *types);

/* s as JSON (DIR/sensitivity.json) and back. */
cJSON *qe_scan_to_json(const struct qe_scan *s);
int qe_scan_from_json(const cJSON *j, struct qe_scan *s, struct qe_err *err);

/* The drift a level shows in the scan's run (res = results.json): the first
 * drift series (reports/view.h: QE_CHART_DRIFT, QE_CHART_DRIFT_KL) of the
 * first task whose view has one (kld: mean KLD; mmlu/ceval: mean choice KL;
 * pairs: mean 1 - cosine), NAN when there is none. *what names it (static
 * storage: one thread). */
double qe_scan_drift(const cJSON *res, const char *level, const char **what);

/* The ranked table (Markdown) of a finished scan and its chart (SVG when
 * gnuplot runs) into dir: sensitivity.md, sensitivity.svg; the table also on
 * stdout. */
int qe_scan_report(const char *dir, const struct qe_scan *s, struct qe_err *err);

/* Run the scan s into out with `qeval run`'s flags in argv (harness/cli/
 * cmd_sensitivity.c): a new one writes out/sensitivity.json and its plan,
 * resume = 1 finishes the one there; then qe_scan_report. lead = 0: a rank
 * of mpirun other than 0, which runs its share and writes neither
 * sensitivity.json nor the report. Returns the exit code (the same on every
 * rank); who names the command in messages. */
int qe_scan_run(int argc, char **argv, const char *out, const struct qe_scan *s, int resume, int lead,
		const char *who);

/* out/sensitivity.json into *s: 1 when read, 0 when there is none, negative
 * on an error. */
int qe_scan_load(const char *out, struct qe_scan *s, struct qe_err *err);

/* The prediction of `qeval recommend` (docs/recipes.md): a results.json
 * (res's, with only the reference and one level, `name`) whose every number
 * of that level, in its summary and in each task's block, is the control's
 * plus, over the groups g with types[g] >= 0, what the scan's level of g at
 * types[g] moved it by against the control. Caller frees. */
cJSON *qe_scan_predict(const cJSON *res, const struct qe_scan *s, const int *types, const char *name);

/* The mix for rules (a gate rules object, reports/gate.h) from a finished
 * scan's results res: from nothing quantized (types all -1), one group at a
 * time one type further down the list (types[g] + 1), each step the move
 * predicted to pass with the most bits/weight saved per unit of drift
 * added, until none passes. 1 with types[] and *bpw (predicted) set; 0 when
 * the rules are predicted to fail with nothing quantized. */
int qe_scan_choose(const cJSON *res, const cJSON *rules, const struct qe_scan *s, int *types, const char *name,
		   double *bpw);

#endif
