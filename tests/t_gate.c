/* Tests of release gates (reports/gate.c, `qeval gate`): exit codes 0 / 1 / 2,
 * one-line messages naming the bad rule and field, gate.json, JUnit against a
 * golden file, levels selection, the reference left out by default, and
 * failed levels (fail, or skip when the rule says so).
 * Regenerate the golden file: QE_UPDATE_GOLDEN=1 (see t_reports_common.h). */
#include "tests/t_reports_common.h"

#include "reports/gate.h"
#include "reports/summary.h"
#include "reports/results.h"

static void test_exit_codes(void)
{
	char args[1200], run[400], *s;

	run_copy("run1", run, sizeof(run));
	snprintf(args, sizeof(args), "gate %s --rules tests/data/gates-pass.json", run);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "gate passed: 19 checks, 19 passed, 0 failed") != NULL);

	snprintf(args, sizeof(args), "gate %s --rules tests/data/gates.json --junit %s/junit.xml", run, g_tmp);
	TQ_EQ_INT(qeval(args), 1);
	TQ_CHECK(strstr(g_out, "FAIL  rule 0: MMLU drop, lower 95% bound @ Q4_K_M: mmlu vs_ref.delta_ci95[0] at Q4_K_M "
			       "= -0.0325, wants >= -0.02") != NULL);
	TQ_CHECK(strstr(g_out, "FAIL  rule 3: flip rate @ Q2_K: mmlu flip_rate at Q2_K = 0.145, wants <= 0.05") != NULL);
	TQ_CHECK(strstr(g_out, "gate FAILED: 19 checks, 16 passed, 3 failed, 0 skipped") != NULL);
	snprintf(args, sizeof(args), "%s/junit.xml", g_tmp);
	GOLDEN(args, "run1.gate.junit.xml");
	/* the outcome is kept with the run */
	snprintf(args, sizeof(args), "%s/gate.json", run);
	s = slurp(args);
	TQ_CHECK(s && strstr(s, "\"schema\":\t\"qeval-gate\"") && strstr(s, "\"n_failed\":\t3") &&
		 strstr(s, "\"passed\":\tfalse"));
	free(s);

	/* quiet: only the failures and the summary */
	snprintf(args, sizeof(args), "gate %s --rules tests/data/gates.json -q", run);
	TQ_EQ_INT(qeval(args), 1);
	TQ_EQ_INT(count_lines(g_out), 4);

	/* bad DIR, missing --rules, missing rules file */
	TQ_EQ_INT(qeval("gate /no/such/run --rules tests/data/gates.json"), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "/no/such/run") != NULL);
	snprintf(args, sizeof(args), "gate %s", run);
	TQ_EQ_INT(qeval(args), 2);
	snprintf(args, sizeof(args), "gate %s --rules /no/such/rules.json", run);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_errtxt, "/no/such/rules.json") != NULL);
}

/* `qeval gate RUN --rules T/NAME` with json in that file: exit 2, one line
 * naming the file and saying expect (case i of a table) */
static void rules_refused(const char *run, const char *name, const char *json, const char *expect, size_t i)
{
	char args[1200], rules[400];

	snprintf(rules, sizeof(rules), "%s/%s", g_tmp, name);
	TQ_EQ_INT(spit(rules, json), 0);
	snprintf(args, sizeof(args), "gate %s --rules %s", run, rules);
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	if (!strstr(g_errtxt, expect) || !strstr(g_errtxt, name))
		TQ_FAILF("case %zu: '%s' lacks '%s' or the file", i, g_errtxt, expect);
}

/* Each bad rules file: exit 2, one line naming the rule index and the field. */
static void test_bad_rules(void)
{
	static const struct {
		const char *json, *expect;
	} bad[] = {
		{ "{\"rules\": [", "bad-rules.json:1:12: not valid JSON" },
		{ "[]", "wants an object" },
		{ "{\"rules\": []}", "field 'rules'" },
		{ "{\"rulez\": []}", "unknown top-level field 'rulez'" },
		{ "{\"version\": 2, \"rules\": [{}]}", "field 'version'" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.3},\n"
		  "            {\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"treshold\": 0.3}]}",
		  "rule 1: unknown field 'treshold'" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"op\": \">=\", \"value\": 0.3}]}", "rule 0: field 'metric'" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc[\", \"op\": \">=\", \"value\": 0.3}]}",
		  "rule 0: field 'metric'" },
		{ "{\"rules\": [{\"metric\": \"acc\", \"op\": \">=\", \"value\": 0.3}]}", "rule 0: field 'task'" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \"=>\", \"value\": 0.3}]}", "rule 0: field 'op'" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": \"0.3\"}]}",
		  "rule 0: field 'value'" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.3, \"levels\": []}]}",
		  "rule 0: field 'levels'" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.3, \"missing\": \"ok\"}]}",
		  "rule 0: field 'missing'" },
	};
	char run[400];

	run_copy("run1", run, sizeof(run));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		rules_refused(run, "bad-rules.json", bad[i].json, bad[i].expect, i);
}

