/* qeval — the report-writer registry and qe_report_write_all. */
#include "reports/report_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/base/opt.h"
#include "harness/base/sys.h"
#include "reports/gate.h"
#include "reports/results.h"

/* The registry: adding a format = one line here (docs/extending.md). */
const struct qe_report_writer *const qe_report_writers[] = {
	&qe_writer_md,
	&qe_writer_html,
	&qe_writer_csv,
	&qe_writer_junit,
	&qe_writer_json,
	&qe_writer_items,
	&qe_writer_lmeval,
	&qe_writer_mteb,
	NULL,
};

struct qe_report_opts qe_report_default_opts(void)
{
	struct qe_report_opts o;

	memset(&o, 0, sizeof(o));
	o.formats = QE_REPORT_DEFAULT;
	o.charts = 1;
	return o;
}

const char *qe_report_format_names(void)
{
	static char names[128];

	if (!names[0]) {
		size_t len = 0;
		for (const struct qe_report_writer *const *w = qe_report_writers; *w; w++)
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? "," : "", (*w)->name);
	}
	return names;
}

int qe_report_formats_parse(const char *list, unsigned *out, struct qe_err *err)
{
	char **items;
	size_t n = qe_opt_split(list, &items);
	unsigned bits = 0;

	if (!items)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct qe_report_writer *const *w;
		if (!strcmp(items[i], "all")) {
			bits |= QE_REPORT_ALL;
			continue;
		}
		for (w = qe_report_writers; *w && strcmp((*w)->name, items[i]); w++)
			;
		if (!*w) {
			int rc = qe_fail(err, QE_EINVAL, "unknown report format '%s' (formats: %s, all)", items[i],
					 qe_report_format_names());
			free(items);
			return rc;
		}
		bits |= (*w)->flag;
	}
	free(items);
	if (!bits)
		return qe_fail(err, QE_EINVAL, "no report format named");
	*out = bits;
	return 0;
}

char *qe_path_join(char *buf, size_t cap, const char *dir, const char *name)
{
	size_t n = dir ? strlen(dir) : 0;

	if (!n)
		snprintf(buf, cap, "%s", name);
	else
		snprintf(buf, cap, "%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", name);
	return buf;
}

char *qe_file_safe(char *buf, size_t cap, const char *name)
{
	size_t i = 0;

	for (; name && name[i] && i + 1 < cap; i++) {
		char c = name[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			 c == '_' || c == '-';
		buf[i] = ok ? c : '_';
	}
	buf[i] = '\0';
	if (i == 0 || buf[0] == '.')
		buf[0] = '_';
	if (i == 0 && cap > 1)
		buf[1] = '\0';
	return buf;
}

int qe_report_write_all(const char *run_dir, const struct qe_report_opts *o, struct qe_err *err)
{
	struct qe_report_opts dflt = qe_report_default_opts();
	struct qe_report_ctx ctx;
	unsigned formats;
	cJSON *res, *gate;
	int rc, first = 0;

	if (!o)
		o = &dflt;
	if (o->stats)
		memset(o->stats, 0, sizeof(*o->stats));
	rc = qe_results_load(run_dir, &res, err);
	if (rc)
		return rc;
	memset(&ctx, 0, sizeof(ctx));
	ctx.run_dir = run_dir;
	ctx.out_dir = o->out_dir && *o->out_dir ? o->out_dir : run_dir;
	ctx.res = res;
	ctx.opts = o;
	if (qe_mkdirs(ctx.out_dir, 0777)) {
		rc = qe_fail(err, QE_EIO, "cannot create '%s': %s", ctx.out_dir, strerror(errno));
		cJSON_Delete(res);
		return rc;
	}
	/* a damaged gate.json fails the reports: shown without it, a failed gate
	 * would look passed (junit failures="0") */
	if ((rc = qe_gate_outcome_load(run_dir, &gate, err)) != 0) {
		cJSON_Delete(res);
		return rc;
	}
	ctx.gate = gate;
	formats = o->formats ? o->formats : QE_REPORT_DEFAULT;
	if (o->items)
		formats |= QE_REPORT_ITEMS;
	for (const struct qe_report_writer *const *w = qe_report_writers; *w; w++) {
		struct qe_err werr = { 0 };
		if (!(formats & (*w)->flag))
			continue;
		rc = (*w)->write(&ctx, &werr);
		if (rc && !first) {
			first = rc;
			qe_fail(err, rc, "%s", werr.msg);
		} else if (!rc && o->stats) {
			o->stats->written |= (*w)->flag;
		}
	}
	cJSON_Delete(gate);
	cJSON_Delete(res);
	return first;
}
