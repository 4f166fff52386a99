/* Tests of metrics/mc.h on a hand-worked table of 12 items (expected values
 * counted by hand in the comments) and a randomised recount. */
#include "metrics/mc.h"

#include <math.h>
#include <stdint.h>

#include "tests/tq.h"

#define TOL 1e-9
#define NI 12
#define NC 4

/*  item subject gold  level-pred ref-pred  notes
 *   0     0     0       0          0        both right
 *   1     0     1       2          1        lost (ref right, level wrong)
 *   2     0     2       2          3        gained
 *   3     0     3       3          3        both right
 *   4     1     0       1          1        both wrong, same answer
 *   5     1     1       1          1        both right
 *   6     1     2      -1          2        level gave no answer: lost
 *   7     1     3       3          3        level not scored: unpaired
 *   8     2     0       0          0        both right
 *   9     2     1       0          2        both wrong, different answers
 *  10     2     2       2          2        reference not scored: unpaired
 *  11     2     3       3          3        both right
 * Subject 3 has no items. Categories: subjects 0, 1 -> 0; subjects 2, 3 -> 1. */
static const uint32_t subj[NI] = { 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2 };
static const int32_t gold[NI] = { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3 };
static const int32_t pl[NI] = { 0, 2, 2, 3, 1, 1, -1, 3, 0, 0, 2, 3 };
static const int32_t pr[NI] = { 0, 1, 3, 3, 1, 1, 2, 3, 0, 2, 2, 3 };
static const unsigned char scl[NI] = { 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1 };
static const unsigned char scr[NI] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1 };
static const uint32_t cat_of[4] = { 0, 0, 1, 1 };

/* Likelihood rows: reference = log of (.7 at its pred, .1 elsewhere) + a shift;
 * level = log of (.55 at its pred, .15 elsewhere) + another shift; item 6 of
 * the level (no answer) is all -inf, so it is unusable. */
static double llr[NI][NC], lll[NI][NC];

static void fill_rows(void)
{
	for (int i = 0; i < NI; i++)
		for (int j = 0; j < NC; j++) {
			llr[i][j] = log(j == pr[i] ? 0.7 : 0.1) - 1.5 * i;
			lll[i][j] = pl[i] < 0 ? -INFINITY : log(j == pl[i] ? 0.55 : 0.15) + 0.25 * i;
		}
}

static struct qe_mc_level level(const int32_t *pred, const unsigned char *sc, double (*ll)[NC])
{
	struct qe_mc_level lv = {
		.n_items = NI, .n_choices = NC, .pred = pred, .gold = gold,
		.subject = subj, .loglik = &ll[0][0], .scored = sc,
	};
	return lv;
}

