/* Tests of `qeval run` with the MMLU / C-Eval tasks: results.json against an
 * independent recount from the records, resume after kill -9, a failed level
 * that costs only itself, bad input. Runs the built binary ($QE_QEVAL) on
 * the generated fixture model and the project's sample sets. */
#include "tests/tq.h"
#include "tests/tq_exec.h"

#include "harness/journal.h"
#include "harness/run.h"

#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define REL_TOL 1e-9
static char g_tmp[256];
static char g_out[8192], g_err[8192];

static int qeval(const char *args)
{
	return tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err));
}

static cJSON *results(const char *dir)
{
	char path[600];
	cJSON *r = NULL;

	snprintf(path, sizeof(path), "%s/results.json", dir);
	qe_json_read_file(path, &r, NULL);
	return r;
}

static const cJSON *get(const cJSON *o, const char *a, const char *b, const char *c)
{
	o = cJSON_GetObjectItemCaseSensitive(o, a);
	if (b)
		o = cJSON_GetObjectItemCaseSensitive(o, b);
	if (c)
		o = cJSON_GetObjectItemCaseSensitive(o, c);
	return o;
}

static const char *model(void)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/tiny-llama-f16.gguf", tq_fixtures());
	return p;
}

/* the run every test below compares against */
static char g_base[400];

static void test_run_mmlu_ceval_all_metrics(void)
{
	char args[2048];
	cJSON *r;
	const cJSON *lv, *t;

	snprintf(g_base, sizeof(g_base), "%s/base", g_tmp);
	snprintf(args, sizeof(args),
		 "run -q --model %s --levels F16,Q8_0,Q4_K_M --mmlu datasets/samples/mmlu --ceval datasets/samples/ceval --out %s",
		 model(), g_base);
	TQ_EQ_INT(qeval(args), 0);
	r = results(g_base);
	TQ_CHECK(r != NULL);
	if (!r)
		return;
	TQ_EQ_STR(qe_json_str(r, "schema", ""), "qeval-results");
	TQ_EQ_STR(qe_json_str(r, "reference", ""), "F16");
	TQ_EQ_INT(cJSON_GetArraySize(get(r, "levels", NULL, NULL)), 3);
	cJSON_ArrayForEach(lv, get(r, "levels", NULL, NULL)) {
		TQ_EQ_STR(qe_json_str(lv, "status", ""), "ok");
		TQ_CHECK(qe_json_num(lv, "bpw", 0) > 3);
		TQ_CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lv, "types")) >= 2);
	}
	for (int k = 0; k < 2; k++) {
		const char *task = k ? "ceval" : "mmlu";
		const cJSON *levels = get(r, "tasks", task, "levels");
		TQ_CHECK(cJSON_GetArraySize(levels) == 3);
		cJSON_ArrayForEach(t, levels) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "vs_ref");
			TQ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, "acc")));
			TQ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, "acc_stderr")));
			TQ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, "acc_macro")));
			TQ_CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "acc_ci95")) == 2);
			{ /* the Wilson score interval, computed here from acc and n_scored */
				double p = qe_json_num(t, "acc", NAN), n = qe_json_num(t, "n_scored", NAN), z = 1.959963984540054;
				double c = (p + z * z / (2 * n)) / (1 + z * z / n);
				double h = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n);
				const cJSON *ci = cJSON_GetObjectItemCaseSensitive(t, "acc_ci95");
				TQ_NEAR(cJSON_GetArrayItem(ci, 0)->valuedouble, fmax(0, c - h), 1e-12);
				TQ_NEAR(cJSON_GetArrayItem(ci, 1)->valuedouble, fmin(1, c + h), 1e-12);
			}
			TQ_CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "categories")) >= 1);
			TQ_CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "subjects")) >= 2);
			if (!strcmp(t->string, "F16")) {
				TQ_CHECK(cJSON_IsNull(v));
			} else {
				TQ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "delta_acc")));
				TQ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "mcnemar_p")));
				TQ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "kl_mean")));
				TQ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(v, "same_answer_rate")));
				TQ_CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "delta_ci95")) == 2);
			}
			TQ_CHECK(qe_json_num(get(t, "throughput", NULL, NULL), "tokens_saved_by_reuse", 0) > 0);
		}
		TQ_CHECK(cJSON_IsObject(get(r, "lm_eval", "Q8_0", "results")));
	}
	TQ_CHECK(cJSON_IsObject(get(get(r, "tasks", "ceval", "levels"), "F16", "groups", "ceval-hard")) ||
		 1); /* present when a hard subject is in the set */
	cJSON_Delete(r);
}

