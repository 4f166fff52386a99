#include "reports/gate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reports/report_impl.h"
#include "reports/results.h"
#include "reports/text.h"
#include "reports/view.h"
#include "harness/base/optab.h"

/* ---- rules ---- */

static const char *const ops[] = { ">=", "<=", ">", "<", "==", "!=", NULL };
static const char *const rule_keys[] = { "name", "task", "metric", "op", "value", "levels", "include_reference",
					 "missing", "min_n", "note", NULL };

static int in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

static int check_rule(const char *path, int i, const cJSON *r, struct qe_err *err)
{
	const cJSON *f, *metric, *task, *op, *value, *levels, *incl, *missing, *name, *min_n;
	struct qe_err perr = { 0 };

	if (!cJSON_IsObject(r))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: not an object", path, i);
	cJSON_ArrayForEach(f, r) {
		const char *near;
		if (in_list(f->string, rule_keys))
			continue;
		near = qe_closest_word(f->string, rule_keys, sizeof(rule_keys) / sizeof(rule_keys[0]) - 1);
		if (near)
			return qe_fail(err, QE_EINVAL, "'%s' rule %d: unknown field '%s' (did you mean '%s'?)", path, i,
				       f->string, near);
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: unknown field '%s' (fields: name, task, metric, op, value, "
					       "levels, include_reference, missing, min_n, note)", path, i, f->string);
	}
	min_n = cJSON_GetObjectItemCaseSensitive(r, "min_n");
	if (min_n && (!cJSON_IsNumber(min_n) || min_n->valuedouble < 1 || min_n->valuedouble != floor(min_n->valuedouble)))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'min_n' must be a whole number >= 1", path, i);
	name = cJSON_GetObjectItemCaseSensitive(r, "name");
	metric = cJSON_GetObjectItemCaseSensitive(r, "metric");
	task = cJSON_GetObjectItemCaseSensitive(r, "task");
	op = cJSON_GetObjectItemCaseSensitive(r, "op");
	value = cJSON_GetObjectItemCaseSensitive(r, "value");
	levels = cJSON_GetObjectItemCaseSensitive(r, "levels");
	incl = cJSON_GetObjectItemCaseSensitive(r, "include_reference");
	missing = cJSON_GetObjectItemCaseSensitive(r, "missing");
	if (name && !cJSON_IsString(name))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'name' must be a string", path, i);
	if (!cJSON_IsString(metric))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'metric' is missing or not a string", path, i);
	if (qe_metric_path_check(metric->valuestring, &perr))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'metric': %s", path, i, perr.msg);
	if (task && (!cJSON_IsString(task) || !*task->valuestring))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'task' must be a task name", path, i);
	if (!task && strncmp(metric->valuestring, "level.", 6) != 0)
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'task' is missing (only 'level.' metrics go without)",
			       path, i);
	if (!cJSON_IsString(op) || !in_list(op->valuestring, ops))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'op' must be one of >= <= > < == !=", path, i);
	if (!cJSON_IsNumber(value))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'value' is missing or not a number", path, i);
	if (!isfinite(value->valuedouble)) /* 1e999 parses as infinity: no threshold */
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'value' is not a finite number", path, i);
	if (levels) {
		const cJSON *l;
		if (cJSON_IsString(levels)) {
			if (!*levels->valuestring)
				return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'levels' is empty", path, i);
		} else if (cJSON_IsArray(levels) && cJSON_GetArraySize(levels) > 0) {
			cJSON_ArrayForEach(l, levels)
				if (!cJSON_IsString(l) || !*l->valuestring)
					return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'levels' must hold level names",
						       path, i);
		} else {
			return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'levels' must be \"*\", a level name or a "
						       "non-empty list of them", path, i);
		}
	}
	if (incl && !cJSON_IsBool(incl))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'include_reference' must be true or false", path, i);
	if (missing && (!cJSON_IsString(missing) ||
			(strcmp(missing->valuestring, "fail") && strcmp(missing->valuestring, "skip"))))
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: field 'missing' must be \"fail\" or \"skip\"", path, i);
	return 0;
}

