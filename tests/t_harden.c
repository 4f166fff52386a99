/* Tests of a run directory's safety for unattended runs (issue 18): a resume
 * refuses a run that is not its own (another model, edited settings or data,
 * another level file), a new run refuses records of an unknown run, one
 * process at a time (lock), level processes die with the driver, SIGTERM
 * stops after the current item with the level "interrupted" and a resume
 * that equals an uninterrupted run. Runs the built binary on the fixture
 * model and the sample sets. */
#include "tests/tq.h"
#include "tests/tq_exec.h"

#include "harness/base/json.h"
#include "harness/base/sys.h"
#include "harness/base/text.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[256], g_base[400];
static char g_out[16384], g_err[16384];

static int qeval(const char *args)
{
	return tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err));
}

static const char *model(const char *name)
{
	static char p[2][512];
	static int k;
	k ^= 1;
	snprintf(p[k], sizeof(p[k]), "%s/%s", tq_fixtures(), name);
	return p[k];
}

static int sh(const char *fmt, const char *a, const char *b) __attribute__((format(printf, 1, 0)));
static int sh(const char *fmt, const char *a, const char *b)
{
	char cmd[2048];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	snprintf(cmd, sizeof(cmd), fmt, a, b);
#pragma GCC diagnostic pop
	return system(cmd);
}

/* a copy of the base run at g_tmp/NAME */
static void copy_base(char *dir, size_t cap, const char *name)
{
	snprintf(dir, cap, "%s/%s", g_tmp, name);
	sh("rm -rf '%1$s' && cp -a '%2$s' '%1$s'", dir, g_base);
}

static const char *lvl_status(const char *dir, const char *lvl)
{
	static char st[64];
	char path[600];
	cJSON *j = NULL;
	snprintf(path, sizeof(path), "%s/levels/%s/level.json", dir, lvl);
	qe_json_read_file(path, &j, NULL);
	snprintf(st, sizeof(st), "%s", qe_json_str(j, "status", "(none)"));
	cJSON_Delete(j);
	return st;
}

static void test_base_run(void)
{
	char args[2048];

	snprintf(g_base, sizeof(g_base), "%s/base", g_tmp);
	snprintf(args, sizeof(args), "run -q -t 2 --model %s --levels F16,Q8_0 --mmlu datasets/samples/mmlu --out %s",
		 model("tiny-llama-f16.gguf"), g_base);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(args, sizeof(args), "%s/identity.json", g_base);
	TQ_CHECK(qe_file_size(args) > 0);
}

/* the same command again with --resume, its data path relative as the first
 * time: the same run (plan.json keeps absolute paths; the paths given again
 * are made absolute before the two are compared) */
static void test_resume_same_command_relative(void)
{
	char dir[400], args[2048];

	copy_base(dir, sizeof(dir), "again");
	snprintf(args, sizeof(args), "run -q -t 2 --model %s --levels F16,Q8_0 --mmlu datasets/samples/mmlu --resume %s",
		 model("tiny-llama-f16.gguf"), dir);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_err, "not the same run") == NULL);
}

/* defect 1: --resume with another model reported the other model over the old records */
static void test_resume_refuses_other_model(void)
{
	char dir[400], args[2048];

	copy_base(dir, sizeof(dir), "other-model");
	snprintf(args, sizeof(args), "run -q -t 2 --resume %s -m %s", dir, model("tiny-llama-f32.gguf"));
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "not the same run: model.sha256") != NULL);
	TQ_CHECK(strchr(g_err, '\n') == strrchr(g_err, '\n'));
}

/* defect 1: editing shots or split in plan.json was taken over the old records */
static void test_resume_refuses_edited_settings(void)
{
	static const char *const edits[][2] = { { "shots", "1" }, { "split", "\"dev\"" } };
	char dir[400], args[2048], path[500];

	for (size_t k = 0; k < 2; k++) {
		cJSON *p = NULL, *t;
		copy_base(dir, sizeof(dir), "edited");
		snprintf(path, sizeof(path), "%s/plan.json", dir);
		TQ_EQ_INT(qe_json_read_file(path, &p, NULL), 0);
		t = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "tasks"), 0);
		cJSON_DeleteItemFromObjectCaseSensitive(t, edits[k][0]);
		cJSON_AddItemToObject(t, edits[k][0], cJSON_Parse(edits[k][1]));
		qe_json_write_file(path, p, NULL);
		cJSON_Delete(p);
		snprintf(args, sizeof(args), "run -q -t 2 --resume %s", dir);
		TQ_EQ_INT(qeval(args), 2);
		TQ_CHECK(strstr(g_err, "not the same run: tasks.mmlu.settings.") && strstr(g_err, edits[k][0]));
	}
}

