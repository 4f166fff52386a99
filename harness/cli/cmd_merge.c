/* qeval merge: shard directories of one plan (qeval run --shard I/N) into
 * one run directory, its results and reports (harness/merge.h). */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "harness/merge.h"
#include "harness/pipeline.h"

#include <getopt.h>
#include <stdio.h>

static const char usage[] =
	"usage: qeval merge OUT DIR...\n"
	"\n"
	"Combines the shard directories of one plan (qeval run PLAN --shard I/N --out\n"
	"DIR) into the run directory OUT: each level's records taken from the shard that\n"
	"ran them, then results.json, the summary and the reports, as a single run of\n"
	"the plan writes them (docs/scale-out.md). Shards of different runs (model,\n"
	"levels, task settings and templates, data) are refused with the difference\n"
	"named. A missing shard leaves its units out: 'qeval run --resume OUT' runs them.\n"
	"Exit status: 0 merged and complete, 1 a gate failed, 2 usage or shards that do\n"
	"not belong together, 3 a level failed or units are missing (results written).\n"
	"\n"
	"      --gate RULES.json   check release gates at the end (exit 1 when one fails)\n"
	"      --no-summary        no summary table on stdout\n";

int cmd_merge(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "gate", required_argument, 0, 'g' }, { "no-summary", no_argument, 0, 'n' },
		{ "help", no_argument, 0, 'h' },       { 0, 0, 0, 0 },
	};
	struct qe_pipeline_opts po = { .summary = 1, .who = "merge" };
	struct qe_merge_status st;
	struct qe_err err = { 0 };
	int c, code;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'g': po.gate = optarg; break;
		case 'n': po.summary = 0; break;
		case 'h': return qe_opt_help(usage);
		default: fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	if (argc - optind < 2) {
		fprintf(stderr, "qeval merge: wants OUT and at least one shard directory (see 'qeval merge --help')\n");
		return QE_EXIT_USAGE;
	}
	if (qe_merge(argv[optind], (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1), 0, &st, &err) != 0)
		return qe_opt_die("merge", &err);
	code = st.n_levels_failed || st.n_levels_pending ? QE_EXIT_RUNTIME : QE_EXIT_OK;
	if (st.n_missing)
		fprintf(stderr, "qeval merge: shard(s) %s of %d not given: their units are not in %s; run them with: qeval run "
			"--resume %s\n", st.missing, st.n_shards, argv[optind], argv[optind]);
	else if (st.n_levels_pending)
		fprintf(stderr, "qeval merge: %d level(s) have units a shard did not finish: qeval run --resume %s "
			"finishes them\n", st.n_levels_pending, argv[optind]);
	printf("merged %d shard(s) of %d into %s\n", st.n_shards - st.n_missing, st.n_shards, argv[optind]);
	return qe_pipeline_finish(argv[optind], &po, code, &err);
}
