/* qeval — the pipeline: a checked plan run into its directory, then the
 * summary on stdout, the release gates and the reports. Every command that
 * runs levels (run, bench, demo) builds a plan and calls this. */
#include "harness/pipeline.h"
#include "harness/base/json.h"
#include "harness/base/sys.h"
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

/* Rank 0, before any rank runs: a new run refuses a directory holding one
 * and writes plan.json and scale.json; a resumed one must have as many ranks. */
static int mpi_settle(const struct qe_plan *plan, int resume, int size, struct qe_err *err)
{
	char path[4400];
	struct stat sb;
	cJSON *sc = NULL;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/scale.json", plan->out);
	if (resume) {
		if (qe_json_read_file(path, &sc, NULL) != 0)
			return qe_fail(err, QE_EINVAL, "'%s' was not run by mpirun (no scale.json): resume it with 'qeval run "
				       "--resume %s'", plan->out, plan->out);
		if ((int)qe_json_num(sc, "ranks", 0) != size)
			rc = qe_fail(err, QE_EINVAL, "'%s' was run by %g ranks, not %d: resume it with mpirun -np %g",
				     plan->out, qe_json_num(sc, "ranks", 0), size, qe_json_num(sc, "ranks", 0));
		cJSON_Delete(sc);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/plan.json", plan->out);
	if (stat(path, &sb) == 0)
		return qe_fail(err, QE_EINVAL, "'%s' already holds a run: resume it with 'mpirun -np %d qeval run --resume %s', "
			       "or choose another --out", plan->out, size, plan->out);
	if (qe_mkdirs(plan->out, 0755) != 0)
		return qe_fail(err, QE_EIO, "cannot create '%s': %s", plan->out, strerror(errno));
	rc = qe_json_write_file(path, plan->json, err);
	sc = cJSON_CreateObject();
	cJSON_AddStringToObject(sc, "schema", "qeval-scale");
	cJSON_AddNumberToObject(sc, "ranks", size);
	snprintf(path, sizeof(path), "%s/scale.json", plan->out);
	if (rc == 0)
		rc = qe_json_write_file(path, sc, err);
	cJSON_Delete(sc);
	return rc;
}

/* This rank's shard of the plan, into OUT/ranks/RANK; its exit code. */
static int mpi_rank_run(const struct qe_plan *plan, const struct qe_pipeline_opts *o, const struct qe_mpi *m,
			char *dir, size_t cap, struct qe_err *err)
{
	struct qe_shard_opts so = { m->rank, m->size, o->balance_from };
	struct qe_plan rp;
	struct qe_run_status st;
	cJSON *json = cJSON_Duplicate(plan->json, 1);
	int rc;

	snprintf(dir, cap, "%s/ranks/%d", plan->out, m->rank);
	fprintf(stderr, "qeval %s: rank %d of %d (local %d), CUDA_VISIBLE_DEVICES=%s: its units into %s\n",
		o->who ? o->who : "run", m->rank, m->size, m->local_rank,
		getenv("CUDA_VISIBLE_DEVICES") ? getenv("CUDA_VISIBLE_DEVICES") : "", dir);
	qe_plan_json_set(json, "out", cJSON_CreateString(dir));
	if (m->rank != 0) /* one progress display: rank 0's */
		qe_plan_json_set(json, "quiet", cJSON_CreateTrue());
	rc = qe_plan_from_json(&rp, json, err);
	if (rc == 0)
		rc = qe_run_shard(&rp, o->resume, &so, &st, err);
	qe_plan_release(&rp);
	if (rc) {
		fprintf(stderr, "qeval %s: rank %d: %s\n", o->who ? o->who : "run", m->rank, err->msg);
		return qe_exit_code(rc);
	}
	return status_code(&st);
}

/* Every rank its shard; rank 0 gathers and merges them into plan->out and
 * finishes as a single run does. Every rank returns the same exit code. */
static int pipeline_mpi(const struct qe_plan *plan, const struct qe_pipeline_opts *o, const struct qe_mpi *m,
			struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	char dir[4400], root[4300];
	int rc = m->rank == 0 ? mpi_settle(plan, o->resume, m->size, err) : 0, code;

	if (qe_mpi_bcast_int(m, rc) != 0) {
		if (m->rank == 0)
			fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(qe_mpi_bcast_int(m, rc));
	}
	code = mpi_rank_run(plan, o, m, dir, sizeof(dir), err);
	code = qe_mpi_max_int(m, code);
	snprintf(root, sizeof(root), "%s/ranks", plan->out);
	rc = qe_mpi_gather_dir(m, dir, root, err);
	if (m->rank == 0 && rc == 0) {
		const char **dirs = calloc((size_t)m->size, sizeof(*dirs));
		char (*paths)[4400] = calloc((size_t)m->size, sizeof(*paths));
		struct qe_merge_status ms;
		for (int r = 0; dirs && paths && r < m->size; r++) {
			snprintf(paths[r], sizeof(paths[r]), "%s/%d", root, r);
			dirs[r] = paths[r];
		}
		rc = dirs && paths ? qe_merge(plan->out, dirs, (size_t)m->size, 1, &ms, err) : QE_ENOMEM;
		free(dirs);
		free(paths);
	}
	if (m->rank == 0 && rc != 0) {
		fprintf(stderr, "qeval %s: merging the ranks: %s\n", who, err->msg);
		code = qe_exit_code(rc);
	} else if (m->rank == 0 && code > 128) {
		fprintf(stderr, "qeval %s: stopped: the finished items are kept in %s/ranks; continue with: mpirun -np %d "
			"qeval run --resume %s\n", who, plan->out, m->size, plan->out);
	} else if (m->rank == 0) {
		code = qe_pipeline_finish(plan->out, o, code, err);
	}
	return qe_mpi_bcast_int(m, code);
}

/* ---- the pipeline --------------------------------------------------------- */

int qe_pipeline(const struct qe_plan *plan, const struct qe_pipeline_opts *o, struct qe_err *err)
{
	const char *who = o->who ? o->who : "run";
	const char *out = plan->out;
	struct qe_run_status st;
	struct qe_mpi m;
	int rc;

	if ((rc = qe_mpi_start(&m, err)) != 0) {
		fprintf(stderr, "qeval %s: %s\n", who, err->msg);
		return qe_exit_code(rc);
	}
	if (m.size > 1) {
		if (o->n_shards > 1) {
			if (m.rank == 0)
				fprintf(stderr, "qeval %s: --shard and mpirun: the ranks are the shards; give one of them\n", who);
			rc = QE_EXIT_USAGE;
		} else {
			rc = pipeline_mpi(plan, o, &m, err);
		}
		qe_mpi_end(&m);
		return rc;
	}
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