/* accuracy, flips and KL recomputed from the records with plain code */
static void test_results_equal_recount_from_records(void)
{
	char path[700];
	cJSON *r = results(g_base), *ref = NULL, *q4 = NULL;
	const cJSON *a, *b, *blk;
	int n = 0, right = 0, lost = 0, won = 0, same = 0;
	double kl = 0;

	if (!r)
		TQ_SKIP("no base run");
	snprintf(path, sizeof(path), "%s/levels/00-F16/records-mmlu.jsonl", g_base);
	TQ_EQ_INT(qe_journal_load(path, &ref, NULL), 0);
	snprintf(path, sizeof(path), "%s/levels/02-Q4_K_M/records-mmlu.jsonl", g_base);
	TQ_EQ_INT(qe_journal_load(path, &q4, NULL), 0);
	TQ_EQ_INT(cJSON_GetArraySize(ref), cJSON_GetArraySize(q4));
	for (a = ref ? ref->child : NULL, b = q4 ? q4->child : NULL; a && b; a = a->next, b = b->next) {
		int g = (int)qe_json_num(a, "gold", -1), pa = (int)qe_json_num(a, "pred", -1), pb = (int)qe_json_num(b, "pred", -1);
		double la[4], lb[4], ma = -1e300, mb = -1e300, sa = 0, sb = 0;
		TQ_EQ_STR(qe_json_str(a, "id", "a"), qe_json_str(b, "id", "b"));
		n++;
		right += pb == g;
		lost += pa == g && pb != g;
		won += pa != g && pb == g;
		same += pa == pb;
		for (int c = 0; c < 4; c++) {
			la[c] = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "ll"), c)->valuedouble;
			lb[c] = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "ll"), c)->valuedouble;
			ma = la[c] > ma ? la[c] : ma;
			mb = lb[c] > mb ? lb[c] : mb;
		}
		for (int c = 0; c < 4; c++) {
			sa += exp(la[c] - ma);
			sb += exp(lb[c] - mb);
		}
		for (int c = 0; c < 4; c++) {
			double p = exp(la[c] - ma) / sa, q = exp(lb[c] - mb) / sb;
			kl += p * log(p / q);
		}
	}
	blk = get(r, "tasks", "mmlu", "levels");
	blk = cJSON_GetObjectItemCaseSensitive(blk, "Q4_K_M");
	TQ_CHECK(n > 20);
	{
		/* throughput: sums of the records' token counts over the level's task time */
		double pt = 0, ev = 0, wall;
		const cJSON *th = get(blk, "throughput", NULL, NULL), *lv;
		for (b = q4 ? q4->child : NULL; b; b = b->next) {
			pt += qe_json_num(b, "n_prompt", 0);
			ev += qe_json_num(b, "n_eval", 0);
		}
		wall = qe_json_num(th, "wall_s", -1);
		TQ_NEAR(qe_json_num(th, "prompt_tokens", -1), pt, 0);
		TQ_NEAR(qe_json_num(th, "prompt_tokens_evaluated", -1), ev, 0);
		TQ_NEAR(qe_json_num(th, "tokens_saved_by_reuse", -1), pt - ev, 0);
		TQ_NEAR(qe_json_num(th, "prompt_tokens_per_s", -1), ev / wall, REL_TOL * ev / wall);
		TQ_NEAR(qe_json_num(th, "items_per_s", -1), n / wall, REL_TOL * n / wall);
		cJSON_ArrayForEach(lv, get(r, "levels", NULL, NULL))
			if (!strcmp(qe_json_str(lv, "name", ""), "Q4_K_M")) {
				TQ_NEAR(qe_json_num(lv, "bpw", -1),
					8 * qe_json_num(lv, "tensor_bytes", 0) / qe_json_num(lv, "n_params", 1), REL_TOL);
				TQ_NEAR(qe_json_num(lv, "size_ratio", -1),
					qe_json_num(cJSON_GetArrayItem(get(r, "levels", NULL, NULL), 0), "file_bytes", 0) /
						qe_json_num(lv, "file_bytes", 1), REL_TOL);
			}
	}
	TQ_NEAR(qe_json_num(blk, "acc", -1), (double)right / n, REL_TOL);
	TQ_NEAR(qe_json_num(get(blk, "vs_ref", NULL, NULL), "ref_right_level_wrong", -1), lost, 0);
	TQ_NEAR(qe_json_num(get(blk, "vs_ref", NULL, NULL), "ref_wrong_level_right", -1), won, 0);
	TQ_NEAR(qe_json_num(get(blk, "vs_ref", NULL, NULL), "same_answer_rate", -1), (double)same / n, REL_TOL);
	TQ_NEAR(qe_json_num(get(blk, "vs_ref", NULL, NULL), "kl_mean", -1), kl / n, REL_TOL);
	cJSON_Delete(ref);
	cJSON_Delete(q4);
	cJSON_Delete(r);
}

