/* MMLU loader: no header; question,A,B,C,D,answer. Subject descriptions
 * from subject_categories.json ({"<subject>": {"subcategory": s,
 * "category": c}}); the engine shortens "other (business, health, misc.)"
 * to "other", as in the built-in table. */
#include "datasets/mc_impl.h"

#include <string.h>

static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static int mmlu_meta(const cJSON *json, const char *json_path, const char *name,
		     struct qe_mc_meta *m, struct qe_err *err)
{
	const struct qe_subject_info *tab, *info;
	const cJSON *e = json ? cJSON_GetObjectItemCaseSensitive(json, name) : NULL;
	size_t n;

	tab = qe_mmlu_subjects(&n);
	info = qe_subject_find(tab, n, name);
	if (info) {
		m->english = info->english;
		m->category = info->category;
		m->subcategory = info->subcategory;
	}
	if (e) {
		const char *c = json_str(e, "category"), *sc = json_str(e, "subcategory");

		if (!cJSON_IsObject(e) || !c)
			return qe_fail(err, QE_EINPUT, "%s: entry '%s' has no string \"category\"",
				       json_path, name);
		m->category = c;
		if (sc)
			m->subcategory = sc;
	}
	m->display = m->english;
	return 0;
}

static const struct qe_mc_flavour mmlu_flavour = {
	.name = "mmlu",
	.default_split = "test",
	.header = 0,
	.json_name = "subject_categories.json",
	.meta = mmlu_meta,
};

int qe_mmlu_load(const char *dir, const struct qe_mc_opts *o, struct qe_mc_set *set,
		 struct qe_err *err)
{
	return qe_mc_load_flavour(&mmlu_flavour, dir, o, set, err);
}
