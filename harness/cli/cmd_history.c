/* qeval history: a nightly history file and its dashboard (reports/history.h). */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "reports/history.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: qeval history add HISTORY DIR [--commit C] [--date D]\n"
	"       qeval history render HISTORY OUTDIR [--no-charts] [--gnuplot PROG]\n"
	"\n"
	"add     appends the run in DIR (its key metrics per level and task, and its\n"
	"        gate outcome when DIR/gate.json exists) as one line to HISTORY, a\n"
	"        JSON Lines file created when missing. --commit and --date default to\n"
	"        the run's qeval.git and created fields.\n"
	"render  draws OUTDIR/index.html: every metric per level over the runs, with\n"
	"        gate failures marked (docs/reports.md, \"History\").\n";

int cmd_history(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "commit", required_argument, 0, 'c' }, { "date", required_argument, 0, 'd' },
		{ "no-charts", no_argument, 0, 'n' },    { "gnuplot", required_argument, 0, 'g' },
		{ "help", no_argument, 0, 'h' },         { 0, 0, 0, 0 },
	};
	struct qe_history_render_opts ro = { 1, NULL };
	const char *commit = NULL, *date = NULL, *verb;
	struct qe_err err = { 0 };
	int c, n = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': commit = optarg; break;
		case 'd': date = optarg; break;
		case 'n': ro.charts = 0; break;
		case 'g': ro.gnuplot = optarg; break;
		case 'h': return qe_opt_help(usage);
		default: fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	verb = optind < argc ? argv[optind] : "";
	if (argc - optind != 3 || (strcmp(verb, "add") && strcmp(verb, "render"))) {
		fprintf(stderr, "qeval history: wants 'add HISTORY DIR' or 'render HISTORY OUTDIR' (see 'qeval history --help')\n");
		return QE_EXIT_USAGE;
	}
	if (!strcmp(verb, "add")) {
		if (qe_history_add(argv[optind + 1], argv[optind + 2], commit, date, &err))
			return qe_opt_die("history", &err);
		printf("added %s to %s\n", argv[optind + 2], argv[optind + 1]);
		return 0;
	}
	if (qe_history_render(argv[optind + 1], argv[optind + 2], &ro, &n, &err))
		return qe_opt_die("history", &err);
	printf("wrote %s/index.html (%d runs)\n", argv[optind + 2], n);
	return 0;
}
