/* qeval — scale-out: units and their shards. See harness/scale.h. */
#include "harness/scale.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qe_scale_release(struct qe_scale *s)
{
	free(s->units);
	free(s->load);
	memset(s, 0, sizeof(*s));
}

/* Cut a splittable task's items into at most n pieces of about equal tokens,
 * at items where a piece may start: the first item of each piece into
 * cut[0..*n_cut) (cut[0] = 0). */
static void cut_items(const struct qe_scale_task *t, int n, size_t *cut, int *n_cut)
{
	double total = 0, cum = 0;
	int p = 1;

	for (size_t k = 0; k < t->n_items; k++)
		total += t->tokens[k];
	cut[0] = 0;
	for (size_t k = 0; k < t->n_items && p < n; k++) {
		if (k > cut[p - 1] && (!t->start || t->start[k]) && cum >= total * p / n)
			cut[p++] = k;
		cum += t->tokens[k];
	}
	*n_cut = p;
}

static double piece_tokens(const struct qe_scale_task *t, size_t first, size_t end)
{
	double sum = 0;

	if (!t->tokens)
		return t->total;
	for (size_t k = first; k < end; k++)
		sum += t->tokens[k];
	return sum;
}

/* units in order of decreasing tokens (ties: table order), for the greedy */
static const struct qe_unit *g_sort_units;
static const double *g_sort_weight;
static double weighed(const struct qe_unit *u, const double *w)
{
	return u->tokens * (w ? w[u->level] : 1.0);
}

static int by_tokens(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	double tx = weighed(&g_sort_units[x], g_sort_weight), ty = weighed(&g_sort_units[y], g_sort_weight);

	if (tx != ty)
		return tx > ty ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Each unit to the least loaded shard, largest first; a shard given a unit
 * of a needs_reference task at another level also carries the reference's
 * run of it once. */
static int assign(struct qe_scale *s, const struct qe_scale_task *tasks, int n_tasks, int ref, const double *w)
{
	size_t *order = malloc(s->n_units * sizeof(*order) + 1);
	unsigned char *helper = calloc((size_t)s->n_shards * (size_t)n_tasks + 1, 1);

	if (!order || !helper) {
		free(order);
		free(helper);
		return -1;
	}
	for (size_t u = 0; u < s->n_units; u++)
		order[u] = u;
	g_sort_units = s->units; /* not thread-safe: planning happens once, before any level */
	g_sort_weight = w;
	qsort(order, s->n_units, sizeof(*order), by_tokens);
	for (size_t k = 0; k < s->n_units; k++) {
		struct qe_unit *u = &s->units[order[k]];
		int best = 0;
		for (int i = 1; i < s->n_shards; i++)
			if (s->load[i] < s->load[best])
				best = i;
		u->owner = best;
		s->load[best] += weighed(u, w);
		if (tasks[u->task].needs_reference && u->level != ref && !helper[best * n_tasks + u->task]) {
			helper[best * n_tasks + u->task] = 1;
			s->load[best] += tasks[u->task].total * (w ? w[ref] : 1.0);
		}
	}
	free(order);
	free(helper);
	return 0;
}

int qe_scale_plan(int n_levels, int ref, const struct qe_scale_task *tasks, int n_tasks, int n_shards,
		  const double *weight, struct qe_scale *out, struct qe_err *err)
{
	size_t cap = 0, *cut = NULL;

	memset(out, 0, sizeof(*out));
	if (n_shards < 1)
		return qe_fail(err, QE_EINVAL, "a run needs at least one shard");
	for (int t = 0; t < n_tasks; t++)
		cap += (size_t)n_levels * (size_t)(tasks[t].tokens ? n_shards : 1);
	out->units = calloc(cap + 1, sizeof(*out->units));
	out->load = calloc((size_t)n_shards, sizeof(*out->load));
	cut = calloc((size_t)n_shards + 1, sizeof(*cut));
	if (!out->units || !out->load || !cut) {
		free(cut);
		qe_scale_release(out);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	out->n_shards = n_shards;
	for (int t = 0; t < n_tasks; t++) {
		int n_cut = 1;
		cut[0] = 0;
		if (tasks[t].tokens && tasks[t].n_items > 0)
			cut_items(&tasks[t], n_shards, cut, &n_cut);
		cut[n_cut] = tasks[t].n_items;
		for (int i = 0; i < n_levels; i++)
			for (int p = 0; p < n_cut; p++) {
				struct qe_unit *u = &out->units[out->n_units++];
				u->level = i;
				u->task = t;
				u->piece = p;
				u->n_pieces = n_cut;
				u->first = cut[p];
				u->end = cut[p + 1];
				u->tokens = piece_tokens(&tasks[t], u->first, u->end);
			}
	}
	free(cut);
	if (assign(out, tasks, n_tasks, ref, weight) != 0) {
		qe_scale_release(out);
		return qe_fail(err, QE_ENOMEM, "out of memory");
	}
	return 0;
}

int qe_scale_runs(const struct qe_scale *s, int shard, int level, int task, int ref, int needs_reference)
{
	for (size_t u = 0; u < s->n_units; u++) {
		const struct qe_unit *x = &s->units[u];
		if (x->task != task || x->owner != shard)
			continue;
		if (x->level == level || (needs_reference && level == ref))
			return 1;
	}
	return 0;
}

int qe_scale_parse_shard(const char *text, int *i, int *n, struct qe_err *err)
{
	char *end = NULL, *end2 = NULL;
	long a, b;

	a = strtol(text, &end, 10);
	if (end == text || *end != '/')
		return qe_fail(err, QE_EINVAL, "--shard '%s': expected I/N, e.g. 0/3", text);
	b = strtol(end + 1, &end2, 10);
	if (end2 == end + 1 || *end2 || b < 1 || b > 4096 || a < 0 || a >= b)
		return qe_fail(err, QE_EINVAL, "--shard '%s': expected I/N with 0 <= I < N <= 4096", text);
	*i = (int)a;
	*n = (int)b;
	return 0;
}

cJSON *qe_scale_json(const struct qe_scale *s, const char *const *levels, const char *const *tasks)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t k = 0; a && k < s->n_units; k++) {
		const struct qe_unit *u = &s->units[k];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "level", levels[u->level]);
		cJSON_AddStringToObject(o, "task", tasks[u->task]);
		cJSON_AddNumberToObject(o, "piece", u->piece);
		cJSON_AddNumberToObject(o, "pieces", u->n_pieces);
		cJSON_AddNumberToObject(o, "first", (double)u->first);
		cJSON_AddNumberToObject(o, "end", (double)u->end);
		cJSON_AddNumberToObject(o, "tokens", (double)(long long)u->tokens);
		cJSON_AddNumberToObject(o, "shard", u->owner);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}
