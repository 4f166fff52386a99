/* qeval recommend: from a sensitivity scan, the mix of per-group types with
 * the fewest bits/weight that a gate is predicted to pass; then a real run of
 * that mix beside uniform levels, gated. The prediction (docs/recipes.md):
 * every number of a level's results is the control's plus, over the groups,
 * what quantizing that group alone moved it by; the gate's own rules
 * (reports/gate.h) judge the predicted level. Greedy: from the reference,
 * move one group one type down at a time, the move that saves the most bytes
 * per unit of drift among those still predicted to pass (harness/cli/scan.c:
 * qe_scan_predict, qe_scan_choose). */
#include "harness/cli/cli.h"
#include "harness/cli/scan.h"
#include "harness/base/json.h"
#include "harness/base/opt.h"
#include "harness/base/sys.h"
#include "harness/base/text.h"
#include "harness/mpi.h"
#include "reports/gate.h"
#include "reports/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
	"usage: qeval recommend --model M.gguf --rules GATE.json [--types q6_K,q4_K,q3_K]\n"
	"                       [--groups kind|layers:K] [--base TYPE] [--imatrix FILE] [--compare Q4_K_M,Q3_K_M]\n"
	"                       [--name mix] [--out DIR] [any 'qeval run' option: the tasks, --limit, ...]\n"
	"\n"
	"Runs a sensitivity scan of every group at every type of --types (most bits\n"
	"first) into DIR/scan, predicts from it the mix with the fewest bits/weight\n"
	"that the rules pass (any rule 'qeval gate' takes; a rule naming levels must\n"
	"name --name), then runs the reference, the --compare levels (and, with\n"
	"--imatrix, the same with that matrix) and the mix into DIR/verify and gates\n"
	"it. Prints the recipe, its predicted and real bits/weight and whether it\n"
	"passed; DIR/recommend.json has the recipe. Exit: 0 passed, 1 failed the gate,\n"
	"2 bad usage or no mix predicted to pass, 3 a level failed.\n"
	"  -o, --out DIR   default qeval-recommend\n"
	"  --verify ...    the options after it go to the verifying run only (tasks too\n"
	"                  costly to scan; rules on them are checked there, not predicted)\n";

struct rargs {
	const char *model, *out, *rules, *types, *groups, *base, *imatrix, *compare, *name;
	const char *bad; /* an option given without its value */
	int help;
};

/* take recommend's own flags (and --out) out of argv */
static int take_flags(int *argc, char **argv, struct rargs *a)
{
	static const char *const names[] = { "--rules", "--types", "--groups", "--base", "--imatrix", "--compare",
					     "--name", "--out", "-o", NULL };
	const char **slots[] = { &a->rules, &a->types, &a->groups, &a->base, &a->imatrix, &a->compare,
				 &a->name, &a->out, &a->out };
	int n = 1;

	for (int i = 1; i < *argc; i++) {
		int k;
		for (k = 0; names[k] && strcmp(argv[i], names[k]); k++)
			;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			a->help = 1;
		if (names[k]) {
			if (i + 1 >= *argc) {
				a->bad = names[k];
				return -1;
			}
			*slots[k] = argv[++i];
			continue;
		}
		if ((!strcmp(argv[i], "--model") || !strcmp(argv[i], "-m")) && i + 1 < *argc)
			a->model = argv[i + 1];
		argv[n++] = argv[i];
	}
	*argc = n;
	return 0;
}

/* ---- the command ------------------------------------------------------------- */

/* the verifying run's levels: reference, the uniform ones (with the matrix
 * too when there is one), the mix */
static cJSON *verify_levels(const struct rargs *a, const struct qe_scan *s, const int *types)
{
	cJSON *l = cJSON_CreateArray();
	char **items, buf[4200];
	size_t n = qe_opt_split(a->compare ? a->compare : "Q4_K_M,Q3_K_M", &items);

	cJSON_AddItemToArray(l, cJSON_CreateString(s->ref_name));
	for (size_t i = 0; i < n; i++) {
		if (strcmp(items[i], s->ref_name))
			cJSON_AddItemToArray(l, cJSON_CreateString(items[i]));
		if (a->imatrix && !strpbrk(items[i], "=+/")) { /* a plain type: also with the matrix */
			snprintf(buf, sizeof(buf), "%s-imat=%s+imatrix:%s", items[i], items[i], a->imatrix);
			cJSON_AddItemToArray(l, cJSON_CreateString(buf));
		}
	}
	free(items);
	cJSON_AddItemToArray(l, qe_scan_mix_level(s, a->name ? a->name : "mix", types));
	return l;
}

