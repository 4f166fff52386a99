/* qeval — the driver. See harness/run.h.
 *
 * The parent process never touches the engine: it checks the plan, prepares
 * the tasks (loads and checks the data, so bad input stops the run before
 * any level), then forks one child per level. The child makes the level
 * (quantize or take the file), opens it, runs every task into its journals
 * and writes level.json. An engine abort kills only that child; the parent
 * records the level as failed and goes on. After the last level the parent
 * recomputes results.json from the records.
 */
#include "harness/run.h"
#include "harness/base/text.h"
#include "harness/plan.h"
#include "harness/journal.h"
#include "harness/runid.h"
#include "harness/scale.h"
#include "harness/progress.h"
#include "harness/base/sys.h"
#include "harness/tasks/task.h"
#include "reports/view.h"
#include "runtimes/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================
 * The run
 * ====================================================================== */

struct task_inst {
	const struct qe_task *task;
	const char *name;   /* instance name: key in results.json, journal file */
	const struct qe_task_spec *spec; /* the plan's (borrowed) */
	void *state;
	size_t n_items;
};

struct run {
	const struct qe_plan *plan;
	const char *out;
	const char *model;
	const char *cache;
	struct qe_rt_params rtp;
	int n_levels;
	char (*names)[64];
	char (*dirs)[4200];
	struct qe_level_spec *specs; /* the plan's levels (borrowed text / objects) */
	int ref;
	struct task_inst *tasks;
	int n_tasks;
	int quiet, isolate;
	size_t total_items;
	int shard, n_shards;  /* this process runs shard `shard` of n_shards (1 = the whole run) */
	struct qe_scale scale;  /* the units and their shards, when n_shards > 1 */
	double *level_weight;   /* [n_levels] measured weights of the levels' units, NULL = none */
};

static void rt_params_from_plan(const struct qe_plan_runtime *rto, struct qe_rt_params *p)
{
	*p = qe_rt_default_params();
	p->runtime = rto->name ? rto->name : "llamacpp";
	p->url = rto->url;
	p->n_threads = (int)rto->threads;
	p->n_threads_batch = (int)rto->threads_batch;
	p->n_ctx = (uint32_t)rto->ctx;
	p->n_batch = (uint32_t)rto->batch;
	p->n_ubatch = (uint32_t)rto->ubatch;
	p->n_seq = (uint32_t)rto->seqs;
	p->n_score_ctx = (uint32_t)rto->contexts;
	p->n_gpu_layers = (int)rto->ngl;
	p->verbose = rto->verbose;
	p->no_prefix_reuse = !rto->prefix_reuse;
}

static void run_release(struct run *r)
{
	for (int i = 0; i < r->n_tasks; i++)
		if (r->tasks[i].state)
			r->tasks[i].task->release(r->tasks[i].state);
	free(r->tasks);
	free(r->names);
	free(r->dirs);
	free(r->specs);
	qe_scale_release(&r->scale);
	free(r->level_weight);
}

/* The tasks' real item counts where the reference level has told them
 * (qe_task.recount), and the run's total from them. */
static void recount(struct run *r)
{
	r->total_items = 0;
	for (int t = 0; t < r->n_tasks; t++) {
		struct task_inst *ti = &r->tasks[t];
		size_t n;
		if (ti->task->recount && ti->task->recount(ti->state, r->dirs[r->ref], &n) == 0 && n > 0)
			ti->n_items = n;
		r->total_items += ti->n_items;
	}
}

static int run_setup(struct run *r, const struct qe_plan *plan, struct qe_err *err)
{
	const cJSON *levels = plan->levels;
	const char *ref = plan->reference;
	int rc, i;

	memset(r, 0, sizeof(*r));
	r->plan = plan;
	r->out = plan->out;
	r->model = plan->model;
	r->cache = plan->cache;
	r->quiet = plan->quiet;
	r->isolate = plan->isolate;
	rt_params_from_plan(&plan->rt, &r->rtp);
	if (!r->out || !*r->out)
		return qe_fail(err, QE_EINVAL, "the plan names no output directory (--out DIR)");
	if (!r->model || !*r->model)
		return qe_fail(err, QE_EINVAL, "the plan names no model (--model FILE)");
	/* the runtime checks its source (llamacpp: a readable GGUF), and says
	 * when it does not exist */
	if ((rc = qe_level_source_check(r->rtp.runtime, r->model, err)) != 0)
		return rc;
	if (!cJSON_IsArray(levels) || cJSON_GetArraySize(levels) == 0)
		return qe_fail(err, QE_EINVAL, "the plan has no levels (--levels F16,Q8_0,...)");
	if (plan->n_tasks == 0)
		return qe_fail(err, QE_EINVAL, "the plan has no tasks (--tasks mmlu,ceval,...)");

	r->n_levels = cJSON_GetArraySize(levels);
	r->names = calloc((size_t)r->n_levels, sizeof(*r->names));
	r->dirs = calloc((size_t)r->n_levels, sizeof(*r->dirs));
	r->specs = calloc((size_t)r->n_levels, sizeof(*r->specs));
	if (!r->names || !r->dirs || !r->specs)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	r->ref = -1;
	for (i = 0; i < r->n_levels; i++) {
		const cJSON *l = cJSON_GetArrayItem(levels, i);
		if ((rc = qe_level_spec_from_json(l, i, &r->specs[i], err)) != 0 ||
		    (rc = qe_level_spec_name(r->rtp.runtime, &r->specs[i], r->names[i], sizeof(r->names[i]), err)) != 0)
			return rc;
		for (int j = 0; j < i; j++)
			if (!strcmp(r->names[i], r->names[j]))
				return qe_fail(err, QE_EINVAL, "level '%s' is named twice", r->names[i]);
		snprintf(r->dirs[i], sizeof(r->dirs[i]), "%s/levels/%02d-%s", r->out, i, r->names[i]);
		if (ref && !strcasecmp(ref, r->names[i]))
			r->ref = i;
	}
	if (ref && r->ref < 0)
		return qe_fail(err, QE_EINVAL, "reference '%s' is not one of the levels", ref);
	if (r->ref < 0)
		r->ref = 0;

	r->n_tasks = (int)plan->n_tasks;
	r->tasks = calloc((size_t)r->n_tasks, sizeof(*r->tasks));
	if (!r->tasks)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (i = 0; i < r->n_tasks; i++) {
		struct task_inst *ti = &r->tasks[i];
		ti->spec = &plan->tasks[i];
		ti->task = ti->spec->task;
		ti->name = ti->spec->name;
		rc = ti->task->prepare(ti->spec, &ti->state, &ti->n_items, err);
		if (rc)
			return qe_err_wrap(err, "task '%s'", ti->name);
		if (ti->n_items == 0) /* a run of nothing would look complete */
			return qe_fail(err, QE_EINPUT, "task '%s': nothing to score in its data", ti->name);
		r->total_items += ti->n_items;
	}
	recount(r);
	return 0;
}

/* ---- shards (harness/scale.h) ---------------------------------------------- */

/* 1 when this process runs task t at level i */
static int in_shard(const struct run *r, int i, int t)
{
	return r->n_shards <= 1 || qe_scale_runs(&r->scale, r->shard, i, t, r->ref, r->tasks[t].task->needs_reference);
}

/* tasks this process runs at level i */
static int tasks_in_shard(const struct run *r, int i)
{
	int n = 0;

	for (int t = 0; t < r->n_tasks; t++)
		n += in_shard(r, i, t);
	return n;
}

/* 1 when task t runs in item pieces, this process recording only its own */
static int split_task(const struct run *r, int t)
{
	return r->n_shards > 1 && r->tasks[t].task->item != NULL;
}

/* the records this process owes for task t at level i */
static size_t items_due(const struct run *r, int i, int t)
{
	size_t n = 0;

	if (!split_task(r, t))
		return r->tasks[t].n_items;
	for (size_t k = 0; k < r->scale.n_units; k++) {
		const struct qe_unit *u = &r->scale.units[k];
		if (u->level == i && u->task == t && u->owner == r->shard)
			n += u->end - u->first;
	}
	return n;
}

