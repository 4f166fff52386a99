/* qeval run: the reference and every level over the tasks, into a directory. */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "harness/run.h"
#include "harness/tasks/task.h"
#include "reports/gate.h"
#include "reports/report.h"
#include "reports/summary.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char usage[] =
	"usage: qeval run --model M.gguf [--levels L1,L2,...] --tasks T1,T2 [data] [options]\n"
	"       qeval run --plan plan.json [options]\n"
	"       qeval run --resume DIR\n"
	"\n"
	"Runs the reference and every quantization level over the tasks, one level\n"
	"at a time (each in its own process), writing per-item records as it goes,\n"
	"then results.json and the reports into the output directory.\n"
	"\n"
	"What to run:\n"
	"  -m, --model FILE       the reference model (F16/BF16/F32 GGUF); levels are made from it\n"
	"  -l, --levels LIST      default F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K; a type or NAME=FILE.gguf\n"
	"      --reference NAME   the level the others are compared with (default: the first)\n"
	"      --tasks LIST       mmlu, ceval, pairs, speed (default: those whose data is given)\n"
	"      --plan FILE        a plan file (JSON, docs/cli.md); flags given as well override it\n"
	"      --resume DIR       continue a killed or failed run; finished items are not redone\n"
	"Data and task options:\n"
	"      --mmlu DIR         MMLU folder (data/{dev,val,test}/*.csv)\n"
	"      --ceval DIR        C-Eval folder ({dev,val,test}/*.csv)\n"
	"      --mmlu-split S     default test;   --ceval-split S  default val\n"
	"      --shots K          few-shot examples per question (default 5, 0 allowed)\n"
	"      --subjects LIST    only these subjects\n"
	"      --pairs NAME=FILE  a sentence-pair file (repeatable); see docs/tasks.md for its options\n"
	"      --speed-pp LIST    prompt sizes (default 512);  --speed-tg LIST  generation sizes (default 128)\n"
	"      --speed-reps N     repetitions (default 5); --speed-depth N  tokens already in the context (llama-bench -d)\n"
	"      --limit N          the first N items per subject / pairs per file (smoke runs; marked partial)\n"
	"      --seed N           bootstrap seed (default 1234)\n"
	"Engine:\n"
	"      --runtime NAME     default llamacpp;  --url URL  for server runtimes\n"
	"  -t, --threads N        default: the CPUs this process may use;  --threads-batch N\n"
	"      --ctx N            context tokens (default min(trained, 4096))\n"
	"      --batch N, --ubatch N  scoring default: the context (a prompt in one micro-batch)\n"
	"      --ngl N            GPU layers (-1 = all)\n"
	"      --cache DIR        quantization cache (default $QEVAL_CACHE or ~/.cache/qeval)\n"
	"      --no-prefix-reuse  evaluate every prompt from scratch (to measure what reuse saves)\n"
	"Output:\n"
	"  -o, --out DIR          default qeval-runs/<model>-<date>\n"
	"      --gate RULES.json  check release gates at the end (exit 1 when one fails)\n"
	"  -q, --quiet            no progress display;  --no-summary  no summary table on stdout\n"
	"      --no-isolate       run levels in this process (debugging; an engine abort ends the run)\n"
	"\n"
	"Exit: 0 ok, 1 a gate failed, 2 bad usage/plan/data, 3 a level failed (the others still ran).\n";

enum {
	O_REF = 256, O_TASKS, O_PLAN, O_RESUME, O_MMLU, O_CEVAL, O_MSPLIT, O_CSPLIT, O_SHOTS, O_SUBJ, O_PAIRS,
	O_PP, O_TG, O_REPS, O_LIMIT, O_SEED, O_RUNTIME, O_URL, O_TB, O_CTX, O_BATCH, O_UBATCH, O_NGL, O_CACHE,
	O_GATE, O_NOISO, O_VERBOSE, O_NOREUSE, O_DEPTH, O_NOSUM,
};

/* whole-number options that go straight into the plan (runtime = 1: into
 * its "runtime" object) */
struct num_opt {
	int id;
	const char *flag, *key;
	long lo, hi;
	int runtime;
};

