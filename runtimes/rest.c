/* qeval — the `rest` runtime: sentence embeddings from a custom HTTP service,
 * one text per request (docs/runtimes.md).
 *
 * A level: {name, runtime: "rest", url, request?, vector?, api_key_env?,
 * label?, concurrency?, timeout_s?, retries?}
 *   url      where each text is POSTed ("http://127.0.0.1:9000/encode")
 *   request  the body, JSON text in which every {text} is replaced by the
 *            text JSON-escaped (without quotes); default {"text": "{text}"}
 *   vector   where the vector is in the reply: keys and array indexes joined
 *            by '.' ("vector", "data.0.embedding", "result.embedding");
 *            default "vector"
 * As for the openai runtime, the options ride in the URL's fragment
 * (qe_http_url_split) and the key is read from the environment at open.
 */
#include "runtimes/runtime_impl.h"
#include "runtimes/http.h"
#include "harness/base/json.h"
#include "harness/base/text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REST_DEFAULT_REQUEST "{\"text\": \"{text}\"}"
#define REST_DEFAULT_VECTOR "vector"

struct rest_ctx {
	char url[512];
	char request[1024];
	char vector[256];
	char label[128];
	char level[64];
	size_t dim;          /* 0 = not yet known */
	struct qe_http *http;
};

static const char *const str_keys[] = { "url", "request", "vector", "api_key_env", "label", NULL };
static const char *const num_keys[] = { "concurrency", "timeout_s", "retries", NULL };

static int in_keys(const char *k, const char *const *keys)
{
	for (; *keys; keys++)
		if (!strcmp(k, *keys))
			return 1;
	return 0;
}

static int rest_level_name(const struct qe_level_spec *spec, char *name, size_t cap, struct qe_err *err)
{
	const cJSON *k;
	char label[128];

	if (!spec->obj)
		return qe_fail(err, QE_EINVAL, "level '%s': a rest level is an object {\"url\", ...}", spec->text);
	qe_level_spec_label(spec, label, sizeof(label));
	cJSON_ArrayForEach(k, spec->obj) {
		if (!strcmp(k->string, "name") || !strcmp(k->string, "runtime"))
			continue;
		if (!in_keys(k->string, str_keys) && !in_keys(k->string, num_keys))
			return qe_fail(err, QE_EINVAL, "level '%s': unknown key '%s' for runtime 'rest'", label, k->string);
		if (in_keys(k->string, str_keys) ? !(cJSON_IsString(k) && *k->valuestring)
						 : !(cJSON_IsNumber(k) && k->valuedouble >= 0))
			return qe_fail(err, QE_EINVAL, "level '%s': \"%s\" is not a %s", label, k->string,
				       in_keys(k->string, str_keys) ? "non-empty string" : "number >= 0");
	}
	if (!qe_json_str(spec->obj, "url", NULL) || strchr(qe_json_str(spec->obj, "url", ""), '#'))
		return qe_fail(err, QE_EINVAL, "level '%s': runtime 'rest' needs a \"url\" without '#'", label);
	if (!strstr(qe_json_str(spec->obj, "request", REST_DEFAULT_REQUEST), "{text}"))
		return qe_fail(err, QE_EINVAL, "level '%s': \"request\" has no {text}", label);
	snprintf(name, cap, "%s", "rest");
	return 0;
}

static int rest_level_prepare(const char *src, const struct qe_level_spec *spec, const char *cache_dir, int n_threads,
			      struct qe_level *out, struct qe_err *err)
{
	cJSON *opts = cJSON_Duplicate(spec->obj, 1);
	int rc = rest_level_name(spec, out->path, sizeof(out->path), err);

	snprintf(out->path, sizeof(out->path), "%s", qe_json_str(spec->obj, "url", ""));
	cJSON_DeleteItemFromObjectCaseSensitive(opts, "name");
	cJSON_DeleteItemFromObjectCaseSensitive(opts, "runtime");
	cJSON_DeleteItemFromObjectCaseSensitive(opts, "url");
	if (rc == 0)
		rc = qe_http_url_join(out->path, opts, out->name, out->url, sizeof(out->url), err);
	out->reused = 1;
	cJSON_Delete(opts);
	return rc;
}

