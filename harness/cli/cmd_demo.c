/* qeval demo: the whole job on the project's own fixture model and sample
 * sets, with nothing downloaded: a reference and four levels over every task,
 * then the full report. Options given are passed on to `qeval run` and take
 * precedence (e.g. --model, --mmlu DIR from ../shared). */
#include "harness/cli/cli.h"
#include "harness/base/err.h"
#include "harness/fixtures.h"
#include "harness/plan.h"
#include "harness/tasks/task.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: qeval demo [--out DIR] [any 'qeval run' option]\n"
	"\n"
	"Generates the project's fixture models (a tiny llama with seeded random\n"
	"weights) into DIR/models, then runs the F16 reference and the levels\n"
	"Q8_0, Q6_K, Q4_K_M and Q2_K over the sample sets shipped in\n"
	"datasets/samples (MMLU and C-Eval layouts, Chinese and English sentence\n"
	"pairs) and a speed test, and writes the full report into DIR\n"
	"(default qeval-demo). Accuracy of a random model is at chance: what the\n"
	"demo shows is the drift of each level against the reference.\n"
	"Options after 'demo' go to 'qeval run' and win over the demo's own.\n";

/* datasets/samples next to the executable (the repository root), else ./ */
static void samples_dir(char *buf, size_t cap)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, cap, "%s/datasets/samples", exe);
			if (stat(buf, &st) == 0)
				return;
		}
	}
	snprintf(buf, cap, "datasets/samples");
}

/* The demo's plan: every task over the sample sets (the order of
 * `qeval run --mmlu --ceval --pairs --pairs --speed-*`). */
static cJSON *demo_plan(const char *out, const char *model, const char *samples)
{
	cJSON *plan = cJSON_CreateObject(), *t;
	char buf[PATH_MAX + 64];
	static const char *const levels[] = { "F16", "Q8_0", "Q6_K", "Q4_K_M", "Q2_K" };
	static const int pp[] = { 128 }, tg[] = { 32 };

	cJSON_AddObjectToObject(plan, "runtime");
	cJSON_AddStringToObject(plan, "model", model);
	cJSON_AddItemToObject(plan, "levels", cJSON_CreateStringArray(levels, 5));
	snprintf(buf, sizeof(buf), "%s/cache", out);
	cJSON_AddStringToObject(plan, "cache", buf);
	cJSON_AddStringToObject(plan, "out", out);
	snprintf(buf, sizeof(buf), "%s/mmlu", samples);
	cJSON_AddStringToObject(qe_plan_json_task(plan, "mmlu", "mmlu"), "dir", buf);
	snprintf(buf, sizeof(buf), "%s/ceval", samples);
	cJSON_AddStringToObject(qe_plan_json_task(plan, "ceval", "ceval"), "dir", buf);
	if (qe_task_find("pairs")) {
		snprintf(buf, sizeof(buf), "%s/pairs_zh.tsv", samples);
		cJSON_AddStringToObject(qe_plan_json_task(plan, "pairs", "pairs_zh"), "file", buf);
		snprintf(buf, sizeof(buf), "%s/pairs_en.tsv", samples);
		cJSON_AddStringToObject(qe_plan_json_task(plan, "pairs", "pairs_en"), "file", buf);
	}
	t = qe_plan_json_task(plan, "speed", "speed");
	cJSON_AddItemToObject(t, "pp", cJSON_CreateIntArray(pp, 1));
	cJSON_AddItemToObject(t, "tg", cJSON_CreateIntArray(tg, 1));
	cJSON_AddNumberToObject(t, "reps", 3);
	return plan;
}

int cmd_demo(int argc, char **argv)
{
	const char *out = "qeval-demo";
	char models[PATH_MAX], model[PATH_MAX + 32], samples[PATH_MAX], resume_plan[PATH_MAX + 16];
	struct qe_err err = { 0 };
	struct stat st;
	cJSON *plan;
	int code;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return 0;
		}
		if ((!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o")) && i + 1 < argc)
			out = argv[i + 1];
	}
	snprintf(models, sizeof(models), "%s/models", out);
	snprintf(model, sizeof(model), "%s/tiny-llama-f16.gguf", models);
	if (stat(model, &st) != 0 && qe_fixtures_generate(models, &err) != 0) {
		fprintf(stderr, "qeval demo: %s\n", err.msg);
		return qe_exit_code(err.code);
	}
	samples_dir(samples, sizeof(samples));
	snprintf(resume_plan, sizeof(resume_plan), "%s/plan.json", out);
	fprintf(stderr, "qeval demo: fixture models in %s, sample sets in %s\n", models, samples);
	/* a demo already ran here: finish or re-summarize it */
	if (stat(resume_plan, &st) == 0)
		return qe_run_command(argc, argv, NULL, out, "demo");
	plan = demo_plan(out, model, samples);
	code = qe_run_command(argc, argv, plan, NULL, "demo");
	cJSON_Delete(plan);
	return code;
}
