/* t_rt_openai_llama — the openai runtime against a real llama-server serving
 * the same GGUF as the llamacpp runtime (../shared models and data; skipped
 * when llama-server or they are absent):
 *   - MMLU and C-Eval, --limit 3: the same predictions, log-likelihoods within
 *     LL_TOL, in one run and one report with speed and serving figures;
 *   - zh-bert embeddings (llama-server --embeddings) against the llamacpp
 *     runtime's: cosine >= COS_MIN for every sentence (the pairs task);
 *   - the server killed mid-run: the failed item named, finished records
 *     kept, --resume completing once it is back.
 * Everything runs on one thread of each side (-t 1): the machine is shared. */
#include "tests/tq.h"
#include "tests/tq_exec.h"
#include "tests/tq_server.h"

#include "harness/base/json.h"

#include <unistd.h>

/* log-likelihoods of the two routes differ by rounding only when both
 * evaluate a prompt in one micro-batch (the server started with -b 2048
 * -ub 2048, as the llamacpp runtime scores): llama-server takes the log of a
 * float32 softmax, several questions share the runtime's decodes. Measured
 * on 2026-11-27: max 3.6e-3 (MMLU), 3.0e-3 (C-Eval). With the server's default -ub 512 long
 * prompts differed by up to 0.135 (same predictions): docs/runtimes.md. */
#define LL_TOL 5e-3
#define COS_MIN 0.9999

static char g_tmp[256];
static char g_out[16384], g_err[16384];

static int shared_file(char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s/%s", tq_shared(), rel);
	return access(buf, R_OK) == 0;
}

static cJSON *records(const char *dir, const char *level, const char *task)
{
	char path[700];
	cJSON *a = NULL;

	snprintf(path, sizeof(path), "%s/levels/%s/records-%s.jsonl", dir, level, task);
	if (qe_json_lines_load(path, "id", &a, NULL) != 0)
		return NULL;
	return a;
}

/* The same items through both levels: same predictions, ll within LL_TOL. */
static void compare_mc(const char *dir, const char *task)
{
	cJSON *a = records(dir, "00-gguf", task), *b = records(dir, "01-server", task);
	const cJSON *ra, *rb;
	double max_d = 0;
	int n = 0, same = 0;

	TQ_CHECK(a && b && cJSON_GetArraySize(a) == cJSON_GetArraySize(b) && cJSON_GetArraySize(a) > 0);
	cJSON_ArrayForEach(ra, a) {
		const char *id = qe_json_str(ra, "id", "");
		cJSON_ArrayForEach(rb, b)
			if (!strcmp(qe_json_str(rb, "id", "?"), id))
				break;
		if (!rb || strcmp(qe_json_str(ra, "status", ""), "ok") || strcmp(qe_json_str(rb, "status", ""), "ok")) {
			TQ_FAILF("%s item %s: %s / %s", task, id, qe_json_str(ra, "status", "?"), rb ? qe_json_str(rb, "status", "?") : "missing");
			continue;
		}
		n++;
		same += qe_json_num(ra, "pred", -1) == qe_json_num(rb, "pred", -2);
		for (int c = 0; c < 4; c++) {
			double x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(ra, "ll"), c)->valuedouble;
			double y = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rb, "ll"), c)->valuedouble;
			max_d = fabs(x - y) > max_d ? fabs(x - y) : max_d;
		}
	}
	fprintf(stderr, "  %s: %d items, %d same predictions, max |ll difference| %.3g (tolerance %g)\n", task, n, same,
		max_d, LL_TOL);
	TQ_EQ_INT(same, n);
	TQ_CHECK(max_d <= LL_TOL);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_mc_same_as_llamacpp(void)
{
	char model[512], mmlu[512], ceval[512], plan[600], dir[600], args[1400], path[700];
	struct tq_server s;
	cJSON *r = NULL;
	const cJSON *srv;
	FILE *f;

	if (!tq_server_path())
		TQ_SKIP("llama-server absent (make llama-tools, or set QE_LLAMA_SERVER)");
	if (!shared_file(model, sizeof(model), "models/mc-memorizer-6L-256-f16.gguf") ||
	    !shared_file(mmlu, sizeof(mmlu), "datasets/mmlu") || !shared_file(ceval, sizeof(ceval), "datasets/ceval"))
		TQ_SKIP("%s/models/mc-memorizer-6L-256-f16.gguf or its datasets absent", tq_shared());
	TQ_CHECK(tq_server_start(&s, g_tmp, model, "-t 1 -tb 1 -c 2048 -np 1 -b 2048 -ub 2048 -a mem", 0, 120) == 0);
	snprintf(dir, sizeof(dir), "%s/mc", g_tmp);
	snprintf(plan, sizeof(plan), "%s/mc.json", g_tmp);
	f = fopen(plan, "w");
	fprintf(f,
		"{\"model\": \"%s\", \"out\": \"%s\", \"limit\": 3, \"runtime\": {\"threads\": 1},\n"
		" \"levels\": [{\"name\": \"gguf\", \"path\": \"%s\"},\n"
		"   {\"name\": \"server\", \"runtime\": \"openai\", \"url\": \"%s\", \"model\": \"mem\", \"label\": \"F16 via llama-server\", \"bits\": 16}],\n"
		" \"tasks\": [{\"task\": \"mmlu\", \"dir\": \"%s\"}, {\"task\": \"ceval\", \"dir\": \"%s\"},\n"
		"   {\"task\": \"speed\", \"pp\": [64], \"tg\": [16], \"reps\": 2},\n"
		"   {\"task\": \"serve\", \"concurrency\": [1, 2], \"requests\": 4, \"prompt\": 64, \"gen\": 16}]}\n",
		model, dir, model, s.url, mmlu, ceval);
	fclose(f);
	snprintf(args, sizeof(args), "run -q --plan %s", plan);
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err)), 0);
	tq_server_stop(&s, 0);
	fprintf(stderr, "%s", g_err);
	compare_mc(dir, "mmlu");
	compare_mc(dir, "ceval");
	snprintf(path, sizeof(path), "%s/results.json", dir);
	TQ_EQ_INT(qe_json_read_file(path, &r, NULL), 0);
	srv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "levels"), 1);
	TQ_CHECK(strstr(qe_json_str(srv, "desc", ""), "scoring: next-token log-probabilities") != NULL);
	srv = cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "tasks"), "serve"), "levels"),
		"server");
	srv = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(srv, "concurrency"), 1);
	TQ_EQ_INT((int)qe_json_num(srv, "output_tokens", 0), 4 * 16);
	TQ_CHECK(qe_json_num(cJSON_GetObjectItemCaseSensitive(srv, "ttft_ms"), "p99", 0) > 0);
	TQ_CHECK(qe_json_num(cJSON_GetObjectItemCaseSensitive(srv, "tpot_ms"), "p99", 0) > 0);
	cJSON_Delete(r);
}