/* Limit the journal of a split task at level i to this shard's items. */
static int scope_journal(const struct run *r, int i, int t, struct qe_journal *j, struct qe_err *err)
{
	const struct task_inst *ti = &r->tasks[t];
	size_t n = items_due(r, i, t), m = 0;
	char (*buf)[256] = calloc(n + 1, sizeof(*buf));
	const char **ids = calloc(n + 1, sizeof(*ids));
	double tok;
	int rc;

	if (!buf || !ids) {
		free(buf);
		free(ids);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	for (size_t k = 0; k < r->scale.n_units; k++) {
		const struct qe_unit *u = &r->scale.units[k];
		if (u->level != i || u->task != t || u->owner != r->shard)
			continue;
		for (size_t x = u->first; x < u->end && m < n; x++, m++) {
			ti->task->item(ti->state, x, buf[m], sizeof(buf[m]), &tok);
			ids[m] = buf[m];
		}
	}
	rc = qe_journal_scope(j, ids, m, err);
	free(buf);
	free(ids);
	return rc;
}

/* seconds level `name` of the finished run res spent in this plan's tasks */
static double measured_s(const struct run *r, const cJSON *res, const char *name)
{
	const cJSON *l;
	double s = 0;

	cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(res, "levels"))
		if (!strcmp(qe_json_str(l, "name", ""), name))
			for (int t = 0; t < r->n_tasks; t++)
				s += qe_json_num(cJSON_GetObjectItemCaseSensitive(l, "task_wall_s"), r->tasks[t].name, 0);
	return s;
}

/* The levels' weights: a resumed shard's from its shard.json; else, with
 * `from`, each level's measured seconds in that run over the reference's
 * (1 for a level it lacks); else none. */
static int level_weights(struct run *r, const char *from, int resume, struct qe_err *err)
{
	char path[4400];
	cJSON *j = NULL;
	const cJSON *w;
	double ref_s;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", r->out, QE_SHARD_FILE);
	if (resume && qe_json_read_file(path, &j, NULL) == 0) {
		w = cJSON_GetObjectItemCaseSensitive(j, "level_weights");
		if (cJSON_GetArraySize(w) == r->n_levels && (r->level_weight = calloc((size_t)r->n_levels, sizeof(double))))
			for (int i = 0; i < r->n_levels; i++)
				r->level_weight[i] = cJSON_GetArrayItem(w, i)->valuedouble;
		cJSON_Delete(j);
		return 0;
	}
	if (!from)
		return 0;
	snprintf(path, sizeof(path), "%s/results.json", from);
	if ((rc = qe_json_read_file(path, &j, err)) != 0)
		return qe_err_wrap(err, "--balance-from");
	ref_s = measured_s(r, j, r->names[r->ref]);
	if (ref_s > 0 && (r->level_weight = calloc((size_t)r->n_levels, sizeof(double))))
		for (int i = 0; i < r->n_levels; i++) {
			double s = measured_s(r, j, r->names[i]);
			r->level_weight[i] = s > 0 ? s / ref_s : 1.0;
		}
	cJSON_Delete(j);
	if (ref_s <= 0)
		return qe_fail(err, QE_EINPUT, "--balance-from %s: its reference level %s has no times of this plan's tasks",
			       from, r->names[r->ref]);
	return 0;
}

/* The units of the run over n_shards, from the tasks' estimates (and the
 * levels' measured weights). */
static int scale_setup(struct run *r, int shard, int n_shards, struct qe_err *err)
{
	struct qe_scale_task *st = calloc((size_t)r->n_tasks + 1, sizeof(*st));
	char id[256];
	int rc = 0;

	r->shard = shard;
	r->n_shards = n_shards;
	if (!st)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (int t = 0; t < r->n_tasks && rc == 0; t++) {
		const struct task_inst *ti = &r->tasks[t];
		double *tok = NULL;
		unsigned char *start = NULL;
		st[t].n_items = ti->n_items;
		st[t].needs_reference = ti->task->needs_reference;
		st[t].total = ti->task->cost ? ti->task->cost(ti->state) : 64.0 * (double)ti->n_items;
		if (!ti->task->item)
			continue;
		tok = malloc((ti->n_items + 1) * sizeof(*tok));
		start = malloc(ti->n_items + 1);
		if (!tok || !start) {
			free(tok);
			free(start);
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
			break;
		}
		st[t].total = 0;
		for (size_t k = 0; k < ti->n_items; k++) {
			start[k] = (unsigned char)ti->task->item(ti->state, k, id, sizeof(id), &tok[k]);
			st[t].total += tok[k];
		}
		st[t].tokens = tok;
		st[t].start = start;
	}
	if (rc == 0)
		rc = qe_scale_plan(r->n_levels, r->ref, st, r->n_tasks, n_shards, r->level_weight, &r->scale, err);
	for (int t = 0; t < r->n_tasks; t++) {
		free((void *)st[t].tokens);
		free((void *)st[t].start);
	}
	free(st);
	return rc;
}

/* shard.json: which shard of which units this directory holds */
static cJSON *shard_json(const struct run *r)
{
	const char **lv = calloc((size_t)r->n_levels + 1, sizeof(*lv)), **tk = calloc((size_t)r->n_tasks + 1, sizeof(*tk));
	cJSON *j = cJSON_CreateObject(), *a;

	for (int i = 0; lv && i < r->n_levels; i++)
		lv[i] = r->names[i];
	for (int t = 0; tk && t < r->n_tasks; t++)
		tk[t] = r->tasks[t].name;
	cJSON_AddStringToObject(j, "schema", "qeval-shard");
	cJSON_AddNumberToObject(j, "version", 1);
	cJSON_AddNumberToObject(j, "shard", r->shard);
	cJSON_AddNumberToObject(j, "shards", r->n_shards);
	cJSON_AddNumberToObject(j, "reference", r->ref);
	cJSON_AddItemToObject(j, "levels", lv ? cJSON_CreateStringArray(lv, r->n_levels) : cJSON_CreateArray());
	cJSON_AddItemToObject(j, "tasks", tk ? cJSON_CreateStringArray(tk, r->n_tasks) : cJSON_CreateArray());
	if (lv && tk)
		cJSON_AddItemToObject(j, "units", qe_scale_json(&r->scale, lv, tk));
	if (r->level_weight)
		cJSON_AddItemToObject(j, "level_weights", cJSON_CreateDoubleArray(r->level_weight, r->n_levels));
	a = cJSON_AddArrayToObject(j, "load_tokens");
	for (int k = 0; k < r->n_shards; k++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)(long long)r->scale.load[k]));
	free(lv);
	free(tk);
	return j;
}

/* A new shard writes shard.json; a resumed one must be the same shard of
 * the same units. */
static int shard_settle(const struct run *r, struct qe_err *err)
{
	char path[4400];
	cJSON *now, *was = NULL;
	int rc;

	if (r->n_shards <= 1)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", r->out, QE_SHARD_FILE);
	now = shard_json(r);
	rc = qe_json_read_file(path, &was, NULL);
	if (rc != 0)
		rc = qe_json_write_file(path, now, err);
	else if (qe_json_num(was, "shard", -1) != r->shard || qe_json_num(was, "shards", -1) != r->n_shards)
		rc = qe_fail(err, QE_EINVAL, "'%s' holds shard %g/%g of its plan, not %d/%d", r->out, qe_json_num(was, "shard", -1),
			     qe_json_num(was, "shards", -1), r->shard, r->n_shards);
	else if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(was, "units"), cJSON_GetObjectItemCaseSensitive(now, "units"), 1))
		rc = qe_fail(err, QE_EINVAL, "'%s': its units were planned otherwise (another qeval version?): start the shard anew",
			     r->out);
	cJSON_Delete(was);
	cJSON_Delete(now);
	return rc;
}

int qe_run_shard_of(const char *dir, int *shard, int *n_shards)
{
	char path[4400];
	cJSON *j = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, QE_SHARD_FILE);
	*shard = 0;
	*n_shards = 1;
	if (qe_json_read_file(path, &j, NULL) != 0)
		return QE_ENOENT;
	*shard = (int)qe_json_num(j, "shard", 0);
	*n_shards = (int)qe_json_num(j, "shards", 1);
	cJSON_Delete(j);
	return 0;
}

/* ---- one level (in the child) --------------------------------------------- */