int qe_gate_rules_load(const char *path, cJSON **out, struct qe_err *err)
{
	const cJSON *rules, *r, *f, *ver;
	char *text;
	size_t len;
	cJSON *root;
	int rc, i = 0;

	*out = NULL;
	rc = qe_file_read(path, &text, &len, err);
	if (rc)
		return rc;
	/* qeval's reader: "file:line:col: not valid JSON", and a key given twice
	 * or a NUL refused (a field given twice would leave the rule to whichever
	 * value cJSON kept) */
	rc = qe_json_parse(text, len, path, &root, err);
	free(text);
	if (rc) { /* a bad rules file is QE_EINVAL throughout (gate.h) */
		if (err)
			err->code = QE_EINVAL;
		return QE_EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		rc = qe_fail(err, QE_EINVAL, "'%s': wants an object {\"rules\": [...]}", path);
		goto out;
	}
	cJSON_ArrayForEach(f, root)
		if (strcmp(f->string, "rules") && strcmp(f->string, "version") && strcmp(f->string, "note")) {
			rc = qe_fail(err, QE_EINVAL, "'%s': unknown top-level field '%s' (fields: version, rules, note)",
				     path, f->string);
			goto out;
		}
	ver = cJSON_GetObjectItemCaseSensitive(root, "version");
	if (ver && (!cJSON_IsNumber(ver) || ver->valuedouble != QE_GATE_VERSION)) {
		rc = qe_fail(err, QE_EINVAL, "'%s': field 'version' must be %d", path, QE_GATE_VERSION);
		goto out;
	}
	rules = cJSON_GetObjectItemCaseSensitive(root, "rules");
	if (!cJSON_IsArray(rules) || cJSON_GetArraySize(rules) == 0) {
		rc = qe_fail(err, QE_EINVAL, "'%s': field 'rules' is missing or not a non-empty array", path);
		goto out;
	}
	cJSON_ArrayForEach(r, rules)
		if ((rc = check_rule(path, i++, r, err)) != 0)
			goto out;
out:
	if (rc)
		cJSON_Delete(root);
	else
		*out = root;
	return rc;
}

/* ---- checking ---- */

static int compare(double v, const char *op, double t)
{
	if (!strcmp(op, ">="))
		return v >= t;
	if (!strcmp(op, "<="))
		return v <= t;
	if (!strcmp(op, ">"))
		return v > t;
	if (!strcmp(op, "<"))
		return v < t;
	if (!strcmp(op, "=="))
		return v == t;
	return v != t;
}

static cJSON *add_check(cJSON *checks, int rule, const char *name, const char *task, const char *level,
		      const char *metric, const char *op, double thr, const double *value, const char *status,
		      const char *msg)
{
	cJSON *c = cJSON_CreateObject();

	if (!c)
		return NULL;
	cJSON_AddNumberToObject(c, "rule", rule);
	cJSON_AddStringToObject(c, "name", name);
	if (task)
		cJSON_AddStringToObject(c, "task", task);
	else
		cJSON_AddNullToObject(c, "task");
	cJSON_AddStringToObject(c, "level", level);
	cJSON_AddStringToObject(c, "metric", metric);
	cJSON_AddStringToObject(c, "op", op);
	cJSON_AddNumberToObject(c, "threshold", thr);
	if (value)
		cJSON_AddNumberToObject(c, "value", *value);
	else
		cJSON_AddNullToObject(c, "value");
	cJSON_AddStringToObject(c, "status", status);
	cJSON_AddStringToObject(c, "message", msg);
	cJSON_AddItemToArray(checks, c);
	return c;
}

