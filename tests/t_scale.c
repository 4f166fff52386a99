/* Scale-out (issue 16, docs/scale-out.md): the unit planner; three shards
 * (`qeval run PLAN --shard I/3`) merged with `qeval merge`, and
 * `mpirun -np 2 qeval run PLAN`, each give the records (byte for byte) and
 * results.json (value for value, timings aside) of a single run of the same
 * plan: F16, Q8_0, Q4_K_M of the fixture model over the MMLU and C-Eval
 * samples (split into item pieces) and kld (run whole, with the reference
 * beside it in each shard). A merge missing a shard is finished by
 * `qeval run --resume`; a rank killed with SIGKILL mid-run is finished by
 * `mpirun ... --resume`. `qeval run --jobs 2` gives the same, and one
 * stopped by SIGTERM is finished by `qeval run --resume`. The MPI tests skip with one line when qeval was
 * built without MPI (make MPI=1) or mpirun is not on PATH. */
#include "tests/tq.h"
#include "tests/tq_exec.h"
#include "tests/tq_json.h"

#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/base/text.h"
#include "harness/scale.h"

#include <dirent.h>
#include <stdarg.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LEVELS "F16,Q8_0,Q4_K_M"
#define REL_TOL 1e-12 /* the print-and-read-back slack of a number */
#define KILL_WAIT_S 120 /* the longest wait for rank 1's first record */

static char g_tmp[256];
static char g_out[65536], g_err[65536];
static int g_resumed; /* comparing a resumed run: as tests/t_kill.c, the prefix-reuse counts aside */

/* ---- comparing runs -------------------------------------------------------- */

/* what differs between two runs of one plan by nature (as t_results_same):
 * timings and rates, memory peaks, dates, paths, the machine */
static int ignored(const char *key)
{
	static const char *const exact[] = { "created", "git", "machine", "path", "dir", "file", "out", "speedup",
					     "peak_rss_bytes", "noisy", "load1", "load1_mean", NULL };
	if (!key)
		return 0;
	if (g_resumed && (!strcmp(key, "prompt_tokens_evaluated") || !strcmp(key, "tokens_saved_by_reuse")))
		return 1;
	for (int i = 0; exact[i]; i++)
		if (!strcmp(key, exact[i]))
			return 1;
	return tq_ends_with(key, "_s") || !strncmp(key, "tps_", 4) || strstr(key, "_ms_") != NULL;
}

/* every records file of dir a's levels equal, byte for byte, in dir b */
static int same_records(const char *a, const char *b)
{
	static const char *const lv[] = { "00-F16", "01-Q8_0", "02-Q4_K_M" }, *const tk[] = { "mmlu", "ceval", "kld" };
	char pa[600], pb[600];
	int same = 1;

	for (int l = 0; l < 3; l++)
		for (int t = 0; t < 3; t++) {
			char *x = NULL, *y = NULL;
			size_t nx = 0, ny = 0;
			snprintf(pa, sizeof(pa), "%s/levels/%s/records-%s.jsonl", a, lv[l], tk[t]);
			snprintf(pb, sizeof(pb), "%s/levels/%s/records-%s.jsonl", b, lv[l], tk[t]);
			if (qe_file_read(pa, &x, &nx, NULL) != 0 || qe_file_read(pb, &y, &ny, NULL) != 0 || nx != ny ||
			    memcmp(x, y, nx) != 0) {
				fprintf(stderr, "  records differ: %s, %s\n", pa, pb);
				same = 0;
			}
			free(x);
			free(y);
		}
	return same;
}

/* the run in dir equals the single run: results.json, and the records byte
 * for byte unless resumed (a resumed level writes the items it finishes
 * after the others, and evaluates a group's shared prefix again) */
static void check_same(const char *dir, int resumed)
{
	char pa[600], pb[600];
	cJSON *a = NULL, *b = NULL;

	snprintf(pa, sizeof(pa), "%s/single/results.json", g_tmp);
	snprintf(pb, sizeof(pb), "%s/results.json", dir);
	TQ_EQ_INT(qe_json_read_file(pa, &a, NULL), 0);
	TQ_EQ_INT(qe_json_read_file(pb, &b, NULL), 0);
	g_resumed = resumed;
	if (a && b) {
		struct tq_jdiff d = { ignored, REL_TOL, 10, 0, 0 };
		/* the plans differ only in their "out" (ignored) */
		tq_json_diff(&d, a, b, "results");
		TQ_EQ_INT(d.n, 0);
	}
	snprintf(pa, sizeof(pa), "%s/single", g_tmp);
	if (!resumed)
		TQ_CHECK(same_records(pa, dir));
	cJSON_Delete(a);
	cJSON_Delete(b);
}

