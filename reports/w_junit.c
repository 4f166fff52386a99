/* qeval — JUnit XML, the format CI systems show as test results.
 *
 * With a gate outcome (gate.json, written by qe_gate_check): one test case per
 * rule x level, a <failure> with one line of explanation for each failed
 * check, <skipped> for a check the rule allows to skip. Without one: one test
 * case per task x level that fails when the level failed or has no results.
 */
#include "reports/report_impl.h"

#include <math.h>
#include <string.h>

#include "reports/results.h"

static void attr(struct qe_text *o, const char *name, const char *value)
{
	qe_text_printf(o, " %s=\"", name);
	qe_text_html(o, value ? value : "");
	qe_text_put(o, "\"");
}

static void counts(struct qe_text *o, int tests, int failures, int skipped)
{
	qe_text_printf(o, " tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"%d\"", tests, failures, skipped);
}

void qe_junit_from_gate(const cJSON *gate, struct qe_text *o)
{
	const cJSON *checks = cJSON_GetObjectItemCaseSensitive(gate, "checks"), *c;
	const char *rules = qe_json_str(gate, "rules", NULL), *base;
	int n = 0, nf = 0, ns = 0;
	char suite[512];

	cJSON_ArrayForEach(c, checks) {
		const char *st = qe_json_str(c, "status", NULL);
		n++;
		nf += st && !strcmp(st, "fail");
		ns += st && !strcmp(st, "skip");
	}
	base = rules ? strrchr(rules, '/') : NULL;
	base = base ? base + 1 : rules ? rules : "rules";
	snprintf(suite, sizeof(suite), "qeval gate: %s", base);
	qe_text_put(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	attr(o, "name", "qeval gate");
	counts(o, n, nf, ns);
	qe_text_put(o, ">\n  <testsuite");
	attr(o, "name", suite);
	counts(o, n, nf, ns);
	qe_text_put(o, ">\n");
	/* a gate on a subset (--limit) is marked as such, for a CI to refuse */
	qe_text_printf(o, "    <properties>\n      <property name=\"partial\" value=\"%s\"/>\n",
		       qe_json_bool(gate, "partial", 0) ? "true" : "false");
	if (qe_json_bool(gate, "partial", 0))
		qe_text_printf(o, "      <property name=\"limit\" value=\"%.0f\"/>\n", qe_json_num(gate, "limit", 0));
	qe_text_put(o, "    </properties>\n");
	cJSON_ArrayForEach(c, checks) {
		const char *st = qe_json_str(c, "status", NULL), *msg = qe_json_str(c, "message", NULL);
		const char *task = qe_json_str(c, "task", NULL), *name = qe_json_str(c, "name", NULL);
		char cls[300], tc[600];
		snprintf(cls, sizeof(cls), "qeval.gate.%s", task && *task ? task : "level");
		snprintf(tc, sizeof(tc), "rule %.0f: %s @ %s", qe_json_num(c, "rule", NAN), name ? name : "?",
			 qe_json_str(c, "level", "?"));
		qe_text_put(o, "    <testcase");
		attr(o, "classname", cls);
		attr(o, "name", tc);
		if (st && !strcmp(st, "fail")) {
			qe_text_put(o, ">\n      <failure");
			attr(o, "type", "gate");
			attr(o, "message", msg);
			qe_text_put(o, ">");
			qe_text_html(o, msg);
			qe_text_put(o, "</failure>\n    </testcase>\n");
		} else if (st && !strcmp(st, "skip")) {
			qe_text_put(o, ">\n      <skipped");
			attr(o, "message", msg);
			qe_text_put(o, "/>\n    </testcase>\n");
		} else {
			qe_text_put(o, "/>\n");
		}
	}
	qe_text_put(o, "  </testsuite>\n</testsuites>\n");
}

/* Without a gate: task x level outcomes of the run. */
static void junit_from_run(const cJSON *res, struct qe_text *o)
{
	const cJSON *levels = cJSON_GetObjectItemCaseSensitive(res, "levels"), *lv, *task;
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(res, "tasks");
	int n = 0, nf = 0, ns = 0;

	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			qe_text_put(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
			attr(o, "name", "qeval run");
			counts(o, n, nf, ns);
			qe_text_put(o, ">\n  <testsuite");
			attr(o, "name", "qeval run");
			counts(o, n, nf, ns);
			qe_text_put(o, ">\n");
		}
		cJSON_ArrayForEach(task, tasks) {
			cJSON_ArrayForEach(lv, levels) {
				const char *name = qe_json_str(lv, "name", NULL), *st = qe_json_str(lv, "status", NULL);
				const char *e = qe_json_str(lv, "error", NULL);
				int failed = st && !strcmp(st, "failed"), pending = !st || !strcmp(st, "pending");
				int missing = !failed && !pending && !qe_results_block(res, task->string, name);
				char cls[300], msg[600];
				if (!name)
					continue;
				if (pass == 0) {
					n++;
					nf += failed || missing;
					ns += pending;
					continue;
				}
				snprintf(cls, sizeof(cls), "qeval.run.%s", task->string);
				qe_text_put(o, "    <testcase");
				attr(o, "classname", cls);
				attr(o, "name", name);
				if (failed || missing) {
					snprintf(msg, sizeof(msg), "%s at %s: %s", task->string, name,
						 failed ? (e ? e : "level failed") : "no results");
					qe_text_put(o, ">\n      <failure");
					attr(o, "type", "run");
					attr(o, "message", msg);
					qe_text_put(o, ">");
					qe_text_html(o, msg);
					qe_text_put(o, "</failure>\n    </testcase>\n");
				} else if (pending) {
					qe_text_put(o, ">\n      <skipped");
					attr(o, "message", "level not run (pending)");
					qe_text_put(o, "/>\n    </testcase>\n");
				} else {
					qe_text_put(o, "/>\n");
				}
			}
		}
	}
	qe_text_put(o, "  </testsuite>\n</testsuites>\n");
}

static int junit_write(const struct qe_report_ctx *ctx, struct qe_err *err)
{
	struct qe_text out = { 0 };
	char path[4096];
	int rc;

	if (ctx->gate)
		qe_junit_from_gate(ctx->gate, &out);
	else
		junit_from_run(ctx->res, &out);
	rc = qe_text_save(&out, qe_path_join(path, sizeof(path), ctx->out_dir, "junit.xml"), err);
	qe_text_release(&out);
	return rc;
}

const struct qe_report_writer qe_writer_junit = {
	.name = "junit",
	.flag = QE_REPORT_JUNIT,
	.file = "junit.xml",
	.write = junit_write,
};
