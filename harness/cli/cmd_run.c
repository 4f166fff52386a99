/* qeval run: the reference and every level over the tasks, into a directory.
 *
 * A plan builder: the flags become keys of the plan's JSON (over --resume's
 * plan.json or a --plan file), the plan is checked once (harness/plan.h) and
 * handed to the pipeline. The flags come from tables: the plan's own keys
 * (below), and every task's option table (harness/tasks/), which gives
 * --TASK VALUE for its data, --TASK-KEY for each option and --KEY for the
 * options tasks share; --help is written from the same tables.
 */
#include "harness/cli/cli.h"
#include "harness/base/json.h"
#include "harness/base/opt.h"
#include "harness/base/text.h"
#include "harness/pipeline.h"
#include "harness/plan.h"
#include "harness/run.h"
#include "harness/scale.h"
#include "harness/tasks/task.h"
#include "harness/base/optab.h"
#include "runtimes/runtime.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- the flags ------------------------------------------------------------- */

enum flag_kind {
	F_PLAN,   /* a key of the plan (qe_plan_optab) */
	F_RT,     /* a key of the plan's runtime object (qe_plan_runtime_optab) */
	F_CLI,    /* the command's own: handled below */
	F_MAIN,   /* a task's data: --TASK VALUE */
	F_TASK,   /* a task's option: --TASK-KEY VALUE */
	F_SHARED, /* an option several tasks have: --KEY VALUE */
};

enum { C_TASKS = 1, C_PLAN, C_RESUME, C_GATE, C_NOSUM, C_HELP, C_SHARD, C_BALANCE, C_JOBS };

/* The plan's own flags, in help order. */
static const struct gflag {
	const char *name;
	char short_name;
	int kind;           /* F_PLAN, F_RT or F_CLI */
	const char *key;    /* the plan key (F_PLAN/F_RT) */
	int cli;            /* C_* for F_CLI */
	const char *value;  /* a flag without argument sets this JSON value; NULL = takes one */
	const char *section;
	const char *help;   /* NULL = the plan key's help */
	const char *meta;
} gflags[] = {
	{ "model", 'm', F_PLAN, "model", 0, NULL, "What to run", NULL, NULL },
	{ "levels", 'l', F_PLAN, "levels", 0, NULL, NULL, NULL, NULL },
	{ "reference", 0, F_PLAN, "reference", 0, NULL, NULL, NULL, NULL },
	{ "tasks", 0, F_CLI, NULL, C_TASKS, NULL, NULL, "the tasks (default: those whose data or options are given)", "LIST" },
	{ "plan", 0, F_CLI, NULL, C_PLAN, NULL, NULL, "a plan file (JSON, docs/cli.md); flags given as well override it", "FILE" },
	{ "resume", 0, F_CLI, NULL, C_RESUME, NULL, NULL, "continue a killed or failed run; finished items are not redone", "DIR" },
	{ "shard", 0, F_CLI, NULL, C_SHARD, NULL, NULL,
	  "run shard I of N of the plan's units only (then: qeval merge; docs/scale-out.md)", "I/N" },
	{ "jobs", 'j', F_CLI, NULL, C_JOBS, NULL, NULL,
	  "N shards at once on this machine, merged: CPUs shared out, a GPU each where several", "N" },
	{ "balance-from", 0, F_CLI, NULL, C_BALANCE, NULL, NULL,
	  "shards, ranks: weigh each level by its measured time in this finished run", "DIR" },
	{ "limit", 0, F_PLAN, "limit", 0, NULL, NULL, NULL, NULL },
	{ "seed", 0, F_PLAN, "seed", 0, NULL, NULL, NULL, NULL },
	{ "runtime", 0, F_RT, "name", 0, NULL, "Engine", NULL, NULL },
	{ "url", 0, F_RT, "url", 0, NULL, NULL, NULL, NULL },
	{ "threads", 't', F_RT, "threads", 0, NULL, NULL, NULL, NULL },
	{ "threads-batch", 0, F_RT, "threads_batch", 0, NULL, NULL, NULL, NULL },
	{ "ctx", 0, F_RT, "ctx", 0, NULL, NULL, NULL, NULL },
	{ "batch", 0, F_RT, "batch", 0, NULL, NULL, NULL, NULL },
	{ "ubatch", 0, F_RT, "ubatch", 0, NULL, NULL, NULL, NULL },
	{ "seqs", 0, F_RT, "seqs", 0, NULL, NULL, NULL, NULL },
	{ "contexts", 0, F_RT, "contexts", 0, NULL, NULL, NULL, NULL },
	{ "ngl", 0, F_RT, "ngl", 0, NULL, NULL, NULL, NULL },
	{ "cache", 0, F_PLAN, "cache", 0, NULL, NULL, NULL, NULL },
	{ "no-prefix-reuse", 0, F_RT, "prefix_reuse", 0, "false", NULL,
	  "evaluate every prompt from scratch (to measure what reuse saves)", NULL },
	{ "verbose", 0, F_RT, "verbose", 0, "true", NULL, NULL, NULL },
	{ "out", 'o', F_PLAN, "out", 0, NULL, "Output", NULL, NULL },
	{ "gate", 0, F_CLI, NULL, C_GATE, NULL, NULL, "check release gates at the end (exit 1 when one fails)", "RULES.json" },
	{ "quiet", 'q', F_PLAN, "quiet", 0, "true", NULL, NULL, NULL },
	{ "no-summary", 0, F_CLI, NULL, C_NOSUM, NULL, NULL, "no summary table on stdout", NULL },
	{ "no-isolate", 0, F_PLAN, "isolate", 0, "false", NULL,
	  "run levels in this process (debugging; an engine abort ends the run)", NULL },
	{ "help", 'h', F_CLI, NULL, C_HELP, NULL, NULL, "this text", NULL },
};
#define N_GFLAGS (sizeof(gflags) / sizeof(gflags[0]))

