/* qeval report: write a finished run's reports (reports/report.h). */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "reports/report.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: qeval report DIR [options]\n"
	"\n"
	"Writes the reports of the finished run in DIR (from DIR/results.json):\n"
	"report.md, report.html (self-contained, gnuplot charts inline) and\n"
	"summary.csv by default. docs/reports.md describes every format.\n"
	"\n"
	"      --format LIST    comma list of md, html, csv, junit, json, items, or all\n"
	"                       (default md,html,csv)\n"
	"      --items          also per-item CSVs: items-<task>.csv\n"
	"  -o, --out DIR        write there instead of into the run directory\n"
	"      --no-charts      leave the charts out of the HTML\n"
	"      --gnuplot PROG   the gnuplot program (default $QE_GNUPLOT, else gnuplot)\n";

int cmd_report(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, 0, 'f' }, { "items", no_argument, 0, 'i' },
		{ "out", required_argument, 0, 'o' },    { "no-charts", no_argument, 0, 'n' },
		{ "gnuplot", required_argument, 0, 'g' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_report_stats st;
	struct qe_err err = { 0 };
	const char *dir;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (qe_report_formats_parse(optarg, &o.formats, &err))
				return qe_opt_die("report", &err);
			break;
		case 'i': o.items = 1; break;
		case 'o': o.out_dir = optarg; break;
		case 'n': o.charts = 0; break;
		case 'g': o.gnuplot = optarg; break;
		case 'h': return qe_opt_help(usage);
		default: fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "qeval report: wants one run directory (see 'qeval report --help')\n");
		return QE_EXIT_USAGE;
	}
	dir = argv[optind];
	o.stats = &st;
	rc = qe_report_write_all(dir, &o, &err);
	if (st.written) {
		static const char *const files[] = { "report.md", "report.html", "summary.csv", "junit.xml",
						     "results.json", "items-*.csv" };
		printf("wrote");
		for (int k = 0; k < 6; k++)
			if (st.written & (1u << k))
				printf(" %s/%s", o.out_dir ? o.out_dir : dir, files[k]);
		printf("\n");
	}
	if ((st.written & QE_REPORT_HTML) && st.charts_missing)
		fprintf(stderr, "qeval report: gnuplot could not be run: report.html has no charts (install gnuplot-nox)\n");
	if (rc)
		return qe_opt_die("report", &err);
	return 0;
}