/* Strip what legitimately differs between two runs of the same plan. */
static void strip_timing(cJSON *o)
{
	static const char *const keys[] = { "created", "wall_s", "load_s", "peak_rss_bytes", "task_wall_s", "dir",
					     "out", "prompt_tokens_evaluated", "tokens_saved_by_reuse",
					     "prompt_tokens_per_s", "items_per_s", NULL };
	cJSON *c;

	for (int i = 0; keys[i]; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i]);
	for (c = o->child; c; c = c->next)
		if (cJSON_IsObject(c) || cJSON_IsArray(c))
			strip_timing(c);
}

static void test_kill9_then_resume_equals_uninterrupted(void)
{
	char dir[400], rec[500], args[2048];
	const char *bin = getenv("QE_QEVAL");
	cJSON *a, *b;
	pid_t pid;
	int status, killed = 0;

	snprintf(dir, sizeof(dir), "%s/killed", g_tmp);
	snprintf(rec, sizeof(rec), "%s/levels/01-Q8_0/records-mmlu.jsonl", dir);
	pid = fork();
	if (pid == 0) {
		char cache[300];
		snprintf(cache, sizeof(cache), "%s/cache", g_tmp);
		setenv("QEVAL_CACHE", cache, 1);
		setpgid(0, 0);
		freopen("/dev/null", "w", stderr);
		freopen("/dev/null", "w", stdout);
		execl(bin ? bin : "./qeval", "qeval", "run", "-q", "--model", model(), "--levels", "F16,Q8_0,Q4_K_M",
		      "--mmlu", "datasets/samples/mmlu", "--ceval", "datasets/samples/ceval", "--out", dir, (char *)NULL);
		_exit(127);
	}
	/* kill -9 the whole run (parent and level process) once the second level
	 * has written some records */
	for (int i = 0; i < 6000; i++) {
		FILE *f = fopen(rec, "r");
		int lines = 0, ch;
		if (f) {
			while ((ch = fgetc(f)) != EOF)
				lines += ch == '\n';
			fclose(f);
		}
		if (lines >= 5) {
			kill(-pid, SIGKILL);
			killed = 1;
			break;
		}
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(2000);
	}
	if (killed)
		waitpid(pid, &status, 0);
	TQ_CHECK(killed);
	snprintf(args, sizeof(args), "run -q --resume %s", dir);
	TQ_EQ_INT(qeval(args), 0);
	a = results(g_base);
	b = results(dir);
	TQ_CHECK(a && b);
	if (a && b) {
		char *sa, *sb;
		cJSON *ka = cJSON_Duplicate(get(a, "tasks", NULL, NULL), 1), *kb = cJSON_Duplicate(get(b, "tasks", NULL, NULL), 1);
		strip_timing(ka);
		strip_timing(kb);
		sa = cJSON_PrintUnformatted(ka);
		sb = cJSON_PrintUnformatted(kb);
		/* every number, KL included: each item's log-likelihoods are the
		 * same bits whether its subject's header came from the cache or not */
		TQ_EQ_STR(sa, sb);
		cJSON_free(sa);
		cJSON_free(sb);
		cJSON_Delete(ka);
		cJSON_Delete(kb);
	}
	/* no item twice in any journal */
	{
		cJSON *recs = NULL;
		const cJSON *x, *y;
		int dup = 0;
		qe_journal_load(rec, &recs, NULL);
		for (x = recs ? recs->child : NULL; x; x = x->next)
			for (y = x->next; y; y = y->next)
				dup += !strcmp(qe_json_str(x, "id", "a"), qe_json_str(y, "id", "b"));
		TQ_EQ_INT(dup, 0);
		TQ_EQ_INT(cJSON_GetArraySize(recs), cJSON_GetArraySize(get(get(a, "tasks", "mmlu", NULL), "levels", NULL, NULL)) ? (int)qe_json_num(get(a, "tasks", "mmlu", NULL), "n_items", 0) : -1);
		cJSON_Delete(recs);
	}
	cJSON_Delete(a);
	cJSON_Delete(b);
}

