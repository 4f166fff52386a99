/* SIGKILL at 20 random moments of a sweep (quantization into an empty
 * cache, three levels, results and report writing), resuming each time:
 * the final results equal an uninterrupted run's, no item is recorded twice,
 * no temporary file is left in the cache or the run directory, and
 * throughput is computed over every session (issue 18). Fixed seed. */
#include "tests/tq.h"
#include "tests/tq_exec.h"

#include "harness/base/json.h"
#include "harness/base/sys.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_KILLS 20
#define LEVELS "F16,Q8_0,Q4_K_M"
#define TPUT_MAX_RATIO 3.0 /* a resumed sweep is never faster than this times an uninterrupted one */

static char g_tmp[256];

static const char *model(void)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/tiny-llama-f16.gguf", tq_fixtures());
	return p;
}

/* start `qeval run` (a new run, or --resume when plan.json exists) with its
 * cache at cache, in its own process group */
static pid_t start(const char *dir, const char *cache)
{
	const char *bin = getenv("QE_QEVAL");
	char plan[500];
	int resume;
	pid_t pid;

	snprintf(plan, sizeof(plan), "%s/plan.json", dir);
	resume = qe_file_size(plan) > 0;
	pid = fork();
	if (pid == 0) {
		setenv("QEVAL_CACHE", cache, 1);
		setpgid(0, 0);
		freopen("/dev/null", "w", stderr);
		freopen("/dev/null", "w", stdout);
		if (resume)
			execl(bin ? bin : "./qeval", "qeval", "run", "-q", "-t", "1", "--resume", dir, (char *)NULL);
		else
			execl(bin ? bin : "./qeval", "qeval", "run", "-q", "-t", "1", "--model", model(), "--levels", LEVELS,
			      "--mmlu", "datasets/samples/mmlu", "--ceval", "datasets/samples/ceval", "--out", dir, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid); /* also here: a kill right after the fork must reach the group */
	return pid;
}

/* run to the end; exit status in *st */
static void run_whole(const char *dir, const char *cache, int *st)
{
	pid_t pid = start(dir, cache);
	waitpid(pid, st, 0);
}

/* drop what differs between sessions: timing, paths, token counts of the reused prefix */
static void strip(cJSON *o)
{
	static const char *const keys[] = { "created", "wall_s", "load_s", "peak_rss_bytes", "task_wall_s", "dir", "out",
					    "prompt_tokens_evaluated", "tokens_saved_by_reuse", "prompt_tokens_per_s",
					    "items_per_s", NULL };
	for (int i = 0; keys[i]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i]);
	for (cJSON *c = o ? o->child : NULL; c; c = c->next)
		if (cJSON_IsObject(c) || cJSON_IsArray(c))
			strip(c);
}

static cJSON *tasks_of(const char *dir)
{
	char path[500];
	cJSON *r = NULL, *t;
	snprintf(path, sizeof(path), "%s/results.json", dir);
	if (qe_json_read_file(path, &r, NULL))
		return NULL;
	t = cJSON_DetachItemFromObjectCaseSensitive(r, "tasks");
	cJSON_Delete(r);
	return t;
}

static char g_last_tmp[256]; /* the last temporary file count_tmp met, for the log */

/* files named *.tmp.* under dir (recursive) */
static int count_tmp(const char *dir)
{
	char path[4200];
	struct dirent *de;
	struct stat st;
	DIR *d = opendir(dir);
	int n = 0;

	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (strstr(de->d_name, ".tmp.")) {
			n++;
			snprintf(g_last_tmp, sizeof(g_last_tmp), "%s", de->d_name);
		}
		else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			n += count_tmp(path);
	}
	if (d)
		closedir(d);
	return n;
}

/* 1 when every records file of dir's levels has each id once */
static int ids_once(const char *dir, int *n_files)
{
	char lv[600], path[1200];
	struct dirent *a, *b;
	DIR *da, *db;
	int ok = 1;

	*n_files = 0;
	snprintf(lv, sizeof(lv), "%s/levels", dir);
	if (!(da = opendir(lv)))
		return 0;
	while ((a = readdir(da)) != NULL) {
		char ld[900];
		if (a->d_name[0] == '.')
			continue;
		snprintf(ld, sizeof(ld), "%s/%s", lv, a->d_name);
		if (!(db = opendir(ld)))
			continue;
		while ((b = readdir(db)) != NULL) {
			cJSON *recs = NULL, *seen, *r;
			if (strncmp(b->d_name, "records-", 8) != 0)
				continue;
			seen = cJSON_CreateObject();
			snprintf(path, sizeof(path), "%s/%s", ld, b->d_name);
			(*n_files)++;
			if (qe_json_lines_load(path, "id", &recs, NULL) != 0)
				ok = 0;
			cJSON_ArrayForEach(r, recs) {
				const char *id = qe_json_str(r, "id", "");
				if (cJSON_GetObjectItemCaseSensitive(seen, id)) {
					fprintf(stderr, "  %s: id '%s' twice\n", path, id);
					ok = 0;
				}
				cJSON_AddTrueToObject(seen, id);
			}
			cJSON_Delete(recs);
			cJSON_Delete(seen);
		}
		closedir(db);
	}
	closedir(da);
	return ok;
}