#define MAX_FLAGS 256

/* One flag of the table the command parses with. */
struct flagdef {
	char name[64];
	int kind;
	const struct gflag *g;        /* F_PLAN, F_RT, F_CLI */
	const struct qe_task *task;   /* F_MAIN, F_TASK */
	const struct qe_optab *opt;   /* the option it sets */
};

struct flags {
	struct flagdef def[MAX_FLAGS];
	size_t n;
};

static void add_flag(struct flags *f, const char *name, int kind, const struct gflag *g, const struct qe_task *t,
		     const struct qe_optab *o)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->def[i].name, name))
			return; /* a shared key: one flag for every task that has it */
	if (f->n == MAX_FLAGS)
		return;
	snprintf(f->def[f->n].name, sizeof(f->def[0].name), "%s", name);
	f->def[f->n].kind = kind;
	f->def[f->n].g = g;
	f->def[f->n].task = t;
	f->def[f->n].opt = o;
	f->n++;
}

/* "threads_batch" -> "threads-batch" */
static void dashed(char *buf, size_t cap, const char *prefix, const char *key)
{
	snprintf(buf, cap, "%s%s%s", prefix ? prefix : "", prefix ? "-" : "", key);
	for (char *p = buf; *p; p++)
		if (*p == '_')
			*p = '-';
}

static const struct qe_optab *gflag_opt(const struct gflag *g)
{
	if (g->kind == F_PLAN)
		return qe_optab_find(qe_plan_optab, g->key);
	if (g->kind == F_RT)
		return qe_optab_find(qe_plan_runtime_optab, g->key);
	return NULL;
}

static void build_flags(struct flags *f)
{
	char name[64];

	f->n = 0;
	for (size_t i = 0; i < N_GFLAGS; i++)
		add_flag(f, gflags[i].name, gflags[i].kind, &gflags[i], NULL, gflag_opt(&gflags[i]));
	for (const struct qe_task *const *t = qe_task_registry; *t; t++)
		for (const struct qe_optab *o = (*t)->options; o && o->key; o++) {
			if (o->flags & QE_OF_NOFLAG)
				continue;
			if (o->flags & QE_OF_MAIN) {
				add_flag(f, (*t)->name, F_MAIN, NULL, *t, o);
				continue;
			}
			dashed(name, sizeof(name), (*t)->name, o->key);
			add_flag(f, name, F_TASK, NULL, *t, o);
		}
	for (const struct qe_task *const *t = qe_task_registry; *t; t++)
		for (const struct qe_optab *o = (*t)->options; o && o->key; o++)
			if (o->flags & QE_OF_SHARED) {
				dashed(name, sizeof(name), NULL, o->key);
				add_flag(f, name, F_SHARED, NULL, NULL, o);
			}
}

