/* qeval — the `openai` runtime: a level served over OpenAI-compatible HTTP
 * (llama-server, vLLM, SGLang, LmDeploy's api_server). This file: the level
 * specs, open (the server's facts from /v1/models and /props, the scoring
 * route probed), describe and the HTTP plumbing; scoring, embeddings, the
 * tokenizer and speed are in runtimes/openai_score.c. docs/runtimes.md.
 */
#include "runtimes/openai.h"
#include "harness/base/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OA_TOP_DEFAULT 20       /* vLLM's default --max-logprobs */
#define OA_TOP_MAX 1000
#define OA_INFLIGHT_DEFAULT 4
#define OA_INFLIGHT_MAX 256

/* ======================================================================
 * Level specs
 * ====================================================================== */

/* keys of a level object besides "name" and "runtime" */
static const char *const str_keys[] = { "url", "model", "api_key_env", "label", "route", NULL };
static const char *const num_keys[] = { "bits", "top_logprobs", "concurrency", "timeout_s", "retries", NULL };

static int key_in(const char *k, const char *const *keys)
{
	for (; *keys; keys++)
		if (!strcmp(k, *keys))
			return 1;
	return 0;
}

static int check_obj(const struct qe_level_spec *spec, struct qe_err *err)
{
	const cJSON *k, *r;
	char label[128];

	qe_level_spec_label(spec, label, sizeof(label));
	cJSON_ArrayForEach(k, spec->obj) {
		if (!strcmp(k->string, "name") || !strcmp(k->string, "runtime"))
			continue;
		if (key_in(k->string, str_keys) && !(cJSON_IsString(k) && *k->valuestring))
			return qe_fail(err, QE_EINVAL, "level '%s': \"%s\" is not a non-empty string", label, k->string);
		if (key_in(k->string, num_keys) && !(cJSON_IsNumber(k) && k->valuedouble >= 0))
			return qe_fail(err, QE_EINVAL, "level '%s': \"%s\" is not a number >= 0", label, k->string);
		if (!key_in(k->string, str_keys) && !key_in(k->string, num_keys))
			return qe_fail(err, QE_EINVAL, "level '%s': unknown key '%s' for runtime 'openai'", label, k->string);
	}
	if (!qe_json_str(spec->obj, "url", NULL) || !qe_json_str(spec->obj, "model", NULL))
		return qe_fail(err, QE_EINVAL, "level '%s': runtime 'openai' needs \"url\" and \"model\"", label);
	if (strchr(qe_json_str(spec->obj, "url", ""), '#'))
		return qe_fail(err, QE_EINVAL, "level '%s': \"url\" has a '#' fragment", label);
	r = cJSON_GetObjectItemCaseSensitive(spec->obj, "route");
	if (r && strcmp(r->valuestring, "auto") && strcmp(r->valuestring, "next") && strcmp(r->valuestring, "echo") &&
	    strcmp(r->valuestring, "generate"))
		return qe_fail(err, QE_EINVAL, "level '%s': \"route\" is \"auto\", \"next\", \"echo\" or \"generate\", not \"%s\"",
			       label, r->valuestring);
	return 0;
}

static int oa_level_name(const struct qe_level_spec *spec, char *name, size_t cap, struct qe_err *err)
{
	int rc;

	if (!spec->obj)
		return qe_fail(err, QE_EINVAL, "level '%s': an openai level is an object {\"url\", \"model\", ...}",
			       spec->text);
	if ((rc = check_obj(spec, err)) != 0)
		return rc;
	snprintf(name, cap, "%s", qe_json_str(spec->obj, "model", ""));
	return 0;
}

static int oa_level_prepare(const char *src, const struct qe_level_spec *spec, const char *cache_dir, int n_threads,
			    struct qe_level *out, struct qe_err *err)
{
	cJSON *opts = cJSON_CreateObject();
	const cJSON *k;
	int rc = oa_level_name(spec, out->path, sizeof(out->path), err);

