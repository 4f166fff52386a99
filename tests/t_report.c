/* Tests of the report writers (reports/): golden Markdown, CSV and JUnit of
 * a hand-written run (tests/data/run1), HTML escaping of hostile dataset
 * text (tests/data/escape), self-containedness, charts with and without
 * gnuplot, a headless-Chromium render when /usr/bin/chromium exists, metric
 * paths, per-item CSVs and the `qeval report` command.
 * Regenerate the golden files: QE_UPDATE_GOLDEN=1 (see t_reports_common.h). */
#include "tests/t_reports_common.h"

#include "reports/charts.h"
#include "reports/fallback.h"
#include "reports/fmt.h"
#include "reports/report.h"
#include "reports/results.h"
#include "reports/text.h"
#include "reports/view.h"

#define EXACT 0.0 /* numbers read back from results.json are compared exactly */

static int have_gnuplot(void)
{
	return system("gnuplot --version >/dev/null 2>&1") == 0;
}

static void test_escapes(void)
{
	struct qe_text t = { 0 };
	char b[QE_FMT_CAP];

	qe_text_html(&t, "<a href=\"x\">&'\n");
	TQ_EQ_STR(qe_text_str(&t), "&lt;a href=&quot;x&quot;&gt;&amp;&#39; ");
	qe_text_release(&t);
	qe_text_md(&t, "Q4_K_M | *x* <b> [l](u) _a_ #1");
	TQ_EQ_STR(qe_text_str(&t), "Q4_K_M \\| \\*x\\* \\<b\\> [l\\](u) \\_a\\_ \\#1");
	qe_text_release(&t);
	qe_text_csv(&t, "a,\"b\"");
	qe_text_putc(&t, '|');
	qe_text_csv(&t, "plain");
	TQ_EQ_STR(qe_text_str(&t), "\"a,\"\"b\"\"\"|plain");
	qe_text_release(&t);
	qe_text_gp(&t, "it's `cmd` @m\n");
	TQ_EQ_STR(qe_text_str(&t), "it''s `cmd` @m ");
	qe_text_release(&t);
	TQ_EQ_STR(qe_fmt_num(b, 0.1), "0.1");
	TQ_EQ_STR(qe_fmt_num(b, 14042), "14042");
	TQ_EQ_STR(qe_fmt_num(b, 0.043333333333333335), "0.043333333333333335");
	TQ_EQ_STR(qe_fmt_num(b, 3.77778e+51), "3.77778e+51"); /* past long long: no cast (UBSan, fuzz_config) */
	TQ_EQ_STR(qe_fmt_num(b, -1e300), "-1e+300");
	TQ_EQ_STR(qe_fmt_points(b, sizeof(b), -0.0175, 2), "\xe2\x88\x92" "1.75");
	TQ_EQ_STR(qe_fmt_points(b, sizeof(b), 0.00001, 2), "0.00");
	TQ_EQ_STR(qe_fmt_pct(b, sizeof(b), 0.4525, 2), "45.25%");
	TQ_EQ_STR(qe_fmt_pct(b, sizeof(b), NAN, 2), QE_DASH);
	TQ_EQ_STR(qe_fmt_bytes(b, sizeof(b), 667815296), "637 MiB");
	TQ_EQ_STR(qe_fmt_p(b, sizeof(b), 0.000012), "1.2e-05");
}

