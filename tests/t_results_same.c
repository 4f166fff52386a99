/* results.json of the whole sweep unchanged across a refactoring: `qeval demo`
 * (generated fixture model, F16 + four levels, every task over
 * datasets/samples) is run now and compared with the results.json the same
 * command wrote before the plug-in architecture (commit 5cf37ea),
 * tests/golden/demo.before.results.json; written again when scoring began to
 * evaluate many questions per decode (issue 12: only the levels' n_batch /
 * n_ubatch and, by rounding, the KL divergences changed; every accuracy,
 * prediction and count stayed), and again when the CPU default became 8
 * questions per decode (KL means moved by ~1e-8 relative), and when issue 17
 * made vs_ref.delta_ci95 Newcombe's score interval (the bootstrap moved to
 * delta_boot_ci95), added n_choices and n_shots to the multiple-choice blocks
 * and grew the lm_eval block (groups, versions, n-shot, ...): checked with a
 * script that every other value stayed, accuracies and lm_eval numbers too.
 * The speed tests' machine state (noisy, load1_mean) varies like timings.
 * Levels gained describe()'s "desc" with the served levels (issue 13).
 * acc_ci95 became the Wilson score interval (issue 17: the normal interval
 * collapses at 0 and 100%): written again, checked with a script that it was
 * the only value that changed.
 *
 * Compared: every value, key for key and item for item, exactly (numbers to
 * 1e-12 relative, the print-and-read-back slack), except what changes from
 * run to run by nature: timings and rates (keys ending in _s, _per_s, tps_*,
 * *_ms_*, speedup), memory peaks, dates, the git commit, the machine block
 * and paths (the run's folders differ). Numbers depend on the engine build and
 * the CPU's vector units, so the test skips when the engine's version or
 * build line differs from the golden's. */
#include "tests/tq.h"
#include "tests/tq_exec.h"
#include "tests/tq_json.h"
#include "harness/base/json.h"

#include <unistd.h>

#define REL_TOL 1e-12

static char g_tmp[256];
static char g_out[65536], g_errtxt[65536];
/* keys whose values differ between two runs of the same plan; "identity"
 * (a level file's hashes, issue 18) is newer than the golden file */
static int ignored(const char *key)
{
	static const char *const exact[] = { "created", "git", "machine", "path", "dir", "file", "model", "cache",
					     "out", "source", "speedup", "peak_rss_bytes", "settings_path",
					     "noisy", "load1", "load1_mean", "identity", NULL };
	if (!key)
		return 0;
	for (int i = 0; exact[i]; i++)
		if (!strcmp(key, exact[i]))
			return 1;
	return tq_ends_with(key, "_s") || !strncmp(key, "tps_", 4) || strstr(key, "_ms_") != NULL;
}

/* a comparison of two results.json as this test makes it */
static struct tq_jdiff comparer(int quiet)
{
	struct tq_jdiff d = { ignored, REL_TOL, 20, quiet, 0 };
	return d;
}

static void test_comparison_sees_a_difference(void)
{
	cJSON *a = cJSON_Parse("{\"x\":{\"acc\":0.25,\"wall_s\":1,\"n\":[1,2]}}");
	cJSON *b = cJSON_Parse("{\"x\":{\"acc\":0.2500001,\"wall_s\":2,\"n\":[1,2]}}");
	struct tq_jdiff d = comparer(1);

	tq_json_diff(&d, a, b, "t");
	TQ_EQ_INT(d.n, 1);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_demo_results_unchanged(void)
{
	char args[512], path[512], gold[512];
	cJSON *now = NULL, *before = NULL;
	const char *src = getenv("QE_SRC");
	const cJSON *e1, *e2;
	struct tq_jdiff d = comparer(0);

	snprintf(gold, sizeof(gold), "%s/tests/golden/demo.before.results.json", src && *src ? src : ".");
	/* the golden run had 2 threads (results.json records them) */
	snprintf(args, sizeof(args), "demo --out %s/demo -q -t 2 --threads-batch 2", g_tmp);
	if (tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt)) != 0) {
		TQ_FAILF("qeval demo failed: %s", g_errtxt);
		return;
	}
	snprintf(path, sizeof(path), "%s/demo/results.json", g_tmp);
	TQ_EQ_INT(qe_json_read_file(path, &now, NULL), 0);
	TQ_EQ_INT(qe_json_read_file(gold, &before, NULL), 0);
	if (!now || !before)
		goto out;
	e1 = cJSON_GetObjectItemCaseSensitive(before, "engine");
	e2 = cJSON_GetObjectItemCaseSensitive(now, "engine");
	if (strcmp(qe_json_str(e1, "version", "a"), qe_json_str(e2, "version", "b")) != 0 ||
	    strcmp(qe_json_str(e1, "build", "a"), qe_json_str(e2, "build", "b")) != 0) {
		cJSON_Delete(now);
		cJSON_Delete(before);
		TQ_SKIP("another engine build or CPU than the golden file's ('%s')", qe_json_str(e1, "build", ""));
	}
	/* the engine settings this test gives on the command line (the threads
	 * the golden run had by default) are in the plan as given */
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(before, "run"), "plan"), "runtime");
	cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(now, "run"), "plan"), "runtime");
	tq_json_diff(&d, before, now, "results");
	TQ_EQ_INT(d.n, 0);
out:
	cJSON_Delete(now);
	cJSON_Delete(before);
}

int main(void)
{
	char cmd[300];

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-same-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	TQ_RUN(test_comparison_sees_a_difference);
	TQ_RUN(test_demo_results_unchanged);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	if (system(cmd) != 0)
		return 1;
	return tq_done("t_results_same");
}
