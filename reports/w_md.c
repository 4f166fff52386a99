/* qeval — report.md: the run document as Markdown (GitHub tables). */
#include "reports/report_impl.h"

static int md_write(const struct qe_report_ctx *ctx, struct qe_err *err)
{
	struct qe_text out = { 0 };
	struct qe_doc d;
	char path[4096];
	int rc;

	rc = qe_run_doc_build(ctx->res, ctx->gate, 1, &d, err);
	if (!rc)
		rc = qe_doc_md(&d, &out, err);
	if (!rc)
		rc = qe_text_save(&out, qe_path_join(path, sizeof(path), ctx->out_dir, "report.md"), err);
	qe_doc_release(&d);
	qe_text_release(&out);
	return rc;
}

const struct qe_report_writer qe_writer_md = {
	.name = "md",
	.flag = QE_REPORT_MD,
	.file = "report.md",
	.write = md_write,
};
