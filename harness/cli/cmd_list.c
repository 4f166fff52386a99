/* qeval list: runtimes, tasks and quantization types. */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "harness/tasks/task.h"
#include "runtimes/runtime.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: qeval list [runtimes|tasks|levels]\n"
	"Lists the registered runtimes, the tasks, and each runtime's quantization types.\n";

int cmd_list(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "all";
	int all = !strcmp(what, "all");

	if (!strcmp(what, "--help") || !strcmp(what, "-h"))
		return qe_opt_help(usage);
	if (!all && strcmp(what, "runtimes") && strcmp(what, "tasks") && strcmp(what, "levels")) {
		fprintf(stderr, "qeval list: unknown list '%s' (runtimes, tasks or levels)\n", what);
		return 2;
	}
	if (all || !strcmp(what, "runtimes")) {
		printf("runtimes:\n");
		for (const char *const *r = qe_runtime_names(); *r; r++)
			printf("  %-10s %s\n", *r, qe_runtime_version(*r));
	}
	if (all || !strcmp(what, "tasks")) {
		printf("tasks:\n");
		for (const struct qe_task *const *t = qe_task_registry; *t; t++)
			printf("  %-10s %s\n", (*t)->name, (*t)->summary);
	}
	if (all || !strcmp(what, "levels")) {
		for (const char *const *r = qe_runtime_names(); *r; r++) {
			const char *const *q = qe_runtime_quant_types(*r);
			if (!*q)
				continue;
			printf("levels (%s quantization types):\n ", *r);
			for (; *q; q++)
				printf(" %s", *q);
			printf("\n  (or NAME=PATH.gguf for a file made by another quantizer)\n");
		}
	}
	return 0;
}
