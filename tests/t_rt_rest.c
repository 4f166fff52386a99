/* t_rt_rest — the rest embedding runtime against the small embedding service
 * of tests/tq_httpd.h (POST /encode {"text"} -> {"vector", "dimension"}, and
 * the OpenAI /v1/embeddings shape through a request template and a vector
 * path). Expected vectors come from the service's own formula. */
#include "tq.h"
#include "tq_httpd.h"

#include "runtimes/runtime.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#define EMB_TOL 1e-6 /* float32 rows */

static int open_rest(const struct tq_httpd *d, const char *path, const char *extra, struct qe_runtime **rt,
		     struct qe_err *err)
{
	char spec[1024];
	struct qe_level lv;
	struct qe_level_spec ls = { 0 };
	struct qe_rt_params p = qe_rt_default_params();
	cJSON *o;
	int rc;

	snprintf(spec, sizeof(spec), "{\"name\":\"svc\",\"runtime\":\"rest\",\"url\":\"http://127.0.0.1:%d%s\"%s%s}", d->port,
		 path, *extra ? "," : "", extra);
	o = cJSON_Parse(spec);
	ls.obj = o;
	rc = qe_level_spec_prepare(NULL, NULL, &ls, "/tmp", 1, &lv, err);
	if (rc == 0) {
		qe_level_rt_params(&lv, &p);
		rc = qe_runtime_open(&p, rt, err);
	}
	cJSON_Delete(o);
	return rc;
}

/* the rows of n texts against the formula, unit length */
static void check_rows(const char *const *texts, size_t n, int dim, const float *out)
{
	double v[64];

	for (size_t i = 0; i < n; i++) {
		double norm = 0;
		tq_fake_vec(texts[i], dim, v);
		for (int k = 0; k < dim; k++)
			norm += v[k] * v[k];
		for (int k = 0; k < dim; k++)
			TQ_NEAR(out[i * (size_t)dim + (size_t)k], v[k] / sqrt(norm), EMB_TOL);
	}
}

static const char *const texts[5] = { "今天天气很好", "the \"quoted\" text", "back\\slash", "line\nbreak", "x" };

static void test_encode(void)
{
	struct tq_httpd d = { .dim = 12 };
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	struct qe_rt_info info;
	float out[5 * 12];

	TQ_CHECK(tq_httpd_start(&d) == 0);
	TQ_EQ_INT(open_rest(&d, "/encode", "\"label\":\"bge-m3 int8\",\"concurrency\":3", &rt, &err), 0);
	TQ_EQ_INT(rt ? qe_runtime_embed_dim(rt) : 0, 12);
	TQ_EQ_INT(rt ? qe_runtime_embed(rt, texts, 5, 1, out, NULL, &err) : -1, 0);
	check_rows(texts, 5, 12, out);
	if (rt) {
		qe_runtime_describe(rt, &info);
		TQ_EQ_STR(info.ftype, "bge-m3 int8");
		TQ_CHECK(!(qe_runtime_caps(rt) & QE_RT_SCORE));
	}
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

static void test_template_and_path(void)
{
	struct tq_httpd d = { .dim = 8 };
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	float out[5 * 8];

	TQ_CHECK(tq_httpd_start(&d) == 0);
	TQ_EQ_INT(open_rest(&d, "/v1/embeddings",
			    "\"request\":\"{\\\"model\\\": \\\"m\\\", \\\"input\\\": [\\\"{text}\\\"]}\",\"vector\":\"data.0.embedding\"",
			    &rt, &err), 0);
	TQ_EQ_INT(rt ? qe_runtime_embed(rt, texts, 5, 1, out, NULL, &err) : -1, 0);
	check_rows(texts, 5, 8, out);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

static void test_errors(void)
{
	struct tq_httpd d = { .dim = 8 };
	struct qe_runtime *rt = NULL;
	struct qe_err err = { 0 };
	float out[8];

	TQ_CHECK(tq_httpd_start(&d) == 0);
	TQ_EQ_INT(open_rest(&d, "/encode", "\"vector\":\"embedding\"", &rt, &err), 0);
	TQ_EQ_INT(rt ? qe_runtime_embed(rt, texts, 1, 1, out, NULL, &err) : -1, QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "no vector at \"embedding\"") != NULL);
	fprintf(stderr, "  %s\n", err.msg);
	qe_runtime_close(rt);
	rt = NULL;
	TQ_EQ_INT(open_rest(&d, "/encode", "\"request\":\"{}\"", &rt, &err), QE_EINVAL);
	TQ_CHECK(strstr(err.msg, "\"request\" has no {text}") != NULL);
	TQ_EQ_INT(open_rest(&d, "/nothing", "\"retries\":0", &rt, &err), 0);
	TQ_EQ_INT(rt ? qe_runtime_embed(rt, texts, 1, 1, out, NULL, &err) : -1, QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "HTTP 404") != NULL);
	qe_runtime_close(rt);
	tq_httpd_stop(&d);
}

int main(void)
{
	TQ_RUN(test_encode);
	TQ_RUN(test_template_and_path);
	TQ_RUN(test_errors);
	return tq_done("t_rt_rest");
}