static void test_summary(void)
{
	struct qe_mc_level lv = level(pl, scl, lll);
	struct qe_mc_taxonomy tx = { .n_subjects = 4, .n_categories = 2, .category = cat_of };
	struct qe_mc_summary s;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_mc_summarize(&lv, &tx, &s, &err), 0);
	/* level right on 0, 2, 3, 5, 8, 10, 11 of the 11 scored items */
	TQ_EQ_INT(s.n_items, 12);
	TQ_EQ_INT(s.n_scored, 11);
	TQ_EQ_INT(s.n_correct, 7);
	TQ_NEAR(s.acc_micro, 7.0 / 11.0, TOL);
	/* subjects: 3/4, 1/3, 3/4, none -> macro = (3/4 + 1/3 + 3/4) / 3 = 11/18 */
	TQ_NEAR(s.acc_macro, 11.0 / 18.0, TOL);
	TQ_EQ_INT(s.subjects[0].n, 4);
	TQ_NEAR(s.subjects[0].acc, 0.75, TOL);
	TQ_EQ_INT(s.subjects[1].n, 3);
	TQ_NEAR(s.subjects[1].acc, 1.0 / 3.0, TOL);
	TQ_NEAR(s.subjects[2].acc, 0.75, TOL);
	TQ_EQ_INT(s.subjects[3].n, 0);
	TQ_CHECK(isnan(s.subjects[3].acc));
	/* categories: micro 4/7 and 3/4; macro (3/4 + 1/3)/2 = 13/24 and 3/4 */
	TQ_EQ_INT(s.categories[0].n, 7);
	TQ_NEAR(s.categories[0].acc, 4.0 / 7.0, TOL);
	TQ_NEAR(s.categories[0].acc_macro, 13.0 / 24.0, TOL);
	TQ_EQ_INT(s.categories[0].n_subjects, 2);
	TQ_EQ_INT(s.categories[1].n, 4);
	TQ_NEAR(s.categories[1].acc, 0.75, TOL);
	TQ_NEAR(s.categories[1].acc_macro, 0.75, TOL);
	TQ_EQ_INT(s.categories[1].n_subjects, 1);
	/* stderr of the micro accuracy, n - 1 convention */
	TQ_NEAR(s.micro.se, sqrt((7.0 / 11) * (4.0 / 11) / 10.0), TOL);
	TQ_NEAR(s.micro.lo, 7.0 / 11 - QE_Z95 * s.micro.se, TOL);
	TQ_NEAR(s.micro.hi, 7.0 / 11 + QE_Z95 * s.micro.se, TOL);
	qe_mc_summary_release(&s);
	TQ_CHECK(s.subjects == NULL);
}

static void test_summary_errors(void)
{
	struct qe_mc_level lv = level(pl, scl, lll);
	struct qe_mc_taxonomy tx = { .n_subjects = 2, .n_categories = 0, .category = NULL };
	struct qe_mc_summary s;
	struct qe_err err = { 0 };
	int32_t bad_gold[NI];

	/* subject 2 appears but only 2 subjects are declared */
	TQ_EQ_INT(qe_mc_summarize(&lv, &tx, &s, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "item 8") != NULL);
	tx.n_subjects = 4;
	memcpy(bad_gold, gold, sizeof(bad_gold));
	bad_gold[5] = 4;
	lv.gold = bad_gold;
	TQ_EQ_INT(qe_mc_summarize(&lv, &tx, &s, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "item 5") != NULL);
	/* an unscored item is not checked */
	bad_gold[5] = gold[5];
	bad_gold[7] = 99;
	TQ_EQ_INT(qe_mc_summarize(&lv, &tx, &s, &err), 0);
	TQ_EQ_INT(s.n_categories, 0);
	TQ_CHECK(s.categories == NULL);
	qe_mc_summary_release(&s);
	lv.n_choices = 1;
	TQ_EQ_INT(qe_mc_summarize(&lv, &tx, &s, &err), QE_EINVAL);
	/* nothing scored */
	{
		static const unsigned char none[NI] = { 0 };
		struct qe_mc_level z = level(pl, none, lll);

		TQ_EQ_INT(qe_mc_summarize(&z, &tx, &s, &err), 0);
		TQ_EQ_INT(s.n_scored, 0);
		TQ_CHECK(isnan(s.acc_micro) && isnan(s.acc_macro) && isnan(s.micro.se));
		qe_mc_summary_release(&s);
	}
}