/* ---- running qeval ----------------------------------------------------------- */

static const char *bin(void)
{
	const char *b = getenv("QE_QEVAL");
	return b && *b ? b : "./qeval";
}

/* `qeval ARGS` (printf-style) with this test's cache; the exit status */
#define qeval(...) tq_qevalf(g_tmp, g_out, sizeof(g_out), g_err, sizeof(g_err), __VA_ARGS__)

/* `mpirun -np 2 --oversubscribe qeval ARGS`, output into T/mpi.log; the
 * exit status */
static int mpirun(const char *args)
{
	char log[400];

	snprintf(log, sizeof(log), "%s/mpi.log", g_tmp);
	return tq_mpirun(g_tmp, args, log);
}

/* the single run, and its plan without "out" as T/plan.json */
static int make_single(void)
{
	static const char *const words[] = { "the", "cat", "sat", "on", "a", "mat", "and", "then", "ran", "far" };
	char path[600];
	cJSON *plan = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/text.txt", g_tmp);
	if (!(f = fopen(path, "w")))
		return -1;
	srand(7);
	for (int i = 0; i < 900; i++) /* seeded words, a few thousand tokens */
		fprintf(f, "%s%c", words[rand() % 10], i % 17 == 16 ? '\n' : ' ');
	fclose(f);
	rc = qeval("run -q -t 1 --no-summary --model %s/tiny-llama-f16.gguf --levels " LEVELS " --mmlu datasets/samples/mmlu "
		   "--ceval datasets/samples/ceval --tasks mmlu,ceval,kld --text %s/text.txt --kld-ctx 64 --kld-chunks 6 "
		   "--out %s/single", tq_fixtures(), g_tmp, g_tmp);
	if (rc != 0) {
		fprintf(stderr, "  the single run failed (exit %d): %s\n", rc, g_err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/single/plan.json", g_tmp);
	if (qe_json_read_file(path, &plan, NULL) != 0)
		return -1;
	cJSON_DeleteItemFromObjectCaseSensitive(plan, "out");
	snprintf(path, sizeof(path), "%s/plan.json", g_tmp);
	rc = qe_json_write_file(path, plan, NULL);
	cJSON_Delete(plan);
	return rc;
}

/* ---- the planner ------------------------------------------------------------- */

static void test_plan_units(void)
{
	double tok[10] = { 5, 1, 1, 1, 9, 2, 2, 2, 2, 3 };
	unsigned char start[10] = { 1, 0, 0, 1, 1, 0, 0, 1, 0, 1 };
	struct qe_scale_task t[2] = { { .n_items = 10, .tokens = tok, .start = start },
				      { .n_items = 4, .total = 100, .needs_reference = 1 } };
	struct qe_scale s;
	struct qe_err err = { 0 };
	int i, n, covered[3][10] = { { 0 } };

	TQ_EQ_INT(qe_scale_plan(3, 1, t, 2, 3, NULL, &s, &err), 0);
	for (size_t k = 0; k < s.n_units; k++) {
		const struct qe_unit *u = &s.units[k];
		TQ_CHECK(u->owner >= 0 && u->owner < 3);
		if (u->task == 1) {
			TQ_CHECK(u->first == 0 && u->end == 4 && u->n_pieces == 1);
			continue;
		}
		TQ_CHECK(start[u->first]); /* pieces start where a shard may */
		for (size_t x = u->first; x < u->end; x++)
			covered[u->level][x]++;
	}
	for (int l = 0; l < 3; l++)
		for (int x = 0; x < 10; x++)
			TQ_EQ_INT(covered[l][x], 1); /* every item of every level once */
	/* the kld-like task at another level brings the reference's run along */
	for (int sh = 0; sh < 3; sh++)
		for (int l = 0; l < 3; l++)
			if (l != 1 && qe_scale_runs(&s, sh, l, 1, 1, 1))
				TQ_CHECK(qe_scale_runs(&s, sh, 1, 1, 1, 1));
	qe_scale_release(&s);
	TQ_EQ_INT(qe_scale_parse_shard("2/3", &i, &n, &err), 0);
	TQ_CHECK(i == 2 && n == 3);
	TQ_EQ_INT(qe_scale_parse_shard("3/3", &i, &n, &err), QE_EINVAL);
	TQ_EQ_INT(qe_scale_parse_shard("1", &i, &n, &err), QE_EINVAL);
}

/* The greedy's bound: no shard over the mean plus the largest unit. */
static void test_plan_balance(void)
{
	double tok[200];
	struct qe_scale_task t = { .n_items = 200, .tokens = tok };
	struct qe_scale s;
	double total = 0, largest = 0;

	for (int k = 0; k < 200; k++)
		tok[k] = 10 + (k * 37) % 91;
	TQ_EQ_INT(qe_scale_plan(6, 0, &t, 1, 4, NULL, &s, NULL), 0);
	for (size_t k = 0; k < s.n_units; k++) {
		total += s.units[k].tokens;
		largest = fmax(largest, s.units[k].tokens);
	}
	for (int sh = 0; sh < 4; sh++)
		TQ_CHECK(s.load[sh] <= total / 4 + largest);
	qe_scale_release(&s);
	/* measured weights: a level twice as slow counts twice, the bound holds for the weighed loads */
	TQ_EQ_INT(qe_scale_plan(6, 0, &t, 1, 4, (const double[]){ 1, 2, 1, 1, 0.5, 1 }, &s, NULL), 0);
	total = largest = 0;
	for (size_t k = 0; k < s.n_units; k++) {
		double w = s.units[k].level == 1 ? 2 : s.units[k].level == 4 ? 0.5 : 1;
		total += s.units[k].tokens * w;
		largest = fmax(largest, s.units[k].tokens * w);
	}
	for (int sh = 0; sh < 4; sh++)
		TQ_CHECK(s.load[sh] <= total / 4 + largest);
	qe_scale_release(&s);
}

/* ---- shards and merge -------------------------------------------------------- */

static void test_shards_merge(void)
{
	char dir[600];

	for (int i = 0; i < 3; i++) {
		int rc = qeval("run %s/plan.json -q --shard %d/3 --out %s/s%d", g_tmp, i, g_tmp, i);
		TQ_EQ_INT(rc, 0);
		if (rc)
			fprintf(stderr, "  shard %d: %s\n", i, g_err);
	}
	TQ_EQ_INT(qeval("merge %s/merged %s/s0 %s/s1 %s/s2 --no-summary", g_tmp, g_tmp, g_tmp, g_tmp), 0);
	snprintf(dir, sizeof(dir), "%s/merged", g_tmp);
	check_same(dir, 0);
}

/* a shard left out: exit 3 naming it; `run --resume` then runs its units */
static void test_merge_missing_shard(void)
{
	char dir[600];

	TQ_EQ_INT(qeval("merge %s/part %s/s0 %s/s2 --no-summary", g_tmp, g_tmp, g_tmp), 3);
	TQ_CHECK(strstr(g_err, "shard(s) 1 of 3 not given") != NULL);
	TQ_EQ_INT(qeval("run -q --no-summary --resume %s/part", g_tmp), 0);
	snprintf(dir, sizeof(dir), "%s/part", g_tmp);
	check_same(dir, 1);
}

/* ---- mpirun -------------------------------------------------------------------- */

static void test_mpi_same(void)
{
	char args[1200], dir[600];
	const char *why = tq_no_mpi(g_tmp);

	if (why)
		TQ_SKIP("%s", why);
	snprintf(args, sizeof(args), "run %s/plan.json -q --no-summary --out %s/mpi", g_tmp, g_tmp);
	TQ_EQ_INT(mpirun(args), 0);
	snprintf(dir, sizeof(dir), "%s/mpi", g_tmp);
	check_same(dir, 0);
}

/* records so far under dir/levels (any file) */
static int n_records(const char *dir)
{
	char lv[700], path[1400];
	struct dirent *a, *b;
	DIR *da, *db;
	int n = 0;

	snprintf(lv, sizeof(lv), "%s/levels", dir);
	if (!(da = opendir(lv)))
		return 0;
	while ((a = readdir(da)) != NULL) {
		char ld[1000];
		snprintf(ld, sizeof(ld), "%s/%s", lv, a->d_name);
		if (a->d_name[0] == '.' || !(db = opendir(ld)))
			continue;
		while ((b = readdir(db)) != NULL) {
			FILE *f;
			int ch;
			if (strncmp(b->d_name, "records-", 8) != 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", ld, b->d_name);
			if ((f = fopen(path, "r"))) {
				while ((ch = fgetc(f)) != EOF)
					n += ch == '\n';
				fclose(f);
			}
		}
		closedir(db);
	}
	closedir(da);
	return n;
}

/* mpirun started in its own process group, output into T/kill.log */
static pid_t start_mpirun(const char *args)
{
	char cmd[4096];
	pid_t pid;

	snprintf(cmd, sizeof(cmd), "exec mpirun -np 2 --oversubscribe %s %s >%s/kill.log 2>&1", bin(), args, g_tmp);
	pid = fork();
	if (pid == 0) {
		char cache[400];
		snprintf(cache, sizeof(cache), "%s/cache", g_tmp);
		setenv("QEVAL_CACHE", cache, 1);
		setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
		setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

/* SIGKILL to rank 1 (its qeval, named by its lock) after its first record;
 * mpirun then ends the job; `mpirun ... --resume` finishes it */
static void test_mpi_rank_killed(void)
{
	char args[1200], dir[600], rank1[700], lock[800], *pidtxt = NULL;
	const char *why = tq_no_mpi(g_tmp);
	struct timespec t0, now;
	pid_t pid;
	int st = 0, killed = 0;

	if (why)
		TQ_SKIP("%s", why);
	snprintf(dir, sizeof(dir), "%s/mk", g_tmp);
	snprintf(rank1, sizeof(rank1), "%s/ranks/1", dir);
	snprintf(lock, sizeof(lock), "%s/lock", rank1);
	snprintf(args, sizeof(args), "run %s/plan.json -q --no-summary --out %s", g_tmp, dir);
	pid = start_mpirun(args);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break; /* ended before the kill */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > KILL_WAIT_S)
			break;
		if (!killed && n_records(rank1) > 0 && qe_file_read(lock, &pidtxt, NULL, NULL) == 0 && atol(pidtxt) > 0) {
			killed = kill((pid_t)atol(pidtxt), SIGKILL) == 0;
			free(pidtxt);
			pidtxt = NULL;
			fprintf(stderr, "  rank 1 killed after %d record(s)\n", n_records(rank1));
		}
		usleep(2000);
	}
	if (!WIFEXITED(st) && !WIFSIGNALED(st)) { /* still running after the wait: end it */
		kill(-pid, SIGKILL);
		waitpid(pid, &st, 0);
		TQ_FAILF("mpirun did not end after rank 1 was killed (see %s/kill.log)", g_tmp);
		return;
	}
	if (!killed)
		TQ_SKIP("rank 1 finished before its first record could be seen (a very fast machine)");
	TQ_CHECK(!WIFEXITED(st) || WEXITSTATUS(st) != 0); /* the job failed */
	snprintf(args, sizeof(args), "run -q --no-summary --resume %s", dir);
	TQ_EQ_INT(mpirun(args), 0);
	check_same(dir, 1);
}

/* ---- jobs (--jobs N) ---------------------------------------------------------- */

static void test_jobs_same(void)
{
	char dir[600], *sc = NULL;

	TQ_EQ_INT(qeval("run %s/plan.json -q --no-summary --jobs 2 --out %s/jobs", g_tmp, g_tmp), 0);
	snprintf(dir, sizeof(dir), "%s/jobs", g_tmp);
	check_same(dir, 0);
	snprintf(dir, sizeof(dir), "%s/jobs/scale.json", g_tmp);
	TQ_EQ_INT(qe_file_read(dir, &sc, NULL, NULL), 0);
	TQ_CHECK(sc && strstr(sc, "\"jobs\"") && strstr(sc, "2"));
	free(sc);
	/* the same directory again without --resume: refused, nothing lost */
	TQ_EQ_INT(qeval("run %s/plan.json -q --no-summary --jobs 2 --out %s/jobs", g_tmp, g_tmp), 2);
	TQ_CHECK(strstr(g_err, "already holds a run") != NULL);
	TQ_EQ_INT(qeval("run %s/plan.json -q --jobs 2 --shard 0/2 --out %s/jobs-shard", g_tmp, g_tmp), 2);
	TQ_EQ_INT(qeval("run %s/plan.json -q --jobs 0 --out %s/jobs0", g_tmp, g_tmp), 2);
	TQ_CHECK(strstr(g_err, "--jobs '0'") != NULL);
}

/* SIGTERM to the parent of two jobs after job 1's first record: every job
 * stops after its current item, exit 143 naming how to continue; `run
 * --resume` (the job count read from scale.json) finishes the same run */
static void test_jobs_stopped(void)
{
	char cmd[2000], dir[600], rank1[700];
	struct timespec t0, now;
	pid_t pid;
	int st = 0, sent = 0;

	snprintf(dir, sizeof(dir), "%s/js", g_tmp);
	snprintf(rank1, sizeof(rank1), "%s/ranks/1", dir);
	snprintf(cmd, sizeof(cmd), "%s/cache", g_tmp);
	pid = fork();
	if (pid == 0) {
		char plan[600];
		snprintf(plan, sizeof(plan), "%s/plan.json", g_tmp);
		setenv("QEVAL_CACHE", cmd, 1);
		snprintf(cmd, sizeof(cmd), "%s/js.log", g_tmp);
		if (!freopen(cmd, "w", stderr) || !freopen("/dev/null", "w", stdout))
			_exit(127);
		execl(bin(), bin(), "run", plan, "-q", "--no-summary", "--jobs", "2", "--out", dir, (char *)NULL);
		_exit(127);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > KILL_WAIT_S) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			TQ_FAILF("the jobs did not end after SIGTERM (see %s/js.log)", g_tmp);
			return;
		}
		if (!sent && n_records(rank1) > 0) {
			sent = kill(pid, SIGTERM) == 0;
			fprintf(stderr, "  SIGTERM after %d record(s) of job 1\n", n_records(rank1));
		}
		usleep(2000);
	}
	if (!sent)
		TQ_SKIP("the jobs finished before job 1's first record could be seen (a very fast machine)");
	TQ_EQ_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 128 + SIGTERM);
	snprintf(cmd, sizeof(cmd), "grep -q 'continue with: qeval run --resume' %s/js.log", g_tmp);
	TQ_EQ_INT(system(cmd), 0);
	TQ_EQ_INT(qeval("run -q --no-summary --resume %s", dir), 0);
	check_same(dir, 1);
}

