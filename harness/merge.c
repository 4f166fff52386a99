/* qeval — merging shard directories. See harness/merge.h.
 *
 * Every shard holds the plan's whole unit table (shard.json); the merge
 * plans the units again from plan.json (the same table, or the shards were
 * made by another qeval) and, for each level and task, concatenates the
 * records of its units in unit order, each taken from the shard that owns
 * it: a split task's unit keeps the records of its own items only (in the
 * order its shard wrote them), a whole task's unit all of them. Cuts fall
 * where no engine call is shared, so each record is the one a single run
 * writes, and so is results.json, recomputed by the same code.
 */
#include "harness/merge.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/base/text.h"
#include "harness/journal.h"
#include "harness/plan.h"
#include "harness/run.h"
#include "harness/runid.h"
#include "harness/scale.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct shard_in {
	const char *dir;
	cJSON *shard, *identity, *plan;
};

struct merge {
	const char *out;
	int n_shards;
	const char **by_index;        /* [n_shards] the folder of each shard, NULL = not given */
	struct qe_run_units u;
};

static void shards_release(struct shard_in *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++) {
		cJSON_Delete(s[i].shard);
		cJSON_Delete(s[i].identity);
		cJSON_Delete(s[i].plan);
	}
	free(s);
}

static int load_shard(const char *dir, struct shard_in *s, struct qe_err *err)
{
	char path[4400];
	int rc;

	s->dir = dir;
	snprintf(path, sizeof(path), "%s/%s", dir, QE_SHARD_FILE);
	if (qe_json_read_file(path, &s->shard, NULL) != 0)
		return qe_fail(err, QE_EINVAL, "'%s' is not a shard of a run (no %s): give the folders of "
			       "'qeval run --shard I/N'", dir, QE_SHARD_FILE);
	snprintf(path, sizeof(path), "%s/%s", dir, QE_RUNID_FILE);
	if ((rc = qe_json_read_file(path, &s->identity, err)) != 0)
		return rc;
	snprintf(path, sizeof(path), "%s/plan.json", dir);
	return qe_json_read_file(path, &s->plan, err);
}

/* Every shard of the same run, the same shard count and units, none twice. */
static int check_shards(const struct shard_in *s, size_t n, struct merge *m, struct qe_err *err)
{
	char where[700];

	m->n_shards = (int)qe_json_num(s[0].shard, "shards", 0);
	if (m->n_shards < 1 || m->n_shards > 4096)
		return qe_fail(err, QE_EINPUT, "'%s/%s': no shard count", s[0].dir, QE_SHARD_FILE);
	if (!(m->by_index = calloc((size_t)m->n_shards, sizeof(*m->by_index))))
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t k = 0; k < n; k++) {
		int i = (int)qe_json_num(s[k].shard, "shard", -1), nk = (int)qe_json_num(s[k].shard, "shards", 0);
		if (qe_runid_diff(s[0].identity, s[k].identity, where, sizeof(where)))
			return qe_fail(err, QE_EINVAL, "'%s' is not a shard of the same run as '%s': %s", s[k].dir, s[0].dir,
				       where);
		if (nk != m->n_shards)
			return qe_fail(err, QE_EINVAL, "'%s' is shard %d of %d, '%s' one of %d: not the same split", s[k].dir, i,
				       nk, s[0].dir, m->n_shards);
		if (i < 0 || i >= m->n_shards)
			return qe_fail(err, QE_EINPUT, "'%s/%s': shard %d is not in 0..%d", s[k].dir, QE_SHARD_FILE, i,
				       m->n_shards - 1);
		if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(s[0].shard, "units"),
				   cJSON_GetObjectItemCaseSensitive(s[k].shard, "units"), 1))
			return qe_fail(err, QE_EINVAL, "'%s' and '%s' planned their units differently (another qeval?)",
				       s[k].dir, s[0].dir);
		if (m->by_index[i])
			return qe_fail(err, QE_EINVAL, "shard %d/%d is given twice: '%s' and '%s'", i, m->n_shards,
				       m->by_index[i], s[k].dir);
		m->by_index[i] = s[k].dir;
	}
	return 0;
}

/* ---- records --------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* the unit's record lines from its shard's journal (all of them for a task
 * run whole, else those of its own items), appended to out */
static int unit_records(const struct merge *m, const struct qe_unit *u, const char *ldir, struct qe_text *out,
			struct qe_err *err)
{
	char path[4600];
	const char **ids = NULL;
	char **all = m->u.item_ids[u->task];
	size_t n_ids = u->end - u->first;
	const cJSON *r;
	cJSON *recs;
	int rc;

