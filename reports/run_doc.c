/* qeval — the document of one run: what the Markdown and HTML reports say.
 * Every number comes from results.json as it is; the only derived values are
 * the ones docs/reports.md lists (flip rate, % of reference). What is
 * particular to a task type (its verdict, notes, section) comes from the
 * task's view (reports/view.h); the rest is the same for every run. */
#include "reports/report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reports/charts.h"
#include "reports/decision.h"
#include "reports/fallback.h"
#include "reports/fmt.h"
#include "reports/results.h"
#include "reports/tensors.h"
#include "reports/view.h"

#define B QE_FMT_CAP

static int lv_ok(const cJSON *lv)
{
	return !strcmp(qe_results_level_status(lv), "ok");
}

/* settings object -> "k=v, k=v" */
static void settings_text(const cJSON *settings, struct qe_text *t)
{
	const cJSON *it;
	int first = 1;

	cJSON_ArrayForEach(it, settings) {
		char num[32];
		if (!first)
			qe_text_put(t, ", ");
		first = 0;
		qe_text_put(t, it->string);
		qe_text_put(t, "=");
		if (cJSON_IsString(it)) {
			qe_text_put(t, it->valuestring);
		} else if (cJSON_IsNumber(it)) {
			qe_text_put(t, qe_fmt_num(num, it->valuedouble));
		} else if (cJSON_IsBool(it)) {
			qe_text_put(t, cJSON_IsTrue(it) ? "true" : "false");
		} else if (cJSON_IsNull(it)) {
			qe_text_put(t, "null");
		} else {
			/* nested settings (a prompt template) would swamp the line: short
			 * arrays as JSON, the rest abbreviated; results.json has them whole */
			char *s = cJSON_IsArray(it) ? cJSON_PrintUnformatted(it) : NULL;
			if (s && strlen(s) <= 60)
				qe_text_put(t, s);
			else
				qe_text_put(t, cJSON_IsArray(it) ? "[\xe2\x80\xa6]" : "{\xe2\x80\xa6}");
			free(s);
		}
	}
}


/* ---- verdict ---- */

/* The parts of every task whose view puts them first (first = 1), or of the others. */
static void task_verdicts(const cJSON *res, const char *level, int first, struct qe_verdict *v)
{
	const cJSON *task;

	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		struct qe_view_ctx c;
		qe_view_ctx_init(&c, res, task);
		if (c.view && c.view->verdict && !c.view->verdict_first == !first && qe_results_block(res, c.name, level))
			c.view->verdict(&c, level, v);
	}
}

void qe_run_verdict(const cJSON *res, const cJSON *lv, struct qe_text *t)
{
	const char *name = qe_results_level_name(lv), *st = qe_results_level_status(lv);
	const char *same = qe_json_str(lv, "same_types_as", NULL);
	double sr = qe_json_num(lv, "size_ratio", NAN);
	struct qe_verdict v = { t, 0 };

	qe_text_put(t, name);
	qe_text_put(t, ": ");
	if (strcmp(st, "ok") != 0) {
		if (!strcmp(st, "failed"))
			qe_text_printf(t, "failed %s %s", QE_DASH, qe_json_str(lv, "error", "no message"));
		else
			qe_text_put(t, "not run yet (pending)");
		return;
	}
	if (!isnan(sr))
		qe_text_printf(qe_verdict_part(&v), "%.1f%s smaller", sr, QE_TIMES);
	if (same)
		qe_text_printf(qe_verdict_part(&v), "same tensor types as %s", same);
	if (qe_fallback_share(lv, NULL) < QE_FALLBACK_MOSTLY)
		qe_fallback_text(lv, qe_verdict_part(&v));
	task_verdicts(res, name, 1, &v);
	task_verdicts(res, name, 0, &v);
	if (!v.parts)
		qe_text_put(t, "no comparison with the reference available");
}

/* ---- "How it was measured" ---- */

