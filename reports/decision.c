/* qeval — the per-level release decision (reports/decision.h). */
#include "reports/decision.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness/base/json.h"
#include "reports/fmt.h"
#include "reports/results.h"
#include "reports/view.h"

const char *qe_decision_name(int d)
{
	return d == QE_DECIDE_PASS ? "PASS" : d == QE_DECIDE_FAIL ? "FAIL" : "not gated";
}

/* the level. metrics the decision lines know by name */
static const struct qe_view_word level_words[] = {
	{ "size_ratio", "size ratio", QE_VU_RATIO },
	{ "bpw", "bits/weight", QE_VU_PLAIN },
	{ "file_bytes", "file bytes", QE_VU_PLAIN },
	{ "", "", 0 },
};

/* the entry of words naming path (exact, or a prefix ending in "."), or NULL */
static const struct qe_view_word *word_find(const struct qe_view_word *w, const char *path)
{
	for (; w && w->path[0]; w++) {
		size_t n = strlen(w->path);
		if (!strcmp(w->path, path) || (w->path[n - 1] == '.' && !strncmp(w->path, path, n)))
			return w;
	}
	return NULL;
}

static void fmt_unit(char *buf, size_t cap, int unit, double v)
{
	char a[QE_FMT_CAP];

	switch (unit) {
	case QE_VU_POINTS: snprintf(buf, cap, "%s pts", qe_fmt_points(a, sizeof(a), v, 2)); break;
	case QE_VU_PCT: snprintf(buf, cap, "%s", qe_fmt_pct(a, sizeof(a), v, 2)); break;
	case QE_VU_RATIO: snprintf(buf, cap, "%s", qe_fmt_ratio(a, sizeof(a), v)); break;
	default: snprintf(buf, cap, "%s", qe_fmt_sig(a, sizeof(a), v, 4)); break;
	}
}

void qe_decision_metric(const cJSON *res, const char *task, const char *path, double v, char *name, size_t ncap,
			char *buf, size_t cap)
{
	const cJSON *t = task ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(res, "tasks"), task) : NULL;
	const char *type = t ? qe_results_task_type(t) : NULL;
	const struct qe_view *view = type ? qe_view_find(type) : NULL;
	const struct qe_view_word *w;
	const char *title = task ? qe_view_title(task, type ? type : task) : NULL;
	int lvl = !strncmp(path, "level.", 6);

	w = lvl ? word_find(level_words, path + 6) : word_find(view ? view->words : NULL, path);
	if (!w) {
		snprintf(name, ncap, "%s%s%s", title && !lvl ? title : "", title && !lvl ? " " : "", path);
		fmt_unit(buf, cap, QE_VU_PLAIN, v);
		return;
	}
	snprintf(name, ncap, "%s%s%s%s", title && !lvl ? title : "", title && !lvl ? " " : "", w->name,
		 w->path[strlen(w->path) - 1] == '.' ? path + strlen(w->path) : "");
	fmt_unit(buf, cap, w->unit, v);
}

static const char *op_text(const char *op)
{
	static const char *const tab[][2] = {
		{ ">=", "\xe2\x89\xa5" }, { "<=", "\xe2\x89\xa4" }, { "==", "=" }, { "!=", "\xe2\x89\xa0" },
		{ ">", ">" }, { "<", "<" },
	};

	for (size_t i = 0; op && i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcmp(op, tab[i][0]))
			return tab[i][1];
	return op ? op : "?";
}

void qe_decision_check_words(const cJSON *res, const cJSON *c, struct qe_text *out)
{
	const char *task = qe_json_str(c, "task", NULL), *metric = qe_json_str(c, "metric", "?");
	const char *msg = qe_json_str(c, "message", ""), *why = strstr(msg, ": ");
	double v = qe_json_num(c, "value", NAN), thr = qe_json_num(c, "threshold", NAN);
	double n = qe_json_num(c, "n", NAN), min_n = qe_json_num(c, "min_n", NAN);
	char name[256], vb[64], tb[64], unused[256];

	qe_decision_metric(res, task, metric, thr, name, sizeof(name), tb, sizeof(tb));
	if (!isnan(min_n) && !isnan(n) && n < min_n) {
		qe_text_printf(out, "%s on %.0f items, rule needs at least %.0f", name, n, min_n);
		return;
	}
	if (isnan(v)) {
		qe_text_printf(out, "%s not available (%s)", name, why ? why + 2 : msg);
		return;
	}
	qe_decision_metric(res, task, metric, v, unused, sizeof(unused), vb, sizeof(vb));
	qe_text_printf(out, "%s %s, rule needs %s %s", name, vb, op_text(qe_json_str(c, "op", NULL)), tb);
}

int qe_decision_level(const cJSON *res, const cJSON *gate, const char *level, struct qe_text *why)
{
	const cJSON *c, *lv = qe_results_level(res, level);
	const char *status = qe_json_str(lv, "status", "ok"), *err = qe_json_str(lv, "error", NULL);
	int n = 0, nf = 0, ns = 0, failed_level = lv && strcmp(status, "ok") != 0;

	if (!gate)
		return QE_DECIDE_NOT_GATED;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(gate, "checks")) {
		const char *st = qe_json_str(c, "status", "");
		if (strcmp(qe_json_str(c, "level", ""), level) != 0)
			continue;
		n++;
		ns += !strcmp(st, "skip");
		if (strcmp(st, "fail") != 0)
			continue;
		/* a level that did not run fails every check for one reason: say it once */
		if (!failed_level && !nf++)
			qe_decision_check_words(res, c, why);
		else if (!failed_level) {
			qe_text_put(why, "; ");
			qe_decision_check_words(res, c, why);
		}
		else
			nf++;
	}
	if (nf && failed_level)
		qe_text_printf(why, "the level %s%s%s (%d check%s)", status, err ? ": " : "", err ? err : "", nf,
			       nf == 1 ? "" : "s");
	if (nf)
		return QE_DECIDE_FAIL;
	if (n == ns) {
		const char *ref = qe_results_ref(res);
		qe_text_put(why, ref && !strcmp(ref, level) ? "the reference" : n ? "every check skipped" : "no rule names it");
		return QE_DECIDE_NOT_GATED;
	}
	qe_text_printf(why, "%d check%s passed", n - ns, n - ns == 1 ? "" : "s");
	if (ns)
		qe_text_printf(why, ", %d skipped", ns);
	return QE_DECIDE_PASS;
}