/* Lines of a file, 0 when it is absent. */
static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int lines = 0, ch;

	if (f) {
		while ((ch = fgetc(f)) != EOF)
			lines += ch == '\n';
		fclose(f);
	}
	return lines;
}

/* Keep the first n lines of path (a kill between two record writes). */
static void keep_lines(const char *path, int n)
{
	FILE *f = fopen(path, "r");
	long off = 0;
	int ch, lines = 0;

	while (f && lines < n && (ch = fgetc(f)) != EOF) {
		off++;
		lines += ch == '\n';
	}
	if (f)
		fclose(f);
	TQ_EQ_INT(truncate(path, off), 0);
}

/* Every record of a equal to b's with the same id, n_eval aside (a resumed
 * group evaluates its subject's prefix again); 1 when they all are. */
static int records_equal(const char *a_path, const char *b_path, int *n_eval_diff)
{
	cJSON *ra = NULL, *rb = NULL;
	const cJSON *x, *y;
	int ok = 1;

	qe_journal_load(a_path, &ra, NULL);
	qe_journal_load(b_path, &rb, NULL);
	ok = ra && rb && cJSON_GetArraySize(ra) == cJSON_GetArraySize(rb) && cJSON_GetArraySize(ra) > 0;
	*n_eval_diff = 0;
	for (x = ok ? ra->child : NULL; x && ok; x = x->next) {
		cJSON *xa = cJSON_Duplicate(x, 1), *yb = NULL;
		char *sa, *sb;
		for (y = rb->child; y && strcmp(qe_json_str(y, "id", ""), qe_json_str(x, "id", "?")); y = y->next)
			;
		if (!y) {
			ok = 0;
			cJSON_Delete(xa);
			break;
		}
		yb = cJSON_Duplicate(y, 1);
		*n_eval_diff += qe_json_num(x, "n_eval", 0) != qe_json_num(y, "n_eval", 0);
		cJSON_DeleteItemFromObjectCaseSensitive(xa, "n_eval");
		cJSON_DeleteItemFromObjectCaseSensitive(yb, "n_eval");
		sa = cJSON_PrintUnformatted(xa);
		sb = cJSON_PrintUnformatted(yb);
		if (strcmp(sa, sb) != 0) {
			fprintf(stderr, "  record differs:\n    %s\n    %s\n", sa, sb);
			ok = 0;
		}
		cJSON_free(sa);
		cJSON_free(sb);
		cJSON_Delete(xa);
		cJSON_Delete(yb);
	}
	cJSON_Delete(ra);
	cJSON_Delete(rb);
	return ok;
}

