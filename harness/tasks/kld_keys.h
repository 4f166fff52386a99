/* qeval — the kld task's per-level block of results.json: its keys, written
 * by kld_summarize (harness/tasks/kld.c) and read by its view
 * (harness/tasks/kld_view.c), so each is spelled once. The block's shape and
 * meaning: docs/results-schema.md ("Per-level block of a kld task").
 * Interval keys hold [lo, hi] (95%, normal, from the standard error).
 */
#ifndef QE_TASKS_KLD_KEYS_H
#define QE_TASKS_KLD_KEYS_H

struct qe_view;

#define QE_KLD_N_CHUNKS        "n_chunks"       /* chunks scored at this level (and the reference) */
#define QE_KLD_N_TOKENS        "n_tokens"       /* scored positions */
#define QE_KLD_N_FAILED        "n_failed"       /* chunks with an error record */
#define QE_KLD_PPL             "ppl"
#define QE_KLD_PPL_SE          "ppl_se"
#define QE_KLD_PPL_REF         "ppl_ref"
#define QE_KLD_LN_RATIO        "ln_ppl_ratio"   /* ln(PPL / PPL_ref), paired */
#define QE_KLD_LN_RATIO_SE     "ln_ppl_ratio_se"
#define QE_KLD_PPL_RATIO       "ppl_ratio"
#define QE_KLD_PPL_RATIO_SE    "ppl_ratio_se"
#define QE_KLD_NLL_COR         "nll_cor"
#define QE_KLD_MEAN            "kld_mean"       /* nats */
#define QE_KLD_SE              "kld_se"
#define QE_KLD_CI              "kld_ci"
#define QE_KLD_MEDIAN          "kld_median"
#define QE_KLD_P90             "kld_p90"
#define QE_KLD_P95             "kld_p95"
#define QE_KLD_P99             "kld_p99"
#define QE_KLD_P999            "kld_p999"
#define QE_KLD_MAX             "kld_max"
#define QE_KLD_BOUND           "kld_repr_bound" /* the stored reference's bound on |mean KLD error| */
#define QE_KLD_SAME_TOP        "same_top"       /* fraction */
#define QE_KLD_SAME_TOP_SE     "same_top_se"
#define QE_KLD_SAME_TOP_CI     "same_top_ci"
#define QE_KLD_DP_MEAN         "dp_mean"        /* p_level(true) - p_ref(true) */
#define QE_KLD_DP_SE           "dp_se"
#define QE_KLD_DP_RMS          "dp_rms"
#define QE_KLD_DP_RMS_SE       "dp_rms_se"
#define QE_KLD_DP_MIN          "dp_min"
#define QE_KLD_DP_P01          "dp_p01"
#define QE_KLD_DP_P05          "dp_p05"
#define QE_KLD_DP_P50          "dp_median"
#define QE_KLD_DP_P95          "dp_p95"
#define QE_KLD_DP_P99          "dp_p99"
#define QE_KLD_DP_MAX          "dp_max"
#define QE_KLD_TOKENS_PER_S    "tokens_per_s"   /* scored tokens / the task's wall time at the level */
#define QE_KLD_ERROR           "error"          /* why a level has no numbers */
/* a level that gave top-K log-probabilities only (a server): */
#define QE_KLD_ESTIMATE        "kld_estimate"   /* "top-k lower bound (K=100)": the KLD keys hold a lower bound */
#define QE_KLD_TOPK            "top_k"          /* the fewest entries a position had */
#define QE_KLD_N_NLL_UNKNOWN   "n_nll_unknown"  /* positions whose true token's log-probability is unknown */
#define QE_KLD_NLL_UNKNOWN_FRAC "nll_unknown_frac" /* their fraction (PPL, its ratio and dp leave them out) */

/* The task's view (kld_view.c). */
extern const struct qe_view qe_view_kld;

#endif