/* a qeval without MPI started by mpirun refuses at once (each rank would run the whole plan) */
static void test_mpi_not_built(void)
{
	if (qeval("version") != 0 || strstr(g_out, "mpi: yes"))
		TQ_SKIP("qeval is built with MPI: the refusal is the plain build's");
	{
		char cmd[1200];
		int st;
		snprintf(cmd, sizeof(cmd), "OMPI_COMM_WORLD_SIZE=2 QEVAL_CACHE=%s/cache %s run %s/plan.json -q --out %s/nompi2 "
			 "2>%s/err >/dev/null", g_tmp, bin(), g_tmp, g_tmp, g_tmp);
		st = system(cmd);
		TQ_EQ_INT(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 2);
		snprintf(cmd, sizeof(cmd), "grep -q 'built without MPI' %s/err", g_tmp);
		TQ_EQ_INT(system(cmd), 0);
	}
}

int main(void)
{
	char cmd[300];
	int ready;

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-scale-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	TQ_RUN(test_plan_units);
	TQ_RUN(test_plan_balance);
	ready = make_single() == 0;
	if (ready) {
		TQ_RUN(test_shards_merge);
		TQ_RUN(test_merge_missing_shard);
		TQ_RUN(test_jobs_same);
		TQ_RUN(test_jobs_stopped);
		TQ_RUN(test_mpi_same);
		TQ_RUN(test_mpi_rank_killed);
		TQ_RUN(test_mpi_not_built);
	} else {
		tq_failed++;
		fprintf(stderr, "FAIL the single run of the plan\n");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	if (system(cmd) != 0)
		return 1;
	return tq_done("t_scale");
}