static cJSON *level_json_base(const struct run *r, int i, const struct qe_level *lv)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "name", r->names[i]);
	if (r->specs[i].text)
		cJSON_AddStringToObject(j, "spec", r->specs[i].text);
	else
		cJSON_AddItemToObject(j, "spec", cJSON_Duplicate(r->specs[i].obj, 1));
	cJSON_AddStringToObject(j, "path", lv ? lv->path : "");
	cJSON_AddBoolToObject(j, "reference", i == r->ref);
	return j;
}

static void info_to_json(cJSON *j, const struct qe_rt_info *in)
{
	cJSON *types = cJSON_CreateArray();

	cJSON_AddStringToObject(j, "arch", in->arch);
	cJSON_AddStringToObject(j, "ftype", in->ftype);
	cJSON_AddStringToObject(j, "desc", in->desc);
	cJSON_AddNumberToObject(j, "file_bytes", (double)in->file_bytes);
	cJSON_AddNumberToObject(j, "tensor_bytes", (double)in->tensor_bytes);
	cJSON_AddNumberToObject(j, "n_params", (double)in->n_params);
	cJSON_AddNumberToObject(j, "bpw", in->bpw);
	for (int t = 0; t < in->n_types; t++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "type", in->types[t].type);
		cJSON_AddNumberToObject(o, "n_tensors", in->types[t].n_tensors);
		cJSON_AddNumberToObject(o, "n_bytes", (double)in->types[t].n_bytes);
		cJSON_AddItemToArray(types, o);
	}
	cJSON_AddItemToObject(j, "types", types);
	cJSON_AddNumberToObject(j, "threads", in->n_threads);
	cJSON_AddNumberToObject(j, "threads_batch", in->n_threads_batch);
	cJSON_AddNumberToObject(j, "n_gpu_layers", in->n_gpu_layers);
	cJSON_AddNumberToObject(j, "n_ctx", in->n_ctx);
	cJSON_AddNumberToObject(j, "n_batch", in->n_batch);
	cJSON_AddNumberToObject(j, "n_ubatch", in->n_ubatch);
	cJSON_AddStringToObject(j, "engine_version", in->engine_version);
	cJSON_AddStringToObject(j, "engine_build", in->engine_build);
	cJSON_AddStringToObject(j, "devices", in->devices);
}

/* The describe() facts info_to_json writes, copied from an earlier level.json
 * (a level process of its own keeps the facts of the scoring one) */
static void copy_facts(cJSON *j, const cJSON *old)
{
	static const char *const keys[] = { "arch", "ftype", "desc", "file_bytes", "tensor_bytes", "n_params", "bpw", "types",
					    "threads", "threads_batch", "n_gpu_layers", "n_ctx", "n_batch", "n_ubatch",
					    "engine_version", "engine_build", "devices", NULL };

	for (int k = 0; keys[k]; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(old, keys[k]);
		if (v)
			cJSON_AddItemToObject(j, keys[k], cJSON_Duplicate(v, 1));
	}
}

static void set_num(cJSON *o, const char *k, double v)
{
	cJSON *old = cJSON_GetObjectItemCaseSensitive(o, k);
	if (old)
		cJSON_SetNumberValue(old, v);
	else
		cJSON_AddNumberToObject(o, k, v);
}

static void set_str(cJSON *o, const char *k, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

/* Runs level i; returns the exit status for the child. */
/* 1 when task t runs in the level process `group` (-1: the shared one) */
static int in_group(const struct run *r, int t, int group)
{
	return group < 0 ? !r->tasks[t].task->own_process : t == group;
}

/* tasks_done of the old level.json, less the tasks this process runs again */
static cJSON *done_elsewhere(const struct run *r, const cJSON *old, int group)
{
	cJSON *done = cJSON_CreateArray();
	const cJSON *d;

	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(old, "tasks_done")) {
		int t;
		for (t = 0; t < r->n_tasks && strcmp(r->tasks[t].name, d->valuestring ? d->valuestring : ""); t++)
			;
		if (t < r->n_tasks && !in_group(r, t, group))
			cJSON_AddItemToArray(done, cJSON_CreateString(d->valuestring));
	}
	return done;
}

/* What the level's file is (qe_level_identity) into lj's "identity"; a level
 * whose records came from another file (its level.json, old, says which) is
 * QE_EINVAL: the records would mix two models. */
static int level_identity(const struct run *r, int i, const struct qe_level *lv, const cJSON *old, cJSON *lj,
			  struct qe_err *err)
{
	const cJSON *was = cJSON_GetObjectItemCaseSensitive(old, "identity");
	cJSON *id = cJSON_CreateObject();
	char where[600];

	if (qe_level_identity(r->model, lv, r->cache, id, NULL) != 0) {
		cJSON_Delete(id);
		return 0; /* the runtime cannot tell: nothing to compare */
	}
	if (was && qe_runid_diff(was, id, where, sizeof(where))) {
		cJSON_Delete(id); /* level.json keeps the records' identity */
		cJSON_AddItemToObject(lj, "identity", cJSON_Duplicate(was, 1));
		return qe_fail(err, QE_EINVAL, "level %s: not the file its records came from: %s", r->names[i], where);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(lj, "identity");
	cJSON_AddItemToObject(lj, "identity", id);
	return 0;
}

/* Wall-clock seconds since the epoch (level.json's task_started). */
static double epoch_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The newest modification time (epoch seconds) of the level's files of task
 * `name` (records-NAME.jsonl, embeddings-NAME.*), 0 when none. */
static double task_files_mtime(const char *dir, const char *name)
{
	char pat[128], path[4400];
	struct dirent *de;
	struct stat st;
	double newest = 0;
	DIR *d = opendir(dir);

	snprintf(pat, sizeof(pat), "-%s.", name);
	while (d && (de = readdir(d)) != NULL) {
		double m;
		if (!strstr(de->d_name, pat))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) != 0)
			continue;
		m = (double)st.st_mtim.tv_sec + (double)st.st_mtim.tv_nsec * 1e-9;
		newest = m > newest ? m : newest;
	}
	if (d)
		closedir(d);
	return newest;
}

/* The times of earlier sessions into lj: task_wall_s and wall_s of old, plus
 * what a session killed while running a task (old.task_started names it and
 * when) spent up to its last written record, so throughput covers every
 * session's work (docs/results-schema.md). */
static cJSON *carry_walls(const struct run *r, int i, const cJSON *old, cJSON *lj)
{
	const cJSON *tw = cJSON_GetObjectItemCaseSensitive(old, "task_wall_s"), *ts;
	cJSON *task_wall = tw ? cJSON_Duplicate(tw, 1) : cJSON_CreateObject();
	double wall = qe_json_num(old, "wall_s", 0);

	cJSON_ArrayForEach(ts, cJSON_GetObjectItemCaseSensitive(old, "task_started")) {
		double lost = cJSON_IsNumber(ts) ? task_files_mtime(r->dirs[i], ts->string) - ts->valuedouble : 0;
		if (lost > 0 && lost < 1e7) {
			set_num(task_wall, ts->string, qe_json_num(task_wall, ts->string, 0) + lost);
			wall += lost;
		}
	}
	cJSON_AddItemToObject(lj, "task_wall_s", task_wall);
	set_num(lj, "wall_s", wall);
	return task_wall;
}

/* QE_ERUNTIME when every record of the journal at jp failed (a level that
 * cannot do the task at all, e.g. an embedding model given to MMLU: "ok" with
 * nothing scored would pass unseen), naming the first reason. */
static int all_failed(const char *jp, const char *task, struct qe_err *err)
{
	cJSON *recs = NULL;
	const cJSON *rec;
	const char *first = NULL;
	int n = 0, bad = 0, rc = 0;

	if (qe_journal_load(jp, &recs, NULL) != 0)
		return 0;
	cJSON_ArrayForEach(rec, recs) {
		const char *st = qe_json_str(rec, "status", "ok");
		n++;
		if (!strncmp(st, "error", 5)) {
			bad++;
			first = first ? first : st;
		}
	}
	if (n > 0 && bad == n)
		rc = qe_fail(err, QE_ERUNTIME, "task '%s': every one of its %d items failed (%s)", task, n, first);
	cJSON_Delete(recs);
	return rc;
}

