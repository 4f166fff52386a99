/* t_rt_openai_run — `qeval run` with a GGUF level and endpoint levels in one
 * plan, against the loopback server of tests/tq_httpd.h: one report with
 * both, a server that dies mid-run (the failed item named, finished records
 * kept, --resume completes after it is back), and the API key in no file
 * of the run. Runs the built binary ($QE_QEVAL). */
#include "tests/tq.h"
#include "tests/tq_exec.h"
#include "tests/tq_httpd.h"

#include "harness/base/json.h"
#include "harness/base/text.h"

#include <dirent.h>
#include <unistd.h>

#define KEY "sk-run-secret-42"
#define SERVE_TOL 20.0 /* ms: sleeps of a loaded 2-core machine run late */
#define N_ITEMS 25 /* questions of datasets/samples/mmlu */

static char g_tmp[256];
static char g_out[16384], g_err[16384];

static const char *model(void)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/tiny-llama-f16.gguf", tq_fixtures());
	return p;
}

/* Write the plan: the fixture's F16, an endpoint level at port; tasks. */
static void write_plan(const char *path, const char *out, int port, const char *tasks)
{
	FILE *f = fopen(path, "w");

	fprintf(f,
		"{\"model\": \"%s\", \"out\": \"%s\", \"runtime\": {\"threads\": 1},\n"
		" \"levels\": [\"F16\", {\"name\": \"vllm-awq\", \"runtime\": \"openai\", \"url\": \"http://127.0.0.1:%d/v1\",\n"
		"   \"model\": \"fake\", \"label\": \"AWQ 4-bit, g128\", \"bits\": 4.25, \"api_key_env\": \"QE_RUN_KEY\",\n"
		"   \"retries\": 1, \"timeout_s\": 5, \"concurrency\": 2}],\n"
		" \"tasks\": [%s]}\n",
		model(), out, port, tasks);
	fclose(f);
}

static int records(const char *dir, const char *level, const char *task)
{
	char path[700];
	cJSON *a = NULL;
	int n;

	snprintf(path, sizeof(path), "%s/levels/%s/records-%s.jsonl", dir, level, task);
	if (qe_json_lines_load(path, "id", &a, NULL) != 0)
		return -1;
	n = cJSON_GetArraySize(a);
	cJSON_Delete(a);
	return n;
}

/* 1 when the text s is in a file under dir (recursively) */
static int found_in_tree(const char *dir, const char *s)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int hit = 0;

	while (d && !hit && (e = readdir(d)) != NULL) {
		char p[1200];
		char *text = NULL;
		size_t len = 0;
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR)
			hit = found_in_tree(p, s);
		else if (qe_file_read(p, &text, &len, NULL) == 0)
			hit = memmem(text, len, s, strlen(s)) != NULL;
		free(text);
	}
	if (d)
		closedir(d);
	return hit;
}

/* A GGUF level and an endpoint level in one run and one report; the key in
 * no file. */
