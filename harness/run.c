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
#include "harness/plan.h"
#include "harness/journal.h"
#include "harness/progress.h"
#include "harness/base/sys.h"
#include "harness/tasks/task.h"
#include "runtimes/runtime.h"

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
		r->total_items += ti->n_items;
	}
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
static int run_level(struct run *r, int i)
{
	struct qe_err err = { 0 };
	struct qe_level lv;
	struct qe_rt_params p = r->rtp;
	struct qe_runtime *rt = NULL;
	struct qe_rt_info info;
	struct qe_progress *prog;
	char path[4400];
	cJSON *lj = NULL, *old = NULL, *task_wall, *done;
	double t0 = qe_now(), tl0;
	int rc;

	snprintf(path, sizeof(path), "%s/level.json", r->dirs[i]);
	if (qe_json_read_file(path, &old, NULL) != 0)
		old = NULL;
	rc = qe_level_spec_prepare(r->rtp.runtime, r->model, &r->specs[i], r->cache, r->rtp.n_threads, &lv, &err);
	lj = level_json_base(r, i, rc ? NULL : &lv);
	if (rc)
		goto fail;
	qe_level_rt_params(&lv, &p); /* the level's runtime, model file or endpoint */
	p.level = r->names[i];
	tl0 = qe_now();
	rc = qe_runtime_open(&p, &rt, &err);
	if (rc)
		goto fail;
	set_num(lj, "load_s", qe_now() - tl0);
	qe_runtime_describe(rt, &info);
	info_to_json(lj, &info);
	set_str(lj, "status", "running");
	qe_json_write_file(path, lj, NULL);

	task_wall = cJSON_GetObjectItemCaseSensitive(old, "task_wall_s");
	task_wall = task_wall ? cJSON_Duplicate(task_wall, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(lj, "task_wall_s", task_wall);
	done = cJSON_CreateArray();
	cJSON_AddItemToObject(lj, "tasks_done", done);
	prog = qe_progress_new(r->total_items, r->quiet);
	for (int t = 0; t < r->n_tasks; t++) {
		struct task_inst *ti = &r->tasks[t];
		struct qe_task_level tl;
		struct qe_journal *j = NULL;
		double ts = qe_now();
		char jp[4400];

		if ((ti->task->needs & qe_runtime_caps(rt)) != ti->task->needs) {
			fprintf(stderr, "qeval run: level %s: runtime '%s' cannot run task '%s': skipped\n", r->names[i],
				p.runtime, ti->name);
			continue;
		}
		snprintf(jp, sizeof(jp), "%s/records-%s.jsonl", r->dirs[i], ti->name);
		rc = qe_journal_open(jp, &j, &err);
		if (rc)
			break;
		memset(&tl, 0, sizeof(tl));
		tl.rt = rt;
		tl.level = &lv;
		snprintf(lv.name, sizeof(lv.name), "%s", r->names[i]);
		tl.index = i;
		tl.is_reference = i == r->ref;
		tl.dir = r->dirs[i];
		tl.journal = j;
		tl.progress = prog;
		qe_progress_label(prog, r->names[i], ti->name);
		rc = ti->task->run_level(ti->state, &tl, &err);
		qe_journal_close(j);
		set_num(task_wall, ti->name, qe_json_num(task_wall, ti->name, 0) + (qe_now() - ts));
		if (rc) {
			qe_err_wrap(&err, "task '%s'", ti->name);
			break;
		}
		cJSON_AddItemToArray(done, cJSON_CreateString(ti->name));
	}
	qe_progress_free(prog);
	qe_runtime_close(rt);
	rt = NULL;
	set_num(lj, "peak_rss_bytes", (double)qe_peak_rss());
	set_num(lj, "wall_s", qe_json_num(old, "wall_s", 0) + (qe_now() - t0));
	if (rc)
		goto fail;
	set_str(lj, "status", "ok");
	set_str(lj, "error", NULL);
	rc = qe_json_write_file(path, lj, &err);
	cJSON_Delete(lj);
	cJSON_Delete(old);
	if (rc) {
		fprintf(stderr, "qeval run: level %s: %s\n", r->names[i], err.msg);
		return qe_exit_code(rc);
	}
	return 0;
fail:
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

/* 1 when level.json says every task of the plan is done. */
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
		cJSON_ArrayForEach(d, done)
			found |= cJSON_IsString(d) && !strcmp(d->valuestring, r->tasks[t].name);
		ok = found;
	}
	cJSON_Delete(lj);
	return ok;
}