/* One level process's state, for run_task. */
struct level_run {
	struct run *r;
	int i;                      /* the level */
	struct qe_runtime *rt;
	struct qe_level *lv;
	struct qe_progress *prog;
	const char *path;           /* its level.json */
	cJSON *lj, *task_wall, *done, *started; /* level.json being written, parts of it */
	double t0;                  /* qe_now() at start less earlier sessions' wall */
};

/* Task t at the level: 0 done (or skipped), 1 stopped by a signal, or a
 * negative status (err says why, naming the task). */
static int run_task(struct level_run *L, int t, struct qe_err *err)
{
	struct run *r = L->r;
	struct task_inst *ti = &r->tasks[t];
	struct qe_task_level tl;
	struct qe_journal *j = NULL;
	double ts = qe_now();
	char jp[4400];
	int rc;

	if (qe_stop_signal())
		return 1;
	if (!in_shard(r, L->i, t)) { /* another shard's: its items count as done here, so the display ends full */
		qe_progress_skip(L->prog, ti->n_items);
		return 0;
	}
	if ((ti->task->needs & qe_runtime_caps(L->rt)) != ti->task->needs ||
	    (ti->task->needs_any && !(ti->task->needs_any & qe_runtime_caps(L->rt)))) {
		fprintf(stderr, "qeval run: level %s: runtime '%s' cannot run task '%s': skipped\n", r->names[L->i],
			L->lv->runtime, ti->name);
		/* done as far as this level goes: a mixed plan's GGUF levels skip
		 * what only servers do, and are still complete */
		cJSON_AddItemToArray(L->done, cJSON_CreateString(ti->name));
		qe_progress_skip(L->prog, ti->n_items);
		return 0;
	}
	snprintf(jp, sizeof(jp), "%s/records-%s.jsonl", r->dirs[L->i], ti->name);
	if ((rc = qe_journal_open(jp, &j, err)) != 0)
		return rc;
	if (split_task(r, t) && (rc = scope_journal(r, L->i, t, j, err)) != 0) {
		qe_journal_close(j);
		return rc;
	}
	memset(&tl, 0, sizeof(tl));
	tl.rt = L->rt;
	tl.level = L->lv;
	snprintf(L->lv->name, sizeof(L->lv->name), "%s", r->names[L->i]);
	tl.index = L->i;
	tl.is_reference = L->i == r->ref;
	tl.dir = r->dirs[L->i];
	tl.ref_dir = r->dirs[r->ref];
	tl.journal = j;
	tl.progress = L->prog;
	qe_progress_label(L->prog, r->names[L->i], ti->name);
	set_num(L->started, ti->name, epoch_now());
	set_num(L->lj, "wall_s", qe_now() - L->t0);
	qe_json_write_file(L->path, L->lj, NULL);
	rc = ti->task->run_level(ti->state, &tl, err);
	qe_journal_close(j);
	cJSON_DeleteItemFromObjectCaseSensitive(L->started, ti->name);
	set_num(L->task_wall, ti->name, qe_json_num(L->task_wall, ti->name, 0) + (qe_now() - ts));
	if (rc)
		return qe_err_wrap(err, "task '%s'", ti->name);
	if (qe_stop_signal()) /* it stopped after an item: not done */
		return 1;
	if ((rc = all_failed(jp, ti->name, err)) != 0)
		return rc;
	cJSON_AddItemToArray(L->done, cJSON_CreateString(ti->name));
	return 0;
}

/* The tasks of one level process (group: -1 the tasks that share one, else
 * the index of a task that runs alone, own_process), in the child. */
static int run_level(struct run *r, int i, int group)
{
	struct qe_err err = { 0 };
	struct qe_level lv;
	struct qe_rt_params p = r->rtp;
	struct qe_runtime *rt = NULL;
	struct qe_rt_info info;
	struct qe_progress *prog = NULL;
	char path[4400], crash[4400];
	cJSON *lj = NULL, *old = NULL, *task_wall, *done, *started;
	double t0 = qe_now(), tl0; /* t0: less the earlier sessions' wall_s */
	int rc;

	snprintf(path, sizeof(path), "%s/level.json", r->dirs[i]);
	if (qe_json_read_file(path, &old, NULL) != 0)
		old = NULL;
	/* the display runs from here: quantizing and loading take time too */
	prog = qe_progress_new(r->total_items, r->quiet);
	qe_progress_levels(prog, i, r->n_levels);
	qe_progress_label(prog, r->names[i], "(quantize, load)");
	rc = qe_level_spec_prepare(r->rtp.runtime, r->model, &r->specs[i], r->cache, r->rtp.n_threads, &lv, &err);
	lj = level_json_base(r, i, rc ? NULL : &lv);
	task_wall = carry_walls(r, i, old, lj); /* before any write: no session's time is lost */
	t0 -= qe_json_num(lj, "wall_s", 0);
	done = done_elsewhere(r, old, group);
	cJSON_AddItemToObject(lj, "tasks_done", done);
	if (rc || (rc = level_identity(r, i, &lv, old, lj, &err)) != 0)
		goto fail;
	qe_level_rt_params(&lv, &p); /* the level's runtime, model file or endpoint */
	p.level = r->names[i];
	p.engine_graphs = group >= 0; /* see qe_task.own_process */
	snprintf(crash, sizeof(crash), "%s/engine.log", r->dirs[i]);
	unlink(crash); /* this session's last words only */
	p.crash_log = crash;
	tl0 = qe_now();
	rc = qe_runtime_open(&p, &rt, &err);
	if (rc)
		goto fail;
	set_num(lj, "load_s", qe_now() - tl0);
	qe_runtime_describe(rt, &info);
	if (group < 0 || !cJSON_GetObjectItemCaseSensitive(old, "arch"))
		info_to_json(lj, &info); /* the facts of the scoring process, when there is one */
	else
		copy_facts(lj, old);
	set_str(lj, "status", "running");
	qe_json_write_file(path, lj, NULL);

	started = cJSON_AddObjectToObject(lj, "task_started"); /* the task under way, since when */
	{
		struct level_run L = { r, i, rt, &lv, prog, path, lj, task_wall, done, started, t0 };
		for (int t = 0; t < r->n_tasks && rc == 0; t++)
			if (in_group(r, t, group))
				rc = run_task(&L, t, &err);
		rc = rc > 0 ? 0 : rc; /* a stop is no failure */
	}
	qe_progress_free(prog);
	prog = NULL;
	qe_runtime_close(rt);
	rt = NULL;
	set_num(lj, "peak_rss_bytes", (double)qe_peak_rss());
	set_num(lj, "wall_s", qe_now() - t0);
	cJSON_DeleteItemFromObjectCaseSensitive(lj, "task_started");
	if (rc)
		goto fail;
	if (cJSON_GetArraySize(done) == tasks_in_shard(r, i)) {
		set_str(lj, "status", "ok");
		set_str(lj, "error", NULL);
	} else if (qe_stop_signal()) {
		set_str(lj, "status", "interrupted");
		set_str(lj, "error", strsignal(qe_stop_signal()));
	} else if (!strcmp(qe_json_str(old, "status", ""), "failed")) {
		/* another process of this level failed: it stays failed, with its reason */
		set_str(lj, "status", "failed");
		set_str(lj, "error", qe_json_str(old, "error", NULL));
	}
	rc = qe_json_write_file(path, lj, &err);
	cJSON_Delete(lj);
	cJSON_Delete(old);
	if (rc) {
		fprintf(stderr, "qeval run: level %s: %s\n", r->names[i], err.msg);
		return qe_exit_code(rc);
	}
	return 0;
fail:
	qe_progress_free(prog);
	if (rt)
		qe_runtime_close(rt);
	set_str(lj, "status", "failed");
	set_str(lj, "error", err.msg);
	qe_json_write_file(path, lj, NULL);
	fprintf(stderr, "qeval run: level %s failed: %s\n", r->names[i], err.msg);
	cJSON_Delete(lj);
	cJSON_Delete(old);
	return qe_exit_code(rc);
}