/* ---- help -------------------------------------------------------------------- */

static void help_line(struct qe_text *t, const char *flag, char short_name, const char *meta, const char *help)
{
	char left[96];

	if (short_name)
		snprintf(left, sizeof(left), "  -%c, --%s%s%s", short_name, flag, meta ? " " : "", meta ? meta : "");
	else
		snprintf(left, sizeof(left), "      --%s%s%s", flag, meta ? " " : "", meta ? meta : "");
	qe_text_printf(t, "%-28s %s\n", left, help ? help : "");
}

static char *usage_text(const struct flags *f)
{
	struct qe_text t = { 0 };

	qe_text_put(&t, "usage: qeval run --model M.gguf [--levels L1,L2,...] [--tasks T1,T2] [data] [options]\n"
			"       qeval run --plan plan.json [options]\n"
			"       qeval run --resume DIR\n"
			"       qeval run PLAN.json --shard I/N --out DIR_I   (then qeval merge OUT DIR_0 ...)\n"
			"       mpirun -np N qeval run PLAN.json --out DIR    (built with make MPI=1)\n"
			"\n"
			"Runs the reference and every quantization level over the tasks, one level\n"
			"at a time (each in its own process), writing per-item records as it goes,\n"
			"then results.json and the reports into the output directory.\n\n");
	for (size_t i = 0; i < N_GFLAGS; i++) {
		const struct gflag *g = &gflags[i];
		const struct qe_optab *o = gflag_opt(g);
		if (g->section)
			qe_text_printf(&t, "%s%s:\n", i ? "\n" : "", g->section);
		help_line(&t, g->name, g->short_name, g->value ? NULL : g->meta ? g->meta : o ? qe_optab_meta(o) : NULL,
			  g->help ? g->help : o ? o->help : "");
		if (!strcmp(g->name, "seed")) {
			/* the tasks' flags follow "What to run" */
			qe_text_put(&t, "\nTasks (each option also a plan key of the task's object, docs/tasks.md):\n");
			for (size_t k = 0; k < f->n; k++) {
				const struct flagdef *d = &f->def[k];
				char h[256];
				if (d->kind == F_MAIN) {
					snprintf(h, sizeof(h), "%s: %s", d->task->name, d->opt->help);
					help_line(&t, d->name, 0, qe_optab_meta(d->opt), h);
				} else if (d->kind == F_TASK || d->kind == F_SHARED) {
					help_line(&t, d->name, 0, qe_optab_meta(d->opt),
						  d->kind == F_SHARED ? "every task that has it (see the task's flag)" : d->opt->help);
				}
			}
		}
	}
	qe_text_put(&t, "\nExit: 0 ok, 1 a gate failed, 2 bad usage/plan/data, 3 a level failed (the others still ran).\n");
	return qe_text_take(&t);
}

/* ---- from flags to the plan ---------------------------------------------------- */

/* What the command line said, in order. */
struct given {
	const struct flagdef *def;
	const char *value;   /* the argument, NULL for a flag without one */
};

struct cli {
	struct given g[512];
	size_t n;
	const char *tasks, *plan_file, *resume, *gate, *balance_from;
	int summary;
	int shard, n_shards;  /* --shard I/N; n_shards 0 = not given */
	int jobs;             /* --jobs N; 0 = not given */
};

/* the value of a flag as the plan's JSON value */
static cJSON *flag_value(const struct flagdef *d, const char *text, struct qe_err *err)
{
	char flag[80];

	snprintf(flag, sizeof(flag), "--%s", d->name);
	if (d->g && d->g->value)
		return cJSON_Parse(d->g->value);
	if (d->g && d->g->kind == F_PLAN && !strcmp(d->g->key, "levels")) {
		char **items;
		size_t n = qe_opt_split(text, &items);
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; a && i < n; i++)
			cJSON_AddItemToArray(a, cJSON_CreateString(items[i]));
		free(items);
		return a;
	}
	return qe_optab_value_from_text(d->opt, text, flag, err);
}