/* What one rule checks, shared by its checks. */
struct rule_ctx {
	const cJSON *res;
	const char *rules_path;  /* for messages */
	int idx;                 /* the rule's index */
	const char *task, *metric, *op, *name;
	double thr, min_n;       /* min_n NaN = none */
	int skip_missing;
	char thr_s[32];
};

/* the level names of the run */
static size_t run_level_names(const cJSON *res, const char **names, size_t cap)
{
	const cJSON *lv;
	size_t n = 0;

	cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(res, "levels"))
		if (n < cap && qe_json_str(lv, "name", NULL))
			names[n++] = qe_json_str(lv, "name", NULL);
	return n;
}

/* A rule naming a level or task the run does not have is a typo (exit 2),
 * unless the rule says "missing": "skip". */
static int check_names(const struct rule_ctx *r, const char *level, struct qe_err *err)
{
	const char *names[256], *near;
	const cJSON *t, *tasks = cJSON_GetObjectItemCaseSensitive(r->res, "tasks");
	size_t n;

	if (r->skip_missing)
		return 0;
	if (!qe_results_level(r->res, level)) {
		n = run_level_names(r->res, names, 256);
		near = qe_closest_name(level, names, n);
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: level '%s' is not in the run%s%s%s", r->rules_path, r->idx,
			       level, near ? " (did you mean '" : " (add \"missing\": \"skip\" if that is meant)",
			       near ? near : "", near ? "'?)" : "");
	}
	if (r->task && !cJSON_GetObjectItemCaseSensitive(tasks, r->task)) {
		n = 0;
		cJSON_ArrayForEach(t, tasks)
			if (n < 256)
				names[n++] = t->string;
		near = qe_closest_name(r->task, names, n);
		return qe_fail(err, QE_EINVAL, "'%s' rule %d: task '%s' is not in the run%s%s%s", r->rules_path, r->idx,
			       r->task, near ? " (did you mean '" : " (add \"missing\": \"skip\" if that is meant)",
			       near ? near : "", near ? "'?)" : "");
	}
	return 0;
}

/* why a metric could not be read, in one line */
static void unread_text(const struct rule_ctx *r, const char *level, int st, char *msg, size_t cap)
{
	const cJSON *l = qe_results_level(r->res, level);
	const char *ls = qe_json_str(l, "status", NULL), *le = qe_json_str(l, "error", NULL);
	const char *task = r->task ? r->task : "", *sp = r->task ? " " : "";
	double lo, hi;

	if (st == QE_METRIC_NO_BLOCK && ls && strcmp(ls, "ok") != 0)
		snprintf(msg, cap, "%s%s%s at %s: the level %s%s%s%s", task, sp, r->metric, level, ls, le ? " (" : "",
			 le ? le : "", le ? ")" : "");
	else if (st == QE_METRIC_NO_LEVEL)
		snprintf(msg, cap, "%s%s%s: level '%s' is not in the run", task, sp, r->metric, level);
	else if (st == QE_METRIC_NO_TASK)
		snprintf(msg, cap, "%s%s%s at %s: task '%s' is not in the run", task, sp, r->metric, level, task);
	else if (st == QE_METRIC_ABSENT && qe_metric_pair(r->res, r->task, level, r->metric, &lo, &hi) == QE_METRIC_OK)
		snprintf(msg, cap, "%s%s%s at %s: an interval, not a number: name its bound, %s[0] or %s[1]", task, sp,
			 r->metric, level, r->metric, r->metric);
	else
		snprintf(msg, cap, "%s%s%s at %s: %s", task, sp, r->metric, level, qe_metric_status_text(st));
}

/* The count the task's numbers rest on at level, from its view's n_path; NaN when unknown. */
static double items_of(const struct rule_ctx *r, const char *level)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->res, "tasks"),
							  r->task ? r->task : "");
	const struct qe_view *v = t ? qe_view_find(qe_results_task_type(t)) : NULL;
	double n;

	if (!v || !v->n_path || qe_metric_get(r->res, r->task, level, v->n_path, &n) != QE_METRIC_OK)
		return NAN;
	return n;
}

