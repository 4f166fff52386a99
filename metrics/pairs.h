/* qeval — paired-sentence and embedding metrics: STS correlation, positive /
 * negative separation, retrieval (Recall@k, NDCG@k, MRR@k) and drift of a
 * level's embeddings against the reference's.
 *
 * Pure functions over caller-owned arrays; nothing here touches the engine or
 * the disk. Definitions (which sentences are queries, what is relevant, tie
 * rules, edge cases): docs/metrics.md, "Sentence pairs". Retrieval uses the
 * float kernel of metrics/sim.h; every other cosine is accumulated in double.
 */
#ifndef QE_METRICS_PAIRS_H
#define QE_METRICS_PAIRS_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/pairs.h"
#include "harness/base/err.h"
#include "metrics/sim.h"

/* Sentence embeddings, borrowed. The caller has deduplicated sentences, so
 * one text has one index. */
struct qe_emb {
	const float *v;              /* [n][dim], row-major */
	size_t n;                    /* sentences */
	size_t dim;
	int normalized;              /* 1 = rows already have unit L2 norm (cosine = dot);
				      * 0 = norms are divided out here */
};

/* The pairs are the loader's (datasets/pairs.h): struct qe_pair { s1, s2,
 * label, line } with s1, s2 indices into a struct qe_emb, and enum
 * qe_label_kind. Here kind must be QE_LABEL_BINARY (positive: label >= 0.5,
 * negative: label < 0.5) or QE_LABEL_GRADED (positive: label >=
 * pos_threshold, negative: label <= neg_threshold, others neither);
 * QE_LABEL_AUTO is resolved by the loader and refused here (QE_EINVAL). */

#define QE_PAIRS_MAX_KS 8

struct qe_pairs_params {
	enum qe_label_kind kind;     /* QE_LABEL_BINARY (default) or QE_LABEL_GRADED */
	double pos_threshold;        /* graded only; 4.0 by default */
	double neg_threshold;        /* graded only; 1.0 by default */
	uint32_t ks[QE_PAIRS_MAX_KS];/* cut-offs for Recall@k and NDCG@k, each >= 1; {1, 5, 10} */
	size_t n_ks;                 /* entries used in ks, 1..QE_PAIRS_MAX_KS; 3 by default */
	uint32_t mrr_k;              /* MRR cut-off, >= 1; 10 by default */
	uint32_t overlap_k;          /* neighbours compared by qe_pairs_drift, >= 1; 10 by default */
	struct qe_sim_params sim;    /* kernel and threads for retrieval */
};

struct qe_pairs_params qe_pairs_default_params(void);

/* Quality of one embedding set on the labelled pairs. */
struct qe_pairs_quality {
	size_t n_pairs;
	double pearson;              /* labels vs cos(s1, s2) over all pairs; NaN when undefined */
	double spearman;
	size_t n_pos, n_neg;
	double pos_mean;             /* mean cos of positive pairs; NaN when none */
	double neg_mean;             /* mean cos of negative pairs; NaN when none */
	double gap;                  /* pos_mean - neg_mean */
	size_t n_queries;            /* queries with at least one relevant document */
	size_t n_corpus;             /* distinct s2 sentences */
	size_t n_ks;
	uint32_t ks[QE_PAIRS_MAX_KS];
	double recall[QE_PAIRS_MAX_KS]; /* mean over queries of |rel in top k| / |rel|; NaN when no query */
	double ndcg[QE_PAIRS_MAX_KS];   /* mean over queries of DCG@k / IDCG@k */
	uint32_t mrr_k;
	double mrr;                  /* mean over queries of 1 / rank of the first relevant in the
				      * top mrr_k (0 when none) */
};

/* Returns 0, QE_EINVAL (bad parameters, NULL arrays), QE_EINPUT (a pair
 * index out of range or a NaN label: the message names the pair; a
 * non-finite embedding) or QE_ENOMEM. */
int qe_pairs_quality(const struct qe_emb *e, const struct qe_pair *pairs, size_t n_pairs,
		     const struct qe_pairs_params *params, struct qe_pairs_quality *out,
		     struct qe_err *err);

/* Drift of a level's embeddings against the reference's for the same sentences. */
struct qe_pairs_drift {
	size_t n_sent;
	double cos_mean;             /* per sentence cos(ref_i, lvl_i): mean, type-7 percentiles */
	double cos_p5, cos_p1, cos_min;
	double dist_mean;            /* mean of 1 - cos(ref_i, lvl_i) */
	size_t n_pairs;
	double pair_mean;            /* |cos_ref(s1, s2) - cos_lvl(s1, s2)| over pairs: mean, p95, max */
	double pair_p95, pair_max;
	size_t n_queries;            /* the retrieval queries of qe_pairs_quality */
	uint32_t overlap_k;
	double topk_overlap;         /* mean over queries of |N_ref(q) and N_lvl(q)| / min(k, eligible) */
	size_t n_ks;                 /* params' ks, copied */
	uint32_t ks[QE_PAIRS_MAX_KS];
	double overlap_at[QE_PAIRS_MAX_KS]; /* topk_overlap with k = ks[j], from the same searches
					     * (a top-k list is a prefix of a longer one); NaN as above */
};

/* ref and lvl must have the same n and dim (QE_EINVAL). n_pairs may be 0
 * (pair and overlap fields NaN). Returns as qe_pairs_quality. */
int qe_pairs_drift(const struct qe_emb *ref, const struct qe_emb *lvl,
		   const struct qe_pair *pairs, size_t n_pairs,
		   const struct qe_pairs_params *params, struct qe_pairs_drift *out,
		   struct qe_err *err);

/* Cosine of two float rows accumulated in double; 0 when either is all zeros. */
double qe_pairs_cosine(const float *a, const float *b, size_t dim);

/* ---- ranking metrics of one query (pure; exposed for tests and reuse) ----
 * gains[r] = gain of the document at rank r + 1 (0 = not relevant), for the
 * n_ranked documents returned; n_rel = number of relevant documents;
 * ideal[] = their gains sorted descending. Cut-off k >= 1. */
double qe_ir_recall(const double *gains, size_t n_ranked, size_t n_rel, size_t k);
double qe_ir_ndcg(const double *gains, size_t n_ranked, const double *ideal, size_t n_rel,
		  size_t k);
double qe_ir_rr(const double *gains, size_t n_ranked, size_t k);

#endif