/* Complete non-empty lines of a file (records of a journal), 0 when absent. */
static size_t whole_lines(const char *path)
{
	char *text = NULL;
	size_t len = 0, n = 0;

	if (qe_file_read(path, &text, &len, NULL) != 0)
		return 0;
	for (size_t k = 0; k < len; k++)
		n += text[k] == '\n' && k > 0 && text[k - 1] != '\n';
	free(text);
	return n;
}

/* 1 when level.json says every task of the plan is done (and its journal
 * holds a record per work unit). */
static int level_complete(const struct run *r, int i)
{
	char path[4400];
	cJSON *lj;
	const cJSON *done;
	int ok;

	snprintf(path, sizeof(path), "%s/level.json", r->dirs[i]);
	if (qe_json_read_file(path, &lj, NULL) != 0)
		return 0;
	ok = !strcmp(qe_json_str(lj, "status", ""), "ok");
	done = cJSON_GetObjectItemCaseSensitive(lj, "tasks_done");
	for (int t = 0; ok && t < r->n_tasks; t++) {
		int found = 0;
		const cJSON *d;
		if (!in_shard(r, i, t))
			continue;
		cJSON_ArrayForEach(d, done)
			found |= cJSON_IsString(d) && !strcmp(d->valuestring, r->tasks[t].name);
		/* a done task whose journal is gone or short (a record per work unit) is
		 * completed again, not reported with items missing */
		snprintf(path, sizeof(path), "%s/records-%s.jsonl", r->dirs[i], r->tasks[t].name);
		ok = found && whole_lines(path) >= items_due(r, i, t);
	}
	cJSON_Delete(lj);
	return ok;
}

/* What the engine wrote into the level's engine.log when it aborted: the
 * abort message into why (with the last error line of its log, when that says
 * more), the log lines into a new array. */
static cJSON *engine_last_words(const struct run *r, int i, char *why, size_t cap)
{
	char path[4400], *text, *line, *save = NULL;
	const char *abort_msg = NULL, *error_line = NULL;
	cJSON *lines;

	why[0] = '\0';
	snprintf(path, sizeof(path), "%s/engine.log", r->dirs[i]);
	if (qe_file_read(path, &text, NULL, NULL) != 0)
		return NULL;
	lines = cJSON_CreateArray();
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "abort: ", 7)) {
			abort_msg = line + 7;
		} else if (!strncmp(line, "log: ", 5)) {
			cJSON_AddItemToArray(lines, cJSON_CreateString(line + 5));
			if (strcasestr(line + 5, "error"))
				error_line = line + 5;
		}
	}
	if (abort_msg && error_line && !strstr(abort_msg, error_line))
		snprintf(why, cap, "%s (%s)", abort_msg, error_line);
	else if (abort_msg || error_line)
		snprintf(why, cap, "%s", abort_msg ? abort_msg : error_line);
	free(text);
	return lines;
}

static void mark_aborted(const struct run *r, int i, int status)
{
	char path[4400], msg[1200], why[900];
	cJSON *lj, *words = engine_last_words(r, i, why, sizeof(why));

	snprintf(path, sizeof(path), "%s/level.json", r->dirs[i]);
	if (qe_json_read_file(path, &lj, NULL) != 0)
		lj = level_json_base(r, i, NULL);
	if (WIFSIGNALED(status))
		snprintf(msg, sizeof(msg), "engine aborted (signal %d, %s)%s%s: the level's records so far are kept",
			 WTERMSIG(status), strsignal(WTERMSIG(status)), why[0] ? ": " : "", why);
	else
		snprintf(msg, sizeof(msg), "level process exited with status %d", WEXITSTATUS(status));
	if (!WIFEXITED(status) || strcmp(qe_json_str(lj, "status", ""), "failed") != 0) {
		set_str(lj, "status", "failed");
		set_str(lj, "error", msg);
	}
	if (words) {
		cJSON_DeleteItemFromObjectCaseSensitive(lj, "engine_log");
		cJSON_AddItemToObject(lj, "engine_log", words);
	}
	qe_json_write_file(path, lj, NULL);
	fprintf(stderr, "qeval run: level %s: %s\n", r->names[i], qe_json_str(lj, "error", msg));
	cJSON_Delete(lj);
}

/* ======================================================================
 * Summaries
 * ====================================================================== */

static void iso_time(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static cJSON *machine_json(void)
{
	struct qe_machine m;
	cJSON *j = cJSON_CreateObject();

	qe_machine_get(&m);
	cJSON_AddStringToObject(j, "cpu", m.cpu);
	cJSON_AddStringToObject(j, "host", m.host);
	cJSON_AddStringToObject(j, "os", m.os);
	cJSON_AddNumberToObject(j, "n_cpus_online", m.n_cpus_online);
	cJSON_AddNumberToObject(j, "n_cpus_allowed", m.n_cpus_allowed);
	cJSON_AddNumberToObject(j, "mem_bytes", (double)m.mem_bytes);
	cJSON_AddStringToObject(j, "gpu", "");
	return j;
}

/* level.json of every level (a placeholder "pending" one where there is
 * none); *complete = 0 when one is not done; *wall = their wall times. */
static void read_levels(const struct run *r, cJSON **lvj, int *complete, double *wall)
{
	char path[4400];

	*complete = 1;
	*wall = 0;
	for (int i = 0; i < r->n_levels; i++) {
		snprintf(path, sizeof(path), "%s/level.json", r->dirs[i]);
		if (qe_json_read_file(path, &lvj[i], NULL) != 0) {
			lvj[i] = level_json_base(r, i, NULL);
			set_str(lvj[i], "status", "pending");
		}
		if (strcmp(qe_json_str(lvj[i], "status", ""), "ok") != 0 || !level_complete(r, i))
			*complete = 0;
		*wall += qe_json_num(lvj[i], "wall_s", 0);
	}
}

/* results.json's machine.gpu: the reference level's devices other than the CPU */
static void machine_gpu(cJSON *res, const cJSON *refj)
{
	const char *dv = qe_json_str(refj, "devices", "");
	cJSON *m = cJSON_GetObjectItemCaseSensitive(res, "machine");
	char gpu[256] = "", tmp[256], *save = NULL;

	snprintf(tmp, sizeof(tmp), "%s", dv);
	for (char *tok = strtok_r(tmp, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		while (*tok == ' ')
			tok++;
		if (strncmp(tok, "CPU", 3) != 0)
			snprintf(gpu + strlen(gpu), sizeof(gpu) - strlen(gpu), "%s%s", gpu[0] ? "; " : "", tok);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(m, "gpu");
	cJSON_AddStringToObject(m, "gpu", gpu);
}

/* every tensor's type of a level made from the source (identity.tensor_types), NULL when unknown */
static const cJSON *tensor_map(const cJSON *lj)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lj, "identity"), "tensor_types");
	return cJSON_IsObject(t) && t->child ? t : NULL;
}

/* results.json's levels: each level.json with the facts across levels */
static cJSON *levels_block(const struct run *r, cJSON *const *lvj, const cJSON *refj)
{
	cJSON *levels = cJSON_CreateArray();

	for (int i = 0; i < r->n_levels; i++) {
		cJSON *l = cJSON_Duplicate(lvj[i], 1);
		double rb = qe_json_num(refj, "file_bytes", 0), lb = qe_json_num(l, "file_bytes", 0);
		cJSON_DeleteItemFromObjectCaseSensitive(l, "engine_build");
		cJSON_DeleteItemFromObjectCaseSensitive(l, "engine_version");
		cJSON_DeleteItemFromObjectCaseSensitive(l, "devices");
		if (!cJSON_GetObjectItemCaseSensitive(l, "error"))
			cJSON_AddNullToObject(l, "error");
		if (rb > 0 && lb > 0)
			set_num(l, "size_ratio", rb / lb);
		else
			cJSON_AddNullToObject(l, "size_ratio");
		/* a level made of exactly the tensor types of an earlier one (llama.cpp
		 * falls back to another type where rows do not fit a k-quant's block):
		 * its numbers will be that level's. Every tensor's type where both
		 * levels' identities name them (levels made from the source), else the
		 * types' histogram (two recipes moving different tensors of one shape
		 * have the same histogram and are not the same) */
		{
			const cJSON *ty = cJSON_GetObjectItemCaseSensitive(lvj[i], "types"), *tt = tensor_map(lvj[i]);
			const char *same = NULL;
			for (int j = 0; j < i && !same && cJSON_IsArray(ty) && cJSON_GetArraySize(ty) > 0; j++)
				if (tt && tensor_map(lvj[j]) ? cJSON_Compare(tt, tensor_map(lvj[j]), 1)
							     : cJSON_Compare(ty, cJSON_GetObjectItemCaseSensitive(lvj[j], "types"), 1))
					same = qe_json_str(lvj[j], "name", NULL);
			if (same)
				cJSON_AddStringToObject(l, "same_types_as", same);
			else
				cJSON_AddNullToObject(l, "same_types_as");
		}
		cJSON_AddItemToArray(levels, l);
	}
	return levels;
}