static void test_embeddings_same_as_llamacpp(void)
{
	char model[512], data[512], plan[600], dir[600], args[1400], path[700];
	struct tq_server s;
	cJSON *r = NULL;
	const cJSON *drift;
	FILE *f;

	if (!tq_server_path())
		TQ_SKIP("llama-server absent (make llama-tools, or set QE_LLAMA_SERVER)");
	if (!shared_file(model, sizeof(model), "models/zh-bert-4L-256-f16.gguf") ||
	    !shared_file(data, sizeof(data), "datasets/lcqmc/LCQMC.test.data"))
		TQ_SKIP("%s/models/zh-bert-4L-256-f16.gguf or LCQMC absent", tq_shared());
	TQ_CHECK(tq_server_start(&s, g_tmp, model, "-t 1 -tb 1 -a bert --embeddings", 0, 120) == 0);
	snprintf(dir, sizeof(dir), "%s/emb", g_tmp);
	snprintf(plan, sizeof(plan), "%s/emb.json", g_tmp);
	f = fopen(plan, "w");
	fprintf(f,
		"{\"model\": \"%s\", \"out\": \"%s\", \"limit\": 200, \"runtime\": {\"threads\": 1},\n"
		" \"levels\": [{\"name\": \"gguf\", \"path\": \"%s\"},\n"
		"   {\"name\": \"server\", \"runtime\": \"openai\", \"url\": \"%s\", \"model\": \"bert\"}],\n"
		" \"tasks\": [{\"task\": \"pairs\", \"name\": \"lcqmc\", \"file\": \"%s\"}]}\n",
		model, dir, model, s.url, data);
	fclose(f);
	snprintf(args, sizeof(args), "run -q --plan %s", plan);
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err)), 0);
	tq_server_stop(&s, 0);
	snprintf(path, sizeof(path), "%s/results.json", dir);
	TQ_EQ_INT(qe_json_read_file(path, &r, NULL), 0);
	drift = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "tasks"), "lcqmc"), "levels"),
		"server"), "drift");
	fprintf(stderr, "  embeddings: %.0f sentences, cosine mean %.8f, min %.8f (>= %g)\n", qe_json_num(drift, "n_sentences", NAN),
		qe_json_num(drift, "cos_mean", NAN), qe_json_num(drift, "cos_min", NAN), COS_MIN);
	TQ_CHECK(qe_json_num(drift, "cos_min", 0) >= COS_MIN);
	TQ_CHECK(qe_json_num(drift, "n_sentences", 0) >= 200);
	cJSON_Delete(r);
}