static int has_task(const cJSON *plan, const char *task)
{
	const cJSON *t;

	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(plan, "tasks"))
		if (!strcmp(qe_json_str(t, "task", ""), task))
			return 1;
	return 0;
}

/* NAME=FILE -> the instance name and the value (name: the file's stem when
 * no NAME= is given) */
static const char *instance_of(const char *arg, char *name, size_t cap)
{
	const char *eq = strchr(arg, '='), *file = eq ? eq + 1 : arg, *b;

	if (eq) {
		snprintf(name, cap, "%.*s", (int)(eq - arg), arg);
		return file;
	}
	b = strrchr(file, '/');
	snprintf(name, cap, "%s", b ? b + 1 : file);
	name[strcspn(name, ".")] = '\0';
	return file;
}

/* 1 when list (a comma list, NULL = every task) names task */
static int listed(const char *list, const char *task)
{
	char **items;
	size_t n;
	int found = 0;

	if (!list)
		return 1;
	n = qe_opt_split(list, &items);
	for (size_t i = 0; i < n; i++)
		found |= !strcmp(items[i], task);
	free(items);
	return found;
}

/* Which tasks the command line selects: --tasks, else every task whose data
 * (--TASK) or option (--TASK-KEY) was given. Creates their objects. */
static int select_tasks(cJSON *plan, const struct cli *c, struct qe_err *err)
{
	char name[128];

	if (c->tasks) {
		char **items;
		size_t n = qe_opt_split(c->tasks, &items);
		for (size_t i = 0; i < n; i++) {
			const struct qe_task *t = qe_task_find(items[i]);
			const char *names[32], *near;
			size_t nn = 0;
			int instances = 0;
			if (!t) {
				for (const struct qe_task *const *r = qe_task_registry; *r && nn < 32; r++)
					names[nn++] = (*r)->name;
				near = qe_closest_word(items[i], names, nn);
				qe_fail(err, QE_EINVAL, "unknown task '%s'%s%s%s", items[i],
					near ? " (did you mean '" : " (see 'qeval list tasks')", near ? near : "", near ? "'?)" : "");
				free(items);
				return QE_EINVAL;
			}
			for (const struct qe_optab *o = t->options; o && o->key; o++)
				instances |= (o->flags & (QE_OF_MAIN | QE_OF_INSTANCE)) == (QE_OF_MAIN | QE_OF_INSTANCE);
			if (!instances) {
				qe_plan_json_task(plan, t->name, t->name);
				continue;
			}
			/* a task of named instances (--pairs NAME=FILE): each given one */
			for (size_t k = 0; k < c->n; k++)
				instances += c->g[k].def->kind == F_MAIN && c->g[k].def->task == t;
			if (instances == 1 && !has_task(plan, t->name)) {
				qe_fail(err, QE_EINVAL, "task '%s' needs --%s NAME=FILE", t->name, t->name);
				free(items);
				return QE_EINVAL;
			}
		}
		free(items);
	}
	for (size_t k = 0; k < c->n; k++) {
		const struct flagdef *d = c->g[k].def;
		if (d->kind == F_MAIN && (d->opt->flags & QE_OF_INSTANCE) && listed(c->tasks, d->task->name)) {
			const char *v = instance_of(c->g[k].value, name, sizeof(name));
			char other[64];
			for (size_t j = 0; j < k; j++) { /* --pairs x=A --pairs x=B: one would be lost */
				if (c->g[j].def != d)
					continue;
				instance_of(c->g[j].value, other, sizeof(other));
				if (!strcmp(other, name))
					return qe_fail(err, QE_EINVAL, "--%s %s: the name '%s' is given twice (--%s %s)", d->name,
						       c->g[k].value, name, d->name, c->g[j].value);
			}
			qe_plan_json_set(qe_plan_json_task(plan, d->task->name, name), d->opt->key, cJSON_CreateString(v));
		} else if ((d->kind == F_MAIN || d->kind == F_TASK) && !c->tasks) {
			qe_plan_json_task(plan, d->task->name, d->task->name);
		}
	}
	return 0;
}

/* Apply one task flag (F_MAIN, F_TASK) or shared flag to the plan's task
 * objects of that task (or, shared, of every task with that key). */