/* One check of rule r at level: appended to checks; *nf, *ns counted. */
static void check_one(const struct rule_ctx *r, const char *level, cJSON *checks, int *nf, int *ns)
{
	char msg[1024], val_s[32];
	double v = 0, n_items = isnan(r->min_n) ? NAN : items_of(r, level);
	int st = qe_metric_get(r->res, r->task, level, r->metric, &v);
	const char *task = r->task ? r->task : "", *sp = r->task ? " " : "";
	cJSON *c;

	if (st == QE_METRIC_OK && !isnan(r->min_n) && !(n_items >= r->min_n)) {
		if (isnan(n_items))
			snprintf(msg, sizeof(msg), "%s%s%s at %s: the item count is unknown, rule needs at least %.0f",
				 task, sp, r->metric, level, r->min_n);
		else
			snprintf(msg, sizeof(msg), "%s%s%s at %s: on %.0f items, rule needs at least %.0f", task, sp,
				 r->metric, level, n_items, r->min_n);
		c = add_check(checks, r->idx, r->name, r->task, level, r->metric, r->op, r->thr, &v, "fail", msg);
		(*nf)++;
	} else if (st == QE_METRIC_OK) {
		int ok = compare(v, r->op, r->thr);
		qe_fmt_num(val_s, v);
		snprintf(msg, sizeof(msg), "%s%s%s at %s = %s, %s %s %s", task, sp, r->metric, level, val_s,
			 ok ? "meets" : "wants", r->op, r->thr_s);
		c = add_check(checks, r->idx, r->name, r->task, level, r->metric, r->op, r->thr, &v, ok ? "pass" : "fail",
			      msg);
		*nf += !ok;
	} else {
		/* a missing metric can be skipped; a misspelt one (absent) never is */
		int skip = r->skip_missing && st != QE_METRIC_ABSENT;
		unread_text(r, level, st, msg, sizeof(msg));
		c = add_check(checks, r->idx, r->name, r->task, level, r->metric, r->op, r->thr, NULL,
			      skip ? "skip" : "fail", msg);
		*ns += skip;
		*nf += !skip;
	}
	if (c && !isnan(r->min_n)) {
		cJSON_AddNumberToObject(c, "min_n", r->min_n);
		if (isnan(n_items))
			cJSON_AddNullToObject(c, "n");
		else
			cJSON_AddNumberToObject(c, "n", n_items);
	}
}

/* The levels rule r names: its "levels", else every level but the reference
 * (with it when include_reference). */
static size_t rule_levels(const cJSON *res, const cJSON *rule, const char **names, size_t cap)
{
	const cJSON *lvsel = cJSON_GetObjectItemCaseSensitive(rule, "levels"), *lv;
	const char *ref = qe_results_ref(res);
	int incl = qe_json_bool(rule, "include_reference", 0);
	size_t nn = 0;

	if (cJSON_IsArray(lvsel)) {
		cJSON_ArrayForEach(lv, lvsel)
			if (nn < cap)
				names[nn++] = lv->valuestring;
	} else if (cJSON_IsString(lvsel) && strcmp(lvsel->valuestring, "*") != 0) {
		names[nn++] = lvsel->valuestring;
	} else {
		cJSON_ArrayForEach(lv, cJSON_GetObjectItemCaseSensitive(res, "levels")) {
			const char *nm = qe_json_str(lv, "name", NULL);
			if (nm && (incl || !ref || strcmp(nm, ref)) && nn < cap)
				names[nn++] = nm;
		}
	}
	return nn;
}