static void test_metric_paths(void)
{
	struct qe_err err = { 0 };
	cJSON *res = NULL;
	double v = 0;

	TQ_EQ_INT(qe_results_load("tests/data/run1", &res, &err), 0);
	if (!res)
		return;
	TQ_EQ_INT(qe_metric_get(res, "mmlu", "Q4_K_M", "vs_ref.delta_ci95[0]", &v), QE_METRIC_OK);
	TQ_NEAR(v, -0.0325, EXACT);
	TQ_EQ_INT(qe_metric_get(res, "speed", "Q8_0", "tests.pp512.tps_mean", &v), QE_METRIC_OK);
	TQ_NEAR(v, 131.7, EXACT);
	TQ_EQ_INT(qe_metric_get(res, "speed", "Q8_0", "speedup.tg128", &v), QE_METRIC_OK);
	TQ_NEAR(v, 1.7917, EXACT);
	TQ_EQ_INT(qe_metric_get(res, "lcqmc", "Q2_K", "retrieval.recall@5", &v), QE_METRIC_OK);
	TQ_NEAR(v, 0.62, EXACT);
	TQ_EQ_INT(qe_metric_get(res, NULL, "Q6_K", "level.bpw", &v), QE_METRIC_OK);
	TQ_NEAR(v, 6.5639, EXACT);
	/* derived: (11 + 4) / 400 and 0.435 / 0.4525 */
	TQ_EQ_INT(qe_metric_get(res, "mmlu", "Q4_K_M", "flip_rate", &v), QE_METRIC_OK);
	TQ_NEAR(v, 15.0 / 400.0, EXACT);
	TQ_EQ_INT(qe_metric_get(res, "mmlu", "Q4_K_M", "pct_of_ref", &v), QE_METRIC_OK);
	TQ_NEAR(v, 0.435 / 0.4525, EXACT);
	TQ_EQ_INT(qe_metric_get(res, "mmlu", "F16", "vs_ref.delta_acc", &v), QE_METRIC_NULL);
	TQ_EQ_INT(qe_metric_get(res, "mmlu", "F16", "flip_rate", &v), QE_METRIC_NULL);
	TQ_EQ_INT(qe_metric_get(res, "mmlu", "Q8_0", "vs_ref.delta_acx", &v), QE_METRIC_ABSENT);
	TQ_EQ_INT(qe_metric_get(res, "nope", "Q8_0", "acc", &v), QE_METRIC_NO_TASK);
	TQ_EQ_INT(qe_metric_get(res, "mmlu", "Q9", "acc", &v), QE_METRIC_NO_LEVEL);
	TQ_EQ_INT(qe_metric_path_check("vs_ref.delta_ci95[0]", &err), 0);
	TQ_EQ_INT(qe_metric_path_check("retrieval.recall@5", &err), 0);
	TQ_EQ_INT(qe_metric_path_check("a..b", &err), QE_EINVAL);
	TQ_EQ_INT(qe_metric_path_check("a[x]", &err), QE_EINVAL);
	TQ_EQ_INT(qe_metric_path_check("", &err), QE_EINVAL);
	cJSON_Delete(res);

	TQ_EQ_INT(qe_results_load("tests/data/no-such-run", &res, &err), QE_ENOENT);
	TQ_CHECK(strstr(err.msg, "no-such-run") != NULL);
	TQ_EQ_INT(qe_results_parse("{\"schema\":\"qeval-results\",\"version\":2}", 38, "x.json", &res, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "version 2") != NULL);
	TQ_EQ_INT(qe_results_parse("{\"a\":", 5, "y.json", &res, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "y.json") != NULL);
}

/* report.md, summary.csv and junit.xml of run1 against the golden files */
static void test_golden_md_csv_junit(void)
{
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_err err = { 0 };
	char out[400], path[500];

	snprintf(out, sizeof(out), "%s/golden", g_tmp);
	o.out_dir = out;
	o.formats = QE_REPORT_MD | QE_REPORT_CSV | QE_REPORT_JUNIT;
	TQ_EQ_INT(qe_report_write_all("tests/data/run1", &o, &err), 0);
	snprintf(path, sizeof(path), "%s/report.md", out);
	GOLDEN(path, "run1.report.md");
	snprintf(path, sizeof(path), "%s/summary.csv", out);
	GOLDEN(path, "run1.summary.csv");
	snprintf(path, sizeof(path), "%s/junit.xml", out);
	GOLDEN(path, "run1.junit.xml");

	/* a partial run with a failed level */
	TQ_EQ_INT(qe_report_write_all("tests/data/run2", &o, &err), 0);
	snprintf(path, sizeof(path), "%s/report.md", out);
	GOLDEN(path, "run2.report.md");
	snprintf(path, sizeof(path), "%s/junit.xml", out);
	GOLDEN(path, "run2.junit.xml");
}

/* The plain-words verdict and the things a reader must not miss. */
static void test_md_content(void)
{
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_err err = { 0 };
	char out[400], path[500], *md;

	snprintf(out, sizeof(out), "%s/content", g_tmp);
	o.out_dir = out;
	o.formats = QE_REPORT_MD;
	TQ_EQ_INT(qe_report_write_all("tests/data/run1", &o, &err), 0);
	snprintf(path, sizeof(path), "%s/report.md", out);
	md = slurp(path);
	TQ_CHECK(md && strstr(md, "- Q4_K_M: 3.3× smaller, 1.4× faster pp512, 2.6× faster tg128, MMLU −1.8 points "
				  "(95% CI −3.2 to −0.2), 96.1% of F16"));
	TQ_CHECK(md && strstr(md, "**Machine:** AMD EPYC 7B13"));
	TQ_CHECK(md && strstr(md, "**Engine:** llamacpp, llama.cpp 0.5.0-dev"));
	TQ_CHECK(md && strstr(md, "### MMLU by subject"));
	TQ_CHECK(md && strstr(md, "### C-Eval by group"));
	TQ_CHECK(md && !strstr(md, "partial run"));
	free(md);

	TQ_EQ_INT(qe_report_write_all("tests/data/run2", &o, &err), 0);
	md = slurp(path);
	TQ_CHECK(md && strstr(md, "partial run: --limit 20"));
	TQ_CHECK(md && strstr(md, "incomplete run: Q2_K failed (engine aborted (signal 6))"));
	TQ_CHECK(md && strstr(md, "- Q2_K: failed — engine aborted (signal 6)"));
	free(md);
}