static int apply_task_flag(cJSON *plan, const struct given *g, struct qe_err *err)
{
	const struct flagdef *d = g->def;
	cJSON *t;
	const struct qe_task *first = NULL;
	int n_tasks = 0;

	if (d->kind == F_MAIN && (d->opt->flags & QE_OF_INSTANCE))
		return 0; /* done by select_tasks */
	if (d->kind == F_SHARED) {
		/* a shared flag that means different things to two selected tasks
		 * (their subject lists) is refused: say which flags to use */
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(plan, "tasks")) {
			const struct qe_task *tk = qe_task_find(qe_json_str(t, "task", ""));
			if (!tk || !qe_optab_find(tk->options, d->opt->key))
				continue;
			if (first && first != tk && !strcmp(d->opt->key, "subjects")) {
				return qe_fail(err, QE_EINVAL, "--%s is ambiguous with tasks %s and %s: use --%s-%s and --%s-%s",
					       d->name, first->name, tk->name, first->name, d->name, tk->name, d->name);
			}
			if (!first)
				first = tk;
			n_tasks++;
		}
	}
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(plan, "tasks")) {
		const struct qe_task *tk = qe_task_find(qe_json_str(t, "task", ""));
		const struct qe_optab *o;
		cJSON *v;
		if (!tk || (d->kind != F_SHARED && tk != d->task))
			continue;
		if (!(o = qe_optab_find(tk->options, d->opt->key)))
			continue;
		{
			char flag[80];
			snprintf(flag, sizeof(flag), "--%s", d->name);
			if (!(v = qe_optab_value_from_text(o, g->value, flag, err)))
				return err->code ? err->code : QE_ENOMEM;
		}
		qe_plan_json_set(t, o->key, v);
	}
	return 0;
}

/* the plan JSON: --resume DIR's plan.json, else --plan FILE, else `base` (or
 * an empty one); then every flag */
static int build_plan(cJSON *base, const struct cli *c, cJSON **out, struct qe_err *err)
{
	cJSON *plan = NULL, *rto;
	char path[4200];
	int rc;

	*out = NULL;
	if (c->resume) {
		snprintf(path, sizeof(path), "%s/plan.json", c->resume);
		if ((rc = qe_json_read_file(path, &plan, err)) != 0)
			return qe_err_wrap(err, "cannot resume '%s'", c->resume);
		if (!cJSON_IsObject(plan)) {
			cJSON_Delete(plan);
			return qe_fail(err, QE_EINPUT, "%s: a plan is a JSON object", path);
		}
		qe_plan_json_set(plan, "out", cJSON_CreateString(c->resume));
	} else if (c->plan_file) {
		if ((rc = qe_json_read_file(c->plan_file, &plan, err)) != 0)
			return rc;
		if (!cJSON_IsObject(plan)) {
			cJSON_Delete(plan);
			return qe_fail(err, QE_EINPUT, "%s: a plan is a JSON object", c->plan_file);
		}
	} else {
		plan = base ? cJSON_Duplicate(base, 1) : cJSON_CreateObject();
	}
	for (size_t k = 0; k < c->n; k++) {
		const struct flagdef *d = c->g[k].def;
		cJSON *v;
		if (d->kind != F_PLAN && d->kind != F_RT)
			continue;
		if (!(v = flag_value(d, c->g[k].value, err))) {
			cJSON_Delete(plan);
			return err->code ? err->code : QE_ENOMEM;
		}
		if (d->kind == F_RT) {
			rto = cJSON_GetObjectItemCaseSensitive(plan, "runtime");
			if (!cJSON_IsObject(rto)) {
				rto = cJSON_CreateObject();
				qe_plan_json_set(plan, "runtime", rto);
			}
			qe_plan_json_set(rto, d->g->key, v);
		} else {
			qe_plan_json_set(plan, d->g->key, v);
		}
	}
	if ((rc = select_tasks(plan, c, err)) != 0) {
		cJSON_Delete(plan);
		return rc;
	}
	for (size_t k = 0; k < c->n; k++)
		if (c->g[k].def->kind >= F_MAIN && (rc = apply_task_flag(plan, &c->g[k], err)) != 0) {
			cJSON_Delete(plan);
			return rc;
		}
	*out = plan;
	return 0;
}