static int rest_level_identity(const char *src, const struct qe_level *lv, const char *cache_dir, cJSON *out,
			       struct qe_err *err)
{
	char base[512];
	cJSON *o;
	int rc = qe_http_url_split(lv->url, base, sizeof(base), &o, err);

	if (rc)
		return rc;
	cJSON_AddStringToObject(out, "url", base);
	cJSON_AddStringToObject(out, "request", qe_json_str(o, "request", REST_DEFAULT_REQUEST));
	cJSON_AddStringToObject(out, "vector", qe_json_str(o, "vector", REST_DEFAULT_VECTOR));
	cJSON_Delete(o);
	return 0;
}

static void rest_close(struct qe_runtime *rt)
{
	struct rest_ctx *c = rt->ctx;

	if (c)
		qe_http_free(c->http);
	free(c);
	rt->ctx = NULL;
}

static int rest_open(struct qe_runtime *rt, const struct qe_rt_params *p, struct qe_err *err)
{
	struct rest_ctx *c = calloc(1, sizeof(*c));
	struct qe_http_opts ho = qe_http_default_opts();
	const char *env, *key = NULL;
	cJSON *o = NULL;
	int rc;

	if (!c)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	rt->ctx = c;
	snprintf(c->level, sizeof(c->level), "%s", p->level ? p->level : "rest");
	rc = qe_http_url_split(p->url ? p->url : p->model, c->url, sizeof(c->url), &o, err);
	if (rc == 0 && !c->url[0])
		rc = qe_fail(err, QE_EINVAL, "level '%s': runtime 'rest' needs a URL", c->level);
	snprintf(c->request, sizeof(c->request), "%s", qe_json_str(o, "request", REST_DEFAULT_REQUEST));
	snprintf(c->vector, sizeof(c->vector), "%s", qe_json_str(o, "vector", REST_DEFAULT_VECTOR));
	snprintf(c->label, sizeof(c->label), "%s", qe_json_str(o, "label", ""));
	ho.inflight = qe_json_int(o, "concurrency", 4);
	ho.timeout_s = qe_json_num(o, "timeout_s", 0);
	ho.retries = qe_json_int(o, "retries", -1);
	env = qe_json_str(o, "api_key_env", NULL);
	if (rc == 0 && env && !((key = getenv(env)) && *key))
		rc = qe_fail(err, QE_EINVAL, "level '%s': the environment variable %s (api_key_env) is not set", c->level, env);
	ho.api_key = key;
	if (rc == 0 && !(c->http = qe_http_new(&ho)))
		rc = qe_fail(err, QE_ENOMEM, "level '%s': cannot start an HTTP client", c->level);
	cJSON_Delete(o);
	if (rc)
		rest_close(rt);
	return rc;
}

/* The request body of one text: the template with {text} replaced. */
static char *rest_body(const struct rest_ctx *c, const char *text)
{
	cJSON *s = cJSON_CreateString(text);
	char *q = cJSON_PrintUnformatted(s);
	struct qe_text out = { 0 };
	const char *p = c->request, *h;

	cJSON_Delete(s);
	if (!q)
		return NULL;
	q[strlen(q) - 1] = '\0'; /* the escaped text without its quotes */
	while ((h = strstr(p, "{text}")) != NULL) {
		qe_text_putn(&out, p, (size_t)(h - p));
		qe_text_put(&out, q + 1);
		p = h + 6;
	}
	qe_text_put(&out, p);
	free(q);
	return qe_text_take(&out);
}

/* The value at a dotted path ("data.0.embedding") in j, NULL when none. */
static const cJSON *at_path(const cJSON *j, const char *path)
{
	char key[256];

	while (j && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		if (cJSON_IsArray(j) && isdigit((unsigned char)key[0]))
			j = cJSON_GetArrayItem(j, atoi(key));
		else
			j = cJSON_GetObjectItemCaseSensitive(j, key);
		path += n + (path[n] == '.');
	}
	return j;
}

/* One reply's vector into row (when not NULL), checking its width. */
static int rest_row(struct rest_ctx *c, const struct qe_http_req *h, size_t i, int normalize, float *row,
		    struct qe_err *err)
{
	const cJSON *v, *x;
	cJSON *j = NULL;
	size_t m, k = 0;
	double norm = 0;
	int rc = 0;