static double tput(const char *dir, const char *task, const char *level)
{
	char path[500];
	cJSON *r = NULL;
	const cJSON *t;
	double v;
	snprintf(path, sizeof(path), "%s/results.json", dir);
	qe_json_read_file(path, &r, NULL);
	t = cJSON_GetObjectItemCaseSensitive(r, "tasks");
	t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, task), "levels"),
					     level);
	v = qe_json_num(cJSON_GetObjectItemCaseSensitive(t, "throughput"), "prompt_tokens_per_s", NAN);
	cJSON_Delete(r);
	return v;
}

/* total records of the run so far */
static int n_records(const char *dir)
{
	static const char *const lv[] = { "00-F16", "01-Q8_0", "02-Q4_K_M" }, *const tk[] = { "mmlu", "ceval" };
	char path[600];
	int n = 0;

	for (int l = 0; l < 3; l++)
		for (int t = 0; t < 2; t++) {
			FILE *f;
			int ch;
			snprintf(path, sizeof(path), "%s/levels/%s/records-%s.jsonl", dir, lv[l], tk[t]);
			if ((f = fopen(path, "r"))) {
				while ((ch = fgetc(f)) != EOF)
					n += ch == '\n';
				fclose(f);
			}
		}
	return n;
}

/* where the sweep was when killed, for the log: quantized levels in the
 * cache, records so far, results.json and report.html written */
static const char *phase(const char *dir, const char *cache)
{
	static char buf[420];
	char path[600];
	int n_tmp = count_tmp(cache), recs = 0, quants = 0;
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/quant", cache);
	if ((d = opendir(path))) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.') {
				char sub[900];
				DIR *s;
				snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
				if ((s = opendir(sub))) {
					struct dirent *e;
					while ((e = readdir(s)) != NULL)
						quants += strstr(e->d_name, ".gguf") && !strstr(e->d_name, ".tmp.");
					closedir(s);
				}
			}
		closedir(d);
	}
	recs = n_records(dir);
	snprintf(path, sizeof(path), "%s/results.json", dir);
	snprintf(buf, sizeof(buf), "%d quantized, %d temp in cache%s%s, %d records, results.json %s", quants, n_tmp,
		 n_tmp ? " " : "", n_tmp ? g_last_tmp : "", recs, qe_file_size(path) > 0 ? "written" : "not yet");
	return buf;
}

/* 1 when gnuplot is drawing a chart of the report (its temporary folder
 * is in tmpdir) */
static int writing_reports(const char *tmpdir)
{
	struct dirent *de;
	DIR *d = opendir(tmpdir);
	int yes = 0;

	while (d && !yes && (de = readdir(d)) != NULL)
		yes = !strncmp(de->d_name, "qeval-gp-", 9);
	if (d)
		closedir(d);
	return yes;
}

enum trigger { T_RECORDS, T_QUANT, T_RESULTS, T_REPORT };

struct kill_at {
	int kind;        /* enum trigger */
	int records;     /* T_RECORDS: once the run holds this many */
	int delay_us;    /* then this much later (mid-group, mid-write) */
};

/* The 20 moments: 16 at random record counts (sorted, over the whole
 * sweep), one in each level's quantization (once the first / second level's
 * records are in), one while results.json is written (a temporary file in
 * the run directory), one while gnuplot draws the report's charts. Fixed
 * seed. */