/* defaults the plan file shows: levels, seed, out */
static void plan_defaults(cJSON *plan)
{
	if (!cJSON_GetObjectItemCaseSensitive(plan, "runtime"))
		cJSON_AddObjectToObject(plan, "runtime");
	if (!cJSON_GetObjectItemCaseSensitive(plan, "levels")) {
		static const char *const def[] = { "F16", "Q8_0", "Q6_K", "Q4_K_M", "Q3_K_M", "Q2_K" };
		cJSON_AddItemToObject(plan, "levels", cJSON_CreateStringArray(def, 6));
		fprintf(stderr, "qeval run: levels (default): F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K\n");
	}
	if (!cJSON_GetObjectItemCaseSensitive(plan, "seed"))
		cJSON_AddNumberToObject(plan, "seed", 1234);
	if (!cJSON_GetObjectItemCaseSensitive(plan, "out")) {
		const char *m = qe_json_str(plan, "model", "model"), *b = strrchr(m, '/');
		char stem[256], when[32], out[320];
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
		snprintf(stem, sizeof(stem), "%s", b ? b + 1 : m);
		stem[strcspn(stem, ".")] = '\0';
		snprintf(out, sizeof(out), "qeval-runs/%s-%s", stem, when);
		cJSON_AddStringToObject(plan, "out", out);
		fprintf(stderr, "qeval run: output (default): %s\n", out);
	}
}

/* "nothing to run: give --mmlu DIR, --ceval DIR, --pairs NAME=FILE or --tasks speed" */
static void nothing_to_run(const struct flags *f, struct qe_err *err)
{
	struct qe_text t = { 0 };

	qe_text_put(&t, "nothing to run: give ");
	for (size_t k = 0; k < f->n; k++)
		if (f->def[k].kind == F_MAIN)
			qe_text_printf(&t, "--%s %s, ", f->def[k].name, qe_optab_meta(f->def[k].opt));
	qe_text_put(&t, "or --tasks NAME");
	qe_fail(err, QE_EINVAL, "%s", qe_text_str(&t));
	qe_text_release(&t);
}

/* Parse argv (argv[0] the command) into c. Returns 0, 1 for --help (usage
 * printed), or a negative status with err filled. */