/* results.json's engine and model blocks */
static void engine_and_model(const struct run *r, cJSON *res, const cJSON *refj)
{
	{
		cJSON *eng = cJSON_AddObjectToObject(res, "engine");
		cJSON_AddStringToObject(eng, "runtime", r->rtp.runtime);
		cJSON_AddStringToObject(eng, "version", qe_json_str(refj, "engine_version", qe_runtime_version(r->rtp.runtime)));
		cJSON_AddStringToObject(eng, "build", qe_json_str(refj, "engine_build", ""));
	}
	{
		cJSON *m = cJSON_AddObjectToObject(res, "model"), *id = cJSON_CreateObject();
		struct qe_err e2 = { 0 };
		const char *sha;
		cJSON_AddStringToObject(m, "source", r->model);
		/* the source's content hash, where its runtime can tell one */
		if (qe_level_source_identity(r->rtp.runtime, r->model, r->cache, id, &e2) == 0 &&
		    (sha = qe_json_str(id, "sha256", NULL)) != NULL)
			cJSON_AddStringToObject(m, "sha256", sha);
		else
			cJSON_AddNullToObject(m, "sha256");
		cJSON_Delete(id);
		cJSON_AddStringToObject(m, "arch", qe_json_str(refj, "arch", ""));
		cJSON_AddNumberToObject(m, "n_params", qe_json_num(refj, "n_params", 0));
	}
}

/* One task's block of results.json (and its lm-eval export): the records of
 * every level through the task's summarize. */
static int task_block(struct run *r, struct task_inst *ti, cJSON *const *lvj, cJSON *tasks, cJSON *lm,
		      struct qe_err *err)
{
	size_t n = (size_t)r->n_levels;
	cJSON **recs = calloc(n, sizeof(*recs)), *tj, *tlv;
	int *ok = calloc(n, sizeof(*ok)), rc = 0;
	const char **dirs = calloc(n, sizeof(*dirs));
	struct qe_level *lvs = calloc(n, sizeof(*lvs));
	struct qe_task_levels tlv_in;
	const cJSON *b;
	char path[4400];

	if (!recs || !ok || !dirs || !lvs)
		rc = qe_fail(err, QE_ENOMEM, "out of memory");
	for (int i = 0; rc == 0 && i < r->n_levels; i++) {
		snprintf(path, sizeof(path), "%s/records-%s.jsonl", r->dirs[i], ti->name);
		snprintf(lvs[i].name, sizeof(lvs[i].name), "%s", r->names[i]);
		snprintf(lvs[i].path, sizeof(lvs[i].path), "%s", qe_json_str(lvj[i], "path", ""));
		dirs[i] = r->dirs[i];
		rc = qe_journal_load(path, &recs[i], err);
		ok[i] = !strcmp(qe_json_str(lvj[i], "status", ""), "ok");
	}
	if (rc == 0) {
		tj = cJSON_AddObjectToObject(tasks, ti->name);
		cJSON_AddStringToObject(tj, "task", ti->task->name);
		if (ti->task->describe)
			ti->task->describe(ti->state, cJSON_AddObjectToObject(tj, "settings"));
		cJSON_AddNumberToObject(tj, "n_items", (double)ti->n_items);
		tlv = cJSON_AddObjectToObject(tj, "levels");
		tlv_in.n = n;
		tlv_in.ref = (size_t)r->ref;
		tlv_in.levels = lvs;
		tlv_in.dirs = dirs;
		tlv_in.records = recs;
		tlv_in.ok = ok;
		tlv_in.info = (const cJSON *const *)lvj;
		rc = ti->task->summarize(ti->state, &tlv_in, tlv, err);
		if (rc)
			qe_err_wrap(err, "summarizing task '%s'", ti->name);
		/* the lm-evaluation-harness-shaped block, where the task's view makes one */
		cJSON_ArrayForEach(b, tlv)
			if (ti->task->view && ti->task->view->lm_eval)
				ti->task->view->lm_eval(lm, b->string, ti->name, b);
	}
	for (size_t i = 0; recs && i < n; i++)
		cJSON_Delete(recs[i]);
	free(recs);
	free(ok);
	free(dirs);
	free(lvs);
	return rc;
}

/* 1 when a limit (the plan's or a task's own) cut the data short */
static int partial(const struct run *r)
{
	int p = r->plan->limit > 0;

	for (int t = 0; t < r->n_tasks; t++)
		p |= r->tasks[t].spec->limit > 0;
	return p;
}

/* results.json, recomputed from every level's level.json and records */
static int summarize(struct run *r, struct qe_err *err)
{
	cJSON *res = cJSON_CreateObject(), *tasks, *lm, *runj, *q, **lvj;
	char when[32], path[4400];
	double wall;
	int complete, rc = 0;
	const cJSON *refj;

	if (!(lvj = calloc((size_t)r->n_levels, sizeof(*lvj)))) {
		cJSON_Delete(res);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	cJSON_AddStringToObject(res, "schema", "qeval-results");
	cJSON_AddNumberToObject(res, "version", 1);
	q = cJSON_AddObjectToObject(res, "qeval");
	cJSON_AddStringToObject(q, "version", QE_VERSION);
	cJSON_AddStringToObject(q, "git", QE_GIT);
	iso_time(when, sizeof(when));
	cJSON_AddStringToObject(res, "created", when);
	runj = cJSON_AddObjectToObject(res, "run");
	cJSON_AddItemToObject(res, "machine", machine_json());
	read_levels(r, lvj, &complete, &wall);
	refj = lvj[r->ref];
	machine_gpu(res, refj);
	cJSON_AddStringToObject(runj, "dir", r->out);
	cJSON_AddBoolToObject(runj, "complete", complete);
	cJSON_AddBoolToObject(runj, "partial", partial(r));
	cJSON_AddNumberToObject(runj, "limit", (double)r->plan->limit);
	cJSON_AddNumberToObject(runj, "seed", (double)r->plan->seed);
	cJSON_AddNumberToObject(runj, "wall_s", wall);
	cJSON_AddItemToObject(runj, "plan", cJSON_Duplicate(r->plan->json, 1));
	engine_and_model(r, res, refj);
	cJSON_AddStringToObject(res, "reference", r->names[r->ref]);
	cJSON_AddItemToObject(res, "levels", levels_block(r, lvj, refj));

	tasks = cJSON_AddObjectToObject(res, "tasks");
	lm = cJSON_AddObjectToObject(res, "lm_eval");
	for (int t = 0; t < r->n_tasks && rc == 0; t++)
		rc = task_block(r, &r->tasks[t], lvj, tasks, lm, err);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/results.json", r->out);
		rc = qe_json_write_file(path, res, err);
	}
	for (int i = 0; i < r->n_levels; i++)
		cJSON_Delete(lvj[i]);
	free(lvj);
	cJSON_Delete(res);
	return rc;
}

/* ======================================================================
 * The run's identity (harness/runid.h)
 * ====================================================================== */

/* data fingerprints of task t: its main option (the data it names) */
static int task_data(const struct task_inst *ti, cJSON *data, struct qe_err *err)
{
	for (const struct qe_optab *o = ti->task->options; o && o->key; o++) {
		const char *v = qe_json_str(ti->spec->json, o->key, NULL);
		char path[4200], *q;
		cJSON *fp;
		int rc;

		if (!(o->flags & QE_OF_MAIN) || !v)
			continue;
		snprintf(path, sizeof(path), "%s", v);
		if (qe_file_size(path) < 0 && (q = strchr(path, '?')) != NULL)
			*q = '\0'; /* FILE?k=v: options inline */
		fp = cJSON_AddObjectToObject(data, o->key);
		if ((rc = qe_data_fingerprint(path, fp, err)) != 0)
			return qe_err_wrap(err, "task '%s'", ti->name);
	}
	return 0;
}

