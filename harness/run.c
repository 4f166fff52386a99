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
#include "harness/progress.h"
#include "harness/base/sys.h"
#include "harness/tasks/task.h"
#include "reports/view.h"
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

/* The describe() facts info_to_json writes, copied from an earlier level.json
 * (a level process of its own keeps the facts of the scoring one) */
static void copy_facts(cJSON *j, const cJSON *old)
{
	static const char *const keys[] = { "arch", "ftype", "file_bytes", "tensor_bytes", "n_params", "bpw", "types",
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

/* The tasks of one level process (group: -1 the tasks that share one, else
 * the index of a task that runs alone, own_process), in the child. */
static int run_level(struct run *r, int i, int group)
{
	struct qe_err err = { 0 };
	struct qe_level lv;
	struct qe_rt_params p = r->rtp;
	struct qe_runtime *rt = NULL;
	struct qe_rt_info info;
	struct qe_progress *prog;
	char path[4400], crash[4400];
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

	task_wall = cJSON_GetObjectItemCaseSensitive(old, "task_wall_s");
	task_wall = task_wall ? cJSON_Duplicate(task_wall, 1) : cJSON_CreateObject();
	cJSON_AddItemToObject(lj, "task_wall_s", task_wall);
	done = done_elsewhere(r, old, group);
	cJSON_AddItemToObject(lj, "tasks_done", done);
	prog = qe_progress_new(r->total_items, r->quiet);
	for (int t = 0; t < r->n_tasks; t++) {
		struct task_inst *ti = &r->tasks[t];
		struct qe_task_level tl;
		struct qe_journal *j = NULL;
		double ts = qe_now();
		char jp[4400];

		if (!in_group(r, t, group))
			continue;
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
		tl.ref_dir = r->dirs[r->ref];
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
	if (cJSON_GetArraySize(done) == r->n_tasks) {
		set_str(lj, "status", "ok");
		set_str(lj, "error", NULL);
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
	cJSON_AddBoolToObject(runj, "partial", r->plan->limit > 0);
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
 * Entry points
 * ====================================================================== */

/* Every process of level i (the shared one, then one per own_process task),
 * each a child unless the plan says not to isolate. Non-zero when one failed;
 * an aborted child's level.json says why. */
static int run_level_processes(struct run *r, int i)
{
	int failed = 0;

	for (int group = -1; group < r->n_tasks; group++) {
		int any = 0;
		pid_t pid;
		int status = 0;

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
		if (pid == 0)
			_exit(run_level(r, i, group));
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
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
	for (int k = 0; k < r.n_levels; k++) {
		/* the reference first: a task may compare the others with what it left */
		int i = k == 0 ? r.ref : k <= r.ref ? k - 1 : k;
		if (qe_mkdirs(r.dirs[i], 0755) != 0) {
			run_release(&r);
			return qe_fail(err, QE_EIO, "cannot create '%s': %s", r.dirs[i], strerror(errno));
		}
		if (resume && level_complete(&r, i)) {
			if (!r.quiet)
				fprintf(stderr, "qeval run: level %s already complete\n", r.names[i]);
			continue;
		}
		if (run_level_processes(&r, i) != 0)
			st->n_levels_failed++;
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