static int parse_args(int argc, char **argv, const struct flags *f, struct cli *c, struct qe_err *err)
{
	struct option lo[MAX_FLAGS + 1];
	char shorts[64] = ":";
	int ci, idx;

	memset(c, 0, sizeof(*c));
	c->summary = 1;
	for (size_t k = 0; k < f->n; k++) {
		const struct flagdef *d = &f->def[k];
		int noarg = d->g && (d->g->value || d->g->cli == C_NOSUM || d->g->cli == C_HELP);
		lo[k] = (struct option){ d->name, noarg ? no_argument : required_argument, NULL, 1000 + (int)k };
		if (d->g && d->g->short_name) {
			size_t l = strlen(shorts);
			shorts[l] = d->g->short_name;
			shorts[l + 1] = noarg ? '\0' : ':';
			shorts[l + 2] = '\0';
		}
	}
	lo[f->n] = (struct option){ 0, 0, 0, 0 };
	optind = 1;
	opterr = 0;
	while ((ci = getopt_long(argc, argv, shorts, lo, &idx)) != -1) {
		const struct flagdef *d = NULL;
		if (ci >= 1000) {
			d = &f->def[ci - 1000];
		} else if (ci == '?' || ci == ':') {
			const char *bad = argv[optind - 1], *names[MAX_FLAGS], *near;
			char word[80];
			for (size_t k = 0; k < f->n; k++)
				names[k] = f->def[k].name;
			snprintf(word, sizeof(word), "%s", bad + strspn(bad, "-"));
			word[strcspn(word, "=")] = '\0';
			if (ci == ':')
				return qe_fail(err, QE_EINVAL, "option '%s' needs a value", bad);
			near = qe_closest_word(word, names, f->n);
			if (near)
				return qe_fail(err, QE_EINVAL, "unknown option '%s' (did you mean '--%s'?)", bad, near);
			return qe_fail(err, QE_EINVAL, "unknown option '%s' (see 'qeval run --help')", bad);
		} else {
			for (size_t k = 0; k < f->n && !d; k++)
				if (f->def[k].g && f->def[k].g->short_name == ci)
					d = &f->def[k];
		}
		if (!d)
			return qe_fail(err, QE_EINVAL, "unknown option");
		if (d->kind == F_CLI) {
			switch (d->g->cli) {
			case C_TASKS: c->tasks = optarg; break;
			case C_PLAN: c->plan_file = optarg; break;
			case C_RESUME: c->resume = optarg; break;
			case C_GATE: c->gate = optarg; break;
			case C_NOSUM: c->summary = 0; break;
			case C_BALANCE: c->balance_from = optarg; break;
			case C_JOBS: {
				char *end = NULL;
				long n = strtol(optarg, &end, 10);
				if (!end || *end || n < 1 || n > 4096)
					return qe_fail(err, QE_EINVAL, "--jobs '%s': a count of 1 to 4096", optarg);
				c->jobs = (int)n;
				break;
			}
			case C_SHARD:
				if (qe_scale_parse_shard(optarg, &c->shard, &c->n_shards, err) != 0)
					return err->code;
				break;
			default: return 1;
			}
			continue;
		}
		if (c->n == sizeof(c->g) / sizeof(c->g[0]))
			return qe_fail(err, QE_EINVAL, "too many options");
		c->g[c->n].def = d;
		c->g[c->n].value = optarg;
		c->n++;
		/* check the value now, so a bad one is named before anything runs */
		if (d->kind != F_CLI && optarg) {
			cJSON *v = flag_value(d, optarg, err);
			if (!v)
				return err->code ? err->code : QE_ENOMEM;
			cJSON_Delete(v);
		}
	}
	/* qeval run PLAN.json: the plan file given without --plan */
	if (optind == argc - 1 && !c->plan_file && !c->resume && strlen(argv[optind]) > 5 &&
	    !strcmp(argv[optind] + strlen(argv[optind]) - 5, ".json"))
		c->plan_file = argv[optind++];
	if (optind < argc)
		return qe_fail(err, QE_EINVAL, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* A relative path of the plan made absolute against the current folder (the
 * part before a "?k=v" suffix), so that plan.json works from anywhere
 * (--resume from another folder). */
static void absolute(cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	char cwd[4096], buf[8300];

	if (!cJSON_IsString(v) || !v->valuestring[0] || v->valuestring[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return;
	snprintf(buf, sizeof(buf), "%s/%s", cwd, v->valuestring[0] == '.' && v->valuestring[1] == '/' ? v->valuestring + 2
												    : v->valuestring);
	qe_plan_json_set(obj, key, cJSON_CreateString(buf));
}

/* The model, the cache and every task option marked QE_OF_PATH. A model that
 * is not a file here (a served model's name) is left as it is. */
static void absolute_paths(cJSON *plan)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(plan, "model");
	cJSON *t;

	if (cJSON_IsString(v) && access(v->valuestring, F_OK) == 0)
		absolute(plan, "model");
	absolute(plan, "cache");
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(plan, "tasks")) {
		const struct qe_task *task = qe_task_find(qe_json_str(t, "task", ""));
		for (const struct qe_optab *o = task ? task->options : NULL; o && o->key; o++)
			if (o->flags & QE_OF_PATH)
				absolute(t, o->key);
	}
}

/* A level given as text that is neither NAME=PATH, a .gguf file nor one of
 * the runtime's quantization types: the closest type, for one line with
 * "did you mean" (the runtime's own check would only say it is unknown). */
static int check_levels(const cJSON *plan, struct qe_err *err)
{
	const char *rt = qe_json_str(cJSON_GetObjectItemCaseSensitive(plan, "runtime"), "name", "llamacpp");
	const char *const *types = qe_runtime_quant_types(rt);
	const cJSON *l;
	size_t n = 0;

	while (types && types[n])
		n++;
	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(plan, "levels")) {
		const char *s = cJSON_IsString(l) ? l->valuestring : NULL, *near;
		size_t len = s ? strlen(s) : 0;
		int known = 0;
		if (!s || !n || strchr(s, '=') || strchr(s, '/') || (len > 5 && !strcasecmp(s + len - 5, ".gguf")))
			continue;
		for (size_t i = 0; i < n && !known; i++)
			known = !strcasecmp(types[i], s);
		if (known)
			continue;
		near = qe_closest_name(s, types, n);
		if (near)
			return qe_fail(err, QE_EINVAL, "unknown level '%s' (did you mean '%s'?)", s, near);
	}
	return 0;
}

/* Every input the plan names that is not there, one line each on stderr, so a
 * first try learns all of them at once; the number of them. A model that
 * does not look like a file (a served model's name) is not checked here. */
static int missing_inputs(const cJSON *plan, const char *who)
{
	const char *model = qe_json_str(plan, "model", NULL);
	const cJSON *t;
	int n = 0;

	if (!model || !*model)
		n += fprintf(stderr, "qeval %s: the plan names no model (--model FILE)\n", who) > 0;
	else if ((strchr(model, '/') || strstr(model, ".gguf")) && access(model, R_OK) != 0)
		n += fprintf(stderr, "qeval %s: model '%s': %s\n", who, model, strerror(errno)) > 0;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(plan, "tasks")) {
		const struct qe_task *task = qe_task_find(qe_json_str(t, "task", ""));
		for (const struct qe_optab *o = task ? task->options : NULL; o && o->key; o++) {
			const char *v = qe_json_str(t, o->key, NULL);
			char path[4096];
			if (!(o->flags & QE_OF_PATH) || !v)
				continue;
			snprintf(path, sizeof(path), "%.*s", (int)strcspn(v, "?"), v); /* FILE?k=v */
			if (access(path, R_OK) != 0)
				n += fprintf(stderr, "qeval %s: task '%s': %s '%s': %s\n", who,
					     qe_json_str(t, "name", qe_json_str(t, "task", "?")), o->key, path,
					     strerror(errno)) > 0;
		}
	}
	return n;
}