/* lines in a file (records written so far) */
static int lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

static void test_server_killed_mid_run(void)
{
	char model[512], mmlu[512], plan[600], dir[600], args[1400], rec[700];
	struct tq_server s;
	const char *bin = getenv("QE_QEVAL");
	pid_t q;
	int st, n1, port;
	cJSON *a;
	FILE *f;

	if (!tq_server_path())
		TQ_SKIP("llama-server absent (make llama-tools, or set QE_LLAMA_SERVER)");
	if (!shared_file(model, sizeof(model), "models/mc-memorizer-6L-256-f16.gguf") ||
	    !shared_file(mmlu, sizeof(mmlu), "datasets/mmlu"))
		TQ_SKIP("%s/models/mc-memorizer-6L-256-f16.gguf or MMLU absent", tq_shared());
	TQ_CHECK(tq_server_start(&s, g_tmp, model, "-t 1 -tb 1 -c 2048 -np 1 -a mem", 0, 120) == 0);
	port = s.port;
	snprintf(dir, sizeof(dir), "%s/killed", g_tmp);
	snprintf(plan, sizeof(plan), "%s/killed.json", g_tmp);
	snprintf(rec, sizeof(rec), "%s/levels/00-server/records-mmlu.jsonl", dir);
	f = fopen(plan, "w");
	fprintf(f,
		"{\"model\": \"%s\", \"out\": \"%s\", \"limit\": 2,\n"
		" \"levels\": [{\"name\": \"server\", \"runtime\": \"openai\", \"url\": \"%s\", \"model\": \"mem\", \"retries\": 1, \"timeout_s\": 20}],\n"
		" \"tasks\": [{\"task\": \"mmlu\", \"dir\": \"%s\", \"batch\": 4}]}\n",
		model, dir, s.url, mmlu);
	fclose(f);
	q = fork();
	if (q == 0) {
		freopen("/dev/null", "w", stderr);
		execl(bin ? bin : "./qeval", "qeval", "run", "-q", "--plan", plan, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1200 && lines(rec) < 12; i++)
		usleep(50000);
	tq_server_stop(&s, 1); /* the server dies */
	waitpid(q, &st, 0);
	TQ_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
	n1 = lines(rec);
	fprintf(stderr, "  killed after %d records\n", n1);
	TQ_CHECK(n1 >= 12 && n1 < 114);
	snprintf(args, sizeof(args), "%s/levels/00-server/level.json", dir);
	{
		cJSON *lj = NULL;
		qe_json_read_file(args, &lj, NULL);
		fprintf(stderr, "  level error: %s\n", qe_json_str(lj, "error", "?"));
		TQ_CHECK(strstr(qe_json_str(lj, "error", ""), "item ") != NULL);
		cJSON_Delete(lj);
	}
	TQ_CHECK(tq_server_start(&s, g_tmp, model, "-t 1 -tb 1 -c 2048 -np 1 -a mem", port, 120) == 0);
	snprintf(args, sizeof(args), "run -q --resume %s", dir);
	TQ_EQ_INT(tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_err, sizeof(g_err)), 0);
	tq_server_stop(&s, 0);
	a = records(dir, "00-server", "mmlu");
	TQ_EQ_INT(cJSON_GetArraySize(a), 114); /* 57 subjects x 2 */
	cJSON_Delete(a);
}

int main(void)
{
	char tmpl[] = "/tmp/qe-oallama-XXXXXX";

	if (!mkdtemp(tmpl))
		return 1;
	snprintf(g_tmp, sizeof(g_tmp), "%s", tmpl);
	TQ_RUN(test_mc_same_as_llamacpp);
	TQ_RUN(test_embeddings_same_as_llamacpp);
	TQ_RUN(test_server_killed_mid_run);
	tq_server_kill_all();
	return tq_done("t_rt_openai_llama");
}