/* A key given twice in a rules file (anywhere) or in gate.json: refused with
 * one line naming the file, never one of the two values picked in silence. */
static void test_duplicate_keys(void)
{
	static const struct {
		const char *json, *key;
	} dup[] = {
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.9,\n"
		  "             \"value\": 0.1}]}", "key 'value' given twice in one object" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.9}],\n"
		  " \"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.1}]}",
		  "key 'rules' given twice in one object" },
		{ "{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.1, "
		  "\"note\": \"a\\u0000b\"}]}", "a NUL character" },
	};
	char args[1200], run[400], path[500];

	run_copy("run1", run, sizeof(run));
	for (size_t i = 0; i < sizeof(dup) / sizeof(dup[0]); i++)
		rules_refused(run, "dup-rules.json", dup[i].json, dup[i].key, i);
	/* gate.json: "passed" twice is a damaged outcome, not a pass */
	snprintf(path, sizeof(path), "%s/gate.json", run);
	TQ_EQ_INT(spit(path, "{\"schema\": \"qeval-gate\", \"passed\": false, \"n_failed\": 0, \"checks\": [],\n"
			     " \"passed\": true}\n"), 0);
	snprintf(args, sizeof(args), "report %s --format junit --out %s/dupj", run, g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "gate.json' is damaged") != NULL);
}

static int check_status(const cJSON *out, int i, const char *level, const char *status)
{
	const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "checks"), i);
	const char *l = qe_json_str(c, "level", NULL), *s = qe_json_str(c, "status", NULL);
	return l && s && !strcmp(l, level) && !strcmp(s, status);
}

/* Level selection, the reference, failed levels and typos, without the binary. */
static void test_eval(void)
{
	static const char rules_json[] =
		"{\"rules\": ["
		"{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.44},"
		"{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.44, \"include_reference\": true},"
		"{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.44, \"levels\": \"Q9_X\", \"missing\": \"skip\"},"
		"{\"task\": \"mmlu\", \"metric\": \"vs_ref.delta_acc\", \"op\": \">=\", \"value\": -0.1, \"missing\": \"skip\"},"
		"{\"task\": \"mmlu\", \"metric\": \"vs_ref.delta_accc\", \"op\": \">=\", \"value\": -0.1, \"missing\": \"skip\","
		" \"levels\": [\"Q8_0\"]},"
		"{\"task\": \"mmlu\", \"metric\": \"acc_ci95\", \"op\": \">=\", \"value\": 0.1, \"levels\": [\"Q8_0\"]}"
		"]}";
	struct qe_err err = { 0 };
	cJSON *res = NULL, *out = NULL, *rules = NULL;
	const cJSON *checks;
	char path[400];

	snprintf(path, sizeof(path), "%s/eval-rules.json", g_tmp);
	TQ_EQ_INT(spit(path, rules_json), 0);
	TQ_EQ_INT(qe_gate_rules_load(path, &rules, &err), 0);
	TQ_EQ_INT(qe_results_load("tests/data/run2", &res, &err), 0);
	if (!rules || !res)
		return;
	TQ_EQ_INT(qe_gate_eval(res, rules, "run2", "eval-rules.json", &out, &err), 0);
	/* rule 0: Q8_0 Q6_K Q4_K_M Q2_K, the reference left out */
	TQ_CHECK(check_status(out, 0, "Q8_0", "pass"));
	TQ_CHECK(check_status(out, 1, "Q6_K", "fail"));
	TQ_CHECK(check_status(out, 3, "Q2_K", "fail")); /* the failed level fails the rule */
	/* rule 1 adds the reference */
	TQ_CHECK(check_status(out, 4, "F16", "pass"));
	/* rule 2: a level the run lacks, skipped as the rule allows */
	TQ_CHECK(check_status(out, 9, "Q9_X", "skip"));
	/* rule 3: Q2_K has no results and the rule skips what is missing */
	TQ_CHECK(check_status(out, 13, "Q2_K", "skip"));
	/* rule 4: a misspelt metric is never skipped */
	TQ_CHECK(check_status(out, 14, "Q8_0", "fail"));
	/* rule 5: an interval is not a number: the message says which bound to name */
	TQ_CHECK(check_status(out, 15, "Q8_0", "fail"));
	TQ_EQ_INT((int)qe_json_num(out, "n_checks", NAN), 16);
	TQ_EQ_INT((int)qe_json_num(out, "n_skipped", NAN), 2);
	checks = cJSON_GetObjectItemCaseSensitive(out, "checks");
	TQ_CHECK(strstr(qe_json_str(cJSON_GetArrayItem(checks, 3), "message", NULL),
			"the level failed (engine aborted (signal 6))") != NULL);
	TQ_CHECK(strstr(qe_json_str(cJSON_GetArrayItem(checks, 14), "message", NULL), "not in the task's block") != NULL);
	TQ_CHECK(strstr(qe_json_str(cJSON_GetArrayItem(checks, 15), "message", NULL),
			"an interval, not a number: name its bound, acc_ci95[0] or acc_ci95[1]") != NULL);
	/* run2 is a --limit run: the outcome says so */
	TQ_CHECK(qe_json_bool(out, "partial", 0));
	TQ_EQ_INT((int)qe_json_num(out, "limit", NAN), 20);
	cJSON_Delete(out);
	cJSON_Delete(rules);
	cJSON_Delete(res);
}

