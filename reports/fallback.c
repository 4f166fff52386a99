/* qeval — a level's named type against its tensors (reports/fallback.h). */
#include "reports/fallback.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/base/json.h"
#include "reports/fmt.h"

/* file types whose main tensor type is not their name with the size suffix dropped */
static const char *const renamed[][2] = {
	{ "IQ2_M", "iq2_s" }, { "IQ3_M", "iq3_s" }, { "IQ3_XS", "iq3_s" }, { "MXFP4_MOE", "mxfp4" },
};

const char *qe_fallback_main_type(const char *ftype_in, char *buf, size_t cap)
{
	size_t n, k = 0;
	const char *end;
	char ftype[64];

	if (!ftype_in || !*ftype_in || cap < 16)
		return NULL;
	/* llama.cpp describes a file's type as "Q4_K - Medium", "IQ3_S mix - 3.66 bpw": the first word names it */
	snprintf(ftype, sizeof(ftype), "%.*s", (int)strcspn(ftype_in, " "), ftype_in);
	if (!strncmp(ftype_in, "IQ3_S mix", 9))
		return snprintf(buf, cap, "iq3_s"), buf;
	for (size_t i = 0; i < sizeof(renamed) / sizeof(renamed[0]); i++)
		if (!strcmp(ftype, renamed[i][0]))
			return snprintf(buf, cap, "%s", renamed[i][1]), buf;
	n = strlen(ftype);
	/* K-quants: Q<n>_K, Q<n>_K_S/_M/_L -> q<n>_K */
	if (ftype[0] == 'Q' && isdigit((unsigned char)ftype[1]) && !strncmp(ftype + 2, "_K", 2) &&
	    (n == 4 || (n == 6 && ftype[4] == '_' && strchr("SML", ftype[5])))) {
		snprintf(buf, cap, "q%c_K", ftype[1]);
		return buf;
	}
	/* the rest are their own lower-cased names: Q8_0, IQ2_XXS, IQ4_NL, TQ1_0, F16, BF16 */
	if (!(ftype[0] == 'Q' || ftype[0] == 'F' || !strncmp(ftype, "BF", 2) || !strncmp(ftype, "IQ", 2) ||
	      !strncmp(ftype, "TQ", 2)))
		return NULL;
	for (end = ftype; *end && k + 1 < cap; end++) {
		if (!isalnum((unsigned char)*end) && *end != '_')
			return NULL;
		buf[k++] = (char)tolower((unsigned char)*end);
	}
	buf[k] = 0;
	return buf;
}

struct wtype {
	const char *type;
	double bytes, n_tensors;
};

static int by_bytes_desc(const void *x, const void *y)
{
	const struct wtype *a = x, *b = y;
	return a->bytes < b->bytes ? 1 : a->bytes > b->bytes ? -1 : strcmp(a->type, b->type);
}

double qe_fallback_share(const cJSON *lv, struct qe_text *others)
{
	const cJSON *types = cJSON_GetObjectItemCaseSensitive(lv, "types"), *t;
	struct wtype w[32];
	char main[32];
	double total = 0, named = 0;
	size_t n = 0;

	/* a recipe chose its types: the file type names only the rest */
	if (cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(lv, "identity"), "recipe"))
		return NAN;
	if (!qe_fallback_main_type(qe_json_str(lv, "ftype", NULL), main, sizeof(main)) || !cJSON_IsArray(types))
		return NAN;
	cJSON_ArrayForEach(t, types) {
		const char *ty = qe_json_str(t, "type", "");
		double b = qe_json_num(t, "n_bytes", 0);
		if (!strcmp(ty, "f32") && strcmp(main, "f32") != 0)
			continue; /* norms and biases stay f32 in every level */
		total += b;
		if (!strcmp(ty, main))
			named += b;
		else if (n < sizeof(w) / sizeof(w[0]))
			w[n++] = (struct wtype){ ty, b, qe_json_num(t, "n_tensors", 0) };
	}
	qsort(w, n, sizeof(w[0]), by_bytes_desc);
	for (size_t i = 0; others && i < n; i++)
		qe_text_printf(others, "%s%s %s%.0f", i ? ", " : "", w[i].type, QE_TIMES, w[i].n_tensors);
	return total > 0 ? named / total : NAN;
}

int qe_fallback_text(const cJSON *lv, struct qe_text *out)
{
	struct qe_text others = { 0 };
	double share = qe_fallback_share(lv, &others);
	char main[32], a[QE_FMT_CAP];

	if (isnan(share) || share >= QE_FALLBACK_MOSTLY) {
		qe_text_release(&others);
		return 0;
	}
	qe_fallback_main_type(qe_json_str(lv, "ftype", NULL), main, sizeof(main));
	qe_text_printf(out, "%s %s: llama.cpp used %s", qe_fmt_pct(a, sizeof(a), share, 0), main,
		       others.len ? qe_text_str(&others) : "other types");
	if (strstr(main, "_K"))
		qe_text_put(out, " (a K-quant's rows must be a multiple of 256 wide; llama.cpp falls back where they are not)");
	else
		qe_text_put(out, " (llama.cpp falls back where a tensor's rows do not fit the type's blocks)");
	qe_text_release(&others);
	return 1;
}