	snprintf(path, sizeof(path), "%s/%s/records-%s.jsonl", m->by_index[u->owner], ldir, m->u.tasks[u->task]);
	if ((rc = qe_journal_load(path, &recs, err)) != 0)
		return rc;
	if (all) {
		if (!(ids = malloc((n_ids + 1) * sizeof(*ids)))) {
			cJSON_Delete(recs);
			return qe_fail(err, QE_ENOMEM, "out of memory");
		}
		for (size_t k = 0; k < n_ids; k++)
			ids[k] = all[u->first + k];
		qsort(ids, n_ids, sizeof(*ids), cmp_str);
	}
	cJSON_ArrayForEach(r, recs) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "id");
		char *line;
		if (ids && (!cJSON_IsString(id) || !bsearch(&id->valuestring, ids, n_ids, sizeof(*ids), cmp_str)))
			continue;
		if (!(line = cJSON_PrintUnformatted(r))) {
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
			break;
		}
		qe_text_put(out, line);
		qe_text_putc(out, '\n');
		cJSON_free(line);
	}
	free(ids);
	cJSON_Delete(recs);
	return rc;
}

/* copy src to dst (a hard link where the file system allows) */
static int copy_file(const char *src, const char *dst, struct qe_err *err)
{
	unlink(dst);
	return link(src, dst) == 0 ? 0 : qe_file_copy(src, dst, err);
}

/* a task run whole: its other files (embeddings-T.*, kld-T.ref) too */
static int unit_files(const char *from, const char *to, const char *task, struct qe_err *err)
{
	char pat[128], src[4600], dst[4600];
	struct dirent *de;
	DIR *d = opendir(from);
	int rc = 0;

	snprintf(pat, sizeof(pat), "-%s.", task);
	while (d && rc == 0 && (de = readdir(d)) != NULL) {
		if (!strstr(de->d_name, pat) || !strncmp(de->d_name, "records-", 8) || strstr(de->d_name, ".tmp."))
			continue;
		snprintf(src, sizeof(src), "%s/%s", from, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		rc = copy_file(src, dst, err);
	}
	if (d)
		closedir(d);
	return rc;
}

/* records-T.jsonl of level i, task t, from the units' shards in unit order */
static int merge_records(const struct merge *m, int i, int t, const char *ldir, struct qe_err *err)
{
	struct qe_text out = { 0 };
	char path[4600], from[4600];
	int rc = 0, any = 0;

	for (size_t k = 0; k < m->u.scale.n_units && rc == 0; k++) {
		const struct qe_unit *u = &m->u.scale.units[k];
		if (u->level != i || u->task != t || !m->by_index[u->owner])
			continue;
		any = 1;
		rc = unit_records(m, u, ldir, &out, err);
		if (rc == 0 && u->n_pieces == 1) {
			snprintf(from, sizeof(from), "%s/%s", m->by_index[u->owner], ldir);
			snprintf(path, sizeof(path), "%s/%s", m->out, ldir);
			rc = unit_files(from, path, m->u.tasks[t], err);
		}
	}
	snprintf(path, sizeof(path), "%s/%s/records-%s.jsonl", m->out, ldir, m->u.tasks[t]);
	if (rc == 0 && any)
		rc = qe_text_save(&out, path, err);
	qe_text_release(&out);
	return rc;
}

/* ---- level.json ------------------------------------------------------------ */

static int has_str(const cJSON *arr, const char *s)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, arr)
		if (cJSON_IsString(v) && !strcmp(v->valuestring, s))
			return 1;
	return 0;
}

static void put_num(cJSON *o, const char *k, double v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	cJSON_AddNumberToObject(o, k, v);
}

/* level.json of each shard owning a unit of level i (NULL where absent) */
static void owner_levels(const struct merge *m, int i, const char *ldir, cJSON **lj)
{
	char path[4600];

	for (size_t k = 0; k < m->u.scale.n_units; k++) {
		const struct qe_unit *u = &m->u.scale.units[k];
		if (u->level != i || lj[u->owner] || !m->by_index[u->owner])
			continue;
		snprintf(path, sizeof(path), "%s/%s/level.json", m->by_index[u->owner], ldir);
		if (qe_json_read_file(path, &lj[u->owner], NULL) != 0)
			lj[u->owner] = NULL;
	}
}

/* 1 when every unit of task t at level i is done in its shard */
static int task_done(const struct merge *m, int i, int t, cJSON *const *lj)
{
	for (size_t k = 0; k < m->u.scale.n_units; k++) {
		const struct qe_unit *u = &m->u.scale.units[k];
		if (u->level == i && u->task == t &&
		    (!lj[u->owner] || !has_str(cJSON_GetObjectItemCaseSensitive(lj[u->owner], "tasks_done"), m->u.tasks[t])))
			return 0;
	}
	return 1;
}