static void fact_model(const cJSON *res, struct qe_block *f, struct qe_text *t)
{
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(res, "model");
	const char *sha = qe_json_str(model, "sha256", NULL);
	double np = qe_json_num(model, "n_params", NAN);
	char a[B];

	qe_text_put(t, qe_json_str(model, "source", "?"));
	qe_text_printf(t, " (%s", qe_json_str(model, "arch", "unknown architecture"));
	if (!isnan(np))
		qe_text_printf(t, ", %s parameters", qe_fmt_grouped(a, B, np));
	if (sha)
		qe_text_printf(t, ", sha256 %.12s", sha);
	qe_text_put(t, ")");
	qe_doc_fact(f, "Model", "%s", qe_text_str(t));
}

static void fact_levels(const cJSON *res, struct qe_block *f, struct qe_text *t)
{
	const cJSON *lv;
	int n = 0;

	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		qe_text_put(t, n++ ? ", " : "");
		qe_text_put(t, qe_results_level_name(lv));
		if (qe_results_level_is_ref(res, lv))
			qe_text_put(t, " (reference)");
		else if (!lv_ok(lv))
			qe_text_printf(t, " (%s)", qe_results_level_status(lv));
	}
	qe_doc_fact(f, "Levels", "%s", n ? qe_text_str(t) : "none");
}

/* a string member that is present and not empty, else NULL */
static const char *nonempty(const cJSON *o, const char *key)
{
	const char *s = qe_json_str(o, key, NULL);
	return s && *s ? s : NULL;
}

static void fact_machine(const cJSON *res, struct qe_block *f, struct qe_text *t)
{
	const cJSON *mach = cJSON_GetObjectItemCaseSensitive(res, "machine");
	const cJSON *eng = cJSON_GetObjectItemCaseSensitive(res, "engine");
	double allowed = qe_json_num(mach, "n_cpus_allowed", NAN), mem = qe_json_num(mach, "mem_bytes", NAN);
	const char *s;
	char a[B], b[B];

	qe_doc_fact(f, "Engine", "%s, %s", qe_json_str(eng, "runtime", "?"), qe_json_str(eng, "version", "unknown version"));
	if ((s = nonempty(eng, "build")))
		qe_doc_fact(f, "Engine build", "%s", s);
	qe_text_printf(t, "%s", (s = nonempty(mach, "cpu")) ? s : "unknown CPU");
	if (!isnan(allowed))
		qe_text_printf(t, ", %s of %s CPUs usable", qe_fmt_count(a, B, allowed),
			       qe_fmt_count(b, B, qe_json_num(mach, "n_cpus_online", NAN)));
	if (!isnan(mem))
		qe_text_printf(t, ", %s memory", qe_fmt_bytes(a, B, mem));
	if ((s = nonempty(mach, "gpu")))
		qe_text_printf(t, ", GPU %s", s);
	if ((s = nonempty(mach, "os")))
		qe_text_printf(t, ", %s", s);
	if ((s = nonempty(mach, "host")))
		qe_text_printf(t, ", host %s", s);
	qe_doc_fact(f, "Machine", "%s", qe_text_str(t));
}

/* threads: one line when every level ran alike, else per level */
static void fact_threads(const cJSON *res, struct qe_block *f, struct qe_text *t)
{
	static const char *const keys[] = { "threads", "threads_batch", "n_gpu_layers", "n_ctx" };
	const cJSON *lv, *first = NULL;
	char a[B], b[B];
	int same = 1, n = 0;

	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		if (!first) {
			first = lv;
			continue;
		}
		for (size_t k = 0; k < 4; k++) {
			double x = qe_json_num(lv, keys[k], NAN), y = qe_json_num(first, keys[k], NAN);
			if (!(x == y || (isnan(x) && isnan(y))))
				same = 0;
		}
	}
	if (!first)
		return;
	if (same) {
		qe_doc_fact(f, "Threads", "%s (batch %s), GPU layers %s, context %s tokens",
			    qe_fmt_count(a, B, qe_json_num(first, "threads", NAN)),
			    qe_fmt_count(b, B, qe_json_num(first, "threads_batch", NAN)),
			    qe_fmt_count((char[B]){ 0 }, B, qe_json_num(first, "n_gpu_layers", NAN)),
			    qe_fmt_count((char[B]){ 0 }, B, qe_json_num(first, "n_ctx", NAN)));
		return;
	}
	cJSON_ArrayForEach(lv, qe_results_levels(res))
		qe_text_printf(t, "%s%s: %s (batch %s), GPU layers %s", n++ ? "; " : "", qe_results_level_name(lv),
			       qe_fmt_count(a, B, qe_json_num(lv, "threads", NAN)),
			       qe_fmt_count(b, B, qe_json_num(lv, "threads_batch", NAN)),
			       qe_fmt_count((char[B]){ 0 }, B, qe_json_num(lv, "n_gpu_layers", NAN)));
	qe_doc_fact(f, "Threads", "%s", qe_text_str(t));
}