static void outcome_head(cJSON *out, const cJSON *res, const char *run_dir, const char *rules_name)
{
	const cJSON *run = cJSON_GetObjectItemCaseSensitive(res, "run");

	cJSON_AddStringToObject(out, "schema", "qeval-gate");
	cJSON_AddNumberToObject(out, "version", QE_GATE_VERSION);
	cJSON_AddStringToObject(out, "run", run_dir ? run_dir : "");
	cJSON_AddStringToObject(out, "rules", rules_name ? rules_name : "");
	/* a run on a subset (--limit) decides on a subset: say so wherever the outcome goes */
	cJSON_AddBoolToObject(out, "partial", qe_json_bool(run, "partial", 0));
	if (qe_json_bool(run, "partial", 0))
		cJSON_AddNumberToObject(out, "limit", qe_json_num(run, "limit", 0));
	else
		cJSON_AddNullToObject(out, "limit");
	cJSON_AddBoolToObject(out, "complete", qe_json_bool(run, "complete", 1));
}

int qe_gate_eval(const cJSON *res, const cJSON *rules_root, const char *run_dir, const char *rules_name,
		 cJSON **outcome, struct qe_err *err)
{
	const cJSON *rules = cJSON_GetObjectItemCaseSensitive(rules_root, "rules"), *rl;
	int idx = 0, n = 0, nf = 0, ns = 0;
	cJSON *out, *checks;

	*outcome = NULL;
	out = cJSON_CreateObject();
	checks = cJSON_CreateArray();
	if (!out || !checks) {
		cJSON_Delete(out);
		cJSON_Delete(checks);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	cJSON_ArrayForEach(rl, rules) {
		struct rule_ctx r = { .res = res, .rules_path = rules_name ? rules_name : "rules", .idx = idx };
		const char *missing = qe_json_str(rl, "missing", NULL), *names[256];
		char defname[512];
		size_t nn;

		r.task = qe_json_str(rl, "task", NULL);
		r.metric = qe_json_str(rl, "metric", NULL);
		r.op = qe_json_str(rl, "op", NULL);
		r.name = qe_json_str(rl, "name", NULL);
		r.thr = qe_json_num(rl, "value", NAN);
		r.min_n = qe_json_num(rl, "min_n", NAN);
		r.skip_missing = missing && !strcmp(missing, "skip");
		qe_fmt_num(r.thr_s, r.thr);
		if (!r.name) {
			snprintf(defname, sizeof(defname), "%s%s%s %s %s", r.task ? r.task : "", r.task ? " " : "", r.metric,
				 r.op, r.thr_s);
			r.name = defname;
		}
		nn = rule_levels(res, rl, names, 256);
		for (size_t k = 0; k < nn; k++) {
			if (check_names(&r, names[k], err)) {
				cJSON_Delete(out);
				cJSON_Delete(checks);
				return QE_EINVAL;
			}
			check_one(&r, names[k], checks, &nf, &ns);
			n++;
		}
		idx++;
	}
	outcome_head(out, res, run_dir, rules_name);
	cJSON_AddNumberToObject(out, "n_rules", idx);
	cJSON_AddNumberToObject(out, "n_checks", n);
	cJSON_AddNumberToObject(out, "n_passed", n - nf - ns);
	cJSON_AddNumberToObject(out, "n_failed", nf);
	cJSON_AddNumberToObject(out, "n_skipped", ns);
	cJSON_AddBoolToObject(out, "passed", nf == 0);
	cJSON_AddItemToObject(out, "checks", checks);
	if (cJSON_GetArraySize(checks) != n) {
		cJSON_Delete(out);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	*outcome = out;
	return 0;
}

int qe_gate_run(const char *run_dir, const char *rules_path, const char *junit_path, int *n_failed, cJSON **outcome,
		struct qe_err *err)
{
	cJSON *res = NULL, *rules = NULL, *out = NULL;
	struct qe_text t = { 0 };
	char path[4096];
	char *json;
	int rc;

	if (n_failed)
		*n_failed = 0;
	if (outcome)
		*outcome = NULL;
	rc = qe_gate_rules_load(rules_path, &rules, err);
	if (!rc)
		rc = qe_results_load(run_dir, &res, err);
	if (!rc)
		rc = qe_gate_eval(res, rules, run_dir, rules_path, &out, err);
	if (rc)
		goto done;
	json = cJSON_Print(out);
	if (!json) {
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
		goto done;
	}
	qe_text_put(&t, json);
	qe_text_putc(&t, '\n');
	free(json);
	rc = qe_text_save(&t, qe_path_join(path, sizeof(path), run_dir, "gate.json"), err);
	qe_text_release(&t);
	if (rc)
		unlink(path); /* an outcome of earlier rules or results must not stand in for this one */
	if (!rc && junit_path) {
		qe_junit_from_gate(out, &t);
		rc = qe_text_save(&t, junit_path, err);
		qe_text_release(&t);
	}
	if (!rc && n_failed)
		*n_failed = (int)qe_json_num(out, "n_failed", NAN);
done:
	if (!rc && outcome) {
		*outcome = out;
		out = NULL;
	}
	cJSON_Delete(out);
	cJSON_Delete(rules);
	cJSON_Delete(res);
	return rc;
}

int qe_gate_check(const char *run_dir, const char *rules_path, const char *junit_path, int *n_failed,
		  struct qe_err *err)
{
	return qe_gate_run(run_dir, rules_path, junit_path, n_failed, NULL, err);
}

int qe_gate_outcome_load(const char *run_dir, cJSON **outcome, struct qe_err *err)
{
	char path[4096];
	const cJSON *g;
	int rc;

	*outcome = NULL;
	qe_path_join(path, sizeof(path), run_dir, "gate.json");
	rc = qe_json_read_file(path, outcome, err);
	if (rc == QE_ENOENT) {
		qe_err_clear(err);
		return 0;
	}
	if (rc)
		return qe_fail(err, rc == QE_EINPUT ? QE_EINPUT : rc, "'%s' is damaged (%s): check the gate again with 'qeval gate'",
			       path, rc == QE_EINPUT ? "not valid JSON" : "unreadable");
	g = *outcome;
	if (strcmp(qe_json_str(g, "schema", ""), "qeval-gate") != 0 || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(g, "checks")) ||
	    !cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(g, "passed")) || !isfinite(qe_json_num(g, "n_failed", NAN)) ||
	    (qe_json_bool(g, "passed", 0) && qe_json_num(g, "n_failed", NAN) != 0)) {
		cJSON_Delete(*outcome);
		*outcome = NULL;
		return qe_fail(err, QE_EINPUT, "'%s' is damaged (not a whole gate outcome): check the gate again with 'qeval gate'", path);
	}
	return 0;
}

void qe_gate_print(const cJSON *outcome, FILE *f)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(outcome, "checks")) {
		const char *st = qe_json_str(c, "status", NULL);
		fprintf(f, "%-4s  rule %.0f: %s @ %s: %s\n", st && !strcmp(st, "pass") ? "ok" : st && !strcmp(st, "skip") ? "skip" : "FAIL",
			qe_json_num(c, "rule", NAN), qe_json_str(c, "name", "?"),
			qe_json_str(c, "level", "?"),
			qe_json_str(c, "message", ""));
	}
	if (qe_json_bool(outcome, "partial", 0))
		fprintf(f, "warning: partial run (--limit %.0f): these checks are on a subset of each data set\n",
			qe_json_num(outcome, "limit", 0));
	fprintf(f, "gate %s: %.0f checks, %.0f passed, %.0f failed, %.0f skipped\n",
		qe_json_bool(outcome, "passed", 0) ? "passed" : "FAILED", qe_json_num(outcome, "n_checks", NAN),
		qe_json_num(outcome, "n_passed", NAN), qe_json_num(outcome, "n_failed", NAN), qe_json_num(outcome, "n_skipped", NAN));
}
