/* qeval — the JSON format is results.json itself: copied as it is when the
 * reports go to another folder, nothing to do when they go to the run's. */
#include "reports/report_impl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int json_write(const struct qe_report_ctx *ctx, struct qe_err *err)
{
	char src[4096], dst[4096];

	qe_path_join(src, sizeof(src), ctx->run_dir, "results.json");
	qe_path_join(dst, sizeof(dst), ctx->out_dir, "results.json");
	if (same_file(src, dst))
		return 0;
	return qe_file_copy(src, dst, err);
}

const struct qe_report_writer qe_writer_json = {
	.name = "json",
	.flag = QE_REPORT_JSON,
	.file = "results.json",
	.write = json_write,
};