/* each task: what it measured (its view's amount, else its item count) and its settings */
static void fact_tasks(const cJSON *res, struct qe_block *f, struct qe_text *t)
{
	const cJSON *task;
	char a[B];
	int n = 0;

	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		const cJSON *settings = cJSON_GetObjectItemCaseSensitive(task, "settings");
		struct qe_view_ctx c;
		qe_view_ctx_init(&c, res, task);
		qe_text_printf(t, "%s%s: ", n++ ? "; " : "", c.title);
		if (c.view && c.view->amount)
			c.view->amount(&c, t);
		else
			qe_text_printf(t, "%s items", qe_fmt_count(a, B, qe_json_num(task, "n_items", NAN)));
		if (cJSON_GetArraySize(settings) > 0) {
			qe_text_put(t, " (");
			settings_text(settings, t);
			qe_text_put(t, ")");
		}
	}
	if (n)
		qe_doc_fact(f, "Tasks", "%s", qe_text_str(t));
}

static void fact_run(const cJSON *res, const cJSON *gate, struct qe_block *f, struct qe_text *t)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(res, "run");
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(res, "qeval");
	double seed = qe_json_num(run, "seed", NAN), wall = qe_json_num(run, "wall_s", NAN);
	char a[B], b[B];

	qe_text_printf(t, "%s", qe_json_bool(run, "complete", 0) ? "complete" : "not complete");
	if (qe_json_bool(run, "partial", 0))
		qe_text_printf(t, ", partial (--limit %s)", qe_fmt_count(a, B, qe_json_num(run, "limit", NAN)));
	else
		qe_text_put(t, ", full data sets");
	if (!isnan(seed))
		qe_text_printf(t, ", bootstrap seed %s", qe_fmt_count(a, B, seed));
	if (!isnan(wall))
		qe_text_printf(t, ", %s s of level wall time", qe_fmt_fixed(a, B, wall, 1, 0));
	qe_doc_fact(f, "Run", "%s", qe_text_str(t));
	qe_doc_fact(f, "Written", "%s by qeval %s (%s)", qe_json_str(res, "created", "?"), qe_json_str(q, "version", "?"),
		    qe_json_str(q, "git", "?"));
	if (gate) {
		double nc = qe_json_num(gate, "n_checks", NAN), nf = qe_json_num(gate, "n_failed", NAN);
		qe_doc_fact(f, "Gate", "%s: %s of %s checks failed (rules %s)", nf > 0 ? "FAILED" : "passed",
			    qe_fmt_count(a, B, nf), qe_fmt_count(b, B, nc), qe_json_str(gate, "rules", "?"));
	}
}

static void measured(const cJSON *res, const cJSON *gate, struct qe_doc *d)
{
	static void (*const facts[])(const cJSON *, struct qe_block *, struct qe_text *) = {
		fact_model, fact_levels, fact_machine, fact_threads, fact_tasks,
	};
	struct qe_block *f;
	struct qe_text t = { 0 };

	qe_doc_heading(d, 1, "How it was measured");
	f = qe_doc_facts(d);
	for (size_t k = 0; k < sizeof(facts) / sizeof(facts[0]); k++) {
		t.len = 0;
		facts[k](res, f, &t);
	}
	t.len = 0;
	fact_run(res, gate, f, &t);
	qe_text_release(&t);
}

