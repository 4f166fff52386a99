/* qeval — the sensitivity scan. See harness/cli/scan.h. */
#include "harness/cli/scan.h"
#include "harness/base/json.h"
#include "harness/base/text.h"
#include "reports/gate.h"
#include "reports/gnuplot.h"
#include "reports/results.h"
#include "reports/tensors.h"
#include "reports/view.h"
#include "runtimes/llamacpp_recipe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ggml.h>
#include <gguf.h>

/* ---- groups ---------------------------------------------------------------- */

static int group_find(const struct qe_scan *s, const char *name)
{
	for (int i = 0; i < s->n_g; i++)
		if (!strcmp(s->g[i].name, name))
			return i;
	return -1;
}

/* add nel weights to the group named name (made with pattern when new) */
static void group_add(struct qe_scan *s, const char *name, const char *pattern, double nel)
{
	int i = group_find(s, name);

	if (i < 0 && s->n_g < QE_SCAN_MAX_GROUPS) {
		i = s->n_g++;
		snprintf(s->g[i].name, sizeof(s->g[i].name), "%s", name);
		snprintf(s->g[i].pattern, sizeof(s->g[i].pattern), "%s", pattern);
	}
	if (i >= 0)
		s->g[i].n_elements += nel;
}

/* one 2-D weight into the kind and/or layer groups; span = layers per layer
 * group (0 = none): blk.L alone for 1, else blk.A-B with A = L - L mod span */
static void add_tensor(struct qe_scan *s, const char *tname, double nel, int kinds, int span, int n_layers)
{
	char kind[QE_TENSOR_KIND_CAP], name[64], pat[160];
	int layer;

	qe_tensor_kind(tname, kind, &layer);
	if (kinds) {
		if (layer >= 0)
			snprintf(pat, sizeof(pat), "^blk\\.[0-9]*\\.%s\\.weight$", kind);
		else
			snprintf(pat, sizeof(pat), "^%s\\.weight$", kind);
		group_add(s, kind, pat, nel);
	}
	if (span == 1 && layer >= 0) {
		snprintf(name, sizeof(name), "blk.%d", layer);
		snprintf(pat, sizeof(pat), "^blk\\.%d\\.", layer);
		group_add(s, name, pat, nel);
	} else if (span > 1 && layer >= 0) {
		int a = layer - layer % span, b = a + span - 1 < n_layers - 1 ? a + span - 1 : n_layers - 1;
		size_t l;
		snprintf(name, sizeof(name), "blk.%d-%d", a, b);
		l = (size_t)snprintf(pat, sizeof(pat), "^blk\\.(");
		for (int k = a; k <= b && l < sizeof(pat); k++)
			l += (size_t)snprintf(pat + l, sizeof(pat) - l, "%s%d", k > a ? "|" : "", k);
		if (l < sizeof(pat))
			snprintf(pat + l, sizeof(pat) - l, ")\\.");
		group_add(s, name, pat, nel);
	}
}

/* how: "kind", "layer", "layers:K", "kind,layer", "kind,layers:K" into
 * *kinds and *span (layers per layer group, 0 = none); -1 for another */
static int parse_how(const char *how, int *kinds, int *span)
{
	const char *l = how;
	char *end = NULL;
	long k;

	*kinds = !strncmp(how, "kind", 4) && (how[4] == '\0' || how[4] == ',');
	*span = 0;
	if (*kinds)
		l = how[4] == ',' ? how + 5 : NULL;
	if (!l)
		return 0;
	if (!strcmp(l, "layer")) {
		*span = 1;
		return 0;
	}
	if (strncmp(l, "layers:", 7) != 0)
		return -1;
	k = strtol(l + 7, &end, 10);
	if (!end || *end || end == l + 7 || k < 1 || k > 100000)
		return -1;
	*span = (int)k;
	return 0;
}