/* print and keep (DIR/recommend.json) what was recommended */
static void record(const char *out, const struct qe_scan *s, const int *types, const char *name, double bpw,
		   const struct rargs *a)
{
	cJSON *j = cJSON_CreateObject(), *lv = qe_scan_mix_level(s, name, types);
	char path[4200], *text = cJSON_PrintUnformatted(lv);

	printf("recommended %s: predicted %.4f bits/weight\n  level: %s\n", name, bpw, text ? text : "?");
	for (int g = 0; g < s->n_g; g++)
		printf("  %-16s %s\n", s->g[g].name, types[g] >= 0 ? s->types[types[g]] : s->ref_name);
	cJSON_AddItemToObject(j, "level", lv);
	cJSON_AddNumberToObject(j, "predicted_bpw", bpw);
	cJSON_AddStringToObject(j, "rules", a->rules);
	snprintf(path, sizeof(path), "%s/recommend.json", out);
	qe_json_write_file(path, j, NULL);
	free(text);
	cJSON_Delete(j);
}

/* the scan into out/scan (made or finished there: as rank 0 sees it, under mpirun) */
static int run_scan(int argc, char **argv, const struct rargs *a, const char *dir, struct qe_scan *s,
		    const struct qe_mpi *m)
{
	struct qe_err err = { 0 };
	char path[4200];
	struct stat st;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/sensitivity.json", dir);
	if (qe_mpi_bcast_int(m, stat(path, &st) == 0))
		rc = qe_scan_load(dir, s, &err);

	if (rc < 0)
		return qe_opt_die("recommend", &err);
	if (rc == 0) {
		memset(s, 0, sizeof(*s));
		snprintf(s->base, sizeof(s->base), "%s", a->base ? a->base : "");
		snprintf(s->imatrix, sizeof(s->imatrix), "%s", a->imatrix ? a->imatrix : "");
		if (qe_scan_types(a->types ? a->types : "q6_K,q4_K,q3_K", s, &err) ||
		    qe_scan_groups(a->model, a->groups ? a->groups : "kind", s, &err))
			return qe_opt_die("recommend", &err);
	}
	return qe_scan_run(argc, argv, dir, s, rc == 1, m->rank == 0, "recommend");
}

/* the rules a prediction can judge: those on a task the scan ran (or on no
 * task) that name no levels or name `name`; the others wait for the
 * verifying run. Caller frees. */
static cJSON *scan_rules(const cJSON *rules, const cJSON *res, const char *name)
{
	cJSON *out = cJSON_Duplicate(rules, 1), *list = cJSON_GetObjectItemCaseSensitive(out, "rules");
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(res, "tasks");

	for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--) {
		const cJSON *r = cJSON_GetArrayItem(list, i), *lv, *l;
		const char *task = qe_json_str(r, "task", NULL);
		int named = 0;
		lv = cJSON_GetObjectItemCaseSensitive(r, "levels");
		cJSON_ArrayForEach(l, lv)
			named |= cJSON_IsString(l) && !strcmp(l->valuestring, name);
		if ((task && *task && !cJSON_GetObjectItemCaseSensitive(tasks, task)) || (lv && !named))
			cJSON_DeleteItemFromArray(list, i);
	}
	return out;
}

/* the mix: greedy over the scan in dir; 0 when found */
static int choose(const char *dir, const cJSON *rules, const struct qe_scan *s, int *types, const char *name,
		  double *bpw)
{
	struct qe_err err = { 0 };
	cJSON *res = NULL, *judged;
	int ok;

	if (qe_results_load(dir, &res, &err) != 0)
		return qe_opt_die("recommend", &err);
	judged = scan_rules(rules, res, name);
	ok = qe_scan_choose(res, judged, s, types, name, bpw);
	cJSON_Delete(judged);
	cJSON_Delete(res);
	if (!ok) {
		fprintf(stderr, "qeval recommend: the rules are predicted to fail even with no group quantized (or none of them is on a task the scan ran and applies to '%s')\n", name);
		return QE_EXIT_USAGE;
	}
	return 0;
}