/* The level's level.json from its shards': the first one's facts, the tasks
 * every unit finished, the shards' times added (peaks: the largest), a
 * failure kept with its reason. */
static cJSON *merge_level(const struct merge *m, int i, cJSON *const *lj)
{
	cJSON *out = NULL, *done, *tw;
	const char *failed = NULL, *status = "ok";
	double wall = 0, rss = 0, load = 0;

	for (int s = 0; s < m->n_shards && !out; s++)
		if (lj[s])
			out = cJSON_Duplicate(lj[s], 1);
	if (!out)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(out, "task_started");
	done = cJSON_CreateArray();
	tw = cJSON_CreateObject();
	for (int t = 0; t < m->u.n_tasks; t++) {
		double sum = 0;
		if (task_done(m, i, t, lj))
			cJSON_AddItemToArray(done, cJSON_CreateString(m->u.tasks[t]));
		else
			status = "pending";
		for (int s = 0; s < m->n_shards; s++) {
			const cJSON *w = cJSON_GetObjectItemCaseSensitive(lj[s], "task_wall_s");
			if (lj[s] && qe_scale_runs(&m->u.scale, s, i, t, -1, 0) && cJSON_GetObjectItemCaseSensitive(w, m->u.tasks[t]))
				sum += qe_json_num(w, m->u.tasks[t], 0);
		}
		cJSON_AddNumberToObject(tw, m->u.tasks[t], sum);
	}
	for (int s = 0; s < m->n_shards; s++) {
		const char *st = qe_json_str(lj[s], "status", "");
		if (!lj[s])
			continue;
		wall += qe_json_num(lj[s], "wall_s", 0);
		rss = fmax(rss, qe_json_num(lj[s], "peak_rss_bytes", 0));
		load = fmax(load, qe_json_num(lj[s], "load_s", 0));
		if (!strcmp(st, "failed") && !failed)
			failed = qe_json_str(lj[s], "error", "failed");
		else if (!strcmp(st, "interrupted") && strcmp(status, "ok") != 0)
			status = "interrupted";
	}
	cJSON_ReplaceItemInObjectCaseSensitive(out, "tasks_done", done);
	cJSON_DeleteItemFromObjectCaseSensitive(out, "task_wall_s");
	cJSON_AddItemToObject(out, "task_wall_s", tw);
	put_num(out, "wall_s", wall);
	put_num(out, "peak_rss_bytes", rss);
	put_num(out, "load_s", load);
	cJSON_DeleteItemFromObjectCaseSensitive(out, "status");
	cJSON_DeleteItemFromObjectCaseSensitive(out, "error");
	cJSON_AddStringToObject(out, "status", failed ? "failed" : status);
	if (failed)
		cJSON_AddStringToObject(out, "error", failed);
	else
		cJSON_AddNullToObject(out, "error");
	return out;
}

/* levels/NN-NAME of out: records and level.json */
static int merge_levels(const struct merge *m, struct qe_merge_status *st, struct qe_err *err)
{
	int rc = 0;

	for (int i = 0; i < m->u.n_levels && rc == 0; i++) {
		char ldir[200], path[4600];
		cJSON **lj = calloc((size_t)m->n_shards, sizeof(*lj)), *merged;
		if (!lj)
			return qe_fail(err, QE_ENOMEM, "out of memory");
		snprintf(ldir, sizeof(ldir), "levels/%02d-%s", i, m->u.levels[i]);
		snprintf(path, sizeof(path), "%s/%s", m->out, ldir);
		if (qe_mkdirs(path, 0755) != 0)
			rc = qe_fail(err, QE_EIO, "cannot create '%s': %s", path, strerror(errno));
		owner_levels(m, i, ldir, lj);
		for (int t = 0; t < m->u.n_tasks && rc == 0; t++)
			rc = merge_records(m, i, t, ldir, err);
		merged = rc == 0 ? merge_level(m, i, lj) : NULL;
		st->n_levels_failed += !strcmp(qe_json_str(merged, "status", ""), "failed");
		st->n_levels_pending += !merged || !strcmp(qe_json_str(merged, "status", ""), "pending") ||
					!strcmp(qe_json_str(merged, "status", ""), "interrupted");
		if (merged) {
			snprintf(path, sizeof(path), "%s/%s/level.json", m->out, ldir);
			rc = qe_json_write_file(path, merged, err);
			cJSON_Delete(merged);
		}
		for (int s = 0; s < m->n_shards; s++)
			cJSON_Delete(lj[s]);
		free(lj);
	}
	return rc;
}

/* ---- the merge ------------------------------------------------------------- */

