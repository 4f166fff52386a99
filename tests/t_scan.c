/* Tests of the sensitivity scan's plan (harness/cli/scan.c): the groups a
 * model's weights give, the levels (reference, control, one per group and
 * type), each level quantizing only its group, and the mix of a
 * recommendation; on the fixture model, no engine run. */
#include "tq.h"

#include "harness/base/json.h"
#include "harness/cli/scan.h"

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

int main(void)
{
	TQ_RUN(test_groups);
	TQ_RUN(test_levels_and_mix);
	return tq_done("t_scan");
}