/* the data changed under the run: an edited subject file */
static void test_resume_refuses_changed_data(void)
{
	char dir[400], data[400], args[2048];

	snprintf(data, sizeof(data), "%s/mmlu-copy", g_tmp);
	sh("rm -rf '%s' && cp -r datasets/samples/mmlu '%s'", data, data);
	snprintf(dir, sizeof(dir), "%s/data-run", g_tmp);
	snprintf(args, sizeof(args), "run -q -t 2 --model %s --levels F16 --mmlu %s --mmlu-subjects nutrition --limit 2 --out %s",
		 model("tiny-llama-f16.gguf"), data, dir);
	TQ_EQ_INT(qeval(args), 0);
	sh("echo 'q?,a,b,c,d,A' >> '%s/data/test/nutrition_test.csv'%s", data, "");
	snprintf(args, sizeof(args), "run -q -t 2 --resume %s", dir);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "tasks.mmlu.") != NULL);
}

/* defect 1: a new run into a directory with levels/ but no plan.json reused them */
static void test_new_run_refuses_unknown_records(void)
{
	char dir[400], args[2048];

	copy_base(dir, sizeof(dir), "no-plan");
	sh("rm -f '%s/plan.json' '%s/identity.json'", dir, dir);
	snprintf(args, sizeof(args), "run -q -t 2 --model %s --levels F16,Q8_0 --mmlu datasets/samples/mmlu --out %s",
		 model("tiny-llama-f16.gguf"), dir);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "levels/ but no plan.json") != NULL);
	/* and a resume of a run without its identity */
	copy_base(dir, sizeof(dir), "no-identity");
	sh("rm -f '%s/identity.json'%s", dir, "");
	snprintf(args, sizeof(args), "run -q -t 2 --resume %s", dir);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "identity.json") != NULL);
}

/* a NAME=PATH level whose file was replaced under its records */
static void test_resume_refuses_replaced_level_file(void)
{
	char dir[400], lvl[400], args[2048];

	snprintf(lvl, sizeof(lvl), "%s/mine.gguf", g_tmp);
	sh("cp '%s' '%s'", model("tiny-llama-f16.gguf"), lvl);
	snprintf(dir, sizeof(dir), "%s/file-level", g_tmp);
	snprintf(args, sizeof(args), "run -q -t 2 --model %s --levels F16,mine=%s --mmlu datasets/samples/mmlu --limit 2 --out %s",
		 model("tiny-llama-f16.gguf"), lvl, dir);
	TQ_EQ_INT(qeval(args), 0);
	sh("cp '%s' '%s'", model("tiny-llama-f32.gguf"), lvl);
	sh("rm -f '%s/levels/01-mine/records-mmlu.jsonl.x'%s", dir, "");
	/* level.json says ok: make it unfinished so the level runs again */
	snprintf(args, sizeof(args), "%s/levels/01-mine/level.json", dir);
	sh("sed -i 's/\"ok\"/\"running\"/' '%s'%s", args, "");
	snprintf(args, sizeof(args), "run -q -t 2 --resume %s", dir);
	TQ_EQ_INT(qeval(args), 3);
	TQ_CHECK(strstr(g_err, "level mine") && strstr(g_err, "not the file its records came from"));
	TQ_EQ_STR(lvl_status(dir, "01-mine"), "failed");
}

/* defect 4: one process per run directory; a lock left by a dead process is taken over */
static void test_lock(void)
{
	char dir[400], args[2048], lockp[500];
	struct qe_lock l;
	struct qe_err e = { 0 };
	FILE *f;

	copy_base(dir, sizeof(dir), "locked");
	TQ_EQ_INT(qe_lock_take(&l, dir, "lock", &e), 0);
	snprintf(args, sizeof(args), "run -q -t 2 --resume %s", dir);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "in use by process") != NULL);
	qe_lock_release(&l);
	/* a stale lock: a pid in the file, nobody holding it */
	snprintf(lockp, sizeof(lockp), "%s/lock", dir);
	f = fopen(lockp, "w");
	fprintf(f, "999999\n");
	fclose(f);
	snprintf(args, sizeof(args), "run -t 2 --no-summary --resume %s", dir);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_err, "left by process 999999") != NULL);
	TQ_EQ_INT(qe_file_size(lockp), 0);
}

