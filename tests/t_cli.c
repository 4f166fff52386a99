/* Tests of the qeval command: help, exit codes, one-line errors naming the
 * file or level. Runs the built binary ($QE_QEVAL). */
#include "tests/tq.h"
#include "tests/tq_exec.h"

#include <cjson/cJSON.h>

#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[256];
static char g_out[8192], g_errtxt[8192];

static int qeval(const char *args)
{
	return tq_qeval(g_tmp, args, g_out, sizeof(g_out), g_errtxt, sizeof(g_errtxt));
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_help_and_version(void)
{
	TQ_EQ_INT(qeval("--help"), 0);
	TQ_CHECK(strstr(g_out, "quantize") && strstr(g_out, "Exit codes"));
	TQ_EQ_INT(qeval("--version"), 0);
	TQ_CHECK(strstr(g_out, "qeval ") && strstr(g_out, "llama.cpp"));
	TQ_EQ_INT(qeval("quantize --help"), 0);
	TQ_CHECK(strstr(g_out, "--levels") != NULL);
	TQ_EQ_INT(qeval("list"), 0);
	TQ_CHECK(strstr(g_out, "llamacpp") && strstr(g_out, "Q4_K_M") && strstr(g_out, "IQ4_NL"));
	TQ_EQ_INT(qeval(""), 2);
	TQ_EQ_INT(qeval("frobnicate"), 2);
	TQ_CHECK(strstr(g_errtxt, "frobnicate") != NULL);
}

static void test_quantize_made_then_cached(void)
{
	char args[1024];

	snprintf(args, sizeof(args), "quantize --model %s/tiny-llama-f32.gguf --levels Q8_0,Q4_K_M,IQ4_NL", tq_fixtures());
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "Q8_0     made") && strstr(g_out, "Q4_K_M   made") && strstr(g_out, "q4_K"));
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "Q8_0     cached") && strstr(g_out, "IQ4_NL   cached"));
}

static void test_bad_inputs_one_line_exit_2(void)
{
	char args[1024], bad[400];
	FILE *f;

	TQ_EQ_INT(qeval("quantize --model /no/such/model.gguf --levels Q8_0"), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "/no/such/model.gguf") != NULL);

	/* an unknown level: named, and the good levels are still made */
	snprintf(args, sizeof(args), "quantize --model %s/tiny-llama-f32.gguf --levels Q8_0,Q9_Z,Q4_0", tq_fixtures());
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "Q9_Z") != NULL);
	TQ_CHECK(strstr(g_out, "Q8_0") && strstr(g_out, "Q4_0"));

	snprintf(bad, sizeof(bad), "%s/notes.gguf", g_tmp);
	f = fopen(bad, "w");
	fputs("not a model\n", f);
	fclose(f);
	snprintf(args, sizeof(args), "describe --model %s", bad);
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "notes.gguf") && strstr(g_errtxt, "not a GGUF"));

	snprintf(args, sizeof(args), "quantize --model %s/tiny-llama-f32.gguf --levels Q8_0 --threads x", tq_fixtures());
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_errtxt, "--threads") != NULL);
}

static void test_describe_shows_histogram(void)
{
	char args[1024];

	snprintf(args, sizeof(args), "describe --model %s/tiny-llama-f32.gguf --level Q4_K_M", tq_fixtures());
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "q4_K×") && strstr(g_out, "bits/weight") && strstr(g_out, "parameters"));
}

