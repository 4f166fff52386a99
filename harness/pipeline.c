/* qeval — the pipeline: a checked plan run into its directory, then the
 * summary on stdout, the release gates and the reports. Every command that
 * runs levels (run, bench, demo) builds a plan and calls this. */
#include "harness/pipeline.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/jobs.h"
#include "harness/merge.h"
#include "harness/mpi.h"
#include "harness/plan.h"
#include "harness/run.h"
#include "reports/gate.h"
#include "reports/report.h"
#include "reports/summary.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

/* The exit code of a run's status (no error) */
static int status_code(const struct qe_run_status *st)
{
	if (st->interrupted)
		return 128 + st->interrupted;
	return st->n_levels_failed ? QE_EXIT_RUNTIME : QE_EXIT_OK;
}

/* ---- one shard (--shard I/N) ---------------------------------------------- */

static int pipeline_shard(const struct qe_plan *plan, const struct qe_pipeline_opts *o, struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	struct qe_run_status st;
	struct qe_shard_opts so = { o->shard, o->n_shards, o->balance_from };
	int rc = qe_run_shard(plan, o->resume, &so, &st, err);

	if (rc) {
		fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(rc);
	}
	if (st.interrupted)
		fprintf(stderr, "qeval %s: stopped by %s: shard %d/%d's finished items are kept in %s; continue with: "
			"qeval run --resume %s\n", who, strsignal(st.interrupted), o->shard, o->n_shards, plan->out, plan->out);
	else
		printf("shard %d/%d done in %s%s; when every shard is done: qeval merge OUT DIR0 ... DIR%d\n", o->shard,
		       o->n_shards, plan->out, st.n_levels_failed ? " (a level failed: see its level.json)" : "",
		       o->n_shards - 1);
	return status_code(&st);
}

/* ---- ranks of mpirun ------------------------------------------------------- */

/* Rank 0 (or the parent of jobs), before any shard runs: a new run refuses
 * a directory holding one and writes plan.json and scale.json (the shard
 * count, what ran them: "mpirun" or "jobs"); a resumed one must have as
 * many shards. */
