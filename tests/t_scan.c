/* Tests of the sensitivity scan's plan (harness/cli/scan.c): the groups a
 * model's weights give (per kind, per layer, per range of layers), the
 * levels (reference, control, one per group and type), each level
 * quantizing only its group, and the mix of a recommendation; on the
 * fixture model, no engine run. Then recommend's prediction step on a
 * written scan: every predicted number against the sum computed here, and
 * the greedy mix against the best of every mix tried one by one. */
#include "tq.h"

#include "harness/base/json.h"
#include "harness/cli/scan.h"
#include "reports/results.h"

#include <math.h>

#include <regex.h>

static void fixture(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", tq_fixtures(), name);
}

static int find(const struct qe_scan *s, const char *name)
{
	for (int i = 0; i < s->n_g; i++)
		if (!strcmp(s->g[i].name, name))
			return i;
	return -1;
}

/* 1 when pattern (POSIX extended: the scan's patterns mean the same there)
 * is found in name */
static int matches(const char *pattern, const char *name)
{
	regex_t re;
	int m;

	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		return -1;
	m = regexec(&re, name, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

static void test_groups(void)
{
	static struct qe_scan s;
	struct qe_err err = { 0 };
	char m[512];
	int q;

	fixture(m, sizeof(m), "tiny-llama-f16.gguf");
	memset(&s, 0, sizeof(s));
	TQ_EQ_INT(qe_scan_groups(m, "kind", &s, &err), 0);
	TQ_EQ_INT(s.n_g, 9); /* token_embd, output, 7 kinds per layer */
	TQ_EQ_STR(s.rest, "f16");
	TQ_EQ_STR(s.ref_name, "F16");
	q = find(&s, "attn_q");
	TQ_CHECK(q >= 0 && find(&s, "token_embd") >= 0 && find(&s, "output") >= 0 && find(&s, "attn_norm") < 0);
	if (q < 0)
		return;
	TQ_NEAR(s.g[q].n_elements, 2.0 * 256 * 256, 0);
	TQ_EQ_INT(matches(s.g[q].pattern, "blk.1.attn_q.weight"), 1);
	TQ_EQ_INT(matches(s.g[q].pattern, "blk.1.attn_qx.weight"), 0);
	TQ_EQ_INT(matches(s.g[find(&s, "output")].pattern, "blk.0.attn_output.weight"), 0);
	memset(&s, 0, sizeof(s));
	TQ_EQ_INT(qe_scan_groups(m, "layer", &s, &err), 0);
	TQ_EQ_INT(s.n_g, 2);
	TQ_EQ_INT(matches(s.g[0].pattern, "blk.0.ffn_up.weight"), 1);
	TQ_EQ_INT(matches(s.g[0].pattern, "blk.10.ffn_up.weight"), 0);
	TQ_EQ_INT(qe_scan_groups(m, "rows", &s, &err), QE_EINVAL);
	TQ_EQ_INT(qe_scan_groups(m, "layers:0", &s, &err), QE_EINVAL);
	TQ_EQ_INT(qe_scan_groups(m, "kind,layers:", &s, &err), QE_EINVAL);
	TQ_EQ_INT(qe_scan_groups(m, "layers:2x", &s, &err), QE_EINVAL);
}

/* layers:K: one group per K consecutive layers, the last one shorter */
static void test_layer_ranges(void)
{
	static struct qe_scan s, one;
	struct qe_err err = { 0 };
	char m[512];

	fixture(m, sizeof(m), "tiny-llama-f16.gguf"); /* 2 layers */
	memset(&s, 0, sizeof(s));
	TQ_EQ_INT(qe_scan_groups(m, "layers:2", &s, &err), 0);
	TQ_EQ_INT(s.n_g, 1);
	TQ_EQ_STR(s.g[0].name, "blk.0-1");
	TQ_EQ_INT(matches(s.g[0].pattern, "blk.0.ffn_up.weight"), 1);
	TQ_EQ_INT(matches(s.g[0].pattern, "blk.1.attn_q.weight"), 1);
	TQ_EQ_INT(matches(s.g[0].pattern, "blk.10.attn_q.weight"), 0);
	TQ_EQ_INT(matches(s.g[0].pattern, "token_embd.weight"), 0);
	memset(&one, 0, sizeof(one));
	TQ_EQ_INT(qe_scan_groups(m, "layer", &one, &err), 0);
	TQ_NEAR(s.g[0].n_elements, one.g[0].n_elements + one.g[1].n_elements, 0);
	memset(&s, 0, sizeof(s));
	TQ_EQ_INT(qe_scan_groups(m, "layers:3", &s, &err), 0); /* more than there are: one group, to the last layer */
	TQ_EQ_INT(s.n_g, 1);
	TQ_EQ_STR(s.g[0].name, "blk.0-1");
	memset(&s, 0, sizeof(s));
	TQ_EQ_INT(qe_scan_groups(m, "layers:1", &s, &err), 0); /* as "layer" */
	TQ_EQ_INT(s.n_g, 2);
	TQ_EQ_STR(s.g[1].name, "blk.1");
	TQ_EQ_STR(s.g[1].pattern, one.g[1].pattern);
	memset(&s, 0, sizeof(s));
	TQ_EQ_INT(qe_scan_groups(m, "kind,layers:2", &s, &err), 0);
	TQ_EQ_INT(s.n_g, 9 + 1);
}

static void test_levels_and_mix(void)
{
	static struct qe_scan s, back;
	struct qe_err err = { 0 };
	cJSON *lv, *sj, *mix;
	const cJSON *l3, *tt;
	char m[512], name[64];
	int types[16];

	fixture(m, sizeof(m), "tiny-llama-f16.gguf");
	memset(&s, 0, sizeof(s));
	TQ_EQ_INT(qe_scan_types("q4_K,Q2_K", &s, &err), 0);
	TQ_EQ_STR(s.types[1], "q2_K");
	TQ_EQ_INT(qe_scan_types("q4_K,q9", &s, &err), QE_EINVAL);
	TQ_EQ_INT(qe_scan_types("q4_K,Q2_K", &s, &err), 0);
	TQ_EQ_INT(qe_scan_groups(m, "kind", &s, &err), 0);
	lv = qe_scan_levels(&s);
	TQ_EQ_INT(cJSON_GetArraySize(lv), 2 + 9 * 2);
	TQ_EQ_STR(cJSON_GetArrayItem(lv, 0)->valuestring, "F16");
	TQ_EQ_STR(qe_json_str(cJSON_GetArrayItem(lv, 1), "name", ""), "control");
	l3 = cJSON_GetArrayItem(lv, 3); /* the first group at the second type */
	qe_scan_level_name(&s, 0, 1, name, sizeof(name));
	TQ_EQ_STR(qe_json_str(l3, "name", ""), name);
	tt = cJSON_GetObjectItemCaseSensitive(l3, "tensor_types");
	TQ_EQ_INT(cJSON_GetArraySize(tt), 2); /* the group at its type, then everything else as it was */
	TQ_EQ_STR(cJSON_GetArrayItem(cJSON_GetArrayItem(tt, 1), 0)->valuestring, ".");
	TQ_EQ_STR(cJSON_GetArrayItem(cJSON_GetArrayItem(tt, 1), 1)->valuestring, "f16");
	for (int g = 0; g < s.n_g; g++)
		types[g] = g % 2 ? 0 : -1;
	mix = qe_scan_mix_level(&s, "mix", types);
	TQ_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(mix, "tensor_types")), s.n_g / 2 + 1);
	sj = qe_scan_to_json(&s);
	TQ_EQ_INT(qe_scan_from_json(sj, &back, &err), 0);
	TQ_EQ_INT(back.n_g, s.n_g);
	TQ_EQ_STR(back.g[4].pattern, s.g[4].pattern);
	cJSON_Delete(sj);
	cJSON_Delete(mix);
	cJSON_Delete(lv);
}