/* A level or task the run lacks is a typo: an error naming the closest name
 * (exit 2 from the binary), unless the rule skips what is missing. */
static void test_eval_typos(void)
{
	static const struct { const char *rule, *msg; } tab[] = {
		{ "{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.4, \"levels\": \"Q4KM\"}",
		  "rule 0: level 'Q4KM' is not in the run (did you mean 'Q4_K_M'?)" },
		{ "{\"task\": \"mmul\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.4}",
		  "rule 0: task 'mmul' is not in the run (did you mean 'mmlu'?)" },
		{ "{\"task\": \"nope\", \"metric\": \"acc\", \"op\": \"<\", \"value\": 1, \"levels\": [\"Q8_0\"]}",
		  "rule 0: task 'nope' is not in the run (add \"missing\": \"skip\" if that is meant)" },
	};
	cJSON *res = NULL;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_results_load("tests/data/run2", &res, &err), 0);
	for (size_t i = 0; res && i < sizeof(tab) / sizeof(tab[0]); i++) {
		char json[600], path[400], args[900];
		cJSON *rules = NULL, *out = NULL;

		snprintf(json, sizeof(json), "{\"rules\": [%s]}", tab[i].rule);
		snprintf(path, sizeof(path), "%s/typo-%zu.json", g_tmp, i);
		TQ_EQ_INT(spit(path, json), 0);
		TQ_EQ_INT(qe_gate_rules_load(path, &rules, &err), 0);
		TQ_EQ_INT(qe_gate_eval(res, rules, "run2", path, &out, &err), QE_EINVAL);
		TQ_CHECK(strstr(err.msg, tab[i].msg) != NULL);
		TQ_CHECK(out == NULL);
		cJSON_Delete(rules);
		/* the binary: exit 2, one line */
		snprintf(args, sizeof(args), "gate tests/data/run2 --rules %s --no-report", path);
		TQ_EQ_INT(qeval(args), 2);
		TQ_CHECK(strstr(g_errtxt, tab[i].msg) != NULL);
	}
	cJSON_Delete(res);
}

/* A rule's min_n: a level whose numbers rest on fewer items fails, in words. */
static void test_min_n(void)
{
	static const char rules_json[] =
		"{\"rules\": [{\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.1, \"min_n\": 100000,"
		" \"levels\": [\"Q8_0\"]}, {\"task\": \"mmlu\", \"metric\": \"acc\", \"op\": \">=\", \"value\": 0.1, \"min_n\": 1,"
		" \"levels\": [\"Q8_0\"]}]}";
	struct qe_err err = { 0 };
	cJSON *res = NULL, *out = NULL, *rules = NULL;
	char path[400];

	snprintf(path, sizeof(path), "%s/min-n.json", g_tmp);
	TQ_EQ_INT(spit(path, rules_json), 0);
	TQ_EQ_INT(qe_gate_rules_load(path, &rules, &err), 0);
	TQ_EQ_INT(qe_results_load("tests/data/run2", &res, &err), 0);
	TQ_EQ_INT(qe_gate_eval(res, rules, "run2", "min-n.json", &out, &err), 0);
	TQ_CHECK(check_status(out, 0, "Q8_0", "fail"));
	TQ_CHECK(check_status(out, 1, "Q8_0", "pass"));
	TQ_CHECK(strstr(qe_json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "checks"), 0), "message", NULL),
			"rule needs at least 100000") != NULL);
	cJSON_Delete(out);
	cJSON_Delete(rules);
	cJSON_Delete(res);
}