/* out must not hold a run (unless into_run) nor be one of the shards */
static int check_out(const char *out, const struct shard_in *s, size_t n, int into_run, struct qe_err *err)
{
	char path[4400], a[PATH_MAX], b[PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/plan.json", out);
	if (!into_run && stat(path, &sb) == 0)
		return qe_fail(err, QE_EINVAL, "'%s' already holds a run: merge into another folder", out);
	for (size_t k = 0; k < n && realpath(out, a); k++)
		if (realpath(s[k].dir, b) && !strcmp(a, b))
			return qe_fail(err, QE_EINVAL, "'%s' is one of the shards: merge into another folder", out);
	if (qe_mkdirs(out, 0755) != 0)
		return qe_fail(err, QE_EIO, "cannot create '%s': %s", out, strerror(errno));
	return 0;
}

/* out's plan.json and identity.json: the shards' */
static int write_run_files(const char *out, const struct shard_in *s0, struct qe_plan *plan, struct qe_err *err)
{
	char path[4400];
	cJSON *pj = cJSON_Duplicate(s0->plan, 1);
	int rc;

	qe_plan_json_set(pj, "out", cJSON_CreateString(out));
	snprintf(path, sizeof(path), "%s/%s", out, QE_RUNID_FILE);
	rc = qe_json_write_file(path, s0->identity, err);
	snprintf(path, sizeof(path), "%s/plan.json", out);
	if (rc == 0)
		rc = qe_json_write_file(path, pj, err);
	if (rc == 0)
		return qe_plan_from_json(plan, pj, err);
	cJSON_Delete(pj);
	memset(plan, 0, sizeof(*plan));
	return rc;
}

/* the units planned here must be the shards' (the same qeval planned them);
 * their owners are the shards' (measured weights may have placed them) */
static int check_units(struct merge *m, const struct shard_in *s0, struct qe_err *err)
{
	const char **lv = calloc((size_t)m->u.n_levels + 1, sizeof(*lv));
	const cJSON *was = cJSON_GetObjectItemCaseSensitive(s0->shard, "units"), *b;
	cJSON *a;
	cJSON *now;
	int same;

	if (!lv)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (int i = 0; i < m->u.n_levels; i++)
		lv[i] = m->u.levels[i];
	now = qe_scale_json(&m->u.scale, lv, m->u.tasks);
	same = cJSON_GetArraySize(now) == cJSON_GetArraySize(was) && (size_t)cJSON_GetArraySize(now) == m->u.scale.n_units;
	a = now ? now->child : NULL;
	b = was ? was->child : NULL;
	for (size_t k = 0; same && a && b; k++, a = a->next, b = b->next) {
		int owner = (int)qe_json_num(b, "shard", -1);
		cJSON_ReplaceItemInObjectCaseSensitive(a, "shard", cJSON_CreateNumber(owner));
		same = cJSON_Compare(a, b, 1) && owner >= 0 && owner < m->n_shards;
		m->u.scale.units[k].owner = owner;
	}
	cJSON_Delete(now);
	free(lv);
	if (!same)
		return qe_fail(err, QE_EINVAL, "'%s': its units are not those this qeval plans for its plan (made by another "
			       "version?)", s0->dir);
	return 0;
}

int qe_merge(const char *out, const char *const *dirs, size_t n, int into_run, struct qe_merge_status *st,
	     struct qe_err *err)
{
	struct shard_in *s = calloc(n + 1, sizeof(*s));
	struct merge m = { .out = out };
	struct qe_plan plan;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	memset(&plan, 0, sizeof(plan));
	if (!s)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	if (n == 0)
		rc = qe_fail(err, QE_EINVAL, "no shard folders to merge");
	for (size_t k = 0; k < n && rc == 0; k++)
		rc = load_shard(dirs[k], &s[k], err);
	if (rc == 0)
		rc = check_shards(s, n, &m, err);
	if (rc == 0)
		rc = check_out(out, s, n, into_run, err);
	if (rc == 0)
		rc = write_run_files(out, &s[0], &plan, err);
	if (rc == 0)
		rc = qe_run_units(&plan, m.n_shards, &m.u, err);
	if (rc == 0)
		rc = check_units(&m, &s[0], err);
	if (rc == 0)
		rc = merge_levels(&m, st, err);
	if (rc == 0)
		rc = qe_run_summarize(out, err);
	st->n_shards = m.n_shards;
	for (int i = 0; i < m.n_shards && m.by_index; i++)
		if (!m.by_index[i]) {
			size_t l = strlen(st->missing);
			snprintf(st->missing + l, sizeof(st->missing) - l, "%s%d", st->n_missing++ ? ", " : "", i);
		}
	qe_plan_release(&plan);
	qe_run_units_release(&m.u);
	free(m.by_index);
	shards_release(s, n);
	return rc;
}