/* Hostile text in level, subject, category, task and model names. */
static void test_html_escaped_and_self_contained(void)
{
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_err err = { 0 };
	char out[400], path[500], *html, *md, *p;

	snprintf(out, sizeof(out), "%s/escape", g_tmp);
	o.out_dir = out;
	o.formats = QE_REPORT_MD | QE_REPORT_HTML | QE_REPORT_CSV;
	TQ_EQ_INT(qe_report_write_all("tests/data/escape", &o, &err), 0);
	snprintf(path, sizeof(path), "%s/report.html", out);
	html = slurp(path);
	if (!html) {
		TQ_FAILF("no %s", path);
		return;
	}
	/* no tag from the data survives: every "<script" is escaped */
	for (p = html; *p; p++)
		if (!strncasecmp(p, "<script", 7) || !strncasecmp(p, "<b>", 3) || !strncasecmp(p, "<i>", 3))
			break;
	TQ_CHECK(*p == '\0');
	TQ_CHECK(strstr(html, "Q4&lt;script&gt;alert(&quot;lv&quot;)&lt;/script&gt;&amp;&#39;") != NULL);
	TQ_CHECK(strstr(html, "algebra &amp; &quot;quotes&quot; &lt;script&gt;alert(&#39;s&#39;)&lt;/script&gt;") != NULL);
	TQ_CHECK(strstr(html, "Science &amp; &lt;Tech&gt;") != NULL);
	TQ_CHECK(strstr(html, "models/evil &quot;&amp;&lt;b&gt;name&lt;/b&gt;&#39;.gguf") != NULL);
	TQ_CHECK(strstr(html, "engine aborted: &lt;script&gt;alert(&#39;err&#39;)") != NULL);
	/* self-contained and phone-readable */
	TQ_CHECK(strstr(html, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">") != NULL);
	TQ_CHECK(strstr(html, "Content-Security-Policy") != NULL);
	TQ_CHECK(strstr(html, "overflow-x:auto") != NULL);
	TQ_CHECK(!strstr(html, "<link") && !strstr(html, " src=") && !strstr(html, "@import") && !strstr(html, "https:"));
	TQ_EQ_INT(count_of(html, "http://"), 2 * count_of(html, "<svg")); /* only the SVG namespaces */
	free(html);

	snprintf(path, sizeof(path), "%s/report.md", out);
	md = slurp(path);
	TQ_CHECK(md && strstr(md, "Q4\\<script\\>alert(\"lv\")\\</script\\>\\&'"));
	/* every < in the Markdown is escaped: no raw HTML reaches a renderer */
	for (p = md; p && *p; p++)
		if (*p == '<' && (p == md || p[-1] != '\\'))
			break;
	TQ_CHECK(md && *p == '\0');
	free(md);
	snprintf(path, sizeof(path), "%s/summary.csv", out);
	md = slurp(path);
	TQ_CHECK(md && strstr(md, "\"Q4<script>alert(\"\"lv\"\")</script>&'\",0,ok,acc,0.4"));
	free(md);
}

static void test_html_charts(void)
{
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_report_stats st;
	struct qe_err err = { 0 };
	char out[400], path[500], *html;

	if (!have_gnuplot())
		TQ_SKIP("gnuplot is not installed");
	snprintf(out, sizeof(out), "%s/charts", g_tmp);
	o.out_dir = out;
	o.formats = QE_REPORT_HTML;
	o.stats = &st;
	TQ_EQ_INT(qe_report_write_all("tests/data/run1", &o, &err), 0);
	TQ_EQ_INT(st.n_charts, 7);
	TQ_EQ_INT(st.charts_missing, 0);
	snprintf(path, sizeof(path), "%s/report.html", out);
	html = slurp(path);
	TQ_EQ_INT(count_of(html, "<svg"), 7);
	TQ_EQ_INT(count_of(html, "</svg>"), 7);
	TQ_CHECK(html && !strstr(html, "<?xml"));
	/* KL and 1 - cosine on charts of their own, prompt and generation speed too */
	TQ_CHECK(html && strstr(html, "Accuracy vs bits/weight") && strstr(html, "Quality vs speed") &&
		 strstr(html, "Embedding drift vs bits/weight") && strstr(html, "Choice drift vs bits/weight") &&
		 strstr(html, "Prompt tokens/s vs bits/weight") && strstr(html, "Generation tokens/s vs bits/weight") &&
		 strstr(html, "Accuracy change vs F16"));
	/* text of at least 17 units on a 560-unit-wide chart: 11 px or more on a 390 px phone */
	TQ_CHECK(html && strstr(html, "viewBox=\"0 0 560 440\"") && !strstr(html, "font-size=\"10"));
	/* ids are prefixed per chart, so charts sharing a page do not collide */
	TQ_CHECK(html && !strstr(html, "id='gpPt0'") && strstr(html, "id='c"));
	free(html);

	/* the hostile fixture's labels reach gnuplot escaped and come back as SVG text */
	snprintf(out, sizeof(out), "%s/charts-escape", g_tmp);
	TQ_EQ_INT(qe_report_write_all("tests/data/escape", &o, &err), 0);
	TQ_CHECK(st.n_charts >= 2);
	snprintf(path, sizeof(path), "%s/report.html", out);
	html = slurp(path);
	TQ_CHECK(html && strstr(html, "<text>Q4&lt;script>alert(\"lv\")&lt;/script>&amp;'</text>"));
	free(html);
}

