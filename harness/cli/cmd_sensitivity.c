/* qeval sensitivity: which tensor groups a model minds having quantized. A
 * plan builder over `qeval run`: one recipe level per (group, low type)
 * quantizing only that group, the reference and a control; then the ranked
 * table and chart (harness/cli/scan.h, docs/recipes.md). */
#include "harness/cli/cli.h"
#include "harness/cli/scan.h"
#include "harness/base/json.h"
#include "harness/base/opt.h"
#include "harness/base/sys.h"
#include "harness/mpi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
	"usage: qeval sensitivity --model M.gguf [--types q2_K,...] [--groups kind|layer|layers:K|kind,layers:K]\n"
	"                         [--base TYPE] [--imatrix FILE] [--jobs N] [--out DIR] [any 'qeval run' option]\n"
	"\n"
	"Quantizes one tensor group at a time to a low type while every other tensor\n"
	"stays at the reference (or at --base, a file type such as Q4_K_M), runs the\n"
	"tasks given (as for 'qeval run': --tasks kld --text FILE, --mmlu DIR, --ceval\n"
	"DIR, --pairs FILE, --limit N, ...) on every such level, and ranks the groups by\n"
	"the drift they cause against the bits/weight they save: DIR/sensitivity.md,\n"
	"DIR/sensitivity.svg, beside the run's own reports. A killed scan resumes with\n"
	"the same command (or --resume DIR). Groups run in parallel with --jobs N (N\n"
	"processes on this machine, a GPU each where several are visible) or under\n"
	"mpirun -np N.\n"
	"\n"
	"  --types LIST     low types, ggml names (default q2_K); each group at each\n"
	"  --groups HOW     kind: attn_q, attn_k, ..., token_embd, output over every layer\n"
	"                   (default); layer: every kind of one layer; layers:K: every\n"
	"                   kind of K consecutive layers; kind,layer or kind,layers:K: both\n"
	"  --base TYPE      everything else at this file type's mix instead of the reference\n"
	"  --imatrix FILE   an importance matrix (or calibration text) for every level\n"
	"  -o, --out DIR    default qeval-sensitivity\n";

struct sargs {
	const char *model, *out, *types, *groups, *base, *imatrix;
	const char *bad; /* an option given without its value */
	int help;
};

/* take the scan's own flags out of argv (the rest goes to qeval run); note
 * --model and --out, which both use */
static int take_flags(int *argc, char **argv, struct sargs *a)
{
	int n = 1;

	for (int i = 1; i < *argc; i++) {
		const char *f = argv[i], *v = i + 1 < *argc ? argv[i + 1] : NULL;
		const char **own = !strcmp(f, "--types") ? &a->types : !strcmp(f, "--groups") ? &a->groups
				   : !strcmp(f, "--base")                        ? &a->base
				   : !strcmp(f, "--imatrix")                     ? &a->imatrix
										 : NULL;
		if (!strcmp(f, "--help") || !strcmp(f, "-h"))
			a->help = 1;
		if (own) {
			if (!v) {
				a->bad = f;
				return -1;
			}
			*own = v;
			i++;
			continue;
		}
		if ((!strcmp(f, "--model") || !strcmp(f, "-m")) && v)
			a->model = v;
		if ((!strcmp(f, "--out") || !strcmp(f, "-o")) && v)
			a->out = v;
		argv[n++] = argv[i];
	}
	*argc = n;
	return 0;
}

static int scan_new(const struct sargs *a, struct qe_scan *s, struct qe_err *err)
{
	int rc;

	memset(s, 0, sizeof(*s));
	if (!a->model)
		return qe_fail(err, QE_EINVAL, "--model is required");
	snprintf(s->base, sizeof(s->base), "%s", a->base ? a->base : "");
	snprintf(s->imatrix, sizeof(s->imatrix), "%s", a->imatrix ? a->imatrix : "");
	if ((rc = qe_scan_types(a->types ? a->types : "q2_K", s, err)) != 0)
		return rc;
	return qe_scan_groups(a->model, a->groups ? a->groups : "kind", s, err);
}