/* ---- recommend's prediction ------------------------------------------------ */

#define NG 3
#define NT 2
/* the written scan: bits/weight each group saves at each type, the mean
 * choice KL and the accuracy its level shows; the control's */
static const double saved[NG][NT] = { { 1.0, 3.0 }, { 0.5, 1.5 }, { 0.25, 0.75 } };
static const double kl[NG][NT] = { { 0.001, 0.050 }, { 0.002, 0.004 }, { 0.010, 0.020 } };
static const double acc[NG][NT] = { { 0.60, 0.40 }, { 0.58, 0.57 }, { 0.60, 0.55 } };
#define CTRL_KL 0.0001
#define CTRL_ACC 0.61

static cJSON *level_block(double a, double k)
{
	cJSON *b = cJSON_CreateObject(), *v = cJSON_AddObjectToObject(b, "vs_ref");

	cJSON_AddNumberToObject(b, "acc", a);
	cJSON_AddNumberToObject(b, "n", 100);
	cJSON_AddNumberToObject(v, "kl_mean", k);
	return b;
}

static void add_level(cJSON *levels, cJSON *blocks, const char *name, double bpw, double a, double k)
{
	cJSON *l = cJSON_CreateObject();

	cJSON_AddStringToObject(l, "name", name);
	cJSON_AddNumberToObject(l, "bpw", bpw);
	cJSON_AddItemToArray(levels, l);
	cJSON_AddItemToObject(blocks, name, level_block(a, k));
}