static void test_html_without_gnuplot(void)
{
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_report_stats st;
	struct qe_err err = { 0 };
	char out[400], path[500], *html;

	snprintf(out, sizeof(out), "%s/nognuplot", g_tmp);
	o.out_dir = out;
	o.formats = QE_REPORT_HTML | QE_REPORT_MD;
	o.gnuplot = "/nonexistent/gnuplot";
	o.stats = &st;
	TQ_EQ_INT(qe_report_write_all("tests/data/run1", &o, &err), 0);
	TQ_EQ_INT(st.charts_missing, 1);
	TQ_EQ_INT(st.n_charts, 0);
	TQ_EQ_INT(st.written, QE_REPORT_HTML | QE_REPORT_MD);
	snprintf(path, sizeof(path), "%s/report.html", out);
	html = slurp(path);
	TQ_CHECK(html && strstr(html, "gnuplot is not available") && !strstr(html, "<svg"));
	TQ_CHECK(html && strstr(html, "<table>") && strstr(html, "</html>"));
	free(html);
}

/* Render report.html (run1 and the hostile one) in headless Chromium: the page
 * loads from file:// with no network, the DOM holds the tables and the charts,
 * hostile text stays text, and a screenshot is written. */
static void test_chromium_render(void)
{
	const char *chromium = "/usr/bin/chromium";
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_err err = { 0 };
	char out[400], cmd[3000], path[500], *dom;
	struct stat sb;

	if (access(chromium, X_OK) != 0)
		TQ_SKIP("%s is not installed", chromium);
	if (!have_gnuplot())
		TQ_SKIP("gnuplot is not installed");
	snprintf(out, sizeof(out), "%s/chromium", g_tmp);
	o.out_dir = out;
	o.formats = QE_REPORT_HTML;
	TQ_EQ_INT(qe_report_write_all("tests/data/run1", &o, &err), 0);
#define CHROMIUM_FLAGS "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run " \
	"--disable-background-networking --disable-component-update --disable-sync"
	snprintf(cmd, sizeof(cmd), "timeout 60 %s " CHROMIUM_FLAGS " --user-data-dir=%s/prof1 --screenshot=%s/shot.png "
				   "--window-size=1200,2000 file://%s%s/report.html >/dev/null 2>&1",
		 chromium, g_tmp, out, out[0] == '/' ? "" : "/", out);
	TQ_EQ_INT(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/shot.png", out);
	TQ_CHECK(stat(path, &sb) == 0 && sb.st_size > 20000);
	snprintf(cmd, sizeof(cmd), "timeout 60 %s " CHROMIUM_FLAGS " --user-data-dir=%s/prof2 --dump-dom "
				   "file://%s/report.html >%s/dom.html 2>/dev/null", chromium, g_tmp, out, out);
	TQ_EQ_INT(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/dom.html", out);
	dom = slurp(path);
	TQ_CHECK(dom && count_of(dom, "<table>") >= 10);
	TQ_EQ_INT(count_of(dom, "<svg"), 7);
	TQ_CHECK(dom && strstr(dom, "Q4_K_M: 3.3× smaller"));
	free(dom);

	snprintf(out, sizeof(out), "%s/chromium-escape", g_tmp);
	TQ_EQ_INT(qe_report_write_all("tests/data/escape", &o, &err), 0);
	snprintf(cmd, sizeof(cmd), "timeout 60 %s " CHROMIUM_FLAGS " --user-data-dir=%s/prof3 --dump-dom "
				   "file://%s/report.html >%s/dom.html 2>/dev/null", chromium, g_tmp, out, out);
	TQ_EQ_INT(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/dom.html", out);
	dom = slurp(path);
	/* parsed, the hostile names are text: the DOM has no script element */
	TQ_CHECK(dom && !strstr(dom, "<script") && strstr(dom, "Q4&lt;script&gt;alert(\"lv\")&lt;/script&gt;&amp;'"));
	free(dom);
}

/* A gated run's report.html as a browser shows it, at 1280 px and on a 390 px
 * phone: the decision comes before everything else. QE_UPDATE_SCREENSHOTS=1
 * copies the two pictures to docs/report-1280.png and docs/report-390.png. */
static void test_chromium_screenshots(void)
{
	static const int widths[] = { 1280, 390 };
	const char *chromium = "/usr/bin/chromium";
	char run[400], cmd[3000], path[500], *dom, *dec, *ver, *h2;
	struct stat sb;

	if (access(chromium, X_OK) != 0)
		TQ_SKIP("%s is not installed", chromium);
	if (!have_gnuplot())
		TQ_SKIP("gnuplot is not installed");
	run_copy("run1", run, sizeof(run));
	snprintf(cmd, sizeof(cmd), "gate %s --rules tests/data/gates.json -q", run);
	TQ_EQ_INT(qeval(cmd), 1); /* and the reports are rewritten */
	for (size_t i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd), "timeout 60 %s " CHROMIUM_FLAGS " --hide-scrollbars --user-data-dir=%s/prof-s%zu "
					   "--screenshot=%s/shot-%d.png --window-size=%d,%d file://%s%s/report.html >/dev/null 2>&1",
			 chromium, g_tmp, i, run, widths[i], widths[i], widths[i] > 600 ? 900 : 844, run[0] == '/' ? "" : "/",
			 run);
		TQ_EQ_INT(system(cmd), 0);
		snprintf(path, sizeof(path), "%s/shot-%d.png", run, widths[i]);
		TQ_CHECK(stat(path, &sb) == 0 && sb.st_size > 10000);
		if (getenv("QE_UPDATE_SCREENSHOTS")) {
			snprintf(cmd, sizeof(cmd), "cp %s docs/report-%d.png", path, widths[i]);
			TQ_EQ_INT(system(cmd), 0);
		}
	}
	snprintf(cmd, sizeof(cmd), "timeout 60 %s " CHROMIUM_FLAGS " --user-data-dir=%s/prof-s2 --dump-dom "
				   "file://%s%s/report.html >%s/dom.html 2>/dev/null", chromium, g_tmp, run[0] == '/' ? "" : "/",
		 run, run);
	TQ_EQ_INT(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/dom.html", run);
	dom = slurp(path);
	h2 = dom ? strstr(dom, "<h2") : NULL;
	dec = dom ? strstr(dom, ">Decision</h2>") : NULL;
	ver = dom ? strstr(dom, ">Verdict</h2>") : NULL;
	/* the first section is the decision, and it holds the verdicts in words */
	TQ_CHECK(h2 && dec && dec - h2 < 40 && ver && dec < ver);
	TQ_CHECK(dec && strstr(dec, "FAIL") && strstr(dec, "FAIL") < ver);
	free(dom);
}

static void test_items_csv(void)
{
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_err err = { 0 };
	char out[400], path[500], *csv;

	snprintf(out, sizeof(out), "%s/items", g_tmp);
	o.out_dir = out;
	o.formats = QE_REPORT_CSV;
	o.items = 1;
	TQ_EQ_INT(qe_report_write_all("tests/data/run1", &o, &err), 0);
	snprintf(path, sizeof(path), "%s/items-mmlu.csv", out);
	GOLDEN(path, "run1.items-mmlu.csv");
	snprintf(path, sizeof(path), "%s/items-lcqmc.csv", out);
	csv = slurp(path);
	TQ_CHECK(csv && !strncmp(csv, "level,id,line,label,cos,status\nF16,0,1,1,0.8312,ok\n", 51));
	TQ_EQ_INT(count_lines(csv), 5);
	free(csv);
	/* no records at all: the request fails, naming the run */
	TQ_EQ_INT(qe_report_write_all("tests/data/run2", &o, &err), QE_ENOENT);
	TQ_CHECK(strstr(err.msg, "run2") && strstr(err.msg, "records"));
}

static void test_report_command(void)
{
	char args[1200], run[400], *s;

	run_copy("run1", run, sizeof(run));
	snprintf(args, sizeof(args), "report %s --no-charts", run);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "report.md") && strstr(g_out, "report.html") && strstr(g_out, "summary.csv"));
	snprintf(args, sizeof(args), "%s/report.html", run);
	s = slurp(args);
	TQ_CHECK(s && strstr(s, "charts were turned off"));
	free(s);
	snprintf(args, sizeof(args), "report %s --format all --out %s/all --gnuplot /nonexistent/gp", run, g_tmp);
	TQ_EQ_INT(qeval(args), 0);
	TQ_CHECK(strstr(g_out, "junit.xml") && strstr(g_out, "results.json"));
	TQ_CHECK(strstr(g_errtxt, "no charts") != NULL);
	{ /* the json format is the run's results.json, copied byte for byte (qe_file_copy) */
		char a[600], b[600], *x, *y;
		snprintf(a, sizeof(a), "%s/results.json", run);
		snprintf(b, sizeof(b), "%s/all/results.json", g_tmp);
		x = slurp(a);
		y = slurp(b);
		TQ_CHECK(x && y && !strcmp(x, y));
		free(x);
		free(y);
	}

	TQ_EQ_INT(qeval("report /no/such/run"), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "/no/such/run") != NULL);
	snprintf(args, sizeof(args), "report %s --format md,pdf", run);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_errtxt, "'pdf'") != NULL);
	TQ_EQ_INT(qeval("report"), 2);
	TQ_EQ_INT(qeval("report --help"), 0);
	TQ_CHECK(strstr(g_out, "--format") != NULL);
}

