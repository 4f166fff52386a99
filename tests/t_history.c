/* Tests of `qeval history add` and `render` (reports/history.c): lines
 * appended with commit, date, machine and the gate outcome; a torn last line
 * does not spoil the next one; the dashboard draws every metric per level and
 * marks gate failures; usage errors. */
#include "tests/t_reports_common.h"

#include "reports/history.h"
#include "reports/results.h"

static void test_add_and_render(void)
{
	char args[1600], hist[400], r1[400], r2[400], path[500], *text, *line2, *html;
	cJSON *e;

	snprintf(hist, sizeof(hist), "%s/nightly.jsonl", g_tmp);
	run_copy("run1", r1, sizeof(r1));
	run_copy("run2", r2, sizeof(r2));
	/* run1 with a failing gate, run2 without a gate */
	snprintf(args, sizeof(args), "gate %s --rules tests/data/gates.json -q", r1);
	TQ_EQ_INT(qeval(args), 1);
	snprintf(args, sizeof(args), "history add %s %s --commit abc1234 --date 2026-11-20T03:00:00Z", hist, r1);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(args, sizeof(args), "history add %s %s", hist, r2);
	TQ_EQ_INT(qeval(args), 0);
	text = slurp(hist);
	TQ_EQ_INT(count_lines(text), 2);
	e = text ? cJSON_Parse(text) : NULL; /* the first line */
	TQ_EQ_STR(qe_json_str(e, "schema", NULL), "qeval-history");
	TQ_EQ_STR(qe_json_str(e, "commit", NULL), "abc1234");
	TQ_EQ_STR(qe_json_str(e, "date", NULL), "2026-11-20T03:00:00Z");
	TQ_EQ_STR(qe_json_str(e, "machine", NULL), "ci-1 (AMD EPYC 7B13)");
	TQ_CHECK(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "gate"), "passed")));
	TQ_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "gate"), "failed")), 3);
	TQ_NEAR(qe_json_num(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "metrics"), "mmlu"), "Q4_K_M"),
			       "acc", NAN), 0.435, 0.0);
	TQ_NEAR(qe_json_num(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "metrics"), "speed"), "Q8_0"),
			       "tests.tg128.tps_mean", NAN), 21.5, 0.0);
	cJSON_Delete(e);
	line2 = text ? strchr(text, '\n') : NULL;
	e = line2 ? cJSON_Parse(line2 + 1) : NULL;
	/* defaults from results.json; no gate.json -> null */
	TQ_EQ_STR(qe_json_str(e, "commit", NULL), "a1b2c3d");
	TQ_EQ_STR(qe_json_str(e, "date", NULL), "2026-11-22T07:30:00Z");
	TQ_CHECK(cJSON_IsNull(cJSON_GetObjectItem(e, "gate")));
	TQ_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(e, "partial")));
	cJSON_Delete(e);
	free(text);

	/* a torn last line (a writer killed mid-line) stays one bad line */
	{
		FILE *f = fopen(hist, "a");
		if (f) {
			fputs("{\"schema\": \"qeval-hist", f);
			fclose(f);
		}
	}
	snprintf(args, sizeof(args), "history add %s %s --commit def5678", hist, r1);
	TQ_EQ_INT(qeval(args), 0);
	text = slurp(hist);
	TQ_EQ_INT(count_lines(text), 4);
	free(text);

	snprintf(args, sizeof(args), "history render %s %s/dash", hist, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "(3 runs)") != NULL);
	snprintf(path, sizeof(path), "%s/dash/index.html", g_tmp);
	html = slurp(path);
	TQ_CHECK(html && strstr(html, "1 lines of the history file are not history entries"));
	TQ_CHECK(html && strstr(html, "abc1234") && strstr(html, "def5678") && strstr(html, "a1b2c3d"));
	TQ_CHECK(html && strstr(html, "FAILED (3 of 19 checks)") && strstr(html, "no gate"));
	if (system("gnuplot --version >/dev/null 2>&1") == 0) {
		/* mmlu 5 + ceval 5 + lcqmc 3 + speed (2 tests + 2 speedups) 4 + the gate's metrics already among them */
		TQ_EQ_INT(count_of(html, "<svg"), 17);
		TQ_CHECK(html && strstr(html, "gate failed") && strstr(html, "red crosses mark runs whose gate failed"));
	}
	free(html);
}

