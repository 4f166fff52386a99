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
	row_of(md, "## MMLU", "run2", "Q4_K_M", row, sizeof(row));
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

#define KLD_EXACT(mean) "{\"kld_mean\": " mean ", \"kld_p99\": 0.5, \"same_top\": 0.9, \"same_top_ci\": [0.8, 1], \"ppl_ratio\": 1.01}"
#define KLD_BOUND(mean) "{\"kld_mean\": " mean ", \"kld_p99\": 0.5, \"same_top\": 0.9, \"same_top_ci\": [0.8, 1], " \
			"\"ppl_ratio\": 1.01, \"kld_estimate\": \"top-k lower bound (K=100)\", \"top_k\": 100}"

/* A level measured over a server holds a top-K lower bound of KL: its KLD
 * figures read "≥", a difference to the baseline is "≥"/"≤" where one side is
 * a bound and "(bounds)" where both are, and a note names the level and the
 * bound. Exact figures stay as they were. */
static void test_kld_lower_bound_marked(void)
{
	char args[1600], a[400], b[400], path[500], row[1000], *md;

	run_copy("run1", a, sizeof(a));
	snprintf(b, sizeof(b), "%s/served", g_tmp);
	snprintf(args, sizeof(args), "rm -rf '%s' && cp -r tests/data/run1 '%s'", b, b);
	TQ_EQ_INT(system(args), 0);
	add_kld(a, "{\"F16\": {\"ppl\": 10}, \"Q8_0\": " KLD_EXACT("0.002") ", \"Q6_K\": " KLD_BOUND("0.01")
		   ", \"Q4_K_M\": " KLD_EXACT("0.03") ", \"Q2_K\": " KLD_BOUND("0.2") "}");
	add_kld(b, "{\"F16\": {\"ppl\": 10}, \"Q8_0\": " KLD_EXACT("0.002") ", \"Q6_K\": " KLD_EXACT("0.015")
		   ", \"Q4_K_M\": " KLD_BOUND("0.036") ", \"Q2_K\": " KLD_BOUND("0.25") "}");
	snprintf(args, sizeof(args), "compare %s %s --out %s/ck --no-charts", a, b, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/ck/compare.md", g_tmp);
	md = slurp(path);
	if (!md) {
		TQ_FAILF("no %s", path);
		return;
	}
	/* exact against exact: unmarked */
	row_of(md, "## KL divergence", "served", "Q8_0", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "| 0.00200 | 0.500 |") && strstr(row, "| 1.00× | 1.00× |") && !strstr(row, "\xe2\x89"));
	/* a bound against an exact baseline: the ratio is a lower bound too */
	row_of(md, "## KL divergence", "served", "Q4_K_M", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "| \xe2\x89\xa5 0.0360 | \xe2\x89\xa5 0.500 |") && strstr(row, "| \xe2\x89\xa5 1.20× |"));
	TQ_CHECK(row[0] && strstr(row, "| 90.00 [80.00, 100.00] |")); /* same top is exact */
	/* exact against a bound in the baseline: an upper bound */
	row_of(md, "## KL divergence", "served", "Q6_K", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "| 0.0150 |") && strstr(row, "| \xe2\x89\xa4 1.50× |"));
	/* two bounds: the ratio bounds nothing */
	row_of(md, "## KL divergence", "served", "Q2_K", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "| \xe2\x89\xa5 0.250 |") && strstr(row, "| 1.25× (bounds) |"));
	row_of(md, "## KL divergence", "run1", "Q2_K", row, sizeof(row));
	TQ_CHECK(row[0] && strstr(row, "| \xe2\x89\xa5 0.200 |") && strstr(row, "| baseline |"));
	/* the note names run, level and the bound */
	TQ_CHECK(strstr(md, "KL divergence of served at Q4_K_M: Mean KLD and KLD p99 are a top-k lower bound (K=100)") != NULL);
	TQ_CHECK(strstr(md, "KL divergence of run1 at Q6_K: Mean KLD and KLD p99 are a top-k lower bound (K=100)") != NULL);
	TQ_CHECK(strstr(md, "a difference to run1 where one of the two numbers is a lower bound is itself a bound") != NULL);
	free(md);
	/* the run's own report.md: a bound level's KLD quantiles are marked as its mean */
	snprintf(args, sizeof(args), "report %s --no-charts", a);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/report.md", a);
	md = slurp(path);
	{
		const char *sec = md ? strstr(md, "# KL divergence") : NULL, *r6, *r8;
		r6 = sec ? strstr(sec, "\n| Q6_K |") : NULL;
		r8 = sec ? strstr(sec, "\n| Q8_0 |") : NULL;
		TQ_CHECK(r6 && r8);
		if (r6 && r8) {
			const char *e6 = strchr(r6 + 1, '\n'), *e8 = strchr(r8 + 1, '\n');
			char l6[1000], l8[1000];
			snprintf(l6, sizeof(l6), "%.*s", (int)(e6 ? e6 - r6 : 999), r6);
			snprintf(l8, sizeof(l8), "%.*s", (int)(e8 ? e8 - r8 : 999), r8);
			TQ_CHECK(strstr(l6, "| \xe2\x89\xa5 0.500 |") != NULL); /* p99 */
			TQ_CHECK(strstr(l8, "\xe2\x89") == NULL);
		}
	}
	free(md);
	/* the chart of mean KLD says which points are bounds */
	if (system("gnuplot --version >/dev/null 2>&1") != 0)
		return;
	snprintf(args, sizeof(args), "compare %s %s --out %s/ckc", a, b, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	snprintf(path, sizeof(path), "%s/ckc/compare.html", g_tmp);
	md = slurp(path);
	TQ_CHECK(md && strstr(md, "Lower bounds of the metric, not its value: run1 at Q6_K, run1 at Q2_K, served at Q4_K_M, "
				  "served at Q2_K."));
	free(md);
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
	TQ_RUN(test_kld_lower_bound_marked);
	TQ_RUN(test_usage);
	tmp_remove();
	return tq_done("t_compare");
}