/* What the run's records depend on: the model's content, the levels, each
 * task's settings and data. Caller frees. */
static cJSON *run_identity(const struct run *r, struct qe_err *err)
{
	cJSON *id = cJSON_CreateObject(), *rt, *m, *lv, *tasks;
	struct qe_err e2 = { 0 };

	cJSON_AddStringToObject(id, "schema", "qeval-identity");
	cJSON_AddNumberToObject(id, "version", 1);
	rt = cJSON_AddObjectToObject(id, "runtime");
	cJSON_AddStringToObject(rt, "name", r->rtp.runtime);
	cJSON_AddNumberToObject(rt, "ctx", r->rtp.n_ctx);
	m = cJSON_AddObjectToObject(id, "model");
	if (qe_level_source_identity(r->rtp.runtime, r->model, r->cache, m, &e2) != 0)
		cJSON_AddStringToObject(m, "source", r->model); /* a runtime that cannot tell: its name */
	lv = cJSON_AddArrayToObject(id, "levels");
	for (int i = 0; i < r->n_levels; i++) {
		cJSON *l = cJSON_CreateObject();
		cJSON_AddStringToObject(l, "name", r->names[i]);
		if (r->specs[i].text)
			cJSON_AddStringToObject(l, "spec", r->specs[i].text);
		else
			cJSON_AddItemToObject(l, "spec", cJSON_Duplicate(r->specs[i].obj, 1));
		cJSON_AddItemToArray(lv, l);
	}
	tasks = cJSON_AddObjectToObject(id, "tasks");
	for (int t = 0; t < r->n_tasks; t++) {
		const struct task_inst *ti = &r->tasks[t];
		cJSON *tj = cJSON_AddObjectToObject(tasks, ti->name), *plan = cJSON_Duplicate(ti->spec->json, 1);
		cJSON_AddStringToObject(tj, "task", ti->task->name);
		cJSON_DeleteItemFromObjectCaseSensitive(plan, "seed"); /* the bootstrap's, not the records' */
		if (ti->task->describe) /* first: a difference is named by its setting */
			ti->task->describe(ti->state, cJSON_AddObjectToObject(tj, "settings"));
		cJSON_AddItemToObject(tj, "plan", plan);
		if (task_data(ti, cJSON_AddObjectToObject(tj, "data"), err) != 0) {
			cJSON_Delete(id);
			return NULL;
		}
	}
	return id;
}

/* 1 when DIR/levels holds anything */
static int has_levels(const char *out)
{
	char path[4200];
	struct dirent *de;
	DIR *d;
	int any = 0;

	snprintf(path, sizeof(path), "%s/levels", out);
	if (!(d = opendir(path)))
		return 0;
	while (!any && (de = readdir(d)) != NULL)
		any = de->d_name[0] != '.';
	closedir(d);
	return any;
}

/* A new run writes its identity; a resumed one must have the same. */
static int identity_settle(const struct run *r, int resume, struct qe_err *err)
{
	char path[4400], where[700];
	cJSON *now, *was = NULL;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", r->out, QE_RUNID_FILE);
	if (!(now = run_identity(r, err)))
		return err->code ? err->code : QE_ENOMEM;
	if (!resume) {
		rc = qe_json_write_file(path, now, err);
		cJSON_Delete(now);
		return rc;
	}
	rc = qe_json_read_file(path, &was, err);
	if (rc == QE_ENOENT && !has_levels(r->out)) /* killed before any level: nothing to mix */
		rc = qe_json_write_file(path, now, err);
	else if (rc == QE_ENOENT)
		rc = qe_fail(err, QE_EINVAL, "--resume %s: the run has no %s (an older qeval, or damaged): its records cannot be "
			     "proven to be this run's; start a new run with another --out", r->out, QE_RUNID_FILE);
	else if (rc == 0 && qe_runid_diff(was, now, where, sizeof(where)))
		rc = qe_fail(err, QE_EINVAL, "--resume %s: not the same run: %s; start a new run with another --out",
			     r->out, where);
	cJSON_Delete(was);
	cJSON_Delete(now);
	return rc;
}

/* ======================================================================
 * Entry points
 * ====================================================================== */

/* Wait for the level process pid; a stop asked of this process (SIGINT,
 * SIGTERM) is passed on to it, so it stops after its current item. */
static int wait_level(pid_t pid)
{
	int status = 0, passed_on = 0;

	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid || (w < 0 && errno != EINTR))
			return status;
		if (qe_stop_signal() && !passed_on) {
			kill(pid, SIGTERM);
			passed_on = 1;
		}
		usleep(20000);
	}
}

/* Every process of level i (the shared one, then one per own_process task),
 * each a child unless the plan says not to isolate. Non-zero when one failed;
 * an aborted child's level.json says why. */
static int run_level_processes(struct run *r, int i)
{
	int failed = 0;

	for (int group = -1; group < r->n_tasks && !qe_stop_signal(); group++) {
		int any = 0, status;
		pid_t pid, parent = getpid();

		for (int t = 0; t < r->n_tasks; t++)
			any |= in_group(r, t, group);
		if (!any || (group >= 0 && !r->tasks[group].task->own_process))
			continue;
		if (!r->isolate) {
			failed |= run_level(r, i, group) != 0;
			continue;
		}
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "qeval run: cannot start a process for level %s: %s\n", r->names[i], strerror(errno));
			return 1;
		}
		if (pid == 0) {
			qe_die_with_parent(SIGKILL, (long)parent); /* never outlive the driver */
			qe_stop_install(0);
			_exit(run_level(r, i, group));
		}
		status = wait_level(pid);
		if (qe_stop_signal() && WIFEXITED(status))
			continue; /* stopped on request: level.json says "interrupted" */
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			failed = 1;
			if (!WIFEXITED(status))
				mark_aborted(r, i, status);
		}
	}
	return failed;
}

int qe_run_plan(cJSON *json, int resume, struct qe_run_status *st, struct qe_err *err)
{
	struct qe_plan plan;
	int rc;

	memset(st, 0, sizeof(*st));
	if (!(json = cJSON_Duplicate(json, 1)))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	rc = qe_plan_from_json(&plan, json, err);
	if (rc == 0)
		rc = qe_run(&plan, resume, st, err);
	qe_plan_release(&plan);
	return rc;
}

/* A new run: refuse a directory that holds a run (or records of an unknown
 * one), then write identity.json and plan.json (in that order: a plan.json
 * always has its identity beside it). A resumed one: the same identity. */
static int run_start(const struct run *r, const struct qe_plan *plan, int resume, struct qe_err *err)
{
	char path[4400];
	struct stat sb;
	int rc;

	snprintf(path, sizeof(path), "%s/plan.json", r->out);
	if (!resume && stat(path, &sb) == 0)
		return qe_fail(err, QE_EINVAL, "'%s' already holds a run: resume it with 'qeval run --resume %s', or choose another --out",
			       r->out, r->out);
	if (!resume && has_levels(r->out))
		return qe_fail(err, QE_EINVAL, "'%s' holds levels/ but no plan.json: records of an unknown run; choose another --out "
			       "(or remove '%s/levels')", r->out, r->out);
	if ((rc = identity_settle(r, resume, err)) != 0 || (rc = shard_settle(r, err)) != 0)
		return rc;
	/* a resumed shard that never started (a rank of mpirun) has none yet */
	return resume && stat(path, &sb) == 0 ? 0 : qe_json_write_file(path, plan->json, err);
}