/* The library entry point `qeval run --gate` uses. */
static void test_gate_check_api(void)
{
	struct qe_err err = { 0 };
	char run[400], junit[400], *s;
	int n_failed = -1;

	run_copy("run1", run, sizeof(run));
	snprintf(junit, sizeof(junit), "%s/api-junit.xml", g_tmp);
	TQ_EQ_INT(qe_gate_check(run, "tests/data/gates.json", junit, &n_failed, &err), 0);
	TQ_EQ_INT(n_failed, 3);
	s = slurp(junit);
	TQ_CHECK(s && count_of(s, "<testcase ") == 19 && count_of(s, "<failure ") == 3);
	free(s);
	TQ_EQ_INT(qe_gate_check(run, "tests/data/gates-pass.json", NULL, &n_failed, &err), 0);
	TQ_EQ_INT(n_failed, 0);
	TQ_EQ_INT(qe_gate_check("/no/such/run", "tests/data/gates.json", NULL, &n_failed, &err), QE_ENOENT);
}

/* The JUnit format of a run with a gate.json: `qeval report --format junit`. */
static void test_report_junit_uses_gate(void)
{
	char args[1200], run[400], *s;

	run_copy("run1", run, sizeof(run));
	snprintf(args, sizeof(args), "gate %s --rules tests/data/gates.json -q", run);
	TQ_EQ_INT(qeval(args), 1);
	/* the gate rewrote the report: it opens with PASS / FAIL per level */
	snprintf(args, sizeof(args), "%s/report.md", run);
	GOLDEN(args, "run1.gated.report.md");
	s = slurp(args);
	TQ_CHECK(s && strstr(s, "## Decision") && strstr(s, "## Decision") < strstr(s, "## Verdict"));
	TQ_CHECK(s && strstr(s, "| Q4_K_M | **FAIL** | MMLU \xce\x94 lower 95% bound \xe2\x88\x92" "3.25 pts, rule needs "
				"\xe2\x89\xa5 \xe2\x88\x92" "2.00 pts"));
	free(s);
	snprintf(args, sizeof(args), "report %s --format junit,md", run);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(args, sizeof(args), "%s/junit.xml", run);
	GOLDEN(args, "run1.gate.junit.xml");
	snprintf(args, sizeof(args), "%s/report.md", run);
	s = slurp(args);
	TQ_CHECK(s && strstr(s, "- **Gate:** FAILED: 3 of 19 checks failed (rules tests/data/gates.json)"));
	free(s);
}

/* the summary qe_summary_print writes for run (caller frees) */
static char *summary_of(const char *run)
{
	char path[500];
	FILE *f;

	snprintf(path, sizeof(path), "%s/summary.txt", g_tmp);
	if (!(f = fopen(path, "w")))
		return NULL;
	qe_summary_print(run, f);
	fclose(f);
	return slurp(path);
}

/* The summary `qeval run` prints opens with the decision, one line per level. */
static void test_summary_decision(void)
{
	char run[400], args[1200], *s;

	run_copy("run2", run, sizeof(run));
	s = summary_of(run);
	TQ_CHECK(s && strstr(s, "decision: not gated (no release rules checked"));
	TQ_CHECK(s && !strstr(s, "nan")); /* Q2_K failed: its size ratio is "-", not "nanx" */
	free(s);
	snprintf(args, sizeof(args), "gate %s --rules tests/data/gates.json -q --no-report", run);
	TQ_EQ_INT(qeval(args), 1);
	s = summary_of(run);
	TQ_CHECK(s && strstr(s, "decision on a subset (partial run, --limit 20)"));
	TQ_CHECK(s && strstr(s, "Q2_K       FAIL      the level failed: engine aborted (signal 6) (3 checks)"));
	TQ_CHECK(s && strstr(s, "Q8_0       FAIL      MMLU \xce\x94 lower 95% bound \xe2\x88\x92" "2.44 pts") &&
		 strstr(s, "decision") < strstr(s, "level      status"));
	free(s);
	/* a gate.json cut short: the decision is unknown, named, never "not gated" */
	snprintf(args, sizeof(args), "printf '{\"schema\": \"qeval-gate\", \"checks\": [' > %s/gate.json", run);
	TQ_EQ_INT(system(args), 0);
	s = summary_of(run);
	TQ_CHECK(s && strstr(s, "decision: unknown: ") && strstr(s, "gate.json' is damaged") && !strstr(s, "not gated"));
	free(s);
}

int main(void)
{
	if (tmp_make("t-gate"))
		return 1;
	TQ_RUN(test_exit_codes);
	TQ_RUN(test_bad_rules);
	TQ_RUN(test_duplicate_keys);
	TQ_RUN(test_eval);
	TQ_RUN(test_eval_typos);
	TQ_RUN(test_min_n);
	TQ_RUN(test_summary_decision);
	TQ_RUN(test_gate_check_api);
	TQ_RUN(test_report_junit_uses_gate);
	tmp_remove();
	return tq_done("t_gate");
}