static void mark_aborted(const struct run *r, int i, int status)
{
	char path[4400], msg[160];
	cJSON *lj;

	snprintf(path, sizeof(path), "%s/level.json", r->dirs[i]);
	if (qe_json_read_file(path, &lj, NULL) != 0)
		lj = level_json_base(r, i, NULL);
	if (WIFSIGNALED(status))
		snprintf(msg, sizeof(msg), "engine aborted (signal %d, %s): the level's records so far are kept",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(msg, sizeof(msg), "level process exited with status %d", WEXITSTATUS(status));
	if (!WIFEXITED(status) || strcmp(qe_json_str(lj, "status", ""), "failed") != 0) {
		set_str(lj, "status", "failed");
		set_str(lj, "error", msg);
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

/* the lm-evaluation-harness-shaped block, from the mc tasks' summaries */
static void add_lm_eval(cJSON *lm, const char *level, const char *task, const char *prefix, const cJSON *blk)
{
	cJSON *lvl = cJSON_GetObjectItemCaseSensitive(lm, level), *res, *o;
	const cJSON *subj, *s;

	if (!lvl) {
		lvl = cJSON_AddObjectToObject(lm, level);
		cJSON_AddObjectToObject(lvl, "results");
	}
	res = cJSON_GetObjectItemCaseSensitive(lvl, "results");
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(blk, "acc")))
		return;
	o = cJSON_AddObjectToObject(res, task);
	cJSON_AddNumberToObject(o, "acc,none", qe_json_num(blk, "acc", 0));
	cJSON_AddNumberToObject(o, "acc_stderr,none", qe_json_num(blk, "acc_stderr", 0));
	subj = cJSON_GetObjectItemCaseSensitive(blk, "subjects");
	cJSON_ArrayForEach(s, subj) {
		char key[256];
		if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(s, "acc")))
			continue;
		snprintf(key, sizeof(key), "%s_%s", prefix, s->string);
		o = cJSON_AddObjectToObject(res, key);
		cJSON_AddNumberToObject(o, "acc,none", qe_json_num(s, "acc", 0));
		cJSON_AddNumberToObject(o, "acc_stderr,none", qe_json_num(s, "acc_stderr", 0));
	}
}