static void print_plan(const struct run *r)
{
	fprintf(stderr, "qeval run: model %s, %d level(s), reference %s, %d task(s), %zu work items per level, output %s\n",
		r->model, r->n_levels, r->names[r->ref], r->n_tasks, r->total_items, r->out);
	for (int t = 0; t < r->n_tasks; t++) {
		cJSON *set = cJSON_CreateObject();
		char *txt;
		if (r->tasks[t].task->describe)
			r->tasks[t].task->describe(r->tasks[t].state, set);
		cJSON_DeleteItemFromObjectCaseSensitive(set, "template");
		txt = cJSON_PrintUnformatted(set);
		fprintf(stderr, "qeval run: task %s (%s): %zu items, settings %s\n", r->tasks[t].name,
			r->tasks[t].task->name, r->tasks[t].n_items, txt ? txt : "{}");
		cJSON_free(txt);
		cJSON_Delete(set);
	}
}

/* What killed processes left: temporary files of the run directory, its
 * levels and the quantization cache (<cache>/quant/<sha256>/). */
static void clean_leftovers(const struct run *r)
{
	char path[4400], cache[4096];
	struct dirent *de;
	DIR *d;

	qe_clean_stale_tmp(r->out);
	for (int i = 0; i < r->n_levels; i++)
		qe_clean_stale_tmp(r->dirs[i]);
	snprintf(path, sizeof(path), "%s/quant", r->cache && *r->cache ? r->cache : qe_cache_dir(cache, sizeof(cache)));
	if (!(d = opendir(path)))
		return;
	while ((de = readdir(d)) != NULL) {
		char sub[4700];
		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		qe_clean_stale_tmp(sub);
	}
	closedir(d);
}

/* The k-th level to run: the reference first (a task may compare the others
 * with what it left), then the others in order; a shard starts the others
 * at its own place, so that shards sharing a quantization cache make
 * different levels at the same time. */
static int level_order(const struct run *r, int k)
{
	int n = r->n_levels - 1, j;

	if (k == 0)
		return r->ref;
	j = k - 1;
	if (r->n_shards > 1 && n > 0)
		j = (j + (int)((long)r->shard * n / r->n_shards)) % n;
	return j < r->ref ? j : j + 1;
}

/* The levels one by one, until the last or a stop (SIGINT / SIGTERM). */
static int run_levels(struct run *r, int resume, struct qe_run_status *st, struct qe_err *err)
{
	for (int k = 0; k < r->n_levels && !qe_stop_signal(); k++) {
		int i = level_order(r, k);
		if (!tasks_in_shard(r, i))
			continue; /* every unit of the level is another shard's */
		if (qe_mkdirs(r->dirs[i], 0755) != 0)
			return qe_fail(err, QE_EIO, "cannot create '%s': %s", r->dirs[i], strerror(errno));
		if (resume && level_complete(r, i)) {
			if (!r->quiet)
				fprintf(stderr, "qeval run: level %s already complete\n", r->names[i]);
			continue;
		}
		if (run_level_processes(r, i) != 0)
			st->n_levels_failed++;
		if (i == r->ref)
			recount(r);
	}
	st->interrupted = qe_stop_signal();
	return 0;
}

int qe_run(const struct qe_plan *plan, int resume, struct qe_run_status *st, struct qe_err *err)
{
	struct qe_shard_opts so = { 0, 1, NULL };

	return qe_run_shard(plan, resume, &so, st, err);
}

int qe_run_shard(const struct qe_plan *plan, int resume, const struct qe_shard_opts *so, struct qe_run_status *st,
		 struct qe_err *err)
{
	struct qe_lock lock = { .fd = -1 };
	struct run r;
	int rc;

	memset(st, 0, sizeof(*st));
	rc = run_setup(&r, plan, err);
	if (rc == 0 && so->n_shards > 1 && (rc = level_weights(&r, so->balance_from, resume, err)) == 0)
		rc = scale_setup(&r, so->shard, so->n_shards, err);
	if (rc == 0) {
		st->n_levels = r.n_levels;
		if (qe_mkdirs(r.out, 0755) != 0)
			rc = qe_fail(err, QE_EIO, "cannot create '%s': %s", r.out, strerror(errno));
	}
	if (rc == 0)
		rc = qe_lock_take(&lock, r.out, "lock", err);
	if (rc == 0 && lock.stale_pid > 0) /* a warning: shown also when quiet */
		fprintf(stderr, "qeval run: '%s/lock' was left by process %ld, which is gone: taken over\n", r.out,
			lock.stale_pid);
	if (rc == 0)
		rc = run_start(&r, plan, resume, err);
	if (rc == 0) {
		if (!r.quiet)
			print_plan(&r);
		qe_stop_install(1);
		clean_leftovers(&r);
		rc = run_levels(&r, resume, st, err);
	}
	if (rc == 0 && r.n_shards <= 1) /* a shard's records are summarised once merged */
		rc = summarize(&r, err);
	qe_lock_release(&lock);
	run_release(&r);
	return rc;
}

int qe_run_summarize(const char *dir, struct qe_err *err)
{
	char path[4200];
	struct qe_plan plan;
	cJSON *json;
	struct run r;
	int rc;

	snprintf(path, sizeof(path), "%s/plan.json", dir);
	rc = qe_json_read_file(path, &json, err);
	if (rc)
		return rc;
	if (cJSON_IsObject(json))
		qe_plan_json_set(json, "out", cJSON_CreateString(dir));
	rc = qe_plan_from_json(&plan, json, err);
	if (rc == 0) {
		rc = run_setup(&r, &plan, err);
		if (rc == 0)
			rc = summarize(&r, err);
		run_release(&r);
	}
	qe_plan_release(&plan);
	return rc;
}

/* ======================================================================
 * Units for merging (harness/merge.c)
 * ====================================================================== */

void qe_run_units_release(struct qe_run_units *u)
{
	for (int t = 0; u->item_ids && t < u->n_tasks; t++) {
		for (size_t k = 0; u->item_ids[t] && k < u->n_items[t]; k++)
			free(u->item_ids[t][k]);
		free(u->item_ids[t]);
	}
	free(u->item_ids);
	free(u->n_items);
	free(u->levels);
	free(u->tasks);
	qe_scale_release(&u->scale);
	memset(u, 0, sizeof(*u));
}

/* the record ids of every item of the split tasks */
static int units_ids(const struct run *r, struct qe_run_units *u, struct qe_err *err)
{
	char id[256];
	double tok;

	for (int t = 0; t < r->n_tasks; t++) {
		const struct task_inst *ti = &r->tasks[t];
		u->n_items[t] = ti->n_items;
		if (!split_task(r, t))
			continue;
		if (!(u->item_ids[t] = calloc(ti->n_items + 1, sizeof(char *))))
			return qe_fail(err, QE_ENOMEM, "out of memory");
		for (size_t k = 0; k < ti->n_items; k++) {
			ti->task->item(ti->state, k, id, sizeof(id), &tok);
			if (!(u->item_ids[t][k] = strdup(id)))
				return qe_fail(err, QE_ENOMEM, "out of memory");
		}
	}
	return 0;
}

int qe_run_units(const struct qe_plan *plan, int n_shards, struct qe_run_units *u, struct qe_err *err)
{
	struct run r;
	int rc;

	memset(u, 0, sizeof(*u));
	rc = run_setup(&r, plan, err);
	if (rc == 0)
		rc = scale_setup(&r, 0, n_shards, err);
	if (rc == 0) {
		u->n_levels = r.n_levels;
		u->n_tasks = r.n_tasks;
		u->ref = r.ref;
		u->levels = calloc((size_t)r.n_levels, sizeof(*u->levels));
		u->tasks = calloc((size_t)r.n_tasks + 1, sizeof(*u->tasks));
		u->item_ids = calloc((size_t)r.n_tasks + 1, sizeof(*u->item_ids));
		u->n_items = calloc((size_t)r.n_tasks + 1, sizeof(*u->n_items));
		if (!u->levels || !u->tasks || !u->item_ids || !u->n_items)
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
	}
	for (int i = 0; rc == 0 && i < r.n_levels; i++)
		snprintf(u->levels[i], sizeof(u->levels[i]), "%s", r.names[i]);
	for (int t = 0; rc == 0 && t < r.n_tasks; t++)
		u->tasks[t] = r.tasks[t].name; /* the plan's */
	if (rc == 0)
		rc = units_ids(&r, u, err);
	if (rc == 0) {
		u->scale = r.scale; /* taken */
		memset(&r.scale, 0, sizeof(r.scale));
	}
	run_release(&r);
	if (rc)
		qe_run_units_release(u);
	return rc;
}