/* start `qeval run` in its own process group; returns its pid */
static pid_t start_run(const char *dir, const char *levels)
{
	const char *bin = getenv("QE_QEVAL");
	pid_t pid = fork();

	if (pid == 0) {
		char cache[300];
		snprintf(cache, sizeof(cache), "%s/cache", g_tmp);
		setenv("QEVAL_CACHE", cache, 1);
		setpgid(0, 0);
		snprintf(cache, sizeof(cache), "%s/bg.err", g_tmp);
		freopen(cache, "w", stderr);
		freopen("/dev/null", "w", stdout);
		execl(bin ? bin : "./qeval", "qeval", "run", "-q", "-t", "1", "--model", model("tiny-llama-f16.gguf"),
		      "--levels", levels, "--mmlu", "datasets/samples/mmlu", "--out", dir, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static size_t lines_of(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;
	int ch;
	if (!f)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* wait until path has at least n lines (or the process ended); 1 when it has */
static int wait_lines(pid_t pid, const char *path, size_t n)
{
	int st;
	for (int i = 0; i < 30000; i++) {
		if (lines_of(path) >= n)
			return 1;
		if (waitpid(pid, &st, WNOHANG) == pid)
			return 0;
		usleep(2000);
	}
	return 0;
}

/* the first child process of pid (the level process), 0 when none */
static pid_t child_of(pid_t pid)
{
	char path[128], buf[256] = "";
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return (pid_t)strtol(buf, NULL, 10);
}

static char *tasks_text(const char *dir)
{
	char path[500];
	cJSON *r = NULL;
	char *s;
	snprintf(path, sizeof(path), "%s/results.json", dir);
	qe_json_read_file(path, &r, NULL);
	s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "tasks"), "mmlu"), "levels"));
	cJSON_Delete(r);
	return s;
}

/* drop timing fields from results' text: compare the numbers of the records */
static void strip_keys(cJSON *o)
{
	static const char *const keys[] = { "wall_s", "throughput", "items_per_s", NULL };
	for (int i = 0; keys[i]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i]);
	for (cJSON *c = o ? o->child : NULL; c; c = c->next)
		if (cJSON_IsObject(c) || cJSON_IsArray(c))
			strip_keys(c);
}

static int same_results(const char *a, const char *b)
{
	char *ta = tasks_text(a), *tb = tasks_text(b);
	cJSON *ja = ta ? cJSON_Parse(ta) : NULL, *jb = tb ? cJSON_Parse(tb) : NULL;
	int same;
	strip_keys(ja);
	strip_keys(jb);
	same = ja && jb && cJSON_Compare(ja, jb, 1);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	free(ta);
	free(tb);
	return same;
}

/* defect 4: SIGTERM to the driver: the level process stops after its group,
 * the level is "interrupted", the exit status 143 and the message say how to
 * resume; the resume equals an uninterrupted run */
static void test_sigterm_stops_cleanly(void)
{
	char dir[400], rec[500], args[2048], errp[400], *txt = NULL;
	pid_t pid, kid;
	int st = 0;

	snprintf(dir, sizeof(dir), "%s/termed", g_tmp);
	snprintf(rec, sizeof(rec), "%s/levels/01-Q8_0/records-mmlu.jsonl", dir);
	pid = start_run(dir, "F16,Q8_0");
	if (!wait_lines(pid, rec, 1)) {
		waitpid(pid, &st, 0);
		TQ_SKIP("the run ended before it could be stopped");
	}
	kid = child_of(pid);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	TQ_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM);
	TQ_CHECK(kid > 0 && kill(kid, 0) != 0); /* the level process is gone too */
	snprintf(errp, sizeof(errp), "%s/bg.err", g_tmp);
	qe_file_read(errp, &txt, NULL, NULL);
	TQ_CHECK(txt && strstr(txt, "qeval run --resume") != NULL);
	free(txt);
	TQ_EQ_STR(lvl_status(dir, "01-Q8_0"), "interrupted");
	snprintf(args, sizeof(args), "run -q -t 2 --resume %s", dir);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(same_results(g_base, dir));
}

