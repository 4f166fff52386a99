/* C-Eval loader: a header row names the columns (id, question, A-D, and
 * answer except in test). Subject descriptions from subject_mapping.json
 * ({"<subject>": [English name, Chinese name, category]}). The Hard flag
 * always comes from the built-in table (the JSON does not carry it). */
#include "datasets/mc_impl.h"

#include <string.h>

static int ceval_meta(const cJSON *json, const char *json_path, const char *name,
		      struct qe_mc_meta *m, struct qe_err *err)
{
	const struct qe_subject_info *tab, *info;
	const cJSON *e = json ? cJSON_GetObjectItemCaseSensitive(json, name) : NULL;
	size_t n;
	int k;

	tab = qe_ceval_subjects(&n);
	info = qe_subject_find(tab, n, name);
	if (info) {
		m->english = info->english;
		m->display = info->chinese;
		m->category = info->category;
		m->hard = info->hard;
	}
	if (e) {
		if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) < 3)
			return qe_fail(err, QE_EINPUT,
				       "%s: entry '%s' is not [English name, Chinese name, category]",
				       json_path, name);
		for (k = 0; k < 3; k++)
			if (!cJSON_IsString(cJSON_GetArrayItem(e, k)))
				return qe_fail(err, QE_EINPUT,
					       "%s: entry '%s' is not [English name, Chinese name, category]",
					       json_path, name);
		m->english = cJSON_GetArrayItem(e, 0)->valuestring;
		m->display = cJSON_GetArrayItem(e, 1)->valuestring;
		m->category = cJSON_GetArrayItem(e, 2)->valuestring;
	}
	return 0;
}

static const struct qe_mc_flavour ceval_flavour = {
	.name = "ceval",
	.default_split = "val",
	.header = 1,
	.json_name = "subject_mapping.json",
	.meta = ceval_meta,
};

int qe_ceval_load(const char *dir, const struct qe_mc_opts *o, struct qe_mc_set *set,
		  struct qe_err *err)
{
	return qe_mc_load_flavour(&ceval_flavour, dir, o, set, err);
}