int qe_scan_run(int argc, char **argv, const char *out, const struct qe_scan *s, int resume, int lead,
		const char *who)
{
	cJSON *plan = NULL, *sj = qe_scan_to_json(s);
	struct qe_err err = { 0 };
	char path[4200];
	int code;

	qe_mkdirs(out, 0755);
	snprintf(path, sizeof(path), "%s/sensitivity.json", out);
	if (lead && !resume && qe_json_write_file(path, sj, &err) != 0) {
		cJSON_Delete(sj);
		return qe_opt_die(who, &err);
	}
	cJSON_Delete(sj);
	if (!resume) {
		plan = cJSON_CreateObject();
		cJSON_AddStringToObject(plan, "model", s->model);
		cJSON_AddItemToObject(plan, "levels", qe_scan_levels(s));
		cJSON_AddStringToObject(plan, "reference", s->ref_name);
		cJSON_AddStringToObject(plan, "out", out);
	}
	code = qe_run_command(argc, argv, plan, resume ? out : NULL, who);
	cJSON_Delete(plan);
	if (code != QE_EXIT_OK && code != QE_EXIT_RUNTIME && code != QE_EXIT_CHECK)
		return code;
	if (lead && qe_scan_report(out, s, &err) != 0)
		return qe_opt_die(who, &err);
	return code;
}

/* DIR/sensitivity.json of a scan that ran there: 1 and *s, 0 when none */
int qe_scan_load(const char *out, struct qe_scan *s, struct qe_err *err)
{
	char path[4200];
	struct stat st;
	cJSON *j = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/sensitivity.json", out);
	if (stat(path, &st) != 0)
		return 0;
	if ((rc = qe_json_read_file(path, &j, err)) == 0)
		rc = qe_scan_from_json(j, s, err);
	cJSON_Delete(j);
	return rc ? rc : 1;
}

int cmd_sensitivity(int argc, char **argv)
{
	struct sargs a = { 0 };
	struct qe_err err = { 0 };
	struct qe_scan *s = calloc(1, sizeof(*s));
	char plan[4200];
	struct stat st;
	struct qe_mpi m;
	const char *out;
	int rc, code, resume;

	if (!s)
		return QE_EXIT_RUNTIME;
	if (take_flags(&argc, argv, &a) != 0 || a.help) {
		free(s);
		if (a.help)
			return qe_opt_help(usage);
		fprintf(stderr, "qeval sensitivity: option '%s' needs a value (see 'qeval sensitivity --help')\n", a.bad);
		return QE_EXIT_USAGE;
	}
	out = a.out ? a.out : "qeval-sensitivity";
	snprintf(plan, sizeof(plan), "%s/plan.json", out);
	if (qe_mpi_start(&m, &err) != 0) {
		free(s);
		return qe_opt_die("sensitivity", &err);
	}
	/* a scan ran there: finish it (under mpirun, as rank 0 sees it before
	 * it writes the new run's plan.json) */
	resume = qe_mpi_bcast_int(&m, stat(plan, &st) == 0);
	rc = resume ? qe_scan_load(out, s, &err) : scan_new(&a, s, &err);
	if (resume && rc == 0)
		rc = qe_fail(&err, QE_EINPUT, "'%s' holds a run that is not a sensitivity scan", out);
	if (qe_mpi_max_int(&m, rc < 0) != 0) { /* every rank stops when one cannot go on */
		free(s);
		qe_mpi_end(&m);
		return rc < 0 ? qe_opt_die("sensitivity", &err) : QE_EXIT_USAGE;
	}
	code = qe_scan_run(argc, argv, out, s, resume, m.rank == 0, "sensitivity");
	qe_mpi_end(&m);
	free(s);
	return code;
}