static int mpi_settle(const struct qe_plan *plan, int resume, int size, const char *launcher, struct qe_err *err)
{
	char path[4400];
	struct stat sb;
	cJSON *sc = NULL;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/scale.json", plan->out);
	if (resume) {
		if (qe_json_read_file(path, &sc, NULL) != 0)
			return qe_fail(err, QE_EINVAL, "'%s' was not run by mpirun or --jobs (no scale.json): resume it with "
				       "'qeval run --resume %s'", plan->out, plan->out);
		if ((int)qe_json_num(sc, "ranks", 0) != size)
			rc = qe_fail(err, QE_EINVAL, "'%s' was run as %g shards, not %d: resume it with mpirun -np %g, or "
				     "with 'qeval run --resume %s' (as %g jobs)", plan->out, qe_json_num(sc, "ranks", 0), size,
				     qe_json_num(sc, "ranks", 0), plan->out, qe_json_num(sc, "ranks", 0));
		cJSON_Delete(sc);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/plan.json", plan->out);
	if (stat(path, &sb) == 0 && !strcmp(launcher, "jobs"))
		return qe_fail(err, QE_EINVAL, "'%s' already holds a run: resume it with 'qeval run --resume %s', "
			       "or choose another --out", plan->out, plan->out);
	if (stat(path, &sb) == 0)
		return qe_fail(err, QE_EINVAL, "'%s' already holds a run: resume it with 'mpirun -np %d qeval run --resume %s', "
			       "or choose another --out", plan->out, size, plan->out);
	if (qe_mkdirs(plan->out, 0755) != 0)
		return qe_fail(err, QE_EIO, "cannot create '%s': %s", plan->out, strerror(errno));
	rc = qe_json_write_file(path, plan->json, err);
	sc = cJSON_CreateObject();
	cJSON_AddStringToObject(sc, "schema", "qeval-scale");
	cJSON_AddNumberToObject(sc, "ranks", size);
	cJSON_AddStringToObject(sc, "launcher", launcher);
	snprintf(path, sizeof(path), "%s/scale.json", plan->out);
	if (rc == 0)
		rc = qe_json_write_file(path, sc, err);
	cJSON_Delete(sc);
	return rc;
}

/* Shard `rank` of size of the plan, into OUT/ranks/RANK; its exit code.
 * what names it in messages ("rank", "job"). */
static int rank_run(const struct qe_plan *plan, const struct qe_pipeline_opts *o, int rank, int size, const char *what,
		    struct qe_err *err)
{
	struct qe_shard_opts so = { rank, size, o->balance_from };
	struct qe_plan rp;
	struct qe_run_status st;
	cJSON *json = cJSON_Duplicate(plan->json, 1);
	char dir[4400];
	int rc;

	snprintf(dir, sizeof(dir), "%s/ranks/%d", plan->out, rank);
	qe_plan_json_set(json, "out", cJSON_CreateString(dir));
	if (rank != 0) /* one progress display: the first shard's */
		qe_plan_json_set(json, "quiet", cJSON_CreateTrue());
	rc = qe_plan_from_json(&rp, json, err);
	if (rc == 0)
		rc = qe_run_shard(&rp, o->resume, &so, &st, err);
	qe_plan_release(&rp);
	if (rc) {
		fprintf(stderr, "qeval %s: %s %d: %s\n", o->who ? o->who : "run", what, rank, err->msg);
		return qe_exit_code(rc);
	}
	return status_code(&st);
}

/* Rank 0 or the parent of jobs, every shard done: merge OUT/ranks/0 .. size-1
 * into OUT and finish as a single run does (or say how to continue a stopped
 * one: again). The exit code. */
static int merge_ranks(const struct qe_plan *plan, const struct qe_pipeline_opts *o, int size, int code,
		       const char *again, struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	const char **dirs = calloc((size_t)size, sizeof(*dirs));
	char (*paths)[4400] = calloc((size_t)size, sizeof(*paths));
	struct qe_merge_status ms;
	int rc;

	for (int r = 0; dirs && paths && r < size; r++) {
		snprintf(paths[r], sizeof(paths[r]), "%s/ranks/%d", plan->out, r);
		dirs[r] = paths[r];
	}
	rc = dirs && paths ? qe_merge(plan->out, dirs, (size_t)size, 1, &ms, err) : QE_ENOMEM;
	free(dirs);
	free(paths);
	if (rc != 0) {
		fprintf(stderr, "qeval %s: merging the shards: %s\n", who, err->msg);
		return qe_exit_code(rc);
	}
	if (code > 128) {
		fprintf(stderr, "qeval %s: stopped: the finished items are kept in %s/ranks; continue with: %s --resume %s\n",
			who, plan->out, again, plan->out);
		return code;
	}
	return qe_pipeline_finish(plan->out, o, code, err);
}

/* Every rank its shard; rank 0 gathers and merges them into plan->out and
 * finishes as a single run does. Every rank returns the same exit code. */
static int pipeline_mpi(const struct qe_plan *plan, const struct qe_pipeline_opts *o, const struct qe_mpi *m,
			struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	char dir[4400], root[4300], again[64];
	int rc = m->rank == 0 ? mpi_settle(plan, o->resume, m->size, "mpirun", err) : 0, code;

	if (qe_mpi_bcast_int(m, rc) != 0) {
		if (m->rank == 0)
			fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(qe_mpi_bcast_int(m, rc));
	}
	snprintf(dir, sizeof(dir), "%s/ranks/%d", plan->out, m->rank);
	fprintf(stderr, "qeval %s: rank %d of %d (local %d), CUDA_VISIBLE_DEVICES=%s: its units into %s\n", who, m->rank,
		m->size, m->local_rank, getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "", dir);
	code = rank_run(plan, o, m->rank, m->size, "rank", err);
	code = qe_mpi_max_int(m, code);
	snprintf(root, sizeof(root), "%s/ranks", plan->out);
	rc = qe_mpi_gather_dir(m, dir, root, err);
	if (m->rank == 0 && rc != 0) {
		fprintf(stderr, "qeval %s: gathering the ranks: %s\n", who, err->msg);
		code = qe_exit_code(rc);
	} else if (m->rank == 0) {
		snprintf(again, sizeof(again), "mpirun -np %d qeval run", m->size);
		code = merge_ranks(plan, o, m->size, code, again, err);
	}
	return qe_mpi_bcast_int(m, code);
}

/* ---- jobs on this machine (--jobs N) --------------------------------------- */

struct jobs_ctx {
	const struct qe_plan *plan;
	const struct qe_pipeline_opts *o;
	int n;
};

static int job_fn(int j, void *p)
{
	const struct jobs_ctx *c = p;
	struct qe_err err = { 0 };

	return rank_run(c->plan, c->o, j, c->n, "job", &err);
}

/* n shards at once as forked jobs (harness/jobs.h); merged and finished as
 * mpirun's rank 0 does */
static int pipeline_jobs(const struct qe_plan *plan, const struct qe_pipeline_opts *o, int n, struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	struct jobs_ctx c = { plan, o, n };
	int rc = mpi_settle(plan, o->resume, n, "jobs", err), code;

	if (rc != 0) {
		fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(rc);
	}
	for (int j = 0; j < n; j++) { /* also when quiet, as mpirun's ranks say theirs */
		struct qe_job_place p;
		char cpus[256];
		qe_job_place(j, n, &p);
		qe_job_cpus_text(&p, cpus, sizeof(cpus));
		fprintf(stderr, "qeval %s: job %d of %d: CPUs %s%s%s: its units into %s/ranks/%d\n", who, j, n, cpus,
			p.gpu[0] ? ", CUDA_VISIBLE_DEVICES=" : "", p.gpu, plan->out, j);
	}
	code = qe_jobs_run(n, job_fn, &c);
	if (code < 0) {
		fprintf(stderr, "qeval %s: cannot start %d jobs: %s\n", who, n, strerror(errno));
		code = QE_EXIT_RUNTIME;
	}
	return merge_ranks(plan, o, n, code, "qeval run", err);
}

/* the shard count of a run that mpirun or --jobs ran in dir (scale.json), 0 when none */
static int settled_shards(const char *dir)
{
	char path[4300];
	cJSON *sc = NULL;
	int n;

	snprintf(path, sizeof(path), "%s/scale.json", dir);
	if (qe_json_read_file(path, &sc, NULL) != 0)
		return 0;
	n = (int)qe_json_num(sc, "ranks", 0);
	cJSON_Delete(sc);
	return n;
}

/* ---- the pipeline --------------------------------------------------------- */

int qe_pipeline(const struct qe_plan *plan, const struct qe_pipeline_opts *o, struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	const char *out = plan->out;
	struct qe_run_status st;
	struct qe_mpi m;
	int rc, jobs;

	if ((rc = qe_mpi_start(&m, err)) != 0) {
		fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(rc);
	}
	if (m.size > 1) {
		if (o->n_shards > 1) {
			if (m.rank == 0)
				fprintf(stderr, "qeval %s: --shard and mpirun: the ranks are the shards; give one of them\n", who);
			rc = QE_EXIT_USAGE;
		} else if (o->jobs > 1) {
			if (m.rank == 0)
				fprintf(stderr, "qeval %s: --jobs and mpirun: the ranks are the jobs; give one of them\n", who);
			rc = QE_EXIT_USAGE;
		} else {
			rc = pipeline_mpi(plan, o, &m, err);
		}
		qe_mpi_end(&m);
		return rc;
	}
	if (o->jobs > 1 && o->n_shards > 1) {
		fprintf(stderr, "qeval %s: --jobs and --shard: a shard runs in one process; give one of them\n", who);
		return QE_EXIT_USAGE;
	}
	if (o->jobs > 1 || (o->resume && o->n_shards <= 1 && (jobs = settled_shards(out)) > 1))
		return pipeline_jobs(plan, o, o->jobs > 1 ? o->jobs : jobs, err);
	if (o->n_shards > 1)
		return pipeline_shard(plan, o, err);
	rc = qe_run(plan, o->resume, &st, err);
	if (rc) {
		fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(rc);
	}
	if (st.interrupted) {
		fprintf(stderr, "qeval %s: stopped by %s: the finished items are kept in %s (results.json); "
			"continue with: qeval run --resume %s\n", who, strsignal(st.interrupted), out, out);
		return 128 + st.interrupted;
	}
	return qe_pipeline_finish(out, o, status_code(&st), err);
}

int qe_pipeline_finish(const char *out, const struct qe_pipeline_opts *o, int code, struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";

	if (o->gate) {
		char junit[4300];
		int n_failed = 0;
		snprintf(junit, sizeof(junit), "%s/junit.xml", out);
		if (qe_gate_check(out, o->gate, junit, &n_failed, err) != 0) {
			fprintf(stderr, "qeval %s: %s\n", who, err->msg);
			if (code == 0)
				code = qe_exit_code(err->code);
		} else if (n_failed > 0) {
			printf("\ngates: %d rule check(s) failed (%s/gate.json, %s)\n", n_failed, out, junit);
			code = QE_EXIT_CHECK;
		} else {
			printf("\ngates: all passed\n");
		}
	}
	/* the summary after the gates: it opens with each level's decision */
	if (o->summary)
		qe_summary_print(out, stdout);
	{
		struct qe_report_stats rs;
		struct qe_report_opts ro = qe_report_default_opts();
		memset(&rs, 0, sizeof(rs));
		ro.stats = &rs;
		if (qe_report_write_all(out, &ro, err) != 0) {
			fprintf(stderr, "qeval %s: reports: %s\n", who, err->msg);
		} else {
			printf("\nreports: %s/report.md, %s/report.html, %s/summary.csv\n", out, out, out);
			if (rs.charts_missing)
				printf("(gnuplot could not be run: report.html has no charts)\n");
		}
	}
	return code;
}