/* the scan (groups g0 .. g2, types q6_K, q3_K) and its results.json */
static cJSON *written_scan(struct qe_scan *s)
{
	cJSON *res = cJSON_CreateObject(), *levels, *tasks, *mmlu, *blocks;
	char name[64];

	memset(s, 0, sizeof(*s));
	snprintf(s->ref_name, sizeof(s->ref_name), "F16");
	snprintf(s->types[0], sizeof(s->types[0]), "q6_K");
	snprintf(s->types[1], sizeof(s->types[1]), "q3_K");
	s->n_types = NT;
	for (int g = 0; g < NG; g++) {
		snprintf(s->g[g].name, sizeof(s->g[g].name), "g%d", g);
		snprintf(s->g[g].pattern, sizeof(s->g[g].pattern), "^g%d$", g);
	}
	s->n_g = NG;
	cJSON_AddStringToObject(res, "schema", "qeval-results");
	cJSON_AddStringToObject(res, "reference", "F16");
	levels = cJSON_AddArrayToObject(res, "levels");
	tasks = cJSON_AddObjectToObject(res, "tasks");
	mmlu = cJSON_AddObjectToObject(tasks, "mmlu");
	cJSON_AddStringToObject(mmlu, "task", "mmlu");
	blocks = cJSON_AddObjectToObject(mmlu, "levels");
	add_level(levels, blocks, "F16", 16, 0.62, 0);
	add_level(levels, blocks, "control", 16, CTRL_ACC, CTRL_KL);
	for (int g = 0; g < NG; g++)
		for (int t = 0; t < NT; t++) {
			qe_scan_level_name(s, g, t, name, sizeof(name));
			add_level(levels, blocks, name, 16 - saved[g][t], acc[g][t], kl[g][t]);
		}
	return res;
}

/* types[] for mix number k of the 3^NG (each group: -1, 0 or 1) */
static void mix_of(int k, int *types)
{
	for (int g = 0; g < NG; g++, k /= 3)
		types[g] = k % 3 - 1;
}

