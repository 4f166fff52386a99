/* qeval — the sentence-pairs task's per-level block of results.json: its
 * keys, written by emit_block (harness/tasks/pairs.c) and read by its view
 * (harness/tasks/pairs_view.c), so each is spelled once. The block's shape
 * and meaning: docs/results-schema.md. Keys that carry a cut-off k are a
 * prefix + k: QE_PAIRS_RECALL_AT "5" is "recall@5"; a vs_ref key is the
 * metric's key + QE_PAIRS_DELTA.
 */
#ifndef QE_TASKS_PAIRS_KEYS_H
#define QE_TASKS_PAIRS_KEYS_H

struct qe_view;

#define QE_PAIRS_N_PAIRS             "n_pairs"
#define QE_PAIRS_N_SENTENCES         "n_sentences"
#define QE_PAIRS_LABEL_KIND          "label_kind"
#define QE_PAIRS_N_SCORED            "n_scored"
#define QE_PAIRS_N_FAILED            "n_failed"
#define QE_PAIRS_N_FAILED_SENTENCES  "n_failed_sentences"
#define QE_PAIRS_N_TRUNCATED         "n_truncated"
#define QE_PAIRS_N_RECORDS           "n_records"
#define QE_PAIRS_DIM                 "dim"
#define QE_PAIRS_ERROR               "error"
#define QE_PAIRS_DRIFT               "drift"        /* null at the reference */
#define QE_PAIRS_COS_MEAN            "cos_mean"
#define QE_PAIRS_COS_P5              "cos_p5"
#define QE_PAIRS_COS_P1              "cos_p1"
#define QE_PAIRS_COS_MIN             "cos_min"
#define QE_PAIRS_ONE_MINUS_COS_MEAN  "one_minus_cos_mean"
#define QE_PAIRS_SIM_DRIFT_MEAN      "pair_sim_drift_mean"
#define QE_PAIRS_SIM_DRIFT_P95       "pair_sim_drift_p95"
#define QE_PAIRS_SIM_DRIFT_MAX       "pair_sim_drift_max"
#define QE_PAIRS_STS                 "sts"
#define QE_PAIRS_SPEARMAN            "spearman"
#define QE_PAIRS_PEARSON             "pearson"
#define QE_PAIRS_POS_COS_MEAN        "pos_cos_mean"
#define QE_PAIRS_NEG_COS_MEAN        "neg_cos_mean"
#define QE_PAIRS_POS_NEG_GAP         "pos_neg_gap"
#define QE_PAIRS_N_POS               "n_pos"
#define QE_PAIRS_N_NEG               "n_neg"
#define QE_PAIRS_RETRIEVAL           "retrieval"
#define QE_PAIRS_N_QUERIES           "n_queries"
#define QE_PAIRS_N_CORPUS            "n_corpus"
#define QE_PAIRS_RECALL_AT           "recall@"      /* + k */
#define QE_PAIRS_NDCG_AT             "ndcg@"        /* + k */
#define QE_PAIRS_MRR_AT              "mrr@"         /* + k */
#define QE_PAIRS_TOPK_OVERLAP        "topk_overlap" /* null at the reference */
#define QE_PAIRS_OVERLAP_AT          "@"            /* + k, inside topk_overlap */
#define QE_PAIRS_VS_REF              "vs_ref"       /* null at the reference */
#define QE_PAIRS_DELTA               "_delta"       /* suffix of vs_ref's keys */
#define QE_PAIRS_THROUGHPUT          "throughput"
#define QE_PAIRS_SENTENCES_PER_S     "sentences_per_s"
#define QE_PAIRS_WALL_S              "wall_s"
#define QE_PAIRS_EMBED_S             "embed_s"

/* The task's view (pairs_view.c). */
extern const struct qe_view qe_view_pairs;

#endif