/* ---- the other sections ---- */

static void notes(const cJSON *res, struct qe_doc *d)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(res, "run"), *lv, *task;
	struct qe_text t = { 0 };
	char a[B];
	int n = 0;

	if (qe_json_bool(run, "partial", 0))
		qe_doc_note(d, "partial run: --limit %s kept at most that many items per subject (pairs: that many pairs), "
			       "so every number below is on a subset of each data set, not the full set",
			    qe_fmt_count(a, B, qe_json_num(run, "limit", NAN)));
	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		const char *e = qe_json_str(lv, "error", NULL);
		if (lv_ok(lv))
			continue;
		qe_text_printf(&t, "%s%s %s", n++ ? "; " : "", qe_results_level_name(lv), qe_results_level_status(lv));
		if (e)
			qe_text_printf(&t, " (%s)", e);
	}
	if (n)
		qe_doc_note(d, "incomplete run: %s. Its rows are empty; the other levels are unaffected", qe_text_str(&t));
	else if (!qe_json_bool(run, "complete", 1))
		qe_doc_note(d, "incomplete run: not every level and task finished");
	qe_text_release(&t);
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		struct qe_view_ctx c;
		qe_view_ctx_init(&c, res, task);
		if (c.view && c.view->notes)
			c.view->notes(&c, d);
	}
}

/* The decision first: one row per level, PASS / FAIL / not gated, with the
 * failing rules in words (reports/decision.h). */
static void decision(const cJSON *res, const cJSON *gate, struct qe_doc *d)
{
	static const int marks[] = { QE_MARK_MUTED, QE_MARK_GOOD, QE_MARK_BAD };
	const cJSON *lv;
	struct qe_block *tb;
	struct qe_text t = { 0 };
	char a[B], b[B];

	qe_doc_heading(d, 1, "Decision");
	if (!gate)
		qe_doc_para(d, "No release rules were checked: 'qeval gate DIR --rules RULES.json' checks them and rewrites "
			       "this report with PASS or FAIL per level (docs/reports.md, \"Gates\").");
	else
		qe_doc_para(d, "Gate %s: %s of %s checks failed (rules %s)%s.",
			    qe_json_bool(gate, "passed", 0) ? "passed" : "FAILED",
			    qe_fmt_count(a, B, qe_json_num(gate, "n_failed", NAN)),
			    qe_fmt_count(b, B, qe_json_num(gate, "n_checks", NAN)), qe_json_str(gate, "rules", "?"),
			    qe_json_bool(gate, "partial", 0) ? "; partial run (--limit): decided on a subset of each data set"
							     : "");
	tb = qe_doc_table(d, 3, NULL);
	if (tb)
		tb->table.wrap_last = 1; /* the reasons wrap: read on a phone without scrolling */
	qe_doc_th(tb, 0, 0, "Level");
	qe_doc_th(tb, 1, 0, "Decision");
	qe_doc_th(tb, 2, 0, "Why");
	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		const char *name = qe_results_level_name(lv);
		size_t r = qe_doc_row(tb);
		int dc;

		t.len = 0;
		dc = qe_decision_level(res, gate, name, &t);
		qe_doc_td(tb, r, 0, 0, "%s%s", name, qe_results_level_is_ref(res, lv) ? " (ref)" : "");
		qe_doc_td(tb, r, 1, marks[dc], "%s", qe_decision_name(dc));
		qe_doc_td(tb, r, 2, 0, "%s", t.len ? qe_text_str(&t) : QE_DASH);
	}
	qe_text_release(&t);
}