static void test_predict(void)
{
	static struct qe_scan s;
	cJSON *res = written_scan(&s);
	const char *what;
	int types[NG];

	/* the drift the scan ranks by is the MMLU view's mean KL */
	TQ_NEAR(qe_scan_drift(res, "g1@q3_K", &what), 0.004, 0);
	for (int k = 0; k < 27; k++) {
		double bpw = 16, a = CTRL_ACC, d = CTRL_KL;
		cJSON *p;
		const cJSON *lv, *blk;
		mix_of(k, types);
		for (int g = 0; g < NG; g++)
			if (types[g] >= 0) {
				bpw -= saved[g][types[g]];
				a += acc[g][types[g]] - CTRL_ACC;
				d += kl[g][types[g]] - CTRL_KL;
			}
		p = qe_scan_predict(res, &s, types, "mix");
		lv = qe_results_level(p, "mix");
		blk = qe_results_block(p, "mmlu", "mix");
		TQ_CHECK(lv && blk && qe_results_level(p, "F16") && !qe_results_level(p, "control"));
		TQ_NEAR(qe_json_num(lv, "bpw", NAN), bpw, 1e-12);
		TQ_NEAR(qe_json_num(blk, "acc", NAN), a, 1e-12);
		TQ_NEAR(qe_json_num(cJSON_GetObjectItemCaseSensitive(blk, "vs_ref"), "kl_mean", NAN), d, 1e-12);
		TQ_NEAR(qe_json_num(blk, "n", NAN), 100, 0); /* a count moves by nothing */
		cJSON_Delete(p);
	}
	cJSON_Delete(res);
}

static cJSON *kl_rule(double max)
{
	char text[300];

	snprintf(text, sizeof(text), "{\"version\": 1, \"rules\": [{\"name\": \"KL\", \"task\": \"mmlu\", "
		 "\"metric\": \"vs_ref.kl_mean\", \"op\": \"<=\", \"value\": %.17g, \"levels\": \"*\"}]}", max);
	return cJSON_Parse(text);
}

/* the greedy mix against every mix: it passes, and here (the moves' gains
 * fall as the mix fills) it is the passing mix with the fewest bits/weight
 * that the greedy's moves can reach: g0 at q6_K, g1 at q3_K, g2 at q6_K */
static void test_choose(void)
{
	static struct qe_scan s;
	cJSON *res = written_scan(&s), *rules = kl_rule(0.02);
	int types[NG], best[NG] = { -2, -2, -2 };
	double bpw = NAN, best_bpw = INFINITY;

	for (int k = 0; k < 27; k++) {
		double b = 16, d = CTRL_KL;
		mix_of(k, types);
		for (int g = 0; g < NG; g++)
			if (types[g] >= 0) {
				b -= saved[g][types[g]];
				d += kl[g][types[g]] - CTRL_KL;
			}
		if (d <= 0.02 && b < best_bpw) {
			best_bpw = b;
			memcpy(best, types, sizeof(best));
		}
	}
	TQ_CHECK(best[0] == 0 && best[1] == 1 && best[2] == 0);
	TQ_EQ_INT(qe_scan_choose(res, rules, &s, types, "mix", &bpw), 1);
	TQ_CHECK(types[0] == best[0] && types[1] == best[1] && types[2] == best[2]);
	TQ_NEAR(bpw, best_bpw, 1e-12);
	cJSON_Delete(rules);
	/* a rule the control itself fails: no mix */
	rules = kl_rule(CTRL_KL / 2);
	TQ_EQ_INT(qe_scan_choose(res, rules, &s, types, "mix", &bpw), 0);
	cJSON_Delete(rules);
	/* a rule everything passes: every group at its lowest type */
	rules = kl_rule(1);
	TQ_EQ_INT(qe_scan_choose(res, rules, &s, types, "mix", &bpw), 1);
	TQ_CHECK(types[0] == 1 && types[1] == 1 && types[2] == 1);
	TQ_NEAR(bpw, 16 - 3.0 - 1.5 - 0.75, 1e-12);
	cJSON_Delete(rules);
	cJSON_Delete(res);
}

int main(void)
{
	TQ_RUN(test_groups);
	TQ_RUN(test_layer_ranges);
	TQ_RUN(test_predict);
	TQ_RUN(test_choose);
	TQ_RUN(test_levels_and_mix);
	return tq_done("t_scan");
}
