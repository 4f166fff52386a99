/* qeval — multiple-choice summaries (see metrics/mc.h and docs/metrics.md). */
#include "metrics/mc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_scored(const struct qe_mc_level *lv, size_t i)
{
	return !lv->scored || lv->scored[i];
}

static int is_correct(const struct qe_mc_level *lv, size_t i)
{
	return lv->pred[i] >= 0 && (uint32_t)lv->pred[i] < lv->n_choices &&
	       lv->pred[i] == lv->gold[i];
}

static int check_level(const struct qe_mc_level *lv, const char *what, struct qe_err *err)
{
	if (!lv)
		return qe_fail(err, QE_EINVAL, "%s: NULL level", what);
	if (lv->n_choices < 2)
		return qe_fail(err, QE_EINVAL, "%s: n_choices=%u, need at least 2", what,
			       lv->n_choices);
	if (lv->n_items > 0 && (!lv->pred || !lv->gold || !lv->subject))
		return qe_fail(err, QE_EINVAL, "%s: NULL pred, gold or subject array", what);
	return 0;
}

/* ======================================================================
 * One level
 * ====================================================================== */

void qe_mc_summary_release(struct qe_mc_summary *s)
{
	if (!s)
		return;
	free(s->subjects);
	free(s->categories);
	s->subjects = NULL;
	s->categories = NULL;
}

int qe_mc_summarize(const struct qe_mc_level *lv, const struct qe_mc_taxonomy *tx,
		    struct qe_mc_summary *out, struct qe_err *err)
{
	struct qe_mc_group *sub = NULL, *cat = NULL;
	double macro = 0.0;
	uint32_t n_macro = 0;
	int rc;

	if (!out)
		return qe_fail(err, QE_EINVAL, "mc summary: NULL output");
	memset(out, 0, sizeof(*out));
	if ((rc = check_level(lv, "mc summary", err)) != 0)
		return rc;
	if (!tx || (tx->n_categories > 0 && !tx->category))
		return qe_fail(err, QE_EINVAL, "mc summary: NULL or incomplete taxonomy");
	for (uint32_t s = 0; s < tx->n_subjects && tx->n_categories > 0; s++)
		if (tx->category[s] >= tx->n_categories)
			return qe_fail(err, QE_EINVAL, "mc summary: subject %u maps to category %u of %u",
				       s, tx->category[s], tx->n_categories);

	sub = calloc(tx->n_subjects ? tx->n_subjects : 1, sizeof(*sub));
	cat = tx->n_categories ? calloc(tx->n_categories, sizeof(*cat)) : NULL;
	if (!sub || (tx->n_categories && !cat)) {
		free(sub);
		free(cat);
		return qe_fail(err, QE_ENOMEM, "mc summary: cannot allocate %u subjects", tx->n_subjects);
	}

	for (size_t i = 0; i < lv->n_items; i++) {
		int ok;

		if (!is_scored(lv, i))
			continue;
		if (lv->gold[i] < 0 || (uint32_t)lv->gold[i] >= lv->n_choices) {
			free(sub);
			free(cat);
			return qe_fail(err, QE_EINPUT, "mc summary: item %zu: gold %d outside 0..%u",
				       i, lv->gold[i], lv->n_choices - 1);
		}
		if (lv->subject[i] >= tx->n_subjects) {
			free(sub);
			free(cat);
			return qe_fail(err, QE_EINPUT, "mc summary: item %zu: subject %u of %u",
				       i, lv->subject[i], tx->n_subjects);
		}
		ok = is_correct(lv, i);
		out->n_scored++;
		out->n_correct += (size_t)ok;
		sub[lv->subject[i]].n++;
		sub[lv->subject[i]].n_correct += (size_t)ok;
	}

	for (uint32_t s = 0; s < tx->n_subjects; s++) {
		struct qe_mc_group *g = &sub[s];

		g->acc = g->n ? (double)g->n_correct / (double)g->n : NAN;
		g->acc_macro = g->acc;
		g->n_subjects = g->n ? 1 : 0;
		if (g->n) {
			macro += g->acc;
			n_macro++;
		}
		if (tx->n_categories) {
			struct qe_mc_group *c = &cat[tx->category[s]];

			c->n += g->n;
			c->n_correct += g->n_correct;
			if (g->n) {
				c->acc_macro += g->acc; /* sum for now, divided below */
				c->n_subjects++;
			}
		}
	}
	for (uint32_t c = 0; c < tx->n_categories; c++) {
		struct qe_mc_group *g = &cat[c];

		g->acc = g->n ? (double)g->n_correct / (double)g->n : NAN;
		g->acc_macro = g->n_subjects ? g->acc_macro / g->n_subjects : NAN;
	}

	out->n_items = lv->n_items;
	out->acc_micro = out->n_scored ? (double)out->n_correct / (double)out->n_scored : NAN;
	out->acc_macro = n_macro ? macro / n_macro : NAN;
	qe_prop_compute(out->n_correct, out->n_scored, QE_Z95, &out->micro);
	out->n_subjects = tx->n_subjects;
	out->n_categories = tx->n_categories;
	out->subjects = sub;
	out->categories = cat;
	return 0;
}

