/* qeval — report.html: the run document as one self-contained page with
 * gnuplot charts inlined as SVG. */
#include "reports/report_impl.h"

#include <stdio.h>

#include "reports/results.h"

static int html_write(const struct qe_report_ctx *ctx, struct qe_err *err)
{
	struct qe_html_opts ho = { ctx->opts->charts, ctx->opts->gnuplot, NULL };
	struct qe_html_result hr = { 0 };
	struct qe_text out = { 0 };
	struct qe_doc d;
	char path[4096], sub[256];
	const char *created = qe_json_str(ctx->res, "created", NULL);
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(ctx->res, "qeval");
	int rc;

	snprintf(sub, sizeof(sub), "results of %s, written by qeval %s", created ? created : "an unknown date",
		 qe_json_str(q, "version", "?"));
	ho.subtitle = sub;
	rc = qe_run_doc_build(ctx->res, ctx->gate, 1, &d, err);
	if (!rc)
		rc = qe_doc_html(&d, &ho, &out, &hr, err);
	if (!rc)
		rc = qe_text_save(&out, qe_path_join(path, sizeof(path), ctx->out_dir, "report.html"), err);
	if (ctx->opts->stats) {
		ctx->opts->stats->n_charts = hr.n_charts;
		ctx->opts->stats->charts_missing = hr.gnuplot_missing;
	}
	qe_doc_release(&d);
	qe_text_release(&out);
	return rc;
}

const struct qe_report_writer qe_writer_html = {
	.name = "html",
	.flag = QE_REPORT_HTML,
	.file = "report.html",
	.write = html_write,
};