static void verdicts(const cJSON *res, struct qe_doc *d)
{
	const cJSON *lv;
	struct qe_text t = { 0 };
	struct qe_block *list = NULL;

	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		if (qe_results_level_is_ref(res, lv))
			continue;
		if (!list) {
			qe_doc_heading(d, 1, "Verdict");
			list = qe_doc_list(d);
		}
		t.len = 0;
		qe_run_verdict(res, lv, &t);
		qe_doc_item(list, "%s", qe_text_str(&t));
	}
	qe_text_release(&t);
}

static void levels_table(const cJSON *res, struct qe_doc *d)
{
	static const char *const head[] = { "Level", "Status", "File type", "Size", "Bits/weight", "Smaller by",
					    "Load s", "Wall s", "Peak RSS" };
	const cJSON *lv;
	struct qe_block *tb;
	char a[B];

	qe_doc_heading(d, 1, "Levels");
	tb = qe_doc_table(d, 9, NULL);
	for (size_t c = 0; c < 9; c++)
		qe_doc_th(tb, c, c >= 3, head[c]);
	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		size_t r = qe_doc_row(tb);
		const char *st = qe_results_level_status(lv), *ft = qe_json_str(lv, "ftype", NULL);
		qe_doc_td(tb, r, 0, 0, "%s", qe_results_level_name(lv));
		if (!strcmp(st, "failed"))
			qe_doc_td(tb, r, 1, QE_MARK_BAD, "failed: %s", qe_json_str(lv, "error", "no message"));
		else if (qe_results_level_is_ref(res, lv) && lv_ok(lv))
			qe_doc_td(tb, r, 1, 0, "ok (reference)");
		else
			qe_doc_td(tb, r, 1, lv_ok(lv) ? 0 : QE_MARK_MUTED, "%s", st);
		if (ft && qe_fallback_share(lv, NULL) < QE_FALLBACK_MOSTLY) {
			char mt[32];
			qe_doc_td(tb, r, 2, QE_MARK_BAD, "%s (%s %s)", ft, qe_fmt_pct(a, B, qe_fallback_share(lv, NULL), 0),
				  qe_fallback_main_type(ft, mt, sizeof(mt)));
		} else {
			qe_doc_td(tb, r, 2, 0, "%s", ft ? ft : QE_DASH);
		}
		qe_doc_td(tb, r, 3, 0, "%s", qe_fmt_bytes(a, B, qe_json_num(lv, "file_bytes", NAN)));
		qe_doc_td(tb, r, 4, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(lv, "bpw", NAN), 2, 0));
		qe_doc_td(tb, r, 5, 0, "%s", qe_fmt_ratio(a, B, qe_json_num(lv, "size_ratio", NAN)));
		qe_doc_td(tb, r, 6, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(lv, "load_s", NAN), 2, 0));
		qe_doc_td(tb, r, 7, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(lv, "wall_s", NAN), 1, 0));
		qe_doc_td(tb, r, 8, 0, "%s", qe_fmt_bytes(a, B, qe_json_num(lv, "peak_rss_bytes", NAN)));
	}
}

#define TT_COLS 8 /* levels side by side in "Tensor types" */

/* a level's identity tensor_types, NULL when it has none */
static const cJSON *level_tensor_types(const cJSON *lv)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lv, "identity"), "tensor_types");
}

/* What each tensor of the made levels really is, by kind (rows) and level
 * (columns), when a level is a recipe (identity "recipe"). */