static int verify(int argc, char **argv, const struct rargs *a, const char *dir, const struct qe_scan *s,
		  const int *types, const struct qe_mpi *m)
{
	struct stat st;
	char path[4200];
	cJSON *plan = NULL;
	int code, resume;

	snprintf(path, sizeof(path), "%s/plan.json", dir);
	resume = qe_mpi_bcast_int(m, stat(path, &st) == 0);
	if (!resume) {
		plan = cJSON_CreateObject();
		cJSON_AddStringToObject(plan, "model", s->model);
		cJSON_AddItemToObject(plan, "levels", verify_levels(a, s, types));
		cJSON_AddStringToObject(plan, "reference", s->ref_name);
		cJSON_AddStringToObject(plan, "out", dir);
	}
	code = qe_run_command(argc, argv, plan, resume ? dir : NULL, "recommend");
	cJSON_Delete(plan);
	return code;
}

/* the verifying run's level `name`: "PASS" / "FAIL" from its gate.json */
static const char *level_verdict(const cJSON *gate, const char *name, int *n_fail)
{
	const cJSON *c;
	int n = 0;

	*n_fail = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(gate, "checks")) {
		if (strcmp(qe_json_str(c, "level", ""), name))
			continue;
		n++;
		*n_fail += !strcmp(qe_json_str(c, "status", ""), "fail");
	}
	return !n ? "not gated" : *n_fail ? "FAIL" : "PASS";
}

/* out/recommend.md: the gate, the mix, the frontier (every level of the
 * verifying run: bits/weight, drift, verdict), the scan's ranked table; the
 * mix's verdict on stdout; the exit code (0 the mix passed, 1 it failed) */
static int summary(const char *out, const char *scan_dir, const char *verify_dir, const char *name, double pred,
		   const struct rargs *a)
{
	cJSON *res = NULL, *gate = NULL;
	const cJSON *lv;
	struct qe_text md = { 0 };
	struct qe_err err = { 0 };
	char path[4200], *scan_md = NULL;
	const char *what = "drift", *mine = "not gated";
	int nf, fails = 1;

	if (qe_results_load(verify_dir, &res, &err) != 0 || qe_gate_outcome_load(verify_dir, &gate, &err) != 0) {
		cJSON_Delete(res);
		return qe_opt_die("recommend", &err);
	}
	qe_text_printf(&md, "# Recommendation for %s\n\nGate: `%s`. Scan: [scan/sensitivity.md](scan/sensitivity.md); "
			    "verifying run: [verify/report.md](verify/report.md) (its charts draw the frontier).\n\n",
		       qe_json_str(cJSON_GetObjectItemCaseSensitive(res, "model"), "source", "?"), a->rules);
	qe_text_put(&md, "| level | bits/weight | drift | gate |\n|---|---|---|---|\n");
	cJSON_ArrayForEach(lv, qe_results_levels(res)) {
		const char *ln = qe_results_level_name(lv), *v = level_verdict(gate, ln, &nf);
		double d = qe_scan_drift(res, ln, &what);
		qe_text_printf(&md, "| %s | %.4f | %.6g | %s |\n", ln, qe_json_num(lv, "bpw", NAN), d, v);
		if (!strcmp(ln, name)) {
			mine = v;
			fails = nf;
			printf("recommended %s: %s the gate in the verifying run; bits/weight %.4f (predicted %.4f), %s %.6g\n",
			       name, nf ? "FAILED" : "PASSED", qe_json_num(lv, "bpw", NAN), pred, what, d);
		}
	}
	qe_text_printf(&md, "\nDrift: %s. Predicted bits/weight of %s: %.4f. %s: %s.\n\n", what, name, pred, name, mine);
	snprintf(path, sizeof(path), "%s/sensitivity.md", scan_dir);
	if (qe_file_read(path, &scan_md, NULL, NULL) == 0)
		qe_text_printf(&md, "%s", scan_md);
	snprintf(path, sizeof(path), "%s/recommend.md", out);
	qe_text_save(&md, path, NULL);
	printf("report: %s\n", path);
	free(scan_md);
	qe_text_release(&md);
	cJSON_Delete(res);
	cJSON_Delete(gate);
	return !strcmp(mine, "PASS") && !fails ? QE_EXIT_OK : QE_EXIT_CHECK;
}