/* defect 4: SIGKILL to the driver alone: its level process dies with it */
static void test_level_process_dies_with_driver(void)
{
	char dir[400], rec[500];
	pid_t pid, kid;
	int st = 0, gone = 0;

	snprintf(dir, sizeof(dir), "%s/orphan", g_tmp);
	snprintf(rec, sizeof(rec), "%s/levels/00-F16/records-mmlu.jsonl", dir);
	pid = start_run(dir, "F16,Q8_0");
	if (!wait_lines(pid, rec, 1)) {
		waitpid(pid, &st, 0);
		TQ_SKIP("the run ended before it could be killed");
	}
	kid = child_of(pid);
	TQ_CHECK(kid > 0);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	for (int i = 0; i < 50 && !gone; i++) { /* 0.5 s: a finished level would take longer */
		char path[64];
		struct stat sb;
		snprintf(path, sizeof(path), "/proc/%d", (int)kid);
		gone = stat(path, &sb) != 0;
		if (!gone) { /* a zombie reparented to init counts as gone */
			char s[256] = "";
			FILE *f;
			snprintf(path, sizeof(path), "/proc/%d/stat", (int)kid);
			if ((f = fopen(path, "r"))) {
				if (fgets(s, sizeof(s), f) && strstr(s, ") Z "))
					gone = 1;
				fclose(f);
			}
		}
		usleep(10000);
	}
	TQ_CHECK(gone);
}


/* rules that fail on the base run (Q8_0 is not 3x smaller than F16) / pass */
static void write_rules(char *fail, char *pass, size_t cap)
{
	FILE *f;

	snprintf(fail, cap, "%s/rules-fail.json", g_tmp);
	snprintf(pass, cap, "%s/rules-pass.json", g_tmp);
	f = fopen(fail, "w");
	fprintf(f, "{\"version\": 1, \"rules\": [{\"name\": \"tiny\", \"metric\": \"level.size_ratio\", \"op\": \">=\", \"value\": 3}]}\n");
	fclose(f);
	f = fopen(pass, "w");
	fprintf(f, "{\"version\": 1, \"rules\": [{\"name\": \"any\", \"metric\": \"level.size_ratio\", \"op\": \">=\", \"value\": 1}]}\n");
	fclose(f);
}

static int junit_failures(const char *dir)
{
	char path[500], *txt = NULL, *p;
	int n = -1;
	snprintf(path, sizeof(path), "%s/junit.xml", dir);
	if (qe_file_read(path, &txt, NULL, NULL) == 0 && (p = strstr(txt, "failures=\"")))
		n = atoi(p + 10);
	free(txt);
	return n;
}

static int junit_has(const char *dir, const char *what)
{
	char path[500], *txt = NULL;
	int yes;
	snprintf(path, sizeof(path), "%s/junit.xml", dir);
	if (qe_file_read(path, &txt, NULL, NULL) != 0)
		return 0;
	yes = strstr(txt, what) != NULL;
	free(txt);
	return yes;
}

/* defect 2: a full disk while the gate and the reports are written: the gate
 * never turns green (a truncated or stale gate.json is not read as a pass) */