static void test_mixed_run(void)
{
	struct tq_httpd d = { .ttft_ms = 40, .itl_ms = 10 };
	char plan[400], dir[400], args[1200], path[600];
	cJSON *r = NULL;
	const cJSON *lv;
	char *md = NULL;
	size_t len;

	snprintf(dir, sizeof(dir), "%s/mixed", g_tmp);
	snprintf(plan, sizeof(plan), "%s/mixed.json", g_tmp);
	TQ_CHECK(tq_httpd_start(&d) == 0);
	write_plan(plan, dir, d.port,
		   "{\"task\": \"mmlu\", \"dir\": \"datasets/samples/mmlu\"}, {\"task\": \"speed\", \"pp\": [16], \"tg\": [8], \"reps\": 1, \"warmup\": 0},"
		   " {\"task\": \"serve\", \"concurrency\": [1, 2], \"requests\": 4, \"prompt\": 8, \"gen\": 6}");
	setenv("QE_RUN_KEY", KEY, 1);
	snprintf(args, sizeof(args), "run -q --plan %s", plan);
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err)), 0);
	fprintf(stderr, "%s", g_err);
	tq_httpd_stop(&d);
	TQ_EQ_STR(d.last_auth, "Bearer " KEY);
	snprintf(path, sizeof(path), "%s/results.json", dir);
	TQ_EQ_INT(qe_json_read_file(path, &r, NULL), 0);
	lv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "levels"), 1);
	TQ_EQ_STR(qe_json_str(lv, "status", ""), "ok");
	TQ_EQ_STR(qe_json_str(lv, "ftype", ""), "AWQ 4-bit, g128");
	TQ_CHECK(strstr(qe_json_str(lv, "desc", ""), "next-token") != NULL);
	lv = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "tasks"), "mmlu"), "levels"),
		"vllm-awq");
	TQ_EQ_INT((int)qe_json_num(lv, "n_scored", -1), N_ITEMS);
	/* serving: the server's pace (40 ms to the first token, then 10 ms per
	 * token) within SERVE_TOL; at concurrency 2 the loopback server answers
	 * one connection at a time, so the second request waits: its TTFT is
	 * longer, its TPOT the same */
	lv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "tasks"), "serve"), "levels");
	TQ_CHECK(cJSON_GetObjectItemCaseSensitive(lv, "F16") == NULL);
	lv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lv, "vllm-awq"), "concurrency"), 0);
	TQ_EQ_INT((int)qe_json_num(lv, "n", 0), 4);
	TQ_EQ_INT((int)qe_json_num(lv, "output_tokens", 0), 24);
	TQ_NEAR(qe_json_num(cJSON_GetObjectItemCaseSensitive(lv, "ttft_ms"), "median", NAN), 40, SERVE_TOL);
	TQ_NEAR(qe_json_num(cJSON_GetObjectItemCaseSensitive(lv, "tpot_ms"), "p99", NAN), 10, SERVE_TOL);
	TQ_NEAR(qe_json_num(cJSON_GetObjectItemCaseSensitive(lv, "itl_ms"), "median", NAN), 10, SERVE_TOL);
	TQ_NEAR(qe_json_num(cJSON_GetObjectItemCaseSensitive(lv, "e2e_ms"), "median", NAN), 90, 2 * SERVE_TOL);
	/* 24 tokens over four requests one after another, about 90 ms each */
	TQ_NEAR(qe_json_num(lv, "output_tps", NAN), 24 / 0.36, 25);
	snprintf(path, sizeof(path), "%s/report.md", dir);
	TQ_EQ_INT(qe_file_read(path, &md, &len, NULL), 0);
	TQ_CHECK(md && strstr(md, "vllm-awq") && strstr(md, "F16") && strstr(md, "## Serving") && strstr(md, "TTFT p99"));
	free(md);
	TQ_CHECK(!found_in_tree(dir, KEY));
	TQ_CHECK(!strstr(g_out, KEY) && !strstr(g_err, KEY));
	cJSON_Delete(r);
}

/* The server dies after 12 completions: the level fails naming the item,
 * the records written stay; --resume with the server back completes. */
static void test_killed_server(void)
{
	struct tq_httpd d = { .fault = TQ_DOWN_AFTER, .down_after = 12 };
	char plan[400], dir[400], args[1200];
	int port, n1;

	snprintf(dir, sizeof(dir), "%s/killed", g_tmp);
	snprintf(plan, sizeof(plan), "%s/killed.json", g_tmp);
	TQ_CHECK(tq_httpd_start(&d) == 0);
	port = d.port;
	write_plan(plan, dir, port, "{\"task\": \"mmlu\", \"dir\": \"datasets/samples/mmlu\"}");
	setenv("QE_RUN_KEY", KEY, 1);
	snprintf(args, sizeof(args), "run -q --plan %s", plan);
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err)), 3);
	fprintf(stderr, "  dead server: %s", g_err);
	tq_httpd_stop(&d);
	TQ_CHECK(strstr(g_err, "vllm-awq") && (strstr(g_err, "onnection refused") || strstr(g_err, "timed out")) && strstr(g_err, "item "));
	n1 = records(dir, "01-vllm-awq", "mmlu");
	TQ_CHECK(n1 >= 8 && n1 < N_ITEMS);
	TQ_EQ_INT(records(dir, "00-F16", "mmlu"), N_ITEMS);

	memset(&d, 0, sizeof(d));
	d.port = port;
	TQ_CHECK(tq_httpd_start(&d) == 0);
	snprintf(args, sizeof(args), "run -q --resume %s", dir);
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err)), 0);
	tq_httpd_stop(&d);
	TQ_EQ_INT(records(dir, "01-vllm-awq", "mmlu"), N_ITEMS);
	/* the probe, then the missing items (and the rest of their group) */
	TQ_CHECK(d.n_completions >= 1 + N_ITEMS - n1 && d.n_completions <= 1 + N_ITEMS - n1 + 10);
}

int main(void)
{
	char tmpl[] = "/tmp/qe-oarun-XXXXXX";

	if (!mkdtemp(tmpl))
		return 1;
	snprintf(g_tmp, sizeof(g_tmp), "%s", tmpl);
	if (access(model(), R_OK) != 0) {
		fprintf(stderr, "  SKIP: %s absent (make fixtures)\n", model());
		tq_skipped = 2;
		return tq_done("t_rt_openai_run");
	}
	TQ_RUN(test_mixed_run);
	TQ_RUN(test_killed_server);
	return tq_done("t_rt_openai_run");
}