int qe_run_command(int argc, char **argv, cJSON *base, const char *resume, const char *who)
{
	static struct flags f;
	struct cli c;
	struct qe_err err = { 0 };
	struct qe_plan plan;
	struct qe_pipeline_opts po = { 0 };
	cJSON *json = NULL;
	int rc, code;

	build_flags(&f);
	rc = parse_args(argc, argv, &f, &c, &err);
	if (rc == 1) {
		char *u = usage_text(&f);
		rc = qe_opt_help(u ? u : "");
		free(u);
		return rc;
	}
	if (rc)
		goto fail;
	if (resume && !c.resume)
		c.resume = resume;
	if ((rc = build_plan(base, &c, &json, &err)) != 0)
		goto fail;
	plan_defaults(json);
	absolute_paths(json); /* also on --resume: a path given again here is relative to here */
	if ((rc = check_levels(json, &err)) != 0) {
		cJSON_Delete(json);
		goto fail;
	}
	if (!c.resume && missing_inputs(json, who) > 0) {
		cJSON_Delete(json);
		return QE_EXIT_USAGE;
	}
	if (!cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(json, "tasks"))) {
		nothing_to_run(&f, &err);
		cJSON_Delete(json);
		rc = QE_EINVAL;
		goto fail;
	}
	if ((rc = qe_plan_from_json(&plan, json, &err)) != 0) {
		qe_plan_release(&plan);
		goto fail;
	}
	po.resume = c.resume != NULL;
	po.shard = c.shard;
	po.balance_from = c.balance_from;
	po.n_shards = c.n_shards;
	po.jobs = c.jobs;
	if (c.resume && qe_run_shard_of(c.resume, &po.shard, &po.n_shards) == 0 && c.n_shards &&
	    (c.shard != po.shard || c.n_shards != po.n_shards)) {
		rc = qe_fail(&err, QE_EINVAL, "'%s' holds shard %d/%d, not %d/%d", c.resume, po.shard, po.n_shards, c.shard,
			     c.n_shards);
		qe_plan_release(&plan);
		goto fail;
	}
	po.gate = c.gate;
	po.summary = c.summary;
	po.who = who;
	code = qe_pipeline(&plan, &po, &err);
	qe_plan_release(&plan);
	return code;
fail:
	fprintf(stderr, "qeval %s: %s\n", who, err.msg);
	return qe_exit_code(rc);
}

int cmd_run(int argc, char **argv)
{
	return qe_run_command(argc, argv, NULL, NULL, "run");
}