	if (rc == 0) {
		cJSON_ArrayForEach(k, spec->obj)
			if (strcmp(k->string, "name") && strcmp(k->string, "runtime") && strcmp(k->string, "url") &&
			    strcmp(k->string, "model"))
				cJSON_AddItemToObject(opts, k->string, cJSON_Duplicate(k, 0));
		rc = qe_http_url_join(qe_json_str(spec->obj, "url", ""), opts, out->name, out->url, sizeof(out->url), err);
	}
	out->reused = 1;
	cJSON_Delete(opts);
	return rc;
}

/* What identifies an endpoint level: where and which model (never the key). */
static int oa_level_identity(const char *src, const struct qe_level *lv, const char *cache_dir, cJSON *out,
			     struct qe_err *err)
{
	char base[512];
	cJSON *opts;
	int rc = qe_http_url_split(lv->url, base, sizeof(base), &opts, err);

	if (rc)
		return rc;
	cJSON_AddStringToObject(out, "url", base);
	cJSON_AddStringToObject(out, "model", lv->path);
	if (qe_json_str(opts, "label", NULL))
		cJSON_AddStringToObject(out, "label", qe_json_str(opts, "label", ""));
	if (cJSON_GetObjectItemCaseSensitive(opts, "bits"))
		cJSON_AddNumberToObject(out, "bits", qe_json_num(opts, "bits", 0));
	cJSON_Delete(opts);
	return 0;
}

/* ======================================================================
 * HTTP plumbing
 * ====================================================================== */

/* The server's own error message in a reply body ({"error": {"message"}}
 * of OpenAI, llama-server and vLLM; {"error": "..."}, {"detail": "..."},
 * {"message": "..."}), else the body's start. */
static void server_message(const char *body, char *buf, size_t cap)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
	const char *m = cJSON_IsString(e) ? e->valuestring : qe_json_str(e, "message", NULL);

	if (!m)
		m = qe_json_str(j, "detail", qe_json_str(j, "message", NULL));
	snprintf(buf, cap, "%s", m ? m : body ? body : "");
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (strlen(buf) > 160)
		snprintf(buf + 157, cap - 157, "...");
	cJSON_Delete(j);
}

int qe_openai_reply(const struct qe_http_req *r, cJSON **out, struct qe_err *err)
{
	const char *end = NULL;
	char msg[200];

	*out = NULL;
	if (r->rc)
		return qe_fail(err, QE_ERUNTIME, "%s", r->error);
	if (r->status < 200 || r->status > 299) {
		server_message(r->reply, msg, sizeof(msg));
		return qe_fail(err, r->status == 401 || r->status == 403 || r->status == 404 ? QE_ERUNTIME : QE_EINPUT,
			       "%s %s: HTTP %ld: %s", r->body ? "POST" : "GET", r->url, r->status, msg);
	}
	*out = cJSON_ParseWithLengthOpts(r->reply, r->reply_len, &end, 0);
	if (!*out)
		return qe_fail(err, QE_EINPUT, "%s %s: the reply is not JSON (%zu bytes, cut or broken at byte %zu)",
			       r->body ? "POST" : "GET", r->url, r->reply_len,
			       end ? (size_t)(end - r->reply) : r->reply_len);
	return 0;
}

int qe_openai_call(struct oa_ctx *c, const char *url, const char *body, cJSON **out, struct qe_err *err)
{
	struct qe_http_req r = { .url = url, .body = body };
	int rc = qe_http_run(c->http, &r, 1, err);

	if (rc == 0)
		rc = qe_openai_reply(&r, out, err);
	qe_http_req_release(&r);
	return rc;
}

/* ======================================================================
 * Open, close, describe
 * ====================================================================== */

/* root and api URLs from the base: "http://h:1/v1/" -> root "http://h:1", api root + "/v1" */
static void set_urls(struct oa_ctx *c, const char *base)
{
	size_t n;

	snprintf(c->root, sizeof(c->root), "%s", base);
	n = strlen(c->root);
	while (n > 0 && c->root[n - 1] == '/')
		c->root[--n] = '\0';
	if (n >= 3 && !strcmp(c->root + n - 3, "/v1"))
		c->root[n - 3] = '\0';
	snprintf(c->api, sizeof(c->api), "%s/v1", c->root);
}

