/* qeval — the multiple-choice tasks' (mmlu, ceval) per-level block of
 * results.json: its keys, written by mc_summarize (harness/tasks/mc.c) and
 * read by the tasks' views (harness/tasks/mc_view.c), so each is spelled
 * once. The block's shape and meaning: docs/results-schema.md. Adjacent
 * string literals join them into metric paths (QE_MC_VS_REF "." QE_MC_KL_MEAN).
 */
#ifndef QE_TASKS_MC_KEYS_H
#define QE_TASKS_MC_KEYS_H

struct qe_view;

#define QE_MC_N                 "n"                 /* items in the set */
#define QE_MC_N_SCORED          "n_scored"
#define QE_MC_N_CHOICES         "n_choices"         /* choices per item: chance = 1 / n_choices */
#define QE_MC_N_SHOTS           "n_shots"           /* few-shot examples asked for (a subject may have fewer) */
#define QE_MC_N_FAILED          "n_failed"          /* items that could not be scored */
#define QE_MC_N_NO_GOLD         "n_no_gold"
#define QE_MC_N_TRUNCATED       "n_truncated"
#define QE_MC_ACC               "acc"               /* fraction, micro average */
#define QE_MC_ACC_STDERR        "acc_stderr"
#define QE_MC_ACC_CI95          "acc_ci95"          /* [lo, hi], Wilson score interval */
#define QE_MC_ACC_MACRO         "acc_macro"         /* mean over subjects */
#define QE_MC_CATEGORIES        "categories"        /* name -> {acc, n, acc_macro} */
#define QE_MC_GROUPS            "groups"            /* name -> {acc, n} */
#define QE_MC_GROUP_CEVAL_HARD  "ceval-hard"
#define QE_MC_SUBJECTS          "subjects"          /* name -> {acc, acc_stderr, n, category} */
#define QE_MC_CATEGORY          "category"
#define QE_MC_VS_REF            "vs_ref"            /* null at the reference */
#define QE_MC_N_PAIRED          "n_paired"
#define QE_MC_DELTA_ACC         "delta_acc"
#define QE_MC_DELTA_CI95        "delta_ci95"        /* [lo, hi], Newcombe's paired score interval */
#define QE_MC_DELTA_BOOT_CI95   "delta_boot_ci95"   /* [lo, hi], paired stratified bootstrap */
#define QE_MC_MCNEMAR_P         "mcnemar_p"
#define QE_MC_LOST              "ref_right_level_wrong"
#define QE_MC_GAINED            "ref_wrong_level_right"
#define QE_MC_SAME_ANSWER       "same_answer_rate"
#define QE_MC_KL_MEAN           "kl_mean"
#define QE_MC_KL_MAX            "kl_max"
#define QE_MC_TOP_CHANGED       "top_changed_rate"
#define QE_MC_THROUGHPUT        "throughput"
#define QE_MC_PROMPT_TOKENS     "prompt_tokens"
#define QE_MC_PROMPT_EVALUATED  "prompt_tokens_evaluated"
#define QE_MC_TOKENS_SAVED      "tokens_saved_by_reuse"
#define QE_MC_PROMPT_TPS        "prompt_tokens_per_s"
#define QE_MC_ITEMS_PER_S       "items_per_s"
#define QE_MC_WALL_S            "wall_s"

/* The tasks' views (mc_view.c). */
extern const struct qe_view qe_view_mmlu;
extern const struct qe_view qe_view_ceval;

#endif