/* A history line with a key given twice is refused, naming the file and the
 * line: no torn write leaves one, and which value is meant cannot be told. A
 * line that is not JSON at all stays a bad line, counted and left out. */
static void test_duplicate_key_line(void)
{
	char args[1200], path[400], *html;

	snprintf(path, sizeof(path), "%s/dup.jsonl", g_tmp);
	TQ_EQ_INT(spit(path, "{\"schema\":\"qeval-history\",\"version\":1,\"metrics\":{\"mmlu\":{\"Q8_0\":{\"acc\":0.4}}}}\n"
			     "not json\n"
			     "{\"schema\":\"qeval-history\",\"version\":1,\"metrics\":{\"mmlu\":{\"Q8_0\":{\"acc\":0.4,"
			     "\"acc\":0.9}}}}\n"), 0);
	snprintf(args, sizeof(args), "history render %s %s/dupd --no-charts", path, g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "dup.jsonl:3: key 'acc' given twice in one object") != NULL);
	/* without that line it renders, the bad line and a tail of NUL bytes (what
	 * a crash can leave at the end of a file) counted and left out */
	{
		static const char ok[] = "{\"schema\":\"qeval-history\",\"version\":1,\"metrics\":{\"mmlu\":{\"Q8_0\":"
					 "{\"acc\":0.4}}}}\nnot json\n\0\0\0\0";
		FILE *f = fopen(path, "wb");
		if (f) {
			fwrite(ok, 1, sizeof(ok) - 1, f);
			fclose(f);
		}
	}
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/dupd/index.html", g_tmp);
	html = slurp(path);
	TQ_CHECK(html && strstr(html, "2 lines of the history file are not history entries"));
	free(html);
}

#define KLD_EXACT(mean) "{\"kld_mean\": " mean ", \"kld_p99\": 0.5, \"same_top\": 0.9, \"ppl_ratio\": 1.01}"
#define KLD_BOUND(mean) "{\"kld_mean\": " mean ", \"kld_p99\": 0.5, \"same_top\": 0.9, \"ppl_ratio\": 1.01, " \
			"\"kld_estimate\": \"top-k lower bound (K=100)\", \"top_k\": 100}"

/* A level whose KLD is a server's top-K lower bound: its history line says
 * so for those metrics, and the dashboard writes them "≥" (and the change
 * "≥"/"≤"/"(bounds)"), with a note naming the bound. */