/* The level's options and the HTTP client; the key from the environment. */
static int ctx_setup(struct oa_ctx *c, const struct qe_rt_params *p, struct qe_err *err)
{
	struct qe_http_opts ho = qe_http_default_opts();
	char base[512];
	const char *env, *key = NULL, *route;
	cJSON *o;
	int rc = qe_http_url_split(p->url, base, sizeof(base), &o, err);

	if (rc)
		return rc;
	set_urls(c, base);
	snprintf(c->model, sizeof(c->model), "%s", p->model ? p->model : "");
	snprintf(c->label, sizeof(c->label), "%s", qe_json_str(o, "label", ""));
	c->bits = qe_json_num(o, "bits", 0);
	c->top = qe_json_int(o, "top_logprobs", OA_TOP_DEFAULT);
	c->top = c->top < 1 ? 1 : c->top > OA_TOP_MAX ? OA_TOP_MAX : c->top;
	c->inflight = qe_json_int(o, "concurrency", OA_INFLIGHT_DEFAULT);
	c->inflight = c->inflight < 1 ? 1 : c->inflight > OA_INFLIGHT_MAX ? OA_INFLIGHT_MAX : c->inflight;
	route = qe_json_str(o, "route", "auto");
	c->want = !strcmp(route, "next") ? OA_ROUTE_NEXT : !strcmp(route, "echo") ? OA_ROUTE_ECHO
		: !strcmp(route, "generate") ? OA_ROUTE_GENERATE : OA_ROUTE_NONE;
	ho.inflight = c->inflight;
	ho.timeout_s = qe_json_num(o, "timeout_s", 0);
	ho.retries = qe_json_int(o, "retries", -1);
	env = qe_json_str(o, "api_key_env", NULL);
	if (env && !((key = getenv(env)) && *key))
		rc = qe_fail(err, QE_EINVAL, "level '%s': the environment variable %s (api_key_env) is not set",
			     c->level, env);
	ho.api_key = key;
	cJSON_Delete(o);
	if (rc == 0 && !(c->http = qe_http_new(&ho)))
		rc = qe_fail(err, QE_ENOMEM, "level '%s': cannot start an HTTP client", c->level);
	return rc;
}

/* /v1/models: the model must be served; facts from its entry (llama-server's
 * "meta", vLLM's "max_model_len", "owned_by"). */
static int read_models(struct oa_ctx *c, struct qe_err *err)
{
	char url[600], names[256] = "";
	const cJSON *m, *meta, *found = NULL;
	cJSON *j = NULL;
	int rc;

	snprintf(url, sizeof(url), "%s/models", c->api);
	if ((rc = qe_openai_call(c, url, NULL, &j, err)) != 0)
		return qe_err_wrap(err, "level '%s'", c->level);
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "data")) {
		const char *id = qe_json_str(m, "id", "");
		if (!strcmp(id, c->model))
			found = m;
		if (strlen(names) + strlen(id) + 4 < sizeof(names))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s'%s'", names[0] ? ", " : "", id);
	}
	if (!found && names[0]) {
		cJSON_Delete(j);
		return qe_fail(err, QE_EINVAL, "level '%s': %s serves %s, not '%s'", c->level, c->api, names, c->model);
	}
	meta = cJSON_GetObjectItemCaseSensitive(found, "meta");
	c->n_vocab = qe_json_int(meta, "n_vocab", 0);
	c->n_params = (uint64_t)qe_json_num(meta, "n_params", 0);
	c->n_ctx = qe_json_int(found, "max_model_len", 0);
	snprintf(c->server, sizeof(c->server), "%s", qe_json_str(found, "owned_by", "openai-compatible server"));
	cJSON_Delete(j);
	return 0;
}

/* llama-server's /props: context per slot and build; other servers have none. */
static void read_props(struct oa_ctx *c)
{
	char url[600];
	cJSON *j = NULL;
	const cJSON *g;

	snprintf(url, sizeof(url), "%s/props", c->root);
	if (qe_openai_call(c, url, NULL, &j, NULL) != 0)
		return;
	g = cJSON_GetObjectItemCaseSensitive(j, "default_generation_settings");
	if (qe_json_num(g, "n_ctx", 0) > 0)
		c->n_ctx = qe_json_int(g, "n_ctx", 0);
	if (qe_json_str(j, "build_info", NULL))
		snprintf(c->server, sizeof(c->server), "llama-server %s", qe_json_str(j, "build_info", ""));
	cJSON_Delete(j);
}