int qe_scan_groups(const char *model, const char *how, struct qe_scan *s, struct qe_err *err)
{
	struct gguf_init_params gp = { .no_alloc = true, .ctx = NULL };
	struct gguf_context *g;
	int kinds, span, n_layers = 0;
	int64_t k;
	int ft = 1;

	if (parse_how(how, &kinds, &span) != 0 || (!kinds && !span))
		return qe_fail(err, QE_EINVAL, "--groups '%s': kind, layer, layers:K (K layers a group) or kind with one "
			       "of them (kind,layers:4)", how);
	if (!(g = gguf_init_from_file(model, gp)))
		return qe_fail(err, QE_EINPUT, "'%s' is not a readable GGUF file", model);
	snprintf(s->model, sizeof(s->model), "%s", model);
	for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) { /* the layer count: the last range ends there */
		char kind[QE_TENSOR_KIND_CAP];
		int layer;
		qe_tensor_kind(gguf_get_tensor_name(g, i), kind, &layer);
		n_layers = layer + 1 > n_layers ? layer + 1 : n_layers;
	}
	for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
		const int64_t *ne = gguf_get_tensor_ne(g, i);
		const char *n = gguf_get_tensor_name(g, i);
		size_t len = strlen(n);
		if (ne[1] > 1 && len > 7 && !strcmp(n + len - 7, ".weight"))
			add_tensor(s, n, (double)ne[0] * (double)ne[1] * (double)ne[2] * (double)ne[3], kinds, span,
				   n_layers);
	}
	if ((k = gguf_find_key(g, "general.file_type")) >= 0 && gguf_get_kv_type(g, k) == GGUF_TYPE_UINT32)
		ft = (int)gguf_get_val_u32(g, k);
	gguf_free(g);
	snprintf(s->rest, sizeof(s->rest), "%s", ft == 0 ? "f32" : ft == 32 ? "bf16" : "f16");
	snprintf(s->ref_name, sizeof(s->ref_name), "%s", s->base[0] ? s->base : ft == 0 ? "F32" : ft == 32 ? "BF16" : "F16");
	return s->n_g ? 0 : qe_fail(err, QE_EINPUT, "'%s': no 2-D weights to group", model);
}

int qe_scan_types(const char *list, struct qe_scan *s, struct qe_err *err)
{
	char *copy = strdup(list), *save = NULL, *t;
	int rc = 0;

	s->n_types = 0;
	for (t = strtok_r(copy, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
		if (s->n_types >= QE_SCAN_MAX_TYPES)
			rc = qe_fail(err, QE_EINVAL, "more than %d types", QE_SCAN_MAX_TYPES);
		else
			rc = qe_recipe_tensor_type(t, s->types[s->n_types++], sizeof(s->types[0]), err);
	}
	free(copy);
	if (rc == 0 && s->n_types == 0)
		rc = qe_fail(err, QE_EINVAL, "no types given");
	return rc;
}

void qe_scan_level_name(const struct qe_scan *s, int g, int t, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s@%s", s->g[g].name, s->types[t]);
}

static cJSON *pair(const char *a, const char *b)
{
	cJSON *p = cJSON_CreateArray();

	cJSON_AddItemToArray(p, cJSON_CreateString(a));
	cJSON_AddItemToArray(p, cJSON_CreateString(b));
	return p;
}

cJSON *qe_scan_mix_level(const struct qe_scan *s, const char *name, const int *types)
{
	cJSON *o = cJSON_CreateObject(), *tt = cJSON_CreateArray();

	cJSON_AddStringToObject(o, "name", name);
	/* without a base the file type is nominal: every tensor is named below */
	cJSON_AddStringToObject(o, "type", s->base[0] ? s->base : "Q8_0");
	for (int g = 0; g < s->n_g; g++)
		if (types[g] >= 0)
			cJSON_AddItemToArray(tt, pair(s->g[g].pattern, s->types[types[g]]));
	if (!s->base[0])
		cJSON_AddItemToArray(tt, pair(".", s->rest));
	cJSON_AddItemToObject(o, "tensor_types", tt);
	if (s->imatrix[0])
		cJSON_AddStringToObject(o, "imatrix", s->imatrix);
	return o;
}

cJSON *qe_scan_levels(const struct qe_scan *s)
{
	cJSON *a = cJSON_CreateArray(), *c = cJSON_CreateObject();
	int *types = malloc((size_t)s->n_g * sizeof(int));
	char name[128];

	cJSON_AddItemToArray(a, cJSON_CreateString(s->ref_name));
	cJSON_AddStringToObject(c, "name", "control");
	if (s->base[0])
		cJSON_AddStringToObject(c, "type", s->base);
	else
		cJSON_AddStringToObject(c, "path", s->model);
	cJSON_AddItemToArray(a, c);
	for (int g = 0; types && g < s->n_g; g++)
		for (int t = 0; t < s->n_types; t++) {
			for (int k = 0; k < s->n_g; k++)
				types[k] = k == g ? t : -1;
			qe_scan_level_name(s, g, t, name, sizeof(name));
			cJSON_AddItemToArray(a, qe_scan_mix_level(s, name, types));
		}
	free(types);
	return a;
}

/* ---- JSON ---------------------------------------------------------------------- */

cJSON *qe_scan_to_json(const struct qe_scan *s)
{
	cJSON *j = cJSON_CreateObject(), *g = cJSON_AddArrayToObject(j, "groups"), *t = cJSON_AddArrayToObject(j, "types");

	cJSON_AddStringToObject(j, "model", s->model);
	cJSON_AddStringToObject(j, "base", s->base);
	cJSON_AddStringToObject(j, "rest", s->rest);
	cJSON_AddStringToObject(j, "reference", s->ref_name);
	cJSON_AddStringToObject(j, "imatrix", s->imatrix);
	for (int i = 0; i < s->n_types; i++)
		cJSON_AddItemToArray(t, cJSON_CreateString(s->types[i]));
	for (int i = 0; i < s->n_g; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", s->g[i].name);
		cJSON_AddStringToObject(o, "pattern", s->g[i].pattern);
		cJSON_AddNumberToObject(o, "n_elements", s->g[i].n_elements);
		cJSON_AddItemToArray(g, o);
	}
	return j;
}

int qe_scan_from_json(const cJSON *j, struct qe_scan *s, struct qe_err *err)
{
	const cJSON *it;

	memset(s, 0, sizeof(*s));
	snprintf(s->model, sizeof(s->model), "%s", qe_json_str(j, "model", ""));
	snprintf(s->base, sizeof(s->base), "%s", qe_json_str(j, "base", ""));
	snprintf(s->rest, sizeof(s->rest), "%s", qe_json_str(j, "rest", "f16"));
	snprintf(s->ref_name, sizeof(s->ref_name), "%s", qe_json_str(j, "reference", ""));
	snprintf(s->imatrix, sizeof(s->imatrix), "%s", qe_json_str(j, "imatrix", ""));
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "types"))
		if (cJSON_IsString(it) && s->n_types < QE_SCAN_MAX_TYPES)
			snprintf(s->types[s->n_types++], sizeof(s->types[0]), "%s", it->valuestring);
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "groups"))
		if (s->n_g < QE_SCAN_MAX_GROUPS)
			group_add(s, qe_json_str(it, "name", "?"), qe_json_str(it, "pattern", ""),
				  qe_json_num(it, "n_elements", 0));
	if (!s->n_g || !s->n_types || !s->ref_name[0])
		return qe_fail(err, QE_EINPUT, "sensitivity.json: no groups, types or reference");
	return 0;
}