/* Groups of 4 questions (a subject of 10: 4, 4, 2): the run is killed with
 * SIGKILL once the second level has written its first two groups, and its
 * journal cut after 7 records, as if the kill had come between the last two
 * records of the second group. The resumed run scores that whole group again
 * (its decodes, hence its bits, are the group's) and writes the missing
 * record: every record equals the uninterrupted run's to the bit. (Scoring
 * only the missing question, alone, gives other bits: this test then fails.) */
static void test_kill9_inside_a_group_then_resume(void)
{
	char whole[400], dir[400], rec[500], rec_whole[500], args[2048];
	const char *bin = getenv("QE_QEVAL");
	pid_t pid;
	int status, killed = 0, diff = 0;

	snprintf(whole, sizeof(whole), "%s/group-whole", g_tmp);
	snprintf(dir, sizeof(dir), "%s/group-killed", g_tmp);
	snprintf(args, sizeof(args), "run -q --model %s --levels F16,Q8_0 --mmlu datasets/samples/mmlu --mmlu-batch 4 --out %s",
		 model(), whole);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(rec, sizeof(rec), "%s/levels/01-Q8_0/records-mmlu.jsonl", dir);
	snprintf(rec_whole, sizeof(rec_whole), "%s/levels/01-Q8_0/records-mmlu.jsonl", whole);
	pid = fork();
	if (pid == 0) {
		char cache[300];
		snprintf(cache, sizeof(cache), "%s/cache", g_tmp);
		setenv("QEVAL_CACHE", cache, 1);
		setpgid(0, 0);
		freopen("/dev/null", "w", stderr);
		freopen("/dev/null", "w", stdout);
		execl(bin ? bin : "./qeval", "qeval", "run", "-q", "--model", model(), "--levels", "F16,Q8_0", "--mmlu",
		      "datasets/samples/mmlu", "--mmlu-batch", "4", "--out", dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 6000 && !killed; i++) {
		if (count_lines(rec) >= 8) {
			kill(-pid, SIGKILL);
			killed = 1;
		} else if (waitpid(pid, &status, WNOHANG) == pid) {
			break;
		}
		usleep(2000);
	}
	if (killed)
		waitpid(pid, &status, 0);
	TQ_CHECK(killed);
	if (!killed)
		return;
	keep_lines(rec, 7);
	snprintf(args, sizeof(args), "run -q --resume %s", dir);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(records_equal(rec_whole, rec, &diff));
	TQ_EQ_INT(diff, 0); /* the group's prefix was paid by its first item, whose record was kept */
	snprintf(rec, sizeof(rec), "%s/levels/00-F16/records-mmlu.jsonl", dir);
	snprintf(rec_whole, sizeof(rec_whole), "%s/levels/00-F16/records-mmlu.jsonl", whole);
	TQ_CHECK(records_equal(rec_whole, rec, &diff));
}

/* Tokens by parts (the few-shot prefix's kept, a question's own text
 * tokenized after the prefix's anchor) equal lm-eval's whole tokenization on
 * the first questions of every MMLU and C-Eval subject, with the Llama-2 and
 * the mc-memorizer vocabularies (QEVAL_VERIFY_TOKENS=1 fails a question
 * whose tokens differ). */
static void test_real_sets_tokens_by_parts_equal_whole(void)
{
	static const char *const models[] = { "llama-2-tiny-random", "mc-memorizer-6L-256-f16" };
	char args[2048], dir[400], rec[500], path[600], mmlu[300], ceval[300];

	snprintf(mmlu, sizeof(mmlu), "%s/datasets/mmlu", tq_shared());
	snprintf(ceval, sizeof(ceval), "%s/datasets/ceval", tq_shared());
	if (access(mmlu, R_OK) != 0 || access(ceval, R_OK) != 0)
		TQ_SKIP("%s absent", mmlu);
	setenv("QEVAL_VERIFY_TOKENS", "1", 1);
	for (int m = 0; m < 2; m++) {
		snprintf(path, sizeof(path), "%s/models/%s.gguf", tq_shared(), models[m]);
		if (access(path, R_OK) != 0)
			continue;
		snprintf(dir, sizeof(dir), "%s/tok-%d", g_tmp, m);
		snprintf(args, sizeof(args), "run -q --model %s --levels F16=%s --mmlu %s --ceval %s --limit 2 --out %s",
			 path, path, mmlu, ceval, dir);
		TQ_EQ_INT(qeval(args), 0);
		for (int t = 0; t < 2; t++) {
			cJSON *recs = NULL;
			const cJSON *x;
			int n = 0, ok = 0;
			snprintf(rec, sizeof(rec), "%s/levels/00-F16/records-%s.jsonl", dir, t ? "ceval" : "mmlu");
			TQ_EQ_INT(qe_journal_load(rec, &recs, NULL), 0);
			cJSON_ArrayForEach(x, recs) {
				n++;
				ok += !strcmp(qe_json_str(x, "status", ""), "ok");
				if (strcmp(qe_json_str(x, "status", ""), "ok") != 0)
					fprintf(stderr, "  %s %s: %s\n", models[m], qe_json_str(x, "id", "?"),
						qe_json_str(x, "status", "?"));
			}
			TQ_EQ_INT(n, t ? 2 * 52 : 2 * 57);
			TQ_EQ_INT(ok, n);
			cJSON_Delete(recs);
		}
	}
	unsetenv("QEVAL_VERIFY_TOKENS");
}

static void test_bad_level_costs_only_itself(void)
{
	char dir[400], bad[400], args[2048];
	FILE *f;
	cJSON *r;
	const cJSON *l;

	snprintf(bad, sizeof(bad), "%s/broken.gguf", g_tmp);
	f = fopen(bad, "w");
	fputs("GGUF but not really", f);
	fclose(f);
	snprintf(dir, sizeof(dir), "%s/badlevel", g_tmp);
	snprintf(args, sizeof(args), "run -q --model %s --levels F16,broken=%s,Q8_0 --mmlu datasets/samples/mmlu --out %s",
		 model(), bad, dir);
	TQ_EQ_INT(qeval(args), 3);
	TQ_CHECK(strstr(g_err, "broken") != NULL);
	r = results(dir);
	TQ_CHECK(r != NULL);
	if (!r)
		return;
	cJSON_ArrayForEach(l, get(r, "levels", NULL, NULL)) {
		if (!strcmp(qe_json_str(l, "name", ""), "broken")) {
			TQ_EQ_STR(qe_json_str(l, "status", ""), "failed");
			TQ_CHECK(strstr(qe_json_str(l, "error", ""), "broken.gguf") != NULL);
		} else {
			TQ_EQ_STR(qe_json_str(l, "status", ""), "ok");
		}
	}
	TQ_CHECK(cJSON_IsNumber(get(get(r, "tasks", "mmlu", "levels"), "Q8_0", "acc", NULL)));
	cJSON_Delete(r);
}

/* A level whose arithmetic overflows (NaN logits): every item is a failed
 * record naming why, the level is failed with the first reason (exit 3),
 * the others finish, nothing is scored. */
static void test_nonfinite_level_items_fail_with_reason(void)
{
	char dir[400], args[2048], rec[500];
	cJSON *r, *recs = NULL;
	const cJSON *x, *blk;
	int n = 0, n_nonfinite = 0;

	snprintf(dir, sizeof(dir), "%s/nanlevel", g_tmp);
	snprintf(args, sizeof(args), "run -q --model %s --levels F16,nan=%s/tiny-llama-nan.gguf --mmlu datasets/samples/mmlu --out %s",
		 model(), tq_fixtures(), dir);
	/* every item failed: the level is failed (exit 3, issue 18), not "ok" with nothing scored */
	TQ_EQ_INT(qeval(args), 3);
	TQ_CHECK(strstr(g_err, "level nan failed: task 'mmlu': every one of its 25 items failed") != NULL);
	TQ_CHECK(strstr(g_out, "nan: 25 of 25 items failed") != NULL);
	snprintf(rec, sizeof(rec), "%s/levels/01-nan/records-mmlu.jsonl", dir);
	TQ_EQ_INT(qe_journal_load(rec, &recs, NULL), 0);
	cJSON_ArrayForEach(x, recs) {
		n++;
		n_nonfinite += strstr(qe_json_str(x, "status", ""), "non-finite log-likelihood") != NULL;
		TQ_CHECK(cJSON_GetObjectItemCaseSensitive(x, "pred") == NULL);
	}
	TQ_EQ_INT(n, 25);
	TQ_EQ_INT(n_nonfinite, 25);
	cJSON_Delete(recs);
	r = results(dir);
	TQ_CHECK(r != NULL);
	if (!r)
		return;
	blk = get(get(r, "tasks", "mmlu", "levels"), "nan", NULL, NULL);
	TQ_EQ_INT(qe_json_num(blk, "n_failed", -1), 25);
	TQ_EQ_INT(qe_json_num(blk, "n_scored", -1), 0);
	TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(blk, "acc")));
	TQ_CHECK(cJSON_IsNull(get(blk, "vs_ref", "mcnemar_p", NULL)));
	TQ_CHECK(cJSON_IsNumber(get(get(r, "tasks", "mmlu", "levels"), "F16", "acc", NULL)));
	cJSON_Delete(r);
}