/* results.json with a key given twice (or a NUL that could make two keys one):
 * refused with one line naming the file, never one of the values picked. */
static void test_results_duplicate_key(void)
{
	static const char *const bad[] = {
		"{\"schema\":\"qeval-results\",\"version\":1,\"levels\":[],\"tasks\":{},\"created\":\"a\",\"created\":\"b\"}",
		"{\"schema\":\"qeval-results\",\"version\":1,\"levels\":[{\"name\":\"F16\",\"name\":\"Q8_0\"}],\"tasks\":{}}",
		"{\"schema\":\"qeval-results\",\"version\":1,\"levels\":[],\"tasks\":{},\"x\\u0000y\":1}",
	};
	struct qe_err err = { 0 };
	char args[1200], run[400], path[500], *text, *brace;
	cJSON *res = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (qe_results_parse(bad[i], strlen(bad[i]), "dup.json", &res, &err) != QE_EINPUT || res ||
		    !strstr(err.msg, "dup.json"))
			TQ_FAILF("case %zu: not refused naming the file (%s)", i, err.msg);
		cJSON_Delete(res);
		res = NULL;
	}
	/* through the command: run1's results.json with "created" twice */
	run_copy("run1", run, sizeof(run));
	snprintf(path, sizeof(path), "%s/results.json", run);
	text = slurp(path);
	brace = text ? strchr(text, '{') : NULL;
	if (!brace) {
		TQ_FAILF("cannot read %s", path);
		free(text);
		return;
	}
	{
		FILE *f = fopen(path, "wb");
		if (f) {
			fprintf(f, "{\"created\": \"2000-01-01T00:00:00Z\",%s", brace + 1);
			fclose(f);
		}
	}
	free(text);
	snprintf(args, sizeof(args), "report %s --format md --out %s/dupr", run, g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_EQ_INT(count_lines(g_errtxt), 1);
	TQ_CHECK(strstr(g_errtxt, "results.json: key 'created' given twice in one object") != NULL);
	snprintf(args, sizeof(args), "compare tests/data/run1 %s --out %s/dupc", run, g_tmp);
	TQ_EQ_INT(qeval(args), 2);
	TQ_CHECK(strstr(g_errtxt, "results.json: key 'created' given twice") != NULL);
}