/* ---- reading the run ------------------------------------------------------------- */

double qe_scan_drift(const cJSON *res, const char *level, const char **what)
{
	static char label[200];
	const cJSON *task;
	double v = NAN;

	*what = "drift";
	/* the first task whose view draws a drift series: its first one (kld: mean
	 * KLD; mmlu, ceval: mean choice KL; pairs: mean 1 - cosine) */
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(res, "tasks")) {
		struct qe_view_series sr[16];
		struct qe_view_ctx c;
		size_t n;
		qe_view_ctx_init(&c, res, task);
		n = c.view && c.view->series ? c.view->series(&c, sr, 16) : 0;
		for (size_t k = 0; k < n; k++) {
			if (sr[k].chart != QE_CHART_DRIFT && sr[k].chart != QE_CHART_DRIFT_KL)
				continue;
			if (qe_metric_get(res, task->string, level, sr[k].path, &v) != 0)
				v = NAN;
			snprintf(label, sizeof(label), "%s: %s", c.title, sr[k].label[0] ? sr[k].label : sr[k].path);
			*what = label;
			return v;
		}
	}
	return NAN;
}

struct row {
	int g, t;
	double dbpw, drift;
};

static int by_drift_desc(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	double da = isnan(a->drift) ? -1 : a->drift, db = isnan(b->drift) ? -1 : b->drift;
	return da < db ? 1 : da > db ? -1 : 0;
}