static const struct num_opt num_opts[] = {
	{ 't', "--threads", "threads", 1, 4096, 1 },
	{ O_TB, "--threads-batch", "threads_batch", 1, 4096, 1 },
	{ O_CTX, "--ctx", "ctx", 16, 1 << 24, 1 },
	{ O_BATCH, "--batch", "batch", 1, 1 << 20, 1 },
	{ O_UBATCH, "--ubatch", "ubatch", 1, 1 << 20, 1 },
	{ O_NGL, "--ngl", "ngl", -1, 100000, 1 },
	{ O_LIMIT, "--limit", "limit", 0, 1L << 40, 0 },
	{ O_SEED, "--seed", "seed", 0, 1L << 52, 0 },
};

static const struct num_opt *num_opt_find(int id)
{
	for (size_t i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]); i++)
		if (num_opts[i].id == id)
			return &num_opts[i];
	return NULL;
}

static cJSON *obj(cJSON *parent, const char *key)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);

	if (!cJSON_IsObject(o)) {
		cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
		o = cJSON_AddObjectToObject(parent, key);
	}
	return o;
}

static void put_num(cJSON *o, const char *k, double v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddNumberToObject(o, k, v);
}

static void put_str(cJSON *o, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddStringToObject(o, k, v);
}

static cJSON *num_list(const char *s, const char *name, struct qe_err *err)
{
	char **items;
	size_t n = qe_opt_split(s, &items);
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; i < n; i++) {
		long v;
		if (qe_opt_int(items[i], 1, 1 << 20, name, &v, err)) {
			free(items);
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)v));
	}
	free(items);
	return a;
}

/* the task object of the plan named `name`, created when absent */
static cJSON *task_obj(cJSON *plan, const char *task, const char *name)
{
	cJSON *tasks = cJSON_GetObjectItemCaseSensitive(plan, "tasks"), *t;

	if (!cJSON_IsArray(tasks)) {
		cJSON_DeleteItemFromObjectCaseSensitive(plan, "tasks");
		tasks = cJSON_AddArrayToObject(plan, "tasks");
	}
	cJSON_ArrayForEach(t, tasks)
		if (!strcmp(qe_json_str(t, "name", qe_json_str(t, "task", "")), name))
			return t;
	t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "task", task);
	cJSON_AddStringToObject(t, "name", name);
	cJSON_AddItemToArray(tasks, t);
	return t;
}

/* ---- the command ------------------------------------------------------------ */

int cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "model", required_argument, 0, 'm' }, { "levels", required_argument, 0, 'l' },
		{ "reference", required_argument, 0, O_REF }, { "tasks", required_argument, 0, O_TASKS },
		{ "plan", required_argument, 0, O_PLAN }, { "resume", required_argument, 0, O_RESUME },
		{ "mmlu", required_argument, 0, O_MMLU }, { "ceval", required_argument, 0, O_CEVAL },
		{ "mmlu-split", required_argument, 0, O_MSPLIT }, { "ceval-split", required_argument, 0, O_CSPLIT },
		{ "shots", required_argument, 0, O_SHOTS }, { "subjects", required_argument, 0, O_SUBJ },
		{ "pairs", required_argument, 0, O_PAIRS }, { "speed-pp", required_argument, 0, O_PP },
		{ "speed-tg", required_argument, 0, O_TG }, { "speed-reps", required_argument, 0, O_REPS },
		{ "speed-depth", required_argument, 0, O_DEPTH }, { "no-summary", no_argument, 0, O_NOSUM },
		{ "limit", required_argument, 0, O_LIMIT }, { "seed", required_argument, 0, O_SEED },
		{ "runtime", required_argument, 0, O_RUNTIME }, { "url", required_argument, 0, O_URL },
		{ "threads", required_argument, 0, 't' }, { "threads-batch", required_argument, 0, O_TB },
		{ "ctx", required_argument, 0, O_CTX }, { "batch", required_argument, 0, O_BATCH },
		{ "ubatch", required_argument, 0, O_UBATCH }, { "ngl", required_argument, 0, O_NGL },
		{ "cache", required_argument, 0, O_CACHE }, { "out", required_argument, 0, 'o' },
		{ "gate", required_argument, 0, O_GATE }, { "quiet", no_argument, 0, 'q' },
		{ "no-isolate", no_argument, 0, O_NOISO }, { "no-prefix-reuse", no_argument, 0, O_NOREUSE }, { "verbose", no_argument, 0, O_VERBOSE },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
	};
	struct qe_err err = { 0 };
	struct qe_run_status st;
	cJSON *plan = NULL, *cli = cJSON_CreateObject(), *rto, *tasks_given = NULL, *pairs = cJSON_CreateArray();
	const char *plan_file = NULL, *resume = NULL, *gate = NULL, *tasks_arg = NULL;
	const char *mmlu = NULL, *ceval = NULL, *msplit = NULL, *csplit = NULL, *subjects = NULL;
	cJSON *pp = NULL, *tg = NULL;
	long v, shots = -1, reps = -1, depth = -1;
	int summary = 1;
	int c, rc, code;
	char outbuf[4200];

	optind = 1;
	rto = obj(cli, "runtime");
	while ((c = getopt_long(argc, argv, "m:l:t:o:qh", lo, NULL)) != -1) {
		const struct num_opt *no = num_opt_find(c);
		if (no) {
			if (qe_opt_int(optarg, no->lo, no->hi, no->flag, &v, &err))
				goto usage_err;
			put_num(no->runtime ? rto : cli, no->key, (double)v);
			continue;
		}
		switch (c) {
		case 'm': put_str(cli, "model", optarg); break;
		case 'l': {
			char **items;
			size_t n = qe_opt_split(optarg, &items);
			cJSON *a = cJSON_CreateArray();
			for (size_t i = 0; i < n; i++)
				cJSON_AddItemToArray(a, cJSON_CreateString(items[i]));
			free(items);
			cJSON_DeleteItemFromObjectCaseSensitive(cli, "levels");
			cJSON_AddItemToObject(cli, "levels", a);
			break;
		}
		case O_REF: put_str(cli, "reference", optarg); break;
		case O_TASKS: tasks_arg = optarg; break;
		case O_PLAN: plan_file = optarg; break;
		case O_RESUME: resume = optarg; break;
		case O_MMLU: mmlu = optarg; break;
		case O_CEVAL: ceval = optarg; break;
		case O_MSPLIT: msplit = optarg; break;
		case O_CSPLIT: csplit = optarg; break;
		case O_SUBJ: subjects = optarg; break;
		case O_PAIRS: cJSON_AddItemToArray(pairs, cJSON_CreateString(optarg)); break;
		case O_SHOTS:
			if (qe_opt_int(optarg, 0, 64, "--shots", &shots, &err))
				goto usage_err;
			break;
		case O_REPS:
			if (qe_opt_int(optarg, 1, 1000, "--speed-reps", &reps, &err))
				goto usage_err;
			break;
		case O_NOSUM: summary = 0; break;
		case O_DEPTH:
			if (qe_opt_int(optarg, 0, 1 << 20, "--speed-depth", &depth, &err))
				goto usage_err;
			break;
		case O_PP:
			cJSON_Delete(pp);
			if (!(pp = num_list(optarg, "--speed-pp", &err)))
				goto usage_err;
			break;
		case O_TG:
			cJSON_Delete(tg);
			if (!(tg = num_list(optarg, "--speed-tg", &err)))
				goto usage_err;
			break;
		case O_RUNTIME: put_str(rto, "name", optarg); break;
		case O_URL: put_str(rto, "url", optarg); break;
		case O_CACHE: put_str(cli, "cache", optarg); break;
		case 'o': put_str(cli, "out", optarg); break;
		case O_GATE: gate = optarg; break;
		case 'q': cJSON_AddBoolToObject(cli, "quiet", 1); break;
		case O_NOISO: cJSON_AddBoolToObject(cli, "isolate", 0); break;
		case O_VERBOSE: cJSON_AddBoolToObject(rto, "verbose", 1); break;
		case O_NOREUSE: cJSON_AddBoolToObject(rto, "prefix_reuse", 0); break;
		case 'h':
			cJSON_Delete(cli);
			cJSON_Delete(pairs);
			return qe_opt_help(usage);
		default:
			cJSON_Delete(cli);
			cJSON_Delete(pairs);
			fputs(usage, stderr);
			return QE_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		qe_fail(&err, QE_EINVAL, "unexpected argument '%s'", argv[optind]);
		goto usage_err;
	}

	/* the plan: --resume DIR's plan.json, else --plan FILE, else empty; flags override */
	if (resume) {
		snprintf(outbuf, sizeof(outbuf), "%s/plan.json", resume);
		if ((rc = qe_json_read_file(outbuf, &plan, &err)) != 0) {
			qe_err_wrap(&err, "cannot resume '%s'", resume);
			goto fail;
		}
		put_str(plan, "out", resume);
	} else if (plan_file) {
		if ((rc = qe_json_read_file(plan_file, &plan, &err)) != 0)
			goto fail;
		if (!cJSON_IsObject(plan)) {
			rc = qe_fail(&err, QE_EINPUT, "%s: a plan is a JSON object", plan_file);
			goto fail;
		}
	} else {
		plan = cJSON_CreateObject();
	}
	{
		cJSON *it = cli->child;
		while (it) {
			cJSON *next = it->next;
			if (!strcmp(it->string, "runtime")) {
				cJSON *prt = obj(plan, "runtime"), *f = it->child;
				for (; f; f = f->next) {
					cJSON_DeleteItemFromObjectCaseSensitive(prt, f->string);
					cJSON_AddItemToObject(prt, f->string, cJSON_Duplicate(f, 1));
				}
			} else {
				cJSON_DeleteItemFromObjectCaseSensitive(plan, it->string);
				cJSON_AddItemToObject(plan, it->string, cJSON_Duplicate(it, 1));
			}
			it = next;
		}
	}

	/* tasks from flags */
	if (tasks_arg) {
		char **items;
		size_t n = qe_opt_split(tasks_arg, &items);
		tasks_given = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++) {
			if (!qe_task_find(items[i])) {
				rc = qe_fail(&err, QE_EINVAL, "unknown task '%s' (see 'qeval list tasks')", items[i]);
				free(items);
				goto fail;
			}
			cJSON_AddItemToArray(tasks_given, cJSON_CreateString(items[i]));
		}
		free(items);
	}
	{
		cJSON *t;
		int want_mmlu = 0, want_ceval = 0, want_pairs = 0, want_speed = 0;
		const cJSON *g;
		cJSON_ArrayForEach(g, tasks_given) {
			want_mmlu |= !strcmp(g->valuestring, "mmlu");
			want_ceval |= !strcmp(g->valuestring, "ceval");
			want_pairs |= !strcmp(g->valuestring, "pairs");
			want_speed |= !strcmp(g->valuestring, "speed");
		}
		if (!tasks_given) {
			want_mmlu = mmlu != NULL;
			want_ceval = ceval != NULL;
			want_pairs = cJSON_GetArraySize(pairs) > 0;
			want_speed = pp || tg || reps > 0;
		}
		if (want_mmlu) {
			t = task_obj(plan, "mmlu", "mmlu");
			if (mmlu)
				put_str(t, "dir", mmlu);
			if (msplit)
				put_str(t, "split", msplit);
			if (shots >= 0)
				put_num(t, "shots", (double)shots);
			if (subjects)
				put_str(t, "subjects", subjects);
		}
		if (want_ceval) {
			t = task_obj(plan, "ceval", "ceval");
			if (ceval)
				put_str(t, "dir", ceval);
			if (csplit)
				put_str(t, "split", csplit);
			if (shots >= 0)
				put_num(t, "shots", (double)shots);
			if (subjects && !mmlu)
				put_str(t, "subjects", subjects);
		}
		if (want_pairs) {
			const cJSON *p;
			if (cJSON_GetArraySize(pairs) == 0 && !resume && !plan_file) {
				rc = qe_fail(&err, QE_EINVAL, "task 'pairs' needs --pairs NAME=FILE");
				goto fail;
			}
			cJSON_ArrayForEach(p, pairs) {
				const char *eq = strchr(p->valuestring, '=');
				char name[128];
				const char *file = eq ? eq + 1 : p->valuestring;
				if (eq) {
					snprintf(name, sizeof(name), "%.*s", (int)(eq - p->valuestring), p->valuestring);
				} else {
					const char *b = strrchr(file, '/');
					snprintf(name, sizeof(name), "%s", b ? b + 1 : file);
					name[strcspn(name, ".")] = '\0';
				}
				t = task_obj(plan, "pairs", name);
				put_str(t, "file", file);
			}
		}
		if (want_speed) {
			t = task_obj(plan, "speed", "speed");
			if (pp) {
				cJSON_DeleteItemFromObjectCaseSensitive(t, "pp");
				cJSON_AddItemToObject(t, "pp", pp);
				pp = NULL;
			}
			if (tg) {
				cJSON_DeleteItemFromObjectCaseSensitive(t, "tg");
				cJSON_AddItemToObject(t, "tg", tg);
				tg = NULL;
			}
			if (reps > 0)
				put_num(t, "reps", (double)reps);
			if (depth >= 0)
				put_num(t, "depth", (double)depth);
		}
	}
	if (!cJSON_GetObjectItemCaseSensitive(plan, "levels")) {
		static const char *const def[] = { "F16", "Q8_0", "Q6_K", "Q4_K_M", "Q3_K_M", "Q2_K" };
		cJSON_AddItemToObject(plan, "levels", cJSON_CreateStringArray(def, 6));
		fprintf(stderr, "qeval run: levels (default): F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K\n");
	}
	if (!cJSON_GetObjectItemCaseSensitive(plan, "seed"))
		cJSON_AddNumberToObject(plan, "seed", 1234);
	if (!cJSON_GetObjectItemCaseSensitive(plan, "out")) {
		const char *m = qe_json_str(plan, "model", "model"), *b = strrchr(m, '/');
		char stem[256], when[32];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
		snprintf(stem, sizeof(stem), "%s", b ? b + 1 : m);
		stem[strcspn(stem, ".")] = '\0';
		snprintf(outbuf, sizeof(outbuf), "qeval-runs/%s-%s", stem, when);
		cJSON_AddStringToObject(plan, "out", outbuf);
		fprintf(stderr, "qeval run: output (default): %s\n", outbuf);
	}
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(plan, "tasks"))) {
		rc = qe_fail(&err, QE_EINVAL, "nothing to run: give --mmlu DIR, --ceval DIR, --pairs NAME=FILE or --tasks speed");
		goto fail;
	}

	rc = qe_run_plan(plan, resume != NULL, &st, &err);
	if (rc)
		goto fail;
	snprintf(outbuf, sizeof(outbuf), "%s", qe_json_str(plan, "out", "."));
	if (summary)
		qe_summary_print(outbuf, stdout);
	code = st.n_levels_failed ? QE_EXIT_RUNTIME : QE_EXIT_OK;
	if (gate) {
		char junit[4300];
		int n_failed = 0;
		snprintf(junit, sizeof(junit), "%s/junit.xml", outbuf);
		if (qe_gate_check(outbuf, gate, junit, &n_failed, &err) != 0) {
			fprintf(stderr, "qeval run: %s\n", err.msg);
			if (code == 0)
				code = qe_exit_code(err.code);
		} else if (n_failed > 0) {
			printf("\ngates: %d rule check(s) failed (%s/gate.json, %s)\n", n_failed, outbuf, junit);
			code = QE_EXIT_CHECK;
		} else {
			printf("\ngates: all passed\n");
		}
	}
	{
		struct qe_report_stats rs;
		struct qe_report_opts ro = qe_report_default_opts();
		memset(&rs, 0, sizeof(rs));
		ro.stats = &rs;
		if (qe_report_write_all(outbuf, &ro, &err) != 0) {
			fprintf(stderr, "qeval run: reports: %s\n", err.msg);
		} else {
			printf("\nreports: %s/report.md, %s/report.html, %s/summary.csv\n", outbuf, outbuf, outbuf);
			if (rs.charts_missing)
				printf("(gnuplot could not be run: report.html has no charts)\n");
		}
	}
	cJSON_Delete(plan);
	cJSON_Delete(cli);
	cJSON_Delete(pairs);
	cJSON_Delete(tasks_given);
	cJSON_Delete(pp);
	cJSON_Delete(tg);
	return code;
usage_err:
	rc = err.code ? err.code : QE_EINVAL;
fail:
	fprintf(stderr, "qeval run: %s\n", err.msg);
	cJSON_Delete(plan);
	cJSON_Delete(cli);
	cJSON_Delete(pairs);
	cJSON_Delete(tasks_given);
	cJSON_Delete(pp);
	cJSON_Delete(tg);
	return qe_exit_code(rc);
}