/* ======================================================================
 * A level against the reference
 * ====================================================================== */

/* A likelihood row is usable when it has no NaN / +inf and one finite entry. */
static int row_usable(const double *row, uint32_t n)
{
	int finite = 0;

	for (uint32_t j = 0; j < n; j++) {
		if (isnan(row[j]) || row[j] == INFINITY)
			return 0;
		finite |= isfinite(row[j]);
	}
	return finite;
}

int qe_mc_compare(const struct qe_mc_level *lvl, const struct qe_mc_level *ref,
		  const struct qe_boot_params *boot, struct qe_mc_compare *out,
		  struct qe_err *err)
{
	double *xl = NULL, *xr = NULL, kl_sum = 0.0;
	uint32_t *strata = NULL;
	size_t n = 0, n_top = 0, lost = 0, gained = 0, n_both = 0;
	struct qe_boot_result br;
	int rc;

	if (!out)
		return qe_fail(err, QE_EINVAL, "mc compare: NULL output");
	memset(out, 0, sizeof(*out));
	if ((rc = check_level(lvl, "mc compare: level", err)) != 0 ||
	    (rc = check_level(ref, "mc compare: reference", err)) != 0)
		return rc;
	if (lvl->n_items != ref->n_items || lvl->n_choices != ref->n_choices)
		return qe_fail(err, QE_EINVAL,
			       "mc compare: level has %zu items x %u choices, reference %zu x %u",
			       lvl->n_items, lvl->n_choices, ref->n_items, ref->n_choices);

	if (lvl->n_items > 0) {
		xl = malloc(lvl->n_items * sizeof(*xl));
		xr = malloc(lvl->n_items * sizeof(*xr));
		strata = malloc(lvl->n_items * sizeof(*strata));
		if (!xl || !xr || !strata) {
			rc = qe_fail(err, QE_ENOMEM, "mc compare: cannot allocate for %zu items",
				     lvl->n_items);
			goto done;
		}
	}
	out->kl_max = NAN;
	for (size_t i = 0; i < lvl->n_items; i++) {
		int cl, cr;

		if (!is_scored(lvl, i) || !is_scored(ref, i))
			continue;
		if (lvl->gold[i] != ref->gold[i] || lvl->subject[i] != ref->subject[i]) {
			rc = qe_fail(err, QE_EINPUT,
				     "mc compare: item %zu: level has gold %d subject %u, reference gold %d subject %u",
				     i, lvl->gold[i], lvl->subject[i], ref->gold[i], ref->subject[i]);
			goto done;
		}
		cl = is_correct(lvl, i);
		cr = is_correct(ref, i);
		xl[n] = cl;
		xr[n] = cr;
		strata[n] = ref->subject[i];
		n++;
		lost += (size_t)(cr && !cl);
		n_both += (size_t)(cr && cl);
		gained += (size_t)(!cr && cl);
		if (lvl->pred[i] == ref->pred[i] && lvl->pred[i] >= 0 &&
		    (uint32_t)lvl->pred[i] < lvl->n_choices)
			out->n_same++;
		if (lvl->loglik && ref->loglik) {
			const double *a = ref->loglik + i * ref->n_choices;
			const double *b = lvl->loglik + i * lvl->n_choices;
			double kl;

			if (!row_usable(a, ref->n_choices) || !row_usable(b, lvl->n_choices))
				continue;
			kl = qe_stats_softmax_kl(a, b, ref->n_choices);
			kl_sum += kl;
			if (isnan(out->kl_max) || kl > out->kl_max)
				out->kl_max = kl;
			n_top += qe_stats_argmax(a, ref->n_choices) != qe_stats_argmax(b, lvl->n_choices);
			out->n_ll++;
		}
	}

	out->n_paired = n;
	out->n_lost = lost;
	out->n_gained = gained;
	out->acc_level = n ? qe_stats_mean(xl, n) : NAN;
	out->acc_ref = n ? qe_stats_mean(xr, n) : NAN;
	out->same_answer = n ? (double)out->n_same / (double)n : NAN;
	out->mcnemar_p = n ? qe_stats_mcnemar_exact(out->n_lost, out->n_gained) : NAN;
	out->kl_mean = out->n_ll ? kl_sum / (double)out->n_ll : NAN;
	out->top_changed = out->n_ll ? (double)n_top / (double)out->n_ll : NAN;

	rc = qe_stats_paired_bootstrap(xl, xr, strata, n, boot, &br, err);
	if (rc != 0)
		goto done;
	out->delta = br.delta;
	out->boot_lo = br.lo;
	out->boot_hi = br.hi;
	out->delta_se = br.se;
	/* both right, level only, reference only, neither */
	qe_stats_paired_newcombe(n_both, gained, lost, n - n_both - gained - lost, QE_Z95, &out->delta_lo,
				 &out->delta_hi);
done:
	free(xl);
	free(xr);
	free(strata);
	return rc;
}