/* Every kind of typo gets one line naming the closest right word, exit 2. */
static void test_did_you_mean(void)
{
	static const struct { const char *args, *line; } tab[] = {
		{ "rnu", "qeval: unknown command 'rnu' (did you mean 'run'?)" },
		{ "run --modle m.gguf", "unknown option '--modle' (did you mean '--model'?)" },
		{ "run --model m.gguf --levels F16,Q4KM --mmlu datasets/samples/mmlu",
		  "unknown level 'Q4KM' (did you mean 'Q4_K_M'?)" },
		{ "run --model m.gguf --tasks mmul --mmlu datasets/samples/mmlu", "(did you mean 'mmlu'?)" },
		{ "run --model MODEL --levels F16 --mmlu datasets/samples/mmlu --mmlu-subjects nutrtion --out OUT",
		  "datasets/samples/mmlu/data/test' (did you mean 'nutrition'?)" },
	};
	char model[600], args[1600], out[400];

	snprintf(model, sizeof(model), "%s/tiny-llama-f16.gguf", tq_fixtures());
	snprintf(out, sizeof(out), "%s/typo-run", g_tmp);
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		const char *m = strstr(tab[i].args, "MODEL");
		if (m && access(model, R_OK) != 0)
			continue; /* the subject check needs a loadable model: make fixtures */
		snprintf(args, sizeof(args), "%s", tab[i].args);
		if (m)
			snprintf(args, sizeof(args), "run --model %s --levels F16 --mmlu datasets/samples/mmlu "
						     "--mmlu-subjects nutrtion --out %s", model, out);
		TQ_EQ_INT(qeval(args), 2);
		TQ_CHECK(strstr(g_errtxt, tab[i].line) != NULL);
		TQ_EQ_INT(count_lines(g_errtxt) <= 2, 1);
	}
	/* every missing input at once, one line each */
	TQ_EQ_INT(qeval("run --model /no/m.gguf --levels F16 --mmlu /no/mmlu --ceval /no/ceval --pairs a=/no/a.tsv"), 2);
	TQ_CHECK(strstr(g_errtxt, "model '/no/m.gguf'") && strstr(g_errtxt, "task 'mmlu': dir '/no/mmlu'") &&
		 strstr(g_errtxt, "task 'ceval': dir '/no/ceval'") && strstr(g_errtxt, "task 'a': file '/no/a.tsv'"));
	/* qeval help CMD is CMD --help */
	TQ_EQ_INT(qeval("help gate"), 0);
	TQ_CHECK(strstr(g_out, "usage: qeval gate") != NULL);
	TQ_EQ_INT(qeval("help gaet"), 2);
	TQ_CHECK(strstr(g_errtxt, "did you mean 'gate'?") != NULL);
}

/* `qeval bench --output csv|json|jsonl`: stdout holds the rows alone, with
 * llama-bench's field names. */