static void schedule(struct kill_at *k, int n_total, int per_level)
{
	unsigned seed = 18;
	int r[16], n = 0;

	for (int i = 0; i < 16; i++)
		r[i] = 1 + (int)((double)rand_r(&seed) / RAND_MAX * (n_total - 2));
	for (int i = 1; i < 16; i++)
		for (int j = i; j > 0 && r[j - 1] > r[j]; j--) {
			int t = r[j];
			r[j] = r[j - 1];
			r[j - 1] = t;
		}
	for (int i = 0, q = 1; i < 16; i++) {
		if (q <= 2 && r[i] >= q * per_level)
			k[n++] = (struct kill_at){ T_QUANT, 0, 0 }, q++;
		k[n++] = (struct kill_at){ T_RECORDS, r[i], (int)(rand_r(&seed) % 20000) };
	}
	k[n++] = (struct kill_at){ T_RESULTS, 0, 0 };
	k[n++] = (struct kill_at){ T_REPORT, 0, 0 };
}

/* one session: start, kill -9 the group when its moment comes; returns
 * what happened for the log */
static const char *session(const char *dir, const char *cache, const char *tmpdir, const struct kill_at *k, int *finished)
{
	static const char *const names[] = { "records", "quantizing", "results", "reports" };
	static char buf[64];
	pid_t pid = start(dir, cache);
	int st = 0, fired = 0;

	for (int i = 0; i < 60000 && !fired; i++) { /* 60 s at most */
		if (waitpid(pid, &st, WNOHANG) == pid) {
			*finished += 1;
			snprintf(buf, sizeof(buf), "%s: finished before its moment", names[k->kind]);
			return buf;
		}
		fired = k->kind == T_RECORDS ? n_records(dir) >= k->records
		      : k->kind == T_QUANT   ? count_tmp(cache) > 0
		      : k->kind == T_RESULTS ? count_tmp(dir) > 0
					     : writing_reports(tmpdir);
		if (!fired)
			usleep(1000);
	}
	usleep((useconds_t)k->delay_us);
	kill(-pid, SIGKILL);
	waitpid(pid, &st, 0);
	snprintf(buf, sizeof(buf), "%s", names[k->kind]);
	if (k->kind == T_RECORDS)
		snprintf(buf, sizeof(buf), "at %d records + %d ms", k->records, k->delay_us / 1000);
	return buf;
}

static void test_sigkill_20_times_then_equal(void)
{
	char base[400], dir[400], cache_a[400], cache_b[400], tmpdir[400];
	static const char *const lv[] = { "F16", "Q8_0", "Q4_K_M" };
	struct kill_at k[N_KILLS];
	cJSON *ta, *tb;
	int st = 0, n_files = 0, finished = 0, n_total;

	snprintf(base, sizeof(base), "%s/base", g_tmp);
	snprintf(dir, sizeof(dir), "%s/killed", g_tmp);
	snprintf(cache_a, sizeof(cache_a), "%s/cache-a", g_tmp);
	snprintf(cache_b, sizeof(cache_b), "%s/cache-b", g_tmp);
	snprintf(tmpdir, sizeof(tmpdir), "%s/tmp", g_tmp);
	mkdir(tmpdir, 0755);
	setenv("TMPDIR", tmpdir, 1);
	run_whole(base, cache_a, &st);
	TQ_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	n_total = n_records(base);
	TQ_CHECK(n_total > 20);
	schedule(k, n_total, n_total / 3);
	/* the cache starts empty: the quantizations happen during the sweep */
	for (int i = 0; i < N_KILLS; i++) {
		const char *what = session(dir, cache_b, tmpdir, &k[i], &finished);
		fprintf(stderr, "  kill %2d (%s): %s\n", i + 1, what, phase(dir, cache_b));
	}
	TQ_CHECK(finished <= 4); /* the moments were met, not missed */
	run_whole(dir, cache_b, &st);
	TQ_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ta = tasks_of(base);
	tb = tasks_of(dir);
	strip(ta);
	strip(tb);
	TQ_CHECK(ta && tb && cJSON_Compare(ta, tb, 1));
	cJSON_Delete(ta);
	cJSON_Delete(tb);
	TQ_CHECK(ids_once(dir, &n_files));
	TQ_EQ_INT(n_files, 6);
	TQ_EQ_INT(n_records(dir), n_total);
	TQ_EQ_INT(count_tmp(cache_b), 0);
	TQ_EQ_INT(count_tmp(dir), 0);
	for (int l = 0; l < 3; l++) {
		double a = tput(base, "mmlu", lv[l]), b = tput(dir, "mmlu", lv[l]);
		TQ_CHECK(isfinite(a) && isfinite(b) && b > 0 && b < a * TPUT_MAX_RATIO);
	}
}

int main(void)
{
	char cmd[400];

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-kill-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	TQ_RUN(test_sigkill_20_times_then_equal);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	if (system(cmd) != 0)
		return 1;
	return tq_done("t_kill");
}