/* A level made of the same tensor types as an earlier one is named as such
 * (llama.cpp's k-quant fallback makes Q6_K of a 64-wide model a Q8_0). */
static void test_same_types_as_is_reported(void)
{
	char dir[400], args[2048];
	cJSON *r;
	const cJSON *l;
	int seen = 0;

	snprintf(dir, sizeof(dir), "%s/sametypes", g_tmp);
	snprintf(args, sizeof(args), "run --model %s --levels F16,Q8_0,copy=%s --mmlu datasets/samples/mmlu --limit 1 --out %s",
		 model(), model(), dir);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "same tensor types as F16") != NULL);
	r = results(dir);
	TQ_CHECK(r != NULL);
	cJSON_ArrayForEach(l, get(r, "levels", NULL, NULL)) {
		const char *n = qe_json_str(l, "name", "");
		if (!strcmp(n, "copy")) {
			TQ_EQ_STR(qe_json_str(l, "same_types_as", "-"), "F16");
			seen++;
		} else {
			TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(l, "same_types_as")));
		}
	}
	TQ_EQ_INT(seen, 1);
	cJSON_Delete(r);
}

static void test_bad_input_exit_2_one_line(void)
{
	char args[2048];

	snprintf(args, sizeof(args), "run -q --model %s --levels F16 --mmlu /no/such/mmlu --out %s/x1", model(), g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "/no/such/mmlu") != NULL);
	snprintf(args, sizeof(args), "run -q --model %s --levels F16,Q7_Q --mmlu datasets/samples/mmlu --out %s/x2", model(), g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "Q7_Q") != NULL);
	/* C-Eval's test split has no answers: refused, not scored as wrong */
	snprintf(args, sizeof(args), "run -q --model %s --levels F16 --ceval datasets/samples/ceval --ceval-split test --out %s/x3",
		 model(), g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "no answers") != NULL);
	/* the same output directory twice: refused, pointing at --resume */
	snprintf(args, sizeof(args), "run -q --model %s --levels F16 --mmlu datasets/samples/mmlu --out %s", model(), g_base);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_err, "--resume") != NULL);
	snprintf(args, sizeof(args), "run -q --plan %s/nonexistent.json", g_tmp);
	TQ_EQ_INT(qeval(args), 2);
}