/* Charts are scripts of numbers and escaped single-quoted labels only. */
static void test_chart_script(void)
{
	struct qe_chart_point p[3] = { { 4.5, 40, 35, 45, "it's `x`", NAN, NAN }, { 8.5, NAN, NAN, NAN, NULL, NAN, NAN },
				       { 16, 45, 41, 49, NULL, NAN, NAN } };
	struct qe_chart_series s = { .title = "t'1", .pts = p, .n = 3, .line = 1 };
	struct qe_chart_spec sp = { .title = "a'b", .xlabel = "x", .ylabel = "y", .logx = 1 };
	char *script = qe_chart_script(&sp, &s, 1);

	TQ_CHECK(script && strstr(script, "set title 'a''b'") && strstr(script, "'it''s `x`' at 4.5,40"));
	TQ_CHECK(script && strstr(script, "4.5 40 35 45 4.5 4.5\n16 45 41 49 16 16\n") && !strstr(script, "nan"));
	TQ_CHECK(script && strstr(script, "using 1:2:3:4 with yerrorbars"));
	free(script);
	/* bars on x too (quality vs speed): x - sd, x + sd in columns 5 and 6 */
	p[0].xlo = 4;
	p[0].xhi = 5;
	script = qe_chart_script(&sp, &s, 1);
	TQ_CHECK(script && strstr(script, "4.5 40 35 45 4 5\n") && strstr(script, "using 1:2:5:6:3:4 with xyerrorbars"));
	free(script);
	s.n = 0;
	TQ_CHECK(qe_chart_script(&sp, &s, 1) == NULL);
}

/* A level whose tensors are not mostly its named type says so: stories260K's
 * "Q4_K_M" (q5_0 x32, q8_0 x5, no q4_K: rows of 64 do not fit 256-wide blocks). */
