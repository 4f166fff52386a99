/* qeval compare: several runs side by side (reports/compare.h). */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "reports/compare.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char usage[] =
	"usage: qeval compare DIR1 DIR2 [DIR...] [options]\n"
	"\n"
	"Puts several finished runs in one report, compare.md and compare.html (for\n"
	"example a GPTQ, an AWQ and an AQLM run of one model, or yesterday's and\n"
	"today's run). The first run is the baseline; differences to it are shown only\n"
	"for tasks measured on the same items and settings, and the report says why\n"
	"where they are not (docs/reports.md, \"Compare\").\n"
	"\n"
	"  -o, --out DIR        where to write (default: the current folder)\n"
	"      --labels LIST    comma list of names for the runs (default: folder names)\n"
	"      --no-charts      leave the charts out of the HTML\n"
	"      --gnuplot PROG   the gnuplot program (default $QE_GNUPLOT, else gnuplot)\n";

int cmd_compare(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", required_argument, 0, 'o' },     { "labels", required_argument, 0, 'l' },
		{ "no-charts", no_argument, 0, 'n' },     { "gnuplot", required_argument, 0, 'g' },
		{ "help", no_argument, 0, 'h' },          { 0, 0, 0, 0 },
	};
	struct qe_compare_opts o = qe_compare_default_opts();
	struct qe_err err = { 0 };
	char **labels = NULL;
	size_t n_labels = 0, n;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'o': o.out_dir = optarg; break;
		case 'l':
			free(labels);
			n_labels = qe_opt_split(optarg, &labels);
			break;
		case 'n': o.charts = 0; break;
		case 'g': o.gnuplot = optarg; break;
		case 'h': free(labels); return qe_opt_help(usage);
		default: free(labels); fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	n = (size_t)(argc - optind);
	if (n < 2) {
		free(labels);
		fprintf(stderr, "qeval compare: wants at least two run directories (see 'qeval compare --help')\n");
		return QE_EXIT_USAGE;
	}
	if (labels && n_labels != n) {
		free(labels);
		fprintf(stderr, "qeval compare: --labels names %zu runs, but %zu directories are given\n", n_labels, n);
		return QE_EXIT_USAGE;
	}
	o.labels = (const char *const *)labels;
	rc = qe_compare_write((const char *const *)(argv + optind), n, &o, &err);
	free(labels);
	if (rc)
		return qe_opt_die("compare", &err);
	printf("wrote %s/compare.md %s/compare.html\n", o.out_dir ? o.out_dir : ".", o.out_dir ? o.out_dir : ".");
	return 0;
}
