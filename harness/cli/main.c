/* qeval — entry point and command table. */
#include "harness/cli/cli.h"
#include "harness/base/err.h"
#include "harness/base/optab.h"

#include <stdio.h>
#include <string.h>

const struct qe_cmd qe_commands[] = {
	{ "demo",     cmd_demo,     "the whole job on generated models and sample sets (a first look)" },
	{ "run",      cmd_run,      "run the reference and every level over the tasks" },
	{ "merge",    cmd_merge,    "combine the shard directories of one plan (run --shard I/N) into one run" },
	{ "bench",    cmd_bench,    "speed alone: tokens/s per level, llama-bench's method" },
	{ "report",   cmd_report,   "write a finished run's reports (md, html, csv, junit, json)" },
	{ "gate",     cmd_gate,     "check a run against release rules; exit 1 when one fails" },
	{ "compare",  cmd_compare,  "several runs side by side in one report" },
	{ "history",  cmd_history,  "append runs to a history file and draw its dashboard" },
	{ "quantize", cmd_quantize, "produce quantization levels of a model into the cache" },
	{ "describe", cmd_describe, "show what a model file (or level) really contains" },
	{ "sensitivity", cmd_sensitivity, "quantize one tensor group at a time: which groups cost the most" },
	{ "recommend", cmd_recommend, "the fewest bits/weight a gate passes, from a scan, verified by a run" },
	{ "list",     cmd_list,     "list runtimes, tasks and quantization types" },
	{ "version",  cmd_version,  "print qeval's and the engine's versions" },
	{ NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: qeval [--help | --version] <command> [options]\n\ncommands:\n");
	for (const struct qe_cmd *c = qe_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\n'qeval help <command>' (or 'qeval <command> --help') describes a command.\nExit codes: 0 ok, 1 a gate or\n"
		   "check failed, 2 usage or input error, 3 runtime failure (docs/cli.md).\n");
}

/* One line, with the closest command when there is one. */
static int unknown_command(const char *name)
{
	const char *names[32], *near;
	size_t n = 0;

	for (const struct qe_cmd *c = qe_commands; c->name && n < 32; c++)
		names[n++] = c->name;
	near = qe_closest_word(name, names, n);
	if (near)
		fprintf(stderr, "qeval: unknown command '%s' (did you mean '%s'?)\n", name, near);
	else
		fprintf(stderr, "qeval: unknown command '%s' (see 'qeval --help')\n", name);
	return QE_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return QE_EXIT_USAGE;
	}
	/* qeval help CMD = qeval CMD --help */
	if (!strcmp(argv[1], "help") && argc > 2) {
		static char help[] = "--help";
		char *hv[] = { argv[2], help, NULL };
		for (const struct qe_cmd *c = qe_commands; c->name; c++)
			if (!strcmp(argv[2], c->name))
				return c->fn(2, hv);
		return unknown_command(argv[2]);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return QE_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	for (const struct qe_cmd *c = qe_commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->fn(argc - 1, argv + 1);
	return unknown_command(argv[1]);
}
