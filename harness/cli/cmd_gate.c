/* qeval gate: check a finished run against release rules (reports/gate.h). */
#include "harness/cli/cli.h"
#include "harness/base/opt.h"
#include "reports/gate.h"
#include "reports/report.h"

#include <getopt.h>
#include <stdio.h>

static const char usage[] =
	"usage: qeval gate DIR --rules RULES.json [--junit FILE]\n"
	"\n"
	"Checks the run in DIR against the rules (docs/reports.md, \"Gates\"), prints\n"
	"one line per rule and level, writes the outcome to DIR/gate.json and\n"
	"rewrites DIR's reports (report.md, report.html, summary.csv), which open\n"
	"with PASS / FAIL per level. --no-report leaves them as they are.\n"
	"Exit status: 0 every check passed, 1 a check failed, 2 bad rules or DIR.\n"
	"\n"
	"  -r, --rules FILE     the rules (JSON)\n"
	"      --junit FILE     also write the checks as JUnit XML\n"
	"  -q, --quiet          print only failures and the summary line\n"
	"      --no-report      do not rewrite the reports\n";

int cmd_gate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "rules", required_argument, 0, 'r' }, { "junit", required_argument, 0, 'j' },
		{ "quiet", no_argument, 0, 'q' },       { "help", no_argument, 0, 'h' },
		{ "no-report", no_argument, 0, 'n' },
		{ 0, 0, 0, 0 },
	};
	const char *rules = NULL, *junit = NULL;
	struct qe_err err = { 0 };
	cJSON *outcome = NULL;
	int c, n_failed = 0, quiet = 0, report = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "r:qh", lo, NULL)) != -1) {
		switch (c) {
		case 'r': rules = optarg; break;
		case 'j': junit = optarg; break;
		case 'q': quiet = 1; break;
		case 'n': report = 0; break;
		case 'h': return qe_opt_help(usage);
		default: fputs(usage, stderr); return QE_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !rules) {
		fprintf(stderr, "qeval gate: wants one run directory and --rules FILE (see 'qeval gate --help')\n");
		return QE_EXIT_USAGE;
	}
	if (qe_gate_run(argv[optind], rules, junit, &n_failed, &outcome, &err))
		return qe_opt_die("gate", &err);
	if (quiet) {
		const cJSON *ck;
		cJSON_ArrayForEach(ck, cJSON_GetObjectItemCaseSensitive(outcome, "checks")) {
			const cJSON *st = cJSON_GetObjectItemCaseSensitive(ck, "status");
			const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ck, "message");
			if (cJSON_IsString(st) && st->valuestring[0] == 'f')
				printf("FAIL  %s\n", cJSON_IsString(msg) ? msg->valuestring : "");
		}
		printf("gate %s: %d failed\n", n_failed ? "FAILED" : "passed", n_failed);
	} else {
		qe_gate_print(outcome, stdout);
	}
	cJSON_Delete(outcome);
	if (report && qe_report_write_all(argv[optind], NULL, &err) != 0)
		fprintf(stderr, "qeval gate: reports: %s\n", err.msg);
	else if (report && !quiet)
		printf("reports rewritten: %s/report.md, report.html, summary.csv\n", argv[optind]);
	return n_failed ? QE_EXIT_CHECK : QE_EXIT_OK;
}