	if (h->rc)
		return qe_fail(err, QE_ERUNTIME, "level '%s': %s", c->level, h->error);
	if (h->status < 200 || h->status > 299)
		return qe_fail(err, QE_EINPUT, "level '%s': text %zu: POST %s: HTTP %ld", c->level, i, c->url, h->status);
	j = cJSON_ParseWithLength(h->reply, h->reply_len);
	v = at_path(j, c->vector);
	m = (size_t)cJSON_GetArraySize(v);
	if (!j)
		rc = qe_fail(err, QE_EINPUT, "level '%s': text %zu: the reply of %s is not JSON", c->level, i, c->url);
	else if (!cJSON_IsArray(v) || m == 0)
		rc = qe_fail(err, QE_EINPUT, "level '%s': text %zu: no vector at \"%s\" in the reply of %s", c->level, i,
			     c->vector, c->url);
	else if (c->dim && m != c->dim)
		rc = qe_fail(err, QE_EINPUT, "level '%s': text %zu: a vector of %zu numbers, not %zu", c->level, i, m, c->dim);
	if (rc == 0)
		c->dim = m;
	if (rc == 0 && row) {
		cJSON_ArrayForEach(x, v) {
			row[k++] = (float)x->valuedouble;
			norm += x->valuedouble * x->valuedouble;
		}
	}
	for (k = 0; rc == 0 && row && normalize && norm > 0 && k < m; k++)
		row[k] = (float)(row[k] / sqrt(norm));
	cJSON_Delete(j);
	return rc;
}

static int rest_embed(struct qe_runtime *rt, const char *const *texts, size_t n, int normalize, float *out,
		      size_t *n_truncated, struct qe_err *err)
{
	struct rest_ctx *c = rt->ctx;
	struct qe_http_req *h = calloc(n ? n : 1, sizeof(*h));
	char **bodies = calloc(n ? n : 1, sizeof(char *));
	int rc = h && bodies ? 0 : qe_fail(err, QE_ENOMEM, "out of memory");

	for (size_t i = 0; rc == 0 && i < n; i++) {
		bodies[i] = rest_body(c, texts[i]);
		h[i].url = c->url;
		h[i].body = bodies[i];
		if (!bodies[i])
			rc = qe_fail(err, QE_ENOMEM, "out of memory");
	}
	if (rc == 0)
		rc = qe_http_run(c->http, h, n, err);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = rest_row(c, &h[i], i, normalize, out ? out + i * c->dim : NULL, err);
	for (size_t i = 0; h && bodies && i < n; i++) {
		qe_http_req_release(&h[i]);
		free(bodies[i]);
	}
	free(h);
	free(bodies);
	return rc;
}

static size_t rest_embed_dim(struct qe_runtime *rt)
{
	struct rest_ctx *c = rt->ctx;
	const char *probe = "dimension";

	if (c->dim == 0)
		rest_embed(rt, &probe, 1, 0, NULL, NULL, NULL);
	return c->dim;
}

static void rest_describe(struct qe_runtime *rt, struct qe_rt_info *info)
{
	struct rest_ctx *c = rt->ctx;

	snprintf(info->arch, sizeof(info->arch), "endpoint");
	snprintf(info->ftype, sizeof(info->ftype), "%s", c->label[0] ? c->label : "rest");
	snprintf(info->desc, sizeof(info->desc), "POST %s, vector at \"%s\"", c->url, c->vector);
	snprintf(info->engine_version, sizeof(info->engine_version), "custom HTTP embedding service");
	snprintf(info->devices, sizeof(info->devices), "server");
	info->n_embd = (int32_t)c->dim;
	info->has_encoder = 1;
}

static const char *rest_version(void)
{
	return "custom HTTP embedding service (libcurl)";
}

const struct qe_runtime_ops qe_rest_ops = {
	.api_version = QE_RUNTIME_API,
	.name = "rest",
	.caps = QE_RT_EMBED,
	.open = rest_open,
	.close = rest_close,
	.embed_dim = rest_embed_dim,
	.embed = rest_embed,
	.version = rest_version,
	.describe = rest_describe,
	.level_name = rest_level_name,
	.level_prepare = rest_level_prepare,
	.level_identity = rest_level_identity,
};