int cmd_recommend(int argc, char **argv)
{
	struct rargs a = { 0 };
	struct qe_err err = { 0 };
	struct qe_scan *s = calloc(1, sizeof(*s));
	int types[QE_SCAN_MAX_GROUPS], code, vat, vargc = 0;
	char scan_dir[4200], verify_dir[4200], **vargv;
	const char *out;
	cJSON *rules = NULL;
	struct qe_mpi m;
	double bpw = NAN;

	for (vat = 1; vat < argc && strcmp(argv[vat], "--verify"); vat++)
		;
	/* both runs: argv[0 .. vat); the verifying run also argv[vat+1 ..) */
	vargv = calloc((size_t)argc + 1, sizeof(char *));
	if (vargv) {
		for (int i = 0; i < argc; i++)
			if (i != vat)
				vargv[vargc++] = argv[i];
	}
	if (!vargv || take_flags(&vargc, vargv, &a) != 0)
		a.help = -1;
	argc = vat;
	if (!s || a.help || take_flags(&argc, argv, &a) != 0 || !a.rules || !a.model) {
		free(vargv);
		free(s);
		if (a.help == 1)
			return qe_opt_help(usage);
		if (a.bad)
			fprintf(stderr, "qeval recommend: option '%s' needs a value (see 'qeval recommend --help')\n", a.bad);
		else
			fprintf(stderr, "qeval recommend: %s is required (see 'qeval recommend --help')\n",
				!a.model ? "--model" : "--rules");
		return QE_EXIT_USAGE;
	}
	if (qe_gate_rules_load(a.rules, &rules, &err) != 0) {
		free(vargv);
		free(s);
		return qe_opt_die("recommend", &err);
	}
	if (qe_mpi_start(&m, &err) != 0) {
		cJSON_Delete(rules);
		free(vargv);
		free(s);
		return qe_opt_die("recommend", &err);
	}
	out = a.out ? a.out : "qeval-recommend";
	qe_mkdirs(out, 0755);
	snprintf(scan_dir, sizeof(scan_dir), "%s/scan", out);
	snprintf(verify_dir, sizeof(verify_dir), "%s/verify", out);
	code = run_scan(argc, argv, &a, scan_dir, s, &m);
	/* rank 0 chooses (it has the scan's results), every rank verifies */
	if (m.rank == 0 && (code == QE_EXIT_OK || code == QE_EXIT_RUNTIME))
		code = choose(scan_dir, rules, s, types, a.name ? a.name : "mix", &bpw);
	code = qe_mpi_bcast_int(&m, code);
	qe_mpi_bcast_ints(&m, types, s->n_g);
	qe_mpi_bcast_double(&m, &bpw);
	if (code == QE_EXIT_OK) {
		if (m.rank == 0)
			record(out, s, types, a.name ? a.name : "mix", bpw, &a);
		code = verify(vargc, vargv, &a, verify_dir, s, types, &m);
	}
	if (m.rank == 0 && (code == QE_EXIT_OK || code == QE_EXIT_RUNTIME || code == QE_EXIT_CHECK)) {
		char g0[] = "gate", g2[] = "--rules", rules_path[4200];
		char *gv[] = { g0, verify_dir, g2, rules_path, NULL };
		snprintf(rules_path, sizeof(rules_path), "%s", a.rules);
		cmd_gate(4, gv);
		code = summary(out, scan_dir, verify_dir, a.name ? a.name : "mix", bpw, &a);
	}
	code = qe_mpi_bcast_int(&m, code);
	qe_mpi_end(&m);
	cJSON_Delete(rules);
	free(vargv);
	free(s);
	return code;
}