static void test_compare(void)
{
	struct qe_mc_level lv = level(pl, scl, lll), rf = level(pr, scr, llr);
	struct qe_boot_params bp = qe_boot_default_params();
	struct qe_mc_compare c, c2;
	struct qe_err err = { 0 };
	/* KL of (.7, .1, .1, .1) against (.55, .15, .15, .15) with the peaks at
	 * the same place / at different places, by hand */
	double k_same = 0.7 * log(0.7 / 0.55) + 3 * 0.1 * log(0.1 / 0.15);
	double k_diff = 0.7 * log(0.7 / 0.15) + 0.1 * log(0.1 / 0.55) + 2 * 0.1 * log(0.1 / 0.15);

	TQ_EQ_INT(qe_mc_compare(&lv, &rf, &bp, &c, &err), 0);
	/* paired: all but 7 and 10 */
	TQ_EQ_INT(c.n_paired, 10);
	TQ_NEAR(c.acc_level, 0.6, TOL); /* 0 2 3 5 8 11 */
	TQ_NEAR(c.acc_ref, 0.7, TOL);   /* 0 1 3 5 6 8 11 */
	TQ_NEAR(c.delta, -0.1, TOL);
	TQ_EQ_INT(c.n_lost, 2);         /* 1, 6 */
	TQ_EQ_INT(c.n_gained, 1);       /* 2 */
	/* McNemar b=1, c=2: 2 * P[Bin(3, 1/2) <= 1] = 2 * 4/8 = 1 */
	TQ_NEAR(c.mcnemar_p, 1.0, TOL);
	TQ_EQ_INT(c.n_same, 6);         /* 0 3 4 5 8 11 */
	TQ_NEAR(c.same_answer, 0.6, TOL);
	/* usable rows: 9 (item 6 of the level is all -inf); peaks differ on 1, 2, 9 */
	TQ_EQ_INT(c.n_ll, 9);
	TQ_NEAR(c.top_changed, 3.0 / 9.0, TOL);
	TQ_NEAR(c.kl_mean, (6 * k_same + 3 * k_diff) / 9.0, TOL);
	TQ_NEAR(c.kl_max, k_diff, TOL);
	TQ_CHECK(c.boot_lo <= c.delta && c.delta <= c.boot_hi);
	TQ_CHECK(c.boot_lo < 0.0 && c.boot_hi > 0.0);
	/* Newcombe's interval of the table 5 / 1 / 2 / 2 (python3 tests/ref/newcombe.py) */
	TQ_NEAR(c.delta_lo, -0.423636566165, TOL);
	TQ_NEAR(c.delta_hi, 0.256226491254, TOL);
	/* the same seed gives the same interval */
	TQ_EQ_INT(qe_mc_compare(&lv, &rf, &bp, &c2, &err), 0);
	TQ_CHECK(c.boot_lo == c2.boot_lo && c.boot_hi == c2.boot_hi);

	/* the interval is the stratified bootstrap of the paired 0/1 vectors */
	{
		const double xl[10] = { 1, 0, 1, 1, 0, 1, 0, 1, 0, 1 };
		const double xr[10] = { 1, 1, 0, 1, 0, 1, 1, 1, 0, 1 };
		const uint32_t st[10] = { 0, 0, 0, 0, 1, 1, 1, 2, 2, 2 };
		struct qe_boot_result br;

		TQ_EQ_INT(qe_stats_paired_bootstrap(xl, xr, st, 10, &bp, &br, &err), 0);
		TQ_CHECK(br.lo == c.boot_lo && br.hi == c.boot_hi);
	}

	/* against itself: no change at all; the bootstrap collapses, the score
	 * interval of 8 / 0 / 0 / 3 (11 items) stays open */
	TQ_EQ_INT(qe_mc_compare(&rf, &rf, &bp, &c, &err), 0);
	TQ_NEAR(c.delta, 0.0, 0);
	TQ_NEAR(c.boot_lo, 0.0, 0);
	TQ_NEAR(c.boot_hi, 0.0, 0);
	TQ_NEAR(c.delta_lo, -0.193318673586, TOL);
	TQ_NEAR(c.delta_hi, 0.193318673586, TOL);
	TQ_NEAR(c.mcnemar_p, 1.0, 0);
	TQ_NEAR(c.kl_mean, 0.0, TOL);
	TQ_NEAR(c.top_changed, 0.0, 0);
	TQ_NEAR(c.same_answer, 1.0, 0);

	/* no likelihoods: KL fields NaN */
	lv.loglik = NULL;
	TQ_EQ_INT(qe_mc_compare(&lv, &rf, &bp, &c, &err), 0);
	TQ_EQ_INT(c.n_ll, 0);
	TQ_CHECK(isnan(c.kl_mean) && isnan(c.top_changed));
}

