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
#include "harness/base/json.h"

#include <unistd.h>

#define REL_TOL 1e-12

static char g_tmp[256];
static char g_out[65536], g_errtxt[65536];
static int g_diffs, g_quiet;

#define DIFF(...) do { if (!g_quiet) { fprintf(stderr, "  differs: "); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } g_diffs++; } while (0)

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

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
	return ends_with(key, "_s") || !strncmp(key, "tps_", 4) || strstr(key, "_ms_") != NULL;
}

static void diff(const cJSON *a, const cJSON *b, const char *path)
{
	char sub[1024];

	if (g_diffs > 20)
		return;
	if ((a->type & 0xFF) != (b->type & 0xFF)) {
		DIFF("%s: types differ", path);
		return;
	}
	if (cJSON_IsObject(a)) {
		const cJSON *x, *y;
		cJSON_ArrayForEach(x, a) {
			if (ignored(x->string))
				continue;
			snprintf(sub, sizeof(sub), "%s.%s", path, x->string);
			if (!(y = cJSON_GetObjectItemCaseSensitive(b, x->string))) {
				DIFF("%s: missing now", sub);
				continue;
			}
			diff(x, y, sub);
		}
		cJSON_ArrayForEach(y, b)
			if (!ignored(y->string) && !cJSON_GetObjectItemCaseSensitive(a, y->string)) {
				DIFF("%s.%s: new key", path, y->string);
			}
	} else if (cJSON_IsArray(a)) {
		int n = cJSON_GetArraySize(a);
		if (n != cJSON_GetArraySize(b)) {
			DIFF("%s: %d items before, %d now", path, n, cJSON_GetArraySize(b));
			return;
		}
		for (int i = 0; i < n; i++) {
			snprintf(sub, sizeof(sub), "%s[%d]", path, i);
			diff(cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i), sub);
		}
	} else if (cJSON_IsNumber(a)) {
		double x = a->valuedouble, y = b->valuedouble;
		if (x != y && fabs(x - y) > REL_TOL * fmax(fabs(x), fabs(y))) {
			DIFF("%s: %.17g before, %.17g now", path, x, y);
		}
	} else if (cJSON_IsString(a) && strcmp(a->valuestring, b->valuestring) != 0) {
		DIFF("%s: \"%s\" before, \"%s\" now", path, a->valuestring, b->valuestring);
	} else if (cJSON_IsBool(a) && cJSON_IsTrue(a) != cJSON_IsTrue(b)) {
		DIFF("%s: booleans differ", path);
	}
}

static void test_comparison_sees_a_difference(void)
{
	cJSON *a = cJSON_Parse("{\"x\":{\"acc\":0.25,\"wall_s\":1,\"n\":[1,2]}}");
	cJSON *b = cJSON_Parse("{\"x\":{\"acc\":0.2500001,\"wall_s\":2,\"n\":[1,2]}}");
	g_quiet = 1;
	diff(a, b, "t");
	g_quiet = 0;
	TQ_EQ_INT(g_diffs, 1);
	g_diffs = 0;
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_demo_results_unchanged(void)
{
	char args[512], path[512], gold[512];
	cJSON *now = NULL, *before = NULL;
	const char *src = getenv("QE_SRC");
	const cJSON *e1, *e2;

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
	diff(before, now, "results");
	TQ_EQ_INT(g_diffs, 0);
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