static void test_bench_output(void)
{
	char model[600], args[1600];
	cJSON *rows;
	const cJSON *r;

	snprintf(model, sizeof(model), "%s/tiny-llama-f16.gguf", tq_fixtures());
	if (access(model, R_OK) != 0)
		TQ_SKIP("no %s (make fixtures)", model);
	snprintf(args, sizeof(args), "bench --model %s --levels F16,Q8_0 -p 16 -n 4 -r 2 -t 1 --quiet --out %s/bench "
				     "--output json", model, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	rows = cJSON_Parse(g_out);
	TQ_CHECK(cJSON_IsArray(rows) && cJSON_GetArraySize(rows) == 6); /* 2 levels x pp16, tg4, pp16+tg4 */
	r = cJSON_GetArrayItem(rows, 3);
	TQ_CHECK(r && cJSON_IsNumber(cJSON_GetObjectItem(r, "avg_ts")) && cJSON_IsNumber(cJSON_GetObjectItem(r, "n_prompt")) &&
		 cJSON_IsArray(cJSON_GetObjectItem(r, "samples_ts")) && cJSON_IsString(cJSON_GetObjectItem(r, "model_type")) &&
		 cJSON_IsNumber(cJSON_GetObjectItem(r, "speedup")) && cJSON_IsBool(cJSON_GetObjectItem(r, "noisy")));
	cJSON_Delete(rows);
	snprintf(args, sizeof(args), "bench --resume %s/bench --output jsonl", g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	TQ_EQ_INT(count_lines(g_out), 6);
	snprintf(args, sizeof(args), "bench --resume %s/bench --output csv", g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(!strncmp(g_out, "build_commit,cpu_info,gpu_info,model_filename,model_type,model_size", 66));
	TQ_EQ_INT(count_lines(g_out), 7);
	TQ_EQ_INT(qeval("bench --model x.gguf --output yaml"), 2);
}

/* qeval with args run in folder dir (its own cache in g_tmp), output discarded */
static int qeval_in(const char *dir, const char *args)
{
	char cmd[8192], cwd[1024];
	const char *bin = getenv("QE_QEVAL");
	int st;

	if (!getcwd(cwd, sizeof(cwd)))
		return -1;
	snprintf(cmd, sizeof(cmd), "cd %s && QEVAL_CACHE=%s/cache %s%s%s %s >%s/out 2>%s/err", dir, g_tmp,
		 bin ? "" : cwd, bin ? "" : "/", bin ? bin : "qeval", args, g_tmp, g_tmp);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* plan.json holds absolute paths, so `--resume` works from another folder. */
static void test_resume_from_elsewhere(void)
{
	char model[1024], cmd[2400], a[300], b[300], cwd[1024];
	FILE *f;
	size_t n;
	char plan[8192];

	snprintf(model, sizeof(model), "%s/tiny-llama-f16.gguf", tq_fixtures());
	if (access(model, R_OK) != 0)
		TQ_SKIP("no %s (make fixtures)", model);
	if (model[0] != '/' && getcwd(cwd, sizeof(cwd))) {
		snprintf(cmd, sizeof(cmd), "%s/%s", cwd, model);
		snprintf(model, sizeof(model), "%s", cmd);
	}
	snprintf(a, sizeof(a), "%s/a", g_tmp);
	snprintf(b, sizeof(b), "%s/b", g_tmp);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s %s && cp -r datasets/samples/mmlu %s/mm", a, b, a);
	TQ_EQ_INT(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "run --model %s --levels F16,Q8_0 --mmlu mm --mmlu-subjects nutrition --limit 2 "
				   "--threads 1 --out run --quiet", model);
	TQ_EQ_INT(qeval_in(a, cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/run/plan.json", a);
	f = fopen(cmd, "r");
	n = f ? fread(plan, 1, sizeof(plan) - 1, f) : 0;
	plan[n] = 0;
	if (f)
		fclose(f);
	snprintf(cmd, sizeof(cmd), "\"dir\":\t\"%s/mm\"", a);
	TQ_CHECK(strstr(plan, cmd) != NULL);
	/* resumed from b, the data is found through plan.json's absolute paths (a relative
	 * "mm" would stop the resume with exit 2) */
	snprintf(cmd, sizeof(cmd), "rm -f %s/run/levels/01-Q8_0/records-mmlu.jsonl %s/run/results.json", a, a);
	TQ_EQ_INT(system(cmd), 0);
	TQ_EQ_INT(qeval_in(b, "run --resume ../a/run --quiet"), 0);
	snprintf(cmd, sizeof(cmd), "%s/run/results.json", a);
	TQ_CHECK(access(cmd, R_OK) == 0);
}

int main(void)
{
	snprintf(g_tmp, sizeof(g_tmp), "/tmp/qe-t-cli-XXXXXX");
	if (!mkdtemp(g_tmp))
		return 1;
	TQ_RUN(test_help_and_version);
	TQ_RUN(test_quantize_made_then_cached);
	TQ_RUN(test_bad_inputs_one_line_exit_2);
	TQ_RUN(test_describe_shows_histogram);
	TQ_RUN(test_did_you_mean);
	TQ_RUN(test_resume_from_elsewhere);
	TQ_RUN(test_bench_output);
	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_tmp);
		if (system(cmd) != 0)
			return 1;
	}
	return tq_done("t_cli");
}