static void test_full_disk_keeps_gate_failing(void)
{
	char mnt[400], dir[500], fail[400], pass[400], args[2048], gate[600];
	cJSON *g = NULL;

	snprintf(mnt, sizeof(mnt), "%s/small", g_tmp);
	mkdir(mnt, 0755);
	if (sh("mount -t tmpfs -o size=2m qe-small '%s' 2>/dev/null%s", mnt, "") != 0)
		TQ_SKIP("cannot mount a small tmpfs here (not root, or no mount permission)");
	write_rules(fail, pass, sizeof(fail));
	snprintf(dir, sizeof(dir), "%s/run", mnt);
	sh("cp -a '%2$s' '%1$s' && rm -f '%1$s'/report.* '%1$s'/summary.csv", dir, g_base);
	snprintf(args, sizeof(args), "gate %s --rules %s", dir, pass);
	TQ_EQ_INT(qeval(args), 0); /* a passing gate.json is there */
	/* fill the disk */
	sh("dd if=/dev/zero of='%s/filler' bs=4k 2>/dev/null; sync%s", mnt, "");
	snprintf(args, sizeof(args), "gate %s --rules %s", dir, fail);
	TQ_CHECK(qeval(args) != 0);
	snprintf(gate, sizeof(gate), "%s/gate.json", dir);
	qe_json_read_file(gate, &g, NULL);
	TQ_CHECK(!qe_json_bool(g, "passed", 0)); /* the old pass does not stand */
	cJSON_Delete(g);
	g = NULL;
	snprintf(args, sizeof(args), "run -q -t 2 --resume %s --gate %s", dir, fail);
	TQ_CHECK(qeval(args) != 0);
	snprintf(args, sizeof(args), "report %s --format junit", dir);
	qeval(args);
	TQ_CHECK(!junit_has(dir, "tiny")); /* no gate in it: it was not recorded, so not passed */
	/* a gate.json cut short, as the old writer left it on a full disk */
	sh("rm -f '%s/filler'%s", mnt, "");
	snprintf(args, sizeof(args), "gate %s --rules %s", dir, fail);
	TQ_EQ_INT(qeval(args), 1);
	sh("head -c 120 '%1$s' > '%1$s.x' && mv '%1$s.x' '%1$s'", gate, "");
	snprintf(args, sizeof(args), "%s/junit.xml", dir);
	unlink(args);
	snprintf(args, sizeof(args), "report %s --format junit", dir);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "gate.json' is damaged") != NULL);
	TQ_EQ_INT(junit_failures(dir), -1); /* none written */
	snprintf(args, sizeof(args), "history add %s/h.jsonl %s", g_tmp, dir);
	TQ_EQ_INT(qeval(args), 2);
	sh("umount '%s'%s", mnt, "");
}

/* defect 3: gnuplot that never returns: the run ends within the timeout with
 * the gate's exit code, and gnuplot is killed */
static void test_hanging_gnuplot(void)
{
	char bin[400], dir[400], fail[400], pass[400], args[2048], cmd[1200];
	double t0;
	int rc;
	FILE *f;

	write_rules(fail, pass, sizeof(fail));
	snprintf(bin, sizeof(bin), "%s/fakebin", g_tmp);
	mkdir(bin, 0755);
	snprintf(cmd, sizeof(cmd), "%s/gnuplot", bin);
	f = fopen(cmd, "w");
	fprintf(f, "#!/bin/sh\nexec sleep 3617\n");
	fclose(f);
	chmod(cmd, 0755);
	copy_base(dir, sizeof(dir), "hang");
	snprintf(args, sizeof(args), "run -q -t 2 --resume %s --gate %s", dir, fail);
	snprintf(cmd, sizeof(cmd), "PATH='%s':\"$PATH\" QEVAL_GNUPLOT_TIMEOUT=2 QEVAL_CACHE='%s/cache' %s %s >/dev/null 2>&1",
		 bin, g_tmp, getenv("QE_QEVAL") ? getenv("QE_QEVAL") : "./qeval", args);
	t0 = qe_now();
	rc = system(cmd);
	TQ_CHECK(WIFEXITED(rc) && WEXITSTATUS(rc) == 1);
	TQ_CHECK(qe_now() - t0 < 30);
	TQ_CHECK(system("pgrep -f 'sleep 361[7]' >/dev/null") != 0); /* killed, not left behind */
	snprintf(cmd, sizeof(cmd), "%s/report.html", dir);
	TQ_CHECK(qe_file_size(cmd) > 0);
}

int main(void)
{
	char cmd[400];

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-harden-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	if (qe_file_size(model("tiny-llama-f16.gguf")) < 0) {
		fprintf(stderr, "fixtures missing: run 'make fixtures'\n");
		return 1;
	}
	TQ_RUN(test_base_run);
	TQ_RUN(test_resume_same_command_relative);
	TQ_RUN(test_resume_refuses_other_model);
	TQ_RUN(test_resume_refuses_edited_settings);
	TQ_RUN(test_resume_refuses_changed_data);
	TQ_RUN(test_new_run_refuses_unknown_records);
	TQ_RUN(test_resume_refuses_replaced_level_file);
	TQ_RUN(test_lock);
	TQ_RUN(test_sigterm_stops_cleanly);
	TQ_RUN(test_level_process_dies_with_driver);
	TQ_RUN(test_full_disk_keeps_gate_failing);
	TQ_RUN(test_hanging_gnuplot);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	if (system(cmd) != 0)
		return 1;
	return tq_done("t_harden");
}