static void test_fallback(void)
{
	static const char lv_json[] =
		"{\"name\": \"Q4_K_M\", \"ftype\": \"Q4_K - Medium\", \"types\": ["
		"{\"type\": \"f32\", \"n_tensors\": 11, \"n_bytes\": 3000},"
		"{\"type\": \"q8_0\", \"n_tensors\": 5, \"n_bytes\": 20000},"
		"{\"type\": \"q5_0\", \"n_tensors\": 32, \"n_bytes\": 180000}]}";
	static const char ok_json[] =
		"{\"ftype\": \"Q4_K_M\", \"types\": [{\"type\": \"q4_K\", \"n_tensors\": 150, \"n_bytes\": 600},"
		"{\"type\": \"q6_K\", \"n_tensors\": 20, \"n_bytes\": 200}, {\"type\": \"f32\", \"n_tensors\": 40, \"n_bytes\": 5000}]}";
	static const char *const names[][2] = {
		{ "Q4_K_M", "q4_K" }, { "Q2_K", "q2_K" }, { "Q3_K_S", "q3_K" }, { "Q6_K", "q6_K" }, { "Q8_0", "q8_0" },
		{ "Q4_0", "q4_0" }, { "IQ2_XXS", "iq2_xxs" }, { "IQ3_M", "iq3_s" }, { "IQ4_NL", "iq4_nl" }, { "F16", "f16" },
		{ "BF16", "bf16" }, { "TQ1_0", "tq1_0" }, { "Q4_K - Medium", "q4_K" }, { "Q2_K - Medium", "q2_K" },
		{ "Q8_0", "q8_0" }, { "IQ3_S mix - 3.66 bpw", "iq3_s" }, { "IQ2_XXS - 2.0625 bpw", "iq2_xxs" },
	};
	cJSON *lv = cJSON_Parse(lv_json), *ok = cJSON_Parse(ok_json);
	struct qe_text t = { 0 };
	char buf[32];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		TQ_EQ_STR(qe_fallback_main_type(names[i][0], buf, sizeof(buf)), names[i][1]);
	TQ_CHECK(qe_fallback_main_type("awq", buf, sizeof(buf)) == NULL);
	TQ_CHECK(qe_fallback_main_type(NULL, buf, sizeof(buf)) == NULL);
	TQ_NEAR(qe_fallback_share(lv, &t), 0.0, 0);
	TQ_EQ_STR(qe_text_str(&t), "q5_0 \xc3\x97" "32, q8_0 \xc3\x97" "5"); /* largest first, f32 left out */
	t.len = 0;
	TQ_EQ_INT(qe_fallback_text(lv, &t), 1);
	TQ_CHECK(strstr(qe_text_str(&t), "0% q4_K: llama.cpp used q5_0 \xc3\x97" "32, q8_0 \xc3\x97" "5 (a K-quant's rows "
					 "must be a multiple of 256 wide") == qe_text_str(&t));
	/* q4_K 600 of 800 weight bytes: mostly its type, nothing said */
	TQ_NEAR(qe_fallback_share(ok, NULL), 0.75, 1e-12);
	t.len = 0;
	TQ_EQ_INT(qe_fallback_text(ok, &t), 0);
	TQ_EQ_INT((int)t.len, 0);
	qe_text_release(&t);
	cJSON_Delete(lv);
	cJSON_Delete(ok);
}

/* lm-evaluation-harness's results layout (as its make_table reads it:
 * results[k] of "metric,filter" keys with "metric_stderr,filter" beside,
 * versions[k] and n-shot[k] for every key of results and groups,
 * higher_is_better[k][metric]) and MTEB's TaskResult (dataset_revision,
 * task_name, mteb_version, scores.<split>[] with main_score, hf_subset and
 * languages, evaluation_time, kg_co2_emissions), checked field by field. */
static int lm_layout_ok(const cJSON *d)
{
	static const char *const sections[] = { "results", "groups", "group_subtasks", "versions", "n-shot",
						"higher_is_better", "n-samples", "config" };
	const cJSON *k, *m;
	int ok = 1;

	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		ok &= cJSON_IsObject(cJSON_GetObjectItem(d, sections[i]));
	ok &= cJSON_IsString(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "config"), "model")) &&
	      cJSON_IsString(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "config"), "model_args"));
	for (int g = 0; g < 2; g++)
		cJSON_ArrayForEach(k, cJSON_GetObjectItem(d, g ? "groups" : "results")) {
			ok &= cJSON_GetObjectItem(cJSON_GetObjectItem(d, "versions"), k->string) != NULL;
			ok &= cJSON_GetObjectItem(cJSON_GetObjectItem(d, "n-shot"), k->string) != NULL;
			cJSON_ArrayForEach(m, k) {
				char se[200];
				const char *comma = strchr(m->string, ',');
				if (!strcmp(m->string, "alias")) {
					ok &= cJSON_IsString(m);
					continue;
				}
				ok &= comma != NULL && cJSON_IsNumber(m);
				if (!comma || strstr(m->string, "_stderr,"))
					continue;
				snprintf(se, sizeof(se), "%.*s_stderr%s", (int)(comma - m->string), m->string, comma);
				ok &= cJSON_IsNumber(cJSON_GetObjectItem(k, se));
			}
		}
	cJSON_ArrayForEach(k, cJSON_GetObjectItem(d, "group_subtasks"))
		cJSON_ArrayForEach(m, k)
			ok &= cJSON_GetObjectItem(cJSON_GetObjectItem(d, "results"), m->valuestring) != NULL;
	return ok;
}

