/* Tests of `qeval compare` (reports/compare.c): two runs on different item
 * sets say so instead of printing a delta; identical runs print their
 * (zero) deltas; speed on the same machine stays comparable; usage errors. */
#include "tests/t_reports_common.h"

#include "reports/compare.h"
#include "reports/results.h"

/* The table row of run `label` at `level` in the section after `heading`. */
static const char *row_of(const char *md, const char *heading, const char *label, const char *level, char *buf,
			  size_t cap)
{
	const char *sec = strstr(md, heading), *p;
	char key[200];

	buf[0] = '\0';
	if (!sec)
		return buf;
	snprintf(key, sizeof(key), "\n| %s | %s |", label, level);
	p = strstr(sec, key);
	if (p) {
		const char *e = strchr(p + 1, '\n');
		snprintf(buf, cap, "%.*s", (int)(e ? e - p - 1 : (long)strlen(p + 1)), p + 1);
	}
	return buf;
}

static void test_different_items_refused(void)
{
	char args[1200], path[500], row[1000], *md, *html;

	snprintf(args, sizeof(args), "compare tests/data/run1 tests/data/run2 --out %s/c1 --no-charts", g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/c1/compare.md", g_tmp);
	md = slurp(path);
	if (!md) {
		TQ_FAILF("no %s", path);
		return;
	}
	/* said in words, with the reason */
	TQ_CHECK(strstr(md, "MMLU of run2 was not measured on the same items and settings as run1's (80 items vs 400; "
			    "--limit 20 vs 0): no difference to run1 is shown for it") != NULL);
	TQ_CHECK(strstr(md, "lcqmc of run2 was not measured on the same items") != NULL);
	/* and no number in the difference column */
	row_of(md, "## MMLU", "run2", "Q4\\_K\\_M", row, sizeof(row));
	if (!row[0])
		row_of(md, "## MMLU", "run2", "Q4_K_M", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "| not comparable |"));
	TQ_CHECK(row[0] && strstr(row, "42.50 [31.61, 53.39]")); /* its own numbers are still shown */
	/* speed: same CPU, threads and tests -> ratios are printed */
	row_of(md, "## Speed", "run2", "Q4_K_M", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "| 1.01× |") && !strstr(row, "not comparable"));
	/* the partial run is flagged in the runs table */
	TQ_CHECK(strstr(md, "**partial (--limit 20)**") != NULL);
	free(md);
	snprintf(path, sizeof(path), "%s/c1/compare.html", g_tmp);
	html = slurp(path);
	TQ_CHECK(html && strstr(html, "not comparable") && strstr(html, "</html>"));
	free(html);
}

static void test_same_items_deltas(void)
{
	char args[1200], path[500], row[1000], *md;

	snprintf(args, sizeof(args), "compare tests/data/run1 tests/data/run1 --labels 'yesterday,today' --out %s/c2 "
				     "--no-charts", g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/c2/compare.md", g_tmp);
	md = slurp(path);
	TQ_CHECK(md && !strstr(md, "not comparable") && !strstr(md, "was not measured"));
	row_of(md ? md : "", "## MMLU", "today", "Q2_K", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "37.25 [32.51, 41.99]") && strstr(row, "| 0.00 |"));
	row_of(md ? md : "", "## lcqmc", "today", "Q8_0", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "| 0.0000 |"));
	free(md);
}

static void test_compare_task_reasons(void)
{
	struct qe_err err = { 0 };
	cJSON *a = NULL, *b = NULL;
	char why[600];

	TQ_EQ_INT(qe_results_load("tests/data/run1", &a, &err), 0);
	TQ_EQ_INT(qe_results_load("tests/data/run2", &b, &err), 0);
	if (!a || !b)
		return;
	TQ_EQ_INT(qe_compare_task(a, b, "ceval", why, sizeof(why)), 0);
	TQ_EQ_STR(why, "60 items vs 300; --limit 20 vs 0");
	TQ_EQ_INT(qe_compare_task(a, b, "speed", why, sizeof(why)), 1);
	TQ_EQ_STR(why, "");
	TQ_EQ_INT(qe_compare_task(a, a, "mmlu", why, sizeof(why)), 1);
	/* a settings change alone is named */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "tasks"), "speed"),
						      "settings"), "reps", cJSON_CreateNumber(5));
	TQ_EQ_INT(qe_compare_task(a, b, "speed", why, sizeof(why)), 0);
	TQ_EQ_STR(why, "settings differ (reps=5 vs 3)");
	/* speed from another CPU is not compared */
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(a, "machine"), "cpu", cJSON_CreateString("Other CPU"));
	TQ_EQ_INT(qe_compare_task(a, a, "speed", why, sizeof(why)), 1);
	TQ_EQ_INT(qe_compare_task(b, a, "speed", why, sizeof(why)), 0);
	TQ_CHECK(strstr(why, "another CPU ('Other CPU' vs 'AMD EPYC 7B13')") != NULL);
	TQ_EQ_INT(qe_compare_task(a, b, "nope", why, sizeof(why)), 0);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

static void test_charts_leave_out_incomparable(void)
{
	char args[1200], path[500], *html;

	if (system("gnuplot --version >/dev/null 2>&1") != 0)
		TQ_SKIP("gnuplot is not installed");
	snprintf(args, sizeof(args), "compare tests/data/run1 tests/data/run2 --out %s/c3", g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/c3/compare.html", g_tmp);
	html = slurp(path);
	TQ_EQ_INT(count_of(html, "<svg"), 3);
	TQ_CHECK(html && strstr(html, "Left out, because not measured on the same items and settings as run1: run2."));
	free(html);
}

static void test_usage(void)
{
	TQ_EQ_INT(qeval("compare tests/data/run1"), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_EQ_INT(qeval("compare tests/data/run1 /no/such/run"), 2);
	TQ_CHECK(strstr(g_errtxt, "/no/such/run") != NULL);
	TQ_EQ_INT(qeval("compare tests/data/run1 tests/data/run2 --labels a,b,c"), 2);
}

int main(void)
{
	if (tmp_make("t-compare"))
		return 1;
	TQ_RUN(test_different_items_refused);
	TQ_RUN(test_same_items_deltas);
	TQ_RUN(test_compare_task_reasons);
	TQ_RUN(test_charts_leave_out_incomparable);
	TQ_RUN(test_usage);
	tmp_remove();
	return tq_done("t_compare");
}