static void tensor_table(const cJSON *res, struct qe_doc *d)
{
	const cJSON *lv, *cols[TT_COLS];
	char kinds[128][QE_TENSOR_KIND_CAP];
	struct qe_text t = { 0 };
	struct qe_block *tb;
	size_t n = 0, nk = 0, more = 0;
	int recipe = 0;

	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		recipe |= cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lv, "identity"), "recipe") != NULL;
		if (!level_tensor_types(lv))
			continue;
		if (n < TT_COLS)
			cols[n++] = lv;
		else
			more++;
	}
	if (!recipe || !n)
		return;
	qe_doc_heading(d, 1, "Tensor types");
	qe_doc_para(d, "What llama.cpp really made of each kind of tensor in the levels made from the reference "
		       "(the files' own types; layers after a type when they differ)%s.",
		    more ? "; the first levels only: results.json has every level's" : "");
	nk = qe_tensor_kinds(level_tensor_types(cols[0]), kinds, 128);
	tb = qe_doc_table(d, n + 1, NULL);
	qe_doc_th(tb, 0, 0, "Tensor");
	for (size_t c = 0; c < n; c++)
		qe_doc_th(tb, c + 1, 0, qe_results_level_name(cols[c]));
	for (size_t k = 0; k < nk; k++) {
		size_t r = qe_doc_row(tb);
		qe_doc_td(tb, r, 0, 0, "%s", kinds[k]);
		for (size_t c = 0; c < n; c++) {
			qe_text_release(&t);
			qe_tensor_kind_text(level_tensor_types(cols[c]), kinds[k], &t);
			qe_doc_td(tb, r, c + 1, 0, "%s", t.len ? qe_text_str(&t) : QE_DASH);
		}
	}
	qe_text_release(&t);
}

int qe_run_row_start(const cJSON *res, const cJSON *lv, const cJSON *blk, struct qe_block *tb, size_t r)
{
	return qe_run_row_start_at(res, lv, blk, tb, r, 1);
}

int qe_run_row_start_at(const cJSON *res, const cJSON *lv, const cJSON *blk, struct qe_block *tb, size_t r,
			size_t size_col)
{
	const char *st = qe_results_level_status(lv);
	size_t why = size_col == 1 ? 3 : 1;
	char a[B];

	qe_doc_td(tb, r, 0, 0, "%s%s", qe_results_level_name(lv), qe_results_level_is_ref(res, lv) ? " (ref)" : "");
	qe_doc_td(tb, r, size_col, 0, "%s", qe_fmt_bytes(a, B, qe_json_num(lv, "file_bytes", NAN)));
	qe_doc_td(tb, r, size_col + 1, 0, "%s", qe_fmt_fixed(a, B, qe_json_num(lv, "bpw", NAN), 2, 0));
	if (blk)
		return 1;
	for (size_t c = 1; c < tb->table.n_cols; c++)
		if (c != size_col && c != size_col + 1)
			qe_doc_td(tb, r, c, QE_MARK_MUTED, "%s", QE_DASH);
	if (!strcmp(st, "failed"))
		qe_doc_td(tb, r, why, QE_MARK_BAD, "failed");
	else
		qe_doc_td(tb, r, why, QE_MARK_MUTED, "%s", lv_ok(lv) ? "no results" : st);
	return 0;
}

/* A task's section: its view's, else a heading and a line saying there is no table. */
static void task_section(const cJSON *res, const cJSON *task, struct qe_doc *d)
{
	struct qe_view_ctx c;

	qe_view_ctx_init(&c, res, task);
	if (c.view && c.view->section) {
		c.view->section(&c, d);
		return;
	}
	qe_doc_heading(d, 1, task->string);
	qe_doc_para(d, "Task type '%s' has no table in this version of the report; its numbers are in results.json and "
		       "summary.csv.", qe_results_task_type(task));
}

int qe_run_doc_build(const cJSON *res, const cJSON *gate, int with_charts, struct qe_doc *d, struct qe_err *err)
{
	const char *src = qe_json_str(cJSON_GetObjectItemCaseSensitive(res, "model"), "source", NULL), *base;
	const cJSON *task;
	char title[512];

	base = src ? strrchr(src, '/') : NULL;
	base = base ? base + 1 : src;
	snprintf(title, sizeof(title), "qeval report: %s", base && *base ? base : "model");
	qe_doc_init(d, title);
	decision(res, gate, d);
	notes(res, d);
	verdicts(res, d);
	if (with_charts)
		qe_run_charts(res, d);
	measured(res, gate, d);
	levels_table(res, d);
	tensor_table(res, d);
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks"))
		task_section(res, task, d);
	if (d->oom)
		return qe_fail(err, QE_ENOMEM, "out of memory building the report");
	return 0;
}