static int summarize(struct run *r, struct qe_err *err)
{
	cJSON *res = cJSON_CreateObject(), *levels, *tasks, *lm, *runj, *q, *lvj[256] = { 0 };
	char when[32], path[4400];
	double wall = 0;
	int complete = 1, rc = 0;
	const cJSON *refj;

	if (r->n_levels > 256)
		return qe_fail(err, QE_EINVAL, "at most 256 levels in one run");
	cJSON_AddStringToObject(res, "schema", "qeval-results");
	cJSON_AddNumberToObject(res, "version", 1);
	q = cJSON_AddObjectToObject(res, "qeval");
	cJSON_AddStringToObject(q, "version", QE_VERSION);
	cJSON_AddStringToObject(q, "git", QE_GIT);
	iso_time(when, sizeof(when));
	cJSON_AddStringToObject(res, "created", when);
	runj = cJSON_AddObjectToObject(res, "run");
	cJSON_AddItemToObject(res, "machine", machine_json());

	levels = cJSON_CreateArray();
	for (int i = 0; i < r->n_levels; i++) {
		snprintf(path, sizeof(path), "%s/level.json", r->dirs[i]);
		if (qe_json_read_file(path, &lvj[i], NULL) != 0) {
			lvj[i] = level_json_base(r, i, NULL);
			set_str(lvj[i], "status", "pending");
		}
		if (strcmp(qe_json_str(lvj[i], "status", ""), "ok") != 0 || !level_complete(r, i))
			complete = 0;
		wall += qe_json_num(lvj[i], "wall_s", 0);
	}
	refj = lvj[r->ref];
	{
		/* the accelerators the engine used: its devices other than the CPU */
		const char *dv = qe_json_str(refj, "devices", "");
		char gpu[256] = "";
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", dv);
		for (char *tok = strtok(tmp, ";"); tok; tok = strtok(NULL, ";")) {
			while (*tok == ' ')
				tok++;
			if (strncmp(tok, "CPU", 3) != 0)
				snprintf(gpu + strlen(gpu), sizeof(gpu) - strlen(gpu), "%s%s", gpu[0] ? "; " : "", tok);
		}
		cJSON *m = cJSON_GetObjectItemCaseSensitive(res, "machine");
		cJSON_DeleteItemFromObjectCaseSensitive(m, "gpu");
		cJSON_AddStringToObject(m, "gpu", gpu);
	}
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
		 * its numbers will be that level's */
		{
			const cJSON *ty = cJSON_GetObjectItemCaseSensitive(lvj[i], "types");
			const char *same = NULL;
			for (int j = 0; j < i && !same && cJSON_IsArray(ty) && cJSON_GetArraySize(ty) > 0; j++)
				if (cJSON_Compare(ty, cJSON_GetObjectItemCaseSensitive(lvj[j], "types"), 1))
					same = qe_json_str(lvj[j], "name", NULL);
			if (same)
				cJSON_AddStringToObject(l, "same_types_as", same);
			else
				cJSON_AddNullToObject(l, "same_types_as");
		}
		cJSON_AddItemToArray(levels, l);
	}
	cJSON_AddStringToObject(runj, "dir", r->out);
	cJSON_AddBoolToObject(runj, "complete", complete);
	cJSON_AddBoolToObject(runj, "partial", r->plan->limit > 0);
	cJSON_AddNumberToObject(runj, "limit", (double)r->plan->limit);
	cJSON_AddNumberToObject(runj, "seed", (double)r->plan->seed);
	cJSON_AddNumberToObject(runj, "wall_s", wall);
	cJSON_AddItemToObject(runj, "plan", cJSON_Duplicate(r->plan->json, 1));
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
	cJSON_AddStringToObject(res, "reference", r->names[r->ref]);
	cJSON_AddItemToObject(res, "levels", levels);

	tasks = cJSON_AddObjectToObject(res, "tasks");
	lm = cJSON_AddObjectToObject(res, "lm_eval");
	for (int t = 0; t < r->n_tasks && rc == 0; t++) {
		struct task_inst *ti = &r->tasks[t];
		cJSON *recs[256] = { 0 }, *tj, *tlv;
		int ok[256] = { 0 };
		const char *dirs[256];
		struct qe_level lvs[256];
		struct qe_task_levels tlv_in;
		const cJSON *b;

		memset(lvs, 0, sizeof(lvs[0]) * (size_t)r->n_levels);
		for (int i = 0; i < r->n_levels; i++) {
			snprintf(path, sizeof(path), "%s/records-%s.jsonl", r->dirs[i], ti->name);
			snprintf(lvs[i].name, sizeof(lvs[i].name), "%s", r->names[i]);
			snprintf(lvs[i].path, sizeof(lvs[i].path), "%s", qe_json_str(lvj[i], "path", ""));
			dirs[i] = r->dirs[i];
			rc = qe_journal_load(path, &recs[i], err);
			if (rc)
				break;
			ok[i] = !strcmp(qe_json_str(lvj[i], "status", ""), "ok");
		}
		if (rc == 0) {
			tj = cJSON_AddObjectToObject(tasks, ti->name);
			cJSON_AddStringToObject(tj, "task", ti->task->name);
			if (ti->task->describe)
				ti->task->describe(ti->state, cJSON_AddObjectToObject(tj, "settings"));
			cJSON_AddNumberToObject(tj, "n_items", (double)ti->n_items);
			tlv = cJSON_AddObjectToObject(tj, "levels");
			tlv_in.n = (size_t)r->n_levels;
			tlv_in.ref = (size_t)r->ref;
			tlv_in.levels = lvs;
			tlv_in.dirs = dirs;
			tlv_in.records = recs;
			tlv_in.ok = ok;
			tlv_in.info = (const cJSON *const *)lvj;
			rc = ti->task->summarize(ti->state, &tlv_in, tlv, err);
			if (rc)
				qe_err_wrap(err, "summarizing task '%s'", ti->name);
			/* add the levels' wall times of this task to throughput blocks */
			cJSON_ArrayForEach(b, tlv) {
				if (!strcmp(ti->task->name, "mmlu") || !strcmp(ti->task->name, "ceval"))
					add_lm_eval(lm, b->string, ti->name, !strcmp(ti->task->name, "ceval") ? "ceval-valid" : "mmlu", b);
			}
		}
		for (int i = 0; i < r->n_levels; i++)
			cJSON_Delete(recs[i]);
	}
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/results.json", r->out);
		rc = qe_json_write_file(path, res, err);
	}
	for (int i = 0; i < r->n_levels; i++)
		cJSON_Delete(lvj[i]);
	cJSON_Delete(res);
	return rc;
}