static void test_kld_lower_bound_marked(void)
{
	char args[1600], hist[400], r1[400], r2[400], path[500], *text, *html;
	cJSON *e;

	snprintf(hist, sizeof(hist), "%s/kld.jsonl", g_tmp);
	run_copy("run1", r1, sizeof(r1));
	snprintf(r2, sizeof(r2), "%s/served", g_tmp);
	snprintf(args, sizeof(args), "rm -rf '%s' && cp -r tests/data/run1 '%s'", r2, r2);
	TQ_EQ_INT(system(args), 0);
	add_kld(r1, "{\"F16\": {}, \"Q8_0\": " KLD_EXACT("0.002") ", \"Q6_K\": " KLD_BOUND("0.01") ", \"Q4_K_M\": "
		    KLD_EXACT("0.03") ", \"Q2_K\": " KLD_BOUND("0.2") "}");
	add_kld(r2, "{\"F16\": {}, \"Q8_0\": " KLD_EXACT("0.002") ", \"Q6_K\": " KLD_EXACT("0.015") ", \"Q4_K_M\": "
		    KLD_BOUND("0.036") ", \"Q2_K\": " KLD_BOUND("0.25") "}");
	snprintf(args, sizeof(args), "history add %s %s --date 2026-11-20T03:00:00Z", hist, r1);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(args, sizeof(args), "history add %s %s --date 2026-11-21T03:00:00Z", hist, r2);
	TQ_EQ_INT(qeval(args), 0);
	text = slurp(hist);
	e = text ? cJSON_Parse(strchr(text, '\n') + 1) : NULL; /* the second line */
	{
		const cJSON *lb = cJSON_GetObjectItem(cJSON_GetObjectItem(e, "lower_bounds"), "kld");
		TQ_EQ_STR(qe_json_str(cJSON_GetObjectItem(lb, "Q4_K_M"), "kld_mean", NULL), "top-k lower bound (K=100)");
		TQ_EQ_STR(qe_json_str(cJSON_GetObjectItem(lb, "Q4_K_M"), "kld_p99", NULL), "top-k lower bound (K=100)");
		TQ_CHECK(qe_json_str(cJSON_GetObjectItem(lb, "Q4_K_M"), "same_top", NULL) == NULL); /* exact */
		TQ_CHECK(cJSON_GetObjectItem(lb, "Q8_0") == NULL && cJSON_GetObjectItem(lb, "Q6_K") == NULL);
	}
	cJSON_Delete(e);
	free(text);
	snprintf(args, sizeof(args), "history render %s %s/kdash", hist, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/kdash/index.html", g_tmp);
	html = slurp(path);
	/* Metric | Level | Latest | Run before | Change */
	TQ_CHECK(html && strstr(html, "<td>kld_mean</td><td>Q8_0</td><td class=\"n\">0.002000</td>"));
	TQ_CHECK(html && strstr(html, "<td>kld_mean</td><td>Q4_K_M</td><td class=\"n\">\xe2\x89\xa5 0.03600</td>"
				    "<td class=\"n\">0.03000</td><td class=\"n\">\xe2\x89\xa5 "));
	TQ_CHECK(html && strstr(html, "<td>kld_mean</td><td>Q6_K</td><td class=\"n\">0.01500</td>"
				    "<td class=\"n\">\xe2\x89\xa5 0.01000</td><td class=\"n\">\xe2\x89\xa4 "));
	TQ_CHECK(html && strstr(html, "<td>kld_mean</td><td>Q2_K</td><td class=\"n\">\xe2\x89\xa5 0.2500</td>"
				    "<td class=\"n\">\xe2\x89\xa5 0.2000</td>"));
	TQ_CHECK(html && strstr(html, " (bounds)</td>"));
	TQ_CHECK(html && strstr(html, "kld: the numbers written \xe2\x89\xa5 are lower bounds of their metric, not its value: "
				    "Q6_K in the run before, a top-k lower bound (K=100); Q4_K_M in the latest run"));
	if (system("gnuplot --version >/dev/null 2>&1") == 0)
		TQ_CHECK(html && strstr(html, "Lower bounds of the metric, not its value (runs by #): Q6_K at #1; Q4_K_M at #2; "
					    "Q2_K at #1, #2."));
	free(html);
	/* marks that are not strings: not a history entry */
	snprintf(path, sizeof(path), "%s/kbad.jsonl", g_tmp);
	TQ_EQ_INT(spit(path, "{\"schema\":\"qeval-history\",\"metrics\":{\"kld\":{\"Q8_0\":{\"kld_mean\":0.1}}}}\n"
			     "{\"schema\":\"qeval-history\",\"metrics\":{\"kld\":{\"Q8_0\":{\"kld_mean\":0.1}}},"
			     "\"lower_bounds\":{\"kld\":{\"Q8_0\":{\"kld_mean\":1}}}}\n"), 0);
	snprintf(args, sizeof(args), "history render %s %s/kbad --no-charts", path, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "(1 runs)") != NULL);
}

static void test_errors(void)
{
	char args[1200], path[400];

	TQ_EQ_INT(qeval("history"), 2);
	TQ_EQ_INT(qeval("history frob a b"), 2);
	snprintf(args, sizeof(args), "history add %s/h.jsonl /no/such/run", g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "/no/such/run") != NULL);
	snprintf(args, sizeof(args), "history render %s/none.jsonl %s/d", g_tmp, g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	snprintf(path, sizeof(path), "%s/junk.jsonl", g_tmp);
	TQ_EQ_INT(spit(path, "not json\n{\"a\": 1}\n"), 0);
	snprintf(args, sizeof(args), "history render %s %s/d", path, g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_errtxt, "no history entries (2 lines") != NULL);
}

int main(void)
{
	if (tmp_make("t-history"))
		return 1;
	TQ_RUN(test_add_and_render);
	TQ_RUN(test_errors);
	TQ_RUN(test_duplicate_key_line);
	TQ_RUN(test_kld_lower_bound_marked);
	tmp_remove();
	return tq_done("t_history");
}
