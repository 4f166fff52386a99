/* qeval demo: the whole job on the project's own fixture model and sample
 * sets, with nothing downloaded: a reference and four levels over every task,
 * then the full report. Options given are passed on to `qeval run` and take
 * precedence (e.g. --model, --mmlu DIR from ../shared). */
#include "harness/cli/cli.h"
#include "harness/base/err.h"
#include "harness/fixtures.h"
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

int cmd_demo(int argc, char **argv)
{
	const char *out = "qeval-demo";
	char models[PATH_MAX], model[PATH_MAX + 32], samples[PATH_MAX], a[8][PATH_MAX + 64], resume_plan[PATH_MAX + 16];
	char *args[96];
	struct qe_err err = { 0 };
	struct stat st;
	int n = 0, k = 0;

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
	args[n++] = "run";
	if (stat(resume_plan, &st) == 0) {
		/* a demo already ran here: finish or re-summarize it */
		args[n++] = "--resume";
		args[n++] = (char *)out;
	} else {
		snprintf(a[k], sizeof(a[k]), "%s", model);
		args[n++] = "--model";
		args[n++] = a[k++];
		args[n++] = "--levels";
		args[n++] = "F16,Q8_0,Q6_K,Q4_K_M,Q2_K";
		snprintf(a[k], sizeof(a[k]), "%s/mmlu", samples);
		args[n++] = "--mmlu";
		args[n++] = a[k++];
		snprintf(a[k], sizeof(a[k]), "%s/ceval", samples);
		args[n++] = "--ceval";
		args[n++] = a[k++];
		if (qe_task_find("pairs")) {
			snprintf(a[k], sizeof(a[k]), "pairs_zh=%s/pairs_zh.tsv", samples);
			args[n++] = "--pairs";
			args[n++] = a[k++];
			snprintf(a[k], sizeof(a[k]), "pairs_en=%s/pairs_en.tsv", samples);
			args[n++] = "--pairs";
			args[n++] = a[k++];
		}
		args[n++] = "--speed-pp";
		args[n++] = "128";
		args[n++] = "--speed-tg";
		args[n++] = "32";
		args[n++] = "--speed-reps";
		args[n++] = "3";
		snprintf(a[k], sizeof(a[k]), "%s/cache", out);
		args[n++] = "--cache";
		args[n++] = a[k++];
		args[n++] = "--out";
		args[n++] = (char *)out;
	}
	for (int i = 1; i < argc && n < 94; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	fprintf(stderr, "qeval demo: fixture models in %s, sample sets in %s\n", models, samples);
	return cmd_run(n, args);
}
