/* `qeval sensitivity` and `qeval recommend` end to end on the fixture model
 * over the MMLU sample (docs/recipes.md): the ranked table, a scan finished
 * again by the same command, the same scan run as two jobs (--jobs 2) and
 * as two mpirun ranks giving the same table, and a recommendation whose
 * printed verdict is the verifying run's gate.json; under mpirun too, with
 * the report written and printed once. The mpirun tests skip with one line
 * when qeval was built without MPI or mpirun is not on PATH. */
#include "tests/tq.h"
#include "tests/tq_exec.h"

#include "harness/base/json.h"
#include "harness/base/text.h"


static char g_tmp[256];
static char g_out[65536], g_err[65536];

#define qeval(...) tq_qevalf(g_tmp, g_out, sizeof(g_out), g_err, sizeof(g_err), __VA_ARGS__)

/* T/NAME's content (caller frees), NULL when unreadable */
static char *slurp(const char *name)
{
	char path[600], *text = NULL;

	snprintf(path, sizeof(path), "%s/%s", g_tmp, name);
	return qe_file_read(path, &text, NULL, NULL) == 0 ? text : NULL;
}

/* how often needle occurs in hay */
static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* T/a/sensitivity.md equal to T/DIR/sensitivity.md */
static void same_table(const char *dir)
{
	char name[300];
	char *a = slurp("a/sensitivity.md"), *b;

	snprintf(name, sizeof(name), "%s/sensitivity.md", dir);
	b = slurp(name);
	TQ_CHECK(a && b);
	if (a && b && strcmp(a, b) != 0) {
		TQ_FAILF("%s/sensitivity.md differs from a/sensitivity.md", dir);
		fprintf(stderr, "---\n%s---\n%s", a, b);
	}
	free(a);
	free(b);
}

#define SCAN "sensitivity --model %s/tiny-llama-f16.gguf --types q4_K --mmlu datasets/samples/mmlu -q --no-summary"

static void test_scan(void)
{
	char *md;

	TQ_EQ_INT(qeval(SCAN " --out %s/a", tq_fixtures(), g_tmp), 0);
	TQ_CHECK(strstr(g_out, "| 9 |") && !strstr(g_out, "| 10 |")); /* 9 groups of one type, ranked */
	md = slurp("a/sensitivity.md");
	TQ_CHECK(md && strstr(md, "| 1 | ") && strstr(md, "mean KL"));
	free(md);
	/* the same command again finishes (here: has nothing left) and reports the same */
	TQ_EQ_INT(qeval(SCAN " --out %s/a", tq_fixtures(), g_tmp), 0);
	TQ_EQ_INT(count(g_out, "# Sensitivity of"), 1);
}

static void test_scan_jobs(void)
{
	TQ_EQ_INT(qeval(SCAN " --jobs 2 --out %s/b", tq_fixtures(), g_tmp), 0);
	TQ_EQ_INT(count(g_out, "# Sensitivity of"), 1);
	same_table("b");
	/* finished again with the same command: the jobs' run is resumed */
	TQ_EQ_INT(qeval(SCAN " --jobs 2 --out %s/b", tq_fixtures(), g_tmp), 0);
	same_table("b");
}

static void test_scan_mpi(void)
{
	char args[1200], log[400], *out;
	const char *why = tq_no_mpi(g_tmp);

	if (why)
		TQ_SKIP("%s", why);
	snprintf(args, sizeof(args), SCAN " --out %s/c", tq_fixtures(), g_tmp);
	snprintf(log, sizeof(log), "%s/c.log", g_tmp);
	TQ_EQ_INT(tq_mpirun(g_tmp, args, log), 0);
	out = slurp("c.log");
	TQ_EQ_INT(count(out, "# Sensitivity of"), 1); /* rank 0 reports, once */
	free(out);
	same_table("c");
}

/* the mix's line printed by recommend agrees with the verifying run's gate.json */
static void check_recommendation(const char *dir, const char *printed, int code)
{
	char path[600];
	cJSON *gate = NULL, *rec = NULL;
	const cJSON *c;
	int n = 0, failed = 0;

	snprintf(path, sizeof(path), "%s/%s/verify/gate.json", g_tmp, dir);
	TQ_EQ_INT(qe_json_read_file(path, &gate, NULL), 0);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(gate, "checks"))
		if (!strcmp(qe_json_str(c, "level", ""), "mix")) {
			n++;
			failed += !strcmp(qe_json_str(c, "status", ""), "fail");
		}
	TQ_CHECK(n > 0);
	TQ_EQ_INT(code, failed ? 1 : 0);
	TQ_CHECK(strstr(printed, failed ? "recommended mix: FAILED" : "recommended mix: PASSED") != NULL);
	snprintf(path, sizeof(path), "%s/%s/recommend.json", g_tmp, dir);
	TQ_EQ_INT(qe_json_read_file(path, &rec, NULL), 0);
	TQ_CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(rec, "level"), "tensor_types") != NULL);
	cJSON_Delete(rec);
	cJSON_Delete(gate);
}

#define RECOMMEND "recommend --model %s/tiny-llama-f16.gguf --rules %s/rules.json --types q6_K,q3_K --compare Q4_K_M " \
		  "--mmlu datasets/samples/mmlu -q --no-summary"

static void write_rules(void)
{
	char path[400];
	FILE *f;

	snprintf(path, sizeof(path), "%s/rules.json", g_tmp);
	f = fopen(path, "w");
	if (!f)
		return;
	fputs("{\"version\": 1, \"rules\": [{\"name\": \"KL\", \"task\": \"mmlu\", \"metric\": \"vs_ref.kl_mean\", "
	      "\"op\": \"<=\", \"value\": 0.004, \"levels\": [\"mix\"]}]}\n", f);
	fclose(f);
}

static void test_recommend(void)
{
	int code;

	write_rules();
	code = qeval(RECOMMEND " --out %s/r", tq_fixtures(), g_tmp, g_tmp);
	TQ_CHECK(code == 0 || code == 1);
	TQ_CHECK(strstr(g_out, "recommended mix: predicted") != NULL);
	check_recommendation("r", g_out, code);
}

static void test_recommend_mpi(void)
{
	char args[1200], log[400], *out, *a, *b;
	const char *why = tq_no_mpi(g_tmp);
	int code;

	if (why)
		TQ_SKIP("%s", why);
	snprintf(args, sizeof(args), RECOMMEND " --out %s/rm", tq_fixtures(), g_tmp, g_tmp);
	snprintf(log, sizeof(log), "%s/rm.log", g_tmp);
	code = tq_mpirun(g_tmp, args, log);
	TQ_CHECK(code == 0 || code == 1);
	out = slurp("rm.log");
	TQ_EQ_INT(count(out, "recommended mix: predicted"), 1);
	check_recommendation("rm", out ? out : "", code);
	a = slurp("r/recommend.json");
	b = slurp("rm/recommend.json");
	TQ_CHECK(a && b && !strcmp(a, b)); /* the same recipe as one process chose */
	free(a);
	free(b);
	free(out);
}

int main(void)
{
	char cmd[300];

	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-sens-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	TQ_RUN(test_scan);
	TQ_RUN(test_scan_jobs);
	TQ_RUN(test_scan_mpi);
	TQ_RUN(test_recommend);
	TQ_RUN(test_recommend_mpi);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
	if (system(cmd) != 0)
		return 1;
	return tq_done("t_sens");
}