/* the chart: bits/weight saved (x) against drift (y), one point per level */
static void chart(const char *dir, const struct row *rows, size_t n, const char *what)
{
	struct qe_gnuplot_opts o = { 0 };
	struct qe_text sc = { 0 };
	char path[4200], *svg = NULL;

	qe_text_printf(&sc, "set xlabel 'bits/weight saved'\nset ylabel '%s'\nset key off\nset grid\n"
			    "plot '-' with points pt 7 ps 1, '-' with labels offset 0,1 font ',10'\n", what);
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++)
			if (!isnan(rows[i].drift))
				qe_text_printf(&sc, pass ? "%.6g %.6g %zu\n" : "%.6g %.6g\n", rows[i].dbpw, rows[i].drift, i + 1);
		qe_text_put(&sc, "e\n");
	}
	if (qe_gnuplot_svg(&o, qe_text_str(&sc), &svg, NULL) == 0) {
		snprintf(path, sizeof(path), "%s/sensitivity.svg", dir);
		qe_file_write_atomic(path, svg, strlen(svg), NULL);
	}
	free(svg);
	qe_text_release(&sc);
}

int qe_scan_report(const char *dir, const struct qe_scan *s, struct qe_err *err)
{
	cJSON *res = NULL;
	struct row *rows = calloc((size_t)(s->n_g * s->n_types) + 1, sizeof(*rows));
	struct qe_text md = { 0 };
	const char *what = "drift";
	double ref_bpw;
	size_t n = 0;
	char name[128], path[4200];
	int rc = qe_results_load(dir, &res, err);

	if (rc || !rows) {
		free(rows);
		return rc ? rc : qe_fail(err, QE_ENOMEM, "out of memory");
	}
	ref_bpw = qe_json_num(qe_results_level(res, s->ref_name), "bpw", NAN);
	for (int g = 0; g < s->n_g; g++)
		for (int t = 0; t < s->n_types; t++) {
			qe_scan_level_name(s, g, t, name, sizeof(name));
			rows[n] = (struct row){ g, t, ref_bpw - qe_json_num(qe_results_level(res, name), "bpw", NAN),
						qe_scan_drift(res, name, &what) };
			n++;
		}
	qsort(rows, n, sizeof(*rows), by_drift_desc);
	qe_text_printf(&md, "# Sensitivity of %s\n\nEach level quantizes one group to the type shown; everything else stays at %s. "
			    "Drift: %s against %s, control (the reference again): %.6g. Most sensitive first.\n\n",
		       s->model, s->ref_name, what, s->ref_name, qe_scan_drift(res, "control", &what));
	qe_text_put(&md, "| # | group | type | weights | bits/weight saved | drift | drift per bit/weight saved |\n"
			 "|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++)
		qe_text_printf(&md, "| %zu | %s | %s | %.0f | %.4f | %.6g | %.6g |\n", i + 1, s->g[rows[i].g].name,
			       s->types[rows[i].t], s->g[rows[i].g].n_elements, rows[i].dbpw, rows[i].drift,
			       rows[i].dbpw > 0 ? rows[i].drift / rows[i].dbpw : NAN);
	qe_text_put(&md, "\n![bits/weight saved against drift, labels = rank](sensitivity.svg)\n");
	fputs(qe_text_str(&md), stdout);
	snprintf(path, sizeof(path), "%s/sensitivity.md", dir);
	rc = qe_text_save(&md, path, err);
	chart(dir, rows, n, what);
	qe_text_release(&md);
	cJSON_Delete(res);
	free(rows);
	return rc;
}

/* ---- prediction (qeval recommend) ------------------------------------------------------------- */

/* pred += lvl - ctrl, number by number (objects by key, arrays by index) */
static void add_delta(cJSON *pred, const cJSON *ctrl, const cJSON *lvl)
{
	cJSON *p;
	int i = 0;

	if (!ctrl || !lvl)
		return;
	cJSON_ArrayForEach(p, pred) {
		const cJSON *c = cJSON_IsArray(pred) ? cJSON_GetArrayItem(ctrl, i) : cJSON_GetObjectItemCaseSensitive(ctrl, p->string);
		const cJSON *l = cJSON_IsArray(pred) ? cJSON_GetArrayItem(lvl, i) : cJSON_GetObjectItemCaseSensitive(lvl, p->string);
		i++;
		if (cJSON_IsNumber(p) && cJSON_IsNumber(c) && cJSON_IsNumber(l))
			cJSON_SetNumberValue(p, p->valuedouble + l->valuedouble - c->valuedouble);
		else if (cJSON_IsObject(p) || cJSON_IsArray(p))
			add_delta(p, c, l);
	}
}

cJSON *qe_scan_predict(const cJSON *res, const struct qe_scan *s, const int *types, const char *name)
{
	cJSON *out = cJSON_Duplicate(res, 1), *levels = cJSON_CreateArray(), *task, *lv;
	const cJSON *ctrl = qe_results_level(res, "control");
	char ln[128];

	lv = cJSON_Duplicate(ctrl, 1);
	cJSON_ReplaceItemInObjectCaseSensitive(lv, "name", cJSON_CreateString(name));
	for (int g = 0; g < s->n_g; g++)
		if (types[g] >= 0) {
			qe_scan_level_name(s, g, types[g], ln, sizeof(ln));
			add_delta(lv, ctrl, qe_results_level(res, ln));
		}
	cJSON_AddItemToArray(levels, cJSON_Duplicate(qe_results_level(res, s->ref_name), 1));
	cJSON_AddItemToArray(levels, lv);
	cJSON_ReplaceItemInObjectCaseSensitive(out, "levels", levels);
	cJSON_ArrayForEach(task, cJSON_GetObjectItemCaseSensitive(out, "tasks")) {
		const cJSON *cb = qe_results_block(res, task->string, "control");
		cJSON *blocks = cJSON_CreateObject(), *b = cJSON_Duplicate(cb, 1);
		for (int g = 0; b && g < s->n_g; g++)
			if (types[g] >= 0) {
				qe_scan_level_name(s, g, types[g], ln, sizeof(ln));
				add_delta(b, cb, qe_results_block(res, task->string, ln));
			}
		cJSON_AddItemToObject(blocks, s->ref_name,
				      cJSON_Duplicate(qe_results_block(res, task->string, s->ref_name), 1));
		if (b)
			cJSON_AddItemToObject(blocks, name, b);
		cJSON_ReplaceItemInObjectCaseSensitive(task, "levels", blocks);
	}
	return out;
}

/* 1 when the rules pass the predicted level (no check failed) */
static int predicted_pass(const cJSON *res, const cJSON *rules, const struct qe_scan *s, const int *types,
			  const char *name, double *bpw)
{
	cJSON *pred = qe_scan_predict(res, s, types, name), *outcome = NULL;
	int ok = 0;

	*bpw = qe_json_num(qe_results_level(pred, name), "bpw", NAN);
	if (qe_gate_eval(pred, rules, "predicted", "rules", &outcome, NULL) == 0)
		ok = qe_json_num(outcome, "n_failed", 1) == 0 && qe_json_num(outcome, "n_passed", 0) > 0;
	cJSON_Delete(outcome);
	cJSON_Delete(pred);
	return ok;
}

/* one greedy step: the passing move of one group one type down with the most
 * bits/weight saved per unit of drift; 0 when none passes */
static int greedy_step(const cJSON *res, const cJSON *rules, const struct qe_scan *s, int *types, const char *name,
		       double *bpw)
{
	const char *what;
	double best = -1, ctrl = qe_scan_drift(res, "control", &what), now = *bpw;
	int bg = -1;
	char ln[128], prev[128];

	for (int g = 0; g < s->n_g; g++) {
		double b, d, gain;
		if (types[g] + 1 >= s->n_types)
			continue;
		types[g]++;
		qe_scan_level_name(s, g, types[g], ln, sizeof(ln));
		if (types[g] > 0)
			qe_scan_level_name(s, g, types[g] - 1, prev, sizeof(prev));
		d = qe_scan_drift(res, ln, &what) - (types[g] > 0 ? qe_scan_drift(res, prev, &what) : ctrl);
		if (predicted_pass(res, rules, s, types, name, &b) && now - b > 0) {
			gain = (now - b) / (fmax(d, 0) + 1e-9);
			if (gain > best) {
				best = gain;
				bg = g;
			}
		}
		types[g]--;
	}
	if (bg < 0)
		return 0;
	types[bg]++;
	predicted_pass(res, rules, s, types, name, bpw);
	return 1;
}

int qe_scan_choose(const cJSON *res, const cJSON *rules, const struct qe_scan *s, int *types, const char *name,
		   double *bpw)
{
	int ok;

	for (int g = 0; g < s->n_g; g++)
		types[g] = -1;
	ok = predicted_pass(res, rules, s, types, name, bpw);
	while (ok && greedy_step(res, rules, s, types, name, bpw))
		;
	return ok;
}