/* ======================================================================
 * Entry points
 * ====================================================================== */

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

int qe_run(const struct qe_plan *plan, int resume, struct qe_run_status *st, struct qe_err *err)
{
	struct run r;
	char path[4400];
	int rc;

	memset(st, 0, sizeof(*st));
	rc = run_setup(&r, plan, err);
	if (rc) {
		run_release(&r);
		return rc;
	}
	st->n_levels = r.n_levels;
	if (qe_mkdirs(r.out, 0755) != 0) {
		run_release(&r);
		return qe_fail(err, QE_EIO, "cannot create '%s': %s", r.out, strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/plan.json", r.out);
	if (!resume) {
		struct stat sb;
		if (stat(path, &sb) == 0) {
			run_release(&r);
			return qe_fail(err, QE_EINVAL, "'%s' already holds a run: resume it with 'qeval run --resume %s', or choose another --out",
				       r.out, r.out);
		}
		rc = qe_json_write_file(path, plan->json, err);
		if (rc) {
			run_release(&r);
			return rc;
		}
	}
	if (!r.quiet) {
		fprintf(stderr, "qeval run: model %s, %d level(s), reference %s, %d task(s), %zu work items per level, output %s\n",
			r.model, r.n_levels, r.names[r.ref], r.n_tasks, r.total_items, r.out);
		for (int t = 0; t < r.n_tasks; t++) {
			cJSON *set = cJSON_CreateObject();
			char *txt;
			if (r.tasks[t].task->describe)
				r.tasks[t].task->describe(r.tasks[t].state, set);
			cJSON_DeleteItemFromObjectCaseSensitive(set, "template");
			txt = cJSON_PrintUnformatted(set);
			fprintf(stderr, "qeval run: task %s (%s): %zu items, settings %s\n", r.tasks[t].name,
				r.tasks[t].task->name, r.tasks[t].n_items, txt ? txt : "{}");
			cJSON_free(txt);
			cJSON_Delete(set);
		}
	}
	for (int i = 0; i < r.n_levels; i++) {
		if (qe_mkdirs(r.dirs[i], 0755) != 0) {
			run_release(&r);
			return qe_fail(err, QE_EIO, "cannot create '%s': %s", r.dirs[i], strerror(errno));
		}
		if (resume && level_complete(&r, i)) {
			if (!r.quiet)
				fprintf(stderr, "qeval run: level %s already complete\n", r.names[i]);
			continue;
		}
		if (!r.isolate) {
			if (run_level(&r, i) != 0)
				st->n_levels_failed++;
			continue;
		}
		fflush(stdout);
		fflush(stderr);
		{
			pid_t pid = fork();
			int status = 0;
			if (pid < 0) {
				run_release(&r);
				return qe_fail(err, QE_ERUNTIME, "cannot start a process for level %s: %s", r.names[i], strerror(errno));
			}
			if (pid == 0)
				_exit(run_level(&r, i));
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				st->n_levels_failed++;
				if (!WIFEXITED(status))
					mark_aborted(&r, i, status);
			}
		}
	}
	rc = summarize(&r, err);
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