static void test_lmeval_mteb_layout(void)
{
	struct qe_report_opts o = qe_report_default_opts();
	struct qe_err err = { 0 };
	static const char blk_json[] =
		"{\"n\": 12, \"n_scored\": 12, \"n_shots\": 3, \"acc\": 0.5, \"acc_stderr\": 0.15,"
		" \"subjects\": {\"anatomy\": {\"acc\": 0.5, \"acc_stderr\": 0.2, \"n\": 8},"
		"               \"astronomy\": {\"acc\": 0.5, \"acc_stderr\": 0.29, \"n\": 4}}}";
	const char *levels[] = { "F16", "Q8_0", "Q6_K", "Q4_K_M", "Q2_K" };
	const struct qe_view *mmlu = qe_view_find("mmlu");
	char out[400], path[600], *s;
	cJSON *d, *lm, *blk;
	const cJSON *t;

	snprintf(out, sizeof(out), "%s/interop", g_tmp);
	o.out_dir = out;
	o.formats = QE_REPORT_LMEVAL | QE_REPORT_MTEB;
	TQ_EQ_INT(qe_report_write_all("tests/data/run1", &o, &err), 0);
	for (size_t i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/lm_eval/%s.json", out, levels[i]);
		s = slurp(path);
		d = s ? cJSON_Parse(s) : NULL;
		TQ_CHECK(d && lm_layout_ok(d));
		cJSON_Delete(d);
		free(s);
	}
	snprintf(path, sizeof(path), "%s/mteb/Q4_K_M/no_revision_available/lcqmc.json", out);
	s = slurp(path);
	d = s ? cJSON_Parse(s) : NULL;
	t = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "scores"), "test"), 0);
	TQ_CHECK(d && cJSON_IsString(cJSON_GetObjectItem(d, "dataset_revision")) &&
		 cJSON_IsString(cJSON_GetObjectItem(d, "task_name")) && cJSON_IsString(cJSON_GetObjectItem(d, "mteb_version")) &&
		 cJSON_IsNumber(cJSON_GetObjectItem(d, "evaluation_time")) && cJSON_IsNull(cJSON_GetObjectItem(d, "kg_co2_emissions")));
	TQ_CHECK(t && cJSON_IsNumber(cJSON_GetObjectItem(t, "main_score")) && cJSON_IsString(cJSON_GetObjectItem(t, "hf_subset")) &&
		 cJSON_IsArray(cJSON_GetObjectItem(t, "languages")) && cJSON_IsNumber(cJSON_GetObjectItem(t, "cosine_spearman")) &&
		 cJSON_IsNumber(cJSON_GetObjectItem(t, "ndcg_at_10")));
	TQ_NEAR(qe_json_num(t, "main_score", NAN), qe_json_num(t, "cosine_spearman", NAN), 0);
	cJSON_Delete(d);
	free(s);
	snprintf(path, sizeof(path), "%s/mteb/Q4_K_M/no_revision_available/model_meta.json", out);
	TQ_CHECK(access(path, R_OK) == 0);

	/* what a run writes now: the mmlu view's part, a group of its subjects */
	TQ_CHECK(mmlu && mmlu->lm_eval);
	if (!mmlu || !mmlu->lm_eval)
		return;
	lm = cJSON_CreateObject();
	blk = cJSON_Parse(blk_json);
	mmlu->lm_eval(lm, "Q4_K_M", "mmlu", blk);
	d = cJSON_GetObjectItem(lm, "Q4_K_M");
	cJSON_AddItemToObject(d, "config", cJSON_Parse("{\"model\": \"llamacpp\", \"model_args\": \"level=Q4_K_M\"}"));
	TQ_CHECK(lm_layout_ok(d));
	TQ_NEAR(qe_json_num(cJSON_GetObjectItem(d, "n-shot"), "mmlu_anatomy", NAN), 3, 0);
	TQ_NEAR(qe_json_num(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "n-samples"), "mmlu_astronomy"), "original", NAN), 4, 0);
	TQ_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "group_subtasks"), "mmlu")), 2);
	TQ_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(d, "higher_is_better"), "mmlu"), "acc")));
	cJSON_Delete(blk);
	cJSON_Delete(lm);
}

int main(void)
{
	if (tmp_make("t-report"))
		return 1;
	TQ_RUN(test_escapes);
	TQ_RUN(test_metric_paths);
	TQ_RUN(test_golden_md_csv_junit);
	TQ_RUN(test_md_content);
	TQ_RUN(test_html_escaped_and_self_contained);
	TQ_RUN(test_html_charts);
	TQ_RUN(test_html_without_gnuplot);
	TQ_RUN(test_chromium_render);
	TQ_RUN(test_chromium_screenshots);
	TQ_RUN(test_items_csv);
	TQ_RUN(test_report_command);
	TQ_RUN(test_results_duplicate_key);
	TQ_RUN(test_chart_script);
	TQ_RUN(test_fallback);
	TQ_RUN(test_lmeval_mteb_layout);
	tmp_remove();
	return tq_done("t_report");
}