static void oa_close(struct qe_runtime *rt)
{
	struct oa_ctx *c = rt->ctx;

	if (!c)
		return;
	qe_http_free(c->http);
	free(c);
	rt->ctx = NULL;
}

static int oa_open(struct qe_runtime *rt, const struct qe_rt_params *p, struct qe_err *err)
{
	struct oa_ctx *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return qe_fail(err, QE_ENOMEM, "out of memory");
	rt->ctx = c;
	snprintf(c->level, sizeof(c->level), "%s", p->level ? p->level : p->model ? p->model : "?");
	if (!p->url || !*p->url)
		rc = qe_fail(err, QE_EINVAL, "level '%s': runtime 'openai' needs a URL", c->level);
	else
		rc = ctx_setup(c, p, err);
	if (rc == 0)
		rc = read_models(c, err);
	if (rc == 0) {
		read_props(c);
		if (c->n_ctx <= 0 && p->n_ctx > 0)
			c->n_ctx = (int32_t)p->n_ctx;
		rc = qe_openai_probe(c, err);
	}
	if (rc)
		oa_close(rt);
	return rc;
}

static const char *route_name(int route)
{
	return route == OA_ROUTE_NEXT	      ? "next-token log-probabilities"
	       : route == OA_ROUTE_ECHO     ? "echo prompt log-probabilities"
	       : route == OA_ROUTE_GENERATE ? "prompt log-probabilities from /generate"
					    : "none";
}

static void oa_describe(struct qe_runtime *rt, struct qe_rt_info *info)
{
	struct oa_ctx *c = rt->ctx;

	snprintf(info->arch, sizeof(info->arch), "endpoint");
	snprintf(info->ftype, sizeof(info->ftype), "%s", c->label[0] ? c->label : c->model);
	if (c->route == OA_ROUTE_NONE)
		snprintf(info->desc, sizeof(info->desc), "%s at %s; scoring: none (%s)", c->model, c->api, c->route_why);
	else
		snprintf(info->desc, sizeof(info->desc), "%s at %s; scoring: %s%s", c->model, c->api, route_name(c->route),
			 c->route == OA_ROUTE_NEXT ? (c->generate_ok ? " (top-k, /generate fallback)"
						       : c->echo_ok   ? " (top-k, echo fallback)" : " (top-k)") : "");
	snprintf(info->engine_version, sizeof(info->engine_version), "%s", c->server);
	snprintf(info->engine_build, sizeof(info->engine_build), "openai-compatible HTTP, %d request(s) in flight, top %d log-probabilities",
		 c->inflight, c->top);
	snprintf(info->devices, sizeof(info->devices), "server");
	info->n_params = c->n_params;
	info->bpw = c->bits;
	info->n_vocab = c->n_vocab;
	info->n_ctx = c->n_ctx > 0 ? c->n_ctx : 4096;
	info->has_decoder = 1;
}

static const char *oa_version(void)
{
	return "openai-compatible HTTP (libcurl)";
}

const struct qe_runtime_ops qe_openai_ops = {
	.api_version = QE_RUNTIME_API,
	.name = "openai",
	.caps = QE_RT_SCORE | QE_RT_EMBED | QE_RT_SPEED | QE_RT_SERVE | QE_RT_TOPK,
	.open = oa_open,
	.close = oa_close,
	.tokenize = qe_openai_tokenize,
	.score = qe_openai_score,
	.embed_dim = qe_openai_embed_dim,
	.embed = qe_openai_embed,
	.speed = qe_openai_speed,
	.version = oa_version,
	.describe = oa_describe,
	.level_name = oa_level_name,
	.level_prepare = oa_level_prepare,
	.level_identity = oa_level_identity,
	.serve = qe_openai_serve,
	.chunk_topk = qe_openai_chunk_topk,
};