/* Items too long for the context are failed records, each with its own
 * reason; the other items of the batch are scored. */
static void test_too_long_items_are_records_with_their_reason(void)
{
	char dir[400], path[500], args[2048], rec[600];
	cJSON *recs = NULL;
	const cJSON *r;
	int n_err = 0, n_ok = 0;
	char first[600] = "";
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/longmmlu/data/test", g_tmp);
	snprintf(args, sizeof(args), "mkdir -p '%s'", dir);
	TQ_EQ_INT(system(args), 0);
	snprintf(path, sizeof(path), "%s/long_test.csv", dir);
	f = fopen(path, "w");
	for (int q = 0; q < 4; q++) {
		int len = q == 1 ? 20 : 3000 + 500 * q; /* item 1 fits, the others do not */
		for (int i = 0; i < len; i++)
			fputc(i % 2 ? ' ' : 'x', f);
		fprintf(f, ",a,b,c,d,A\n");
	}
	fclose(f);
	snprintf(args, sizeof(args), "run -q --model %s --levels F16 --mmlu %s/longmmlu --shots 0 --ctx 256 --out %s/long",
		 model(), g_tmp, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(rec, sizeof(rec), "%s/long/levels/00-F16/records-mmlu.jsonl", g_tmp);
	TQ_EQ_INT(qe_journal_load(rec, &recs, NULL), 0);
	cJSON_ArrayForEach(r, recs) {
		const char *st = qe_json_str(r, "status", "");
		if (!strcmp(st, "ok")) {
			n_ok++;
			continue;
		}
		n_err++;
		TQ_CHECK(strstr(st, "exceeds the context") != NULL);
		TQ_CHECK(strcmp(st, first) != 0); /* each its own token count */
		snprintf(first, sizeof(first), "%s", st);
	}
	TQ_EQ_INT(n_ok, 1);
	TQ_EQ_INT(n_err, 3);
	cJSON_Delete(recs);
}

static void test_plan_file_and_limit(void)
{
	char plan[400], dir[400], args[2048];
	FILE *f;
	cJSON *r;

	snprintf(plan, sizeof(plan), "%s/plan.json", g_tmp);
	snprintf(dir, sizeof(dir), "%s/planrun", g_tmp);
	f = fopen(plan, "w");
	fprintf(f, "{ \"model\": \"%s\", \"levels\": [\"Q8_0\", \"F16\"], \"reference\": \"F16\",\n"
		   "  \"tasks\": [ { \"task\": \"mmlu\", \"dir\": \"datasets/samples/mmlu\", \"shots\": 0 } ],\n"
		   "  \"limit\": 2, \"out\": \"%s\" }\n", model(), dir);
	fclose(f);
	snprintf(args, sizeof(args), "run -q --plan %s", plan);
	TQ_EQ_INT(qeval(args), 0);
	r = results(dir);
	TQ_CHECK(r != NULL);
	if (!r)
		return;
	TQ_EQ_STR(qe_json_str(r, "reference", ""), "F16");
	TQ_CHECK(qe_json_bool(get(r, "run", NULL, NULL), "partial", 0));
	TQ_EQ_INT(qe_json_num(get(r, "tasks", "mmlu", NULL), "n_items", 0), 6); /* 3 subjects x 2 */
	TQ_EQ_INT(qe_json_num(get(r, "tasks", "mmlu", "settings"), "shots", -1), 0);
	TQ_CHECK(cJSON_IsNull(get(get(r, "tasks", "mmlu", "levels"), "F16", "vs_ref", NULL)));
	cJSON_Delete(r);
}

int main(void)
{
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-run-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	TQ_RUN(test_run_mmlu_ceval_all_metrics);
	TQ_RUN(test_results_equal_recount_from_records);
	TQ_RUN(test_kill9_then_resume_equals_uninterrupted);
	TQ_RUN(test_kill9_inside_a_group_then_resume);
	TQ_RUN(test_real_sets_tokens_by_parts_equal_whole);
	TQ_RUN(test_bad_level_costs_only_itself);
	TQ_RUN(test_nonfinite_level_items_fail_with_reason);
	TQ_RUN(test_same_types_as_is_reported);
	TQ_RUN(test_bad_input_exit_2_one_line);
	TQ_RUN(test_too_long_items_are_records_with_their_reason);
	TQ_RUN(test_plan_file_and_limit);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
		if (system(cmd) != 0)
			return 1;
	}
	return tq_done("t_run");
}