static void test_compare_errors(void)
{
	struct qe_mc_level lv = level(pl, scl, lll), rf = level(pr, scr, llr);
	struct qe_mc_compare c;
	struct qe_err err = { 0 };
	int32_t g2[NI];

	memcpy(g2, gold, sizeof(g2));
	g2[3] = 0;
	rf.gold = g2;
	TQ_EQ_INT(qe_mc_compare(&lv, &rf, NULL, &c, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "item 3") != NULL);
	rf.gold = gold;
	rf.n_items = NI - 1;
	TQ_EQ_INT(qe_mc_compare(&lv, &rf, NULL, &c, &err), QE_EINVAL);
	/* empty */
	rf.n_items = lv.n_items = 0;
	TQ_EQ_INT(qe_mc_compare(&lv, &rf, NULL, &c, &err), 0);
	TQ_EQ_INT(c.n_paired, 0);
	/* no pairs: no test (null in results.json), not p = 1 */
	TQ_CHECK(isnan(c.delta) && isnan(c.same_answer) && isnan(c.mcnemar_p));
}

/* Randomised: every field recounted by a plain loop. */
static void test_random_recount(void)
{
	enum { N = 3000, S = 57, C = 4 };
	static int32_t g[N], p[N];
	static uint32_t su[N];
	static unsigned char sc[N];
	uint32_t cat[S];
	size_t n = 0, k = 0, sn[S] = { 0 }, sk[S] = { 0 }, cn[C] = { 0 }, ck[C] = { 0 };
	double macro = 0.0;
	int nm = 0;
	struct qe_rng r;
	struct qe_mc_summary s;
	struct qe_err err = { 0 };

	qe_rng_seed(&r, 7, 0);
	for (int j = 0; j < S; j++)
		cat[j] = (uint32_t)qe_rng_below(&r, C);
	for (int i = 0; i < N; i++) {
		g[i] = (int32_t)qe_rng_below(&r, 4);
		p[i] = qe_rng_below(&r, 10) < 6 ? g[i] : (int32_t)qe_rng_below(&r, 4);
		su[i] = (uint32_t)qe_rng_below(&r, S - 2); /* last two subjects empty */
		sc[i] = qe_rng_below(&r, 20) != 0;
	}
	for (int i = 0; i < N; i++) {
		if (!sc[i])
			continue;
		n++;
		sn[su[i]]++;
		cn[cat[su[i]]]++;
		if (p[i] == g[i]) {
			k++;
			sk[su[i]]++;
			ck[cat[su[i]]]++;
		}
	}
	for (int j = 0; j < S; j++)
		if (sn[j]) {
			macro += (double)sk[j] / (double)sn[j];
			nm++;
		}
	{
		struct qe_mc_level lv = { .n_items = N, .n_choices = 4, .pred = p, .gold = g,
					  .subject = su, .loglik = NULL, .scored = sc };
		struct qe_mc_taxonomy tx = { .n_subjects = S, .n_categories = C, .category = cat };

		TQ_EQ_INT(qe_mc_summarize(&lv, &tx, &s, &err), 0);
	}
	TQ_EQ_INT(s.n_scored, n);
	TQ_EQ_INT(s.n_correct, k);
	TQ_NEAR(s.acc_micro, (double)k / (double)n, TOL);
	TQ_NEAR(s.acc_macro, macro / nm, TOL);
	for (int j = 0; j < S; j++)
		TQ_EQ_INT(s.subjects[j].n_correct, sk[j]);
	for (int c = 0; c < C; c++) {
		TQ_EQ_INT(s.categories[c].n, cn[c]);
		TQ_NEAR(s.categories[c].acc, (double)ck[c] / (double)cn[c], TOL);
	}
	qe_mc_summary_release(&s);
}

int main(void)
{
	fill_rows();
	TQ_RUN(test_summary);
	TQ_RUN(test_summary_errors);
	TQ_RUN(test_compare);
	TQ_RUN(test_compare_errors);
	TQ_RUN(test_random_recount);
	return tq_done("t_mc_metrics");
}
