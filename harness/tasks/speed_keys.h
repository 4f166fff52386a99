/* qeval — the speed task's per-level block of results.json: its keys,
 * written by speed_summarize (harness/tasks/speed.c) and read by its view
 * (harness/tasks/speed_view.c) and by `qeval bench`'s table, so each is
 * spelled once. The block's shape and meaning: docs/results-schema.md. A test
 * is an element of "tests" named by its "name"; as a metric path
 * "tests.<name>.tps_mean".
 */
#ifndef QE_TASKS_SPEED_KEYS_H
#define QE_TASKS_SPEED_KEYS_H

struct qe_task;
struct qe_view;

#define QE_SPEED_TESTS            "tests"          /* array of test objects */
#define QE_SPEED_NAME             "name"           /* a test's name: "pp512", "tg128", "pp512+tg128" */
#define QE_SPEED_N_PROMPT         "n_prompt"
#define QE_SPEED_N_GEN            "n_gen"
#define QE_SPEED_REPS             "reps"           /* usable timed repetitions */
#define QE_SPEED_N_FAILED         "n_failed"
#define QE_SPEED_ERROR            "error"
#define QE_SPEED_TPS_SAMPLES      "tps_samples"
#define QE_SPEED_TPS_MEAN         "tps_mean"       /* tokens/s */
#define QE_SPEED_TPS_SD           "tps_sd"
#define QE_SPEED_TPS_CV           "tps_cv"         /* tps_sd / tps_mean */
#define QE_SPEED_NOISY            "noisy"          /* tps_cv > QE_SPEED_NOISY_CV: kept out of verdicts and charts' frontier */
#define QE_SPEED_LOAD1_MEAN       "load1_mean"     /* mean 1-minute load average after each repetition */
#define QE_SPEED_STEAL_S          "steal_s"        /* CPU seconds stolen by the hypervisor during the repetitions */
#define QE_SPEED_TTFT_SAMPLES     "ttft_ms_samples"
#define QE_SPEED_TTFT_MEAN        "ttft_ms_mean"   /* ms to the first token */
#define QE_SPEED_TTFT_SD          "ttft_ms_sd"
#define QE_SPEED_TPOT_SAMPLES     "tpot_ms_samples"
#define QE_SPEED_TPOT_MEAN        "tpot_ms_mean"   /* ms per later token */
#define QE_SPEED_TPOT_SD          "tpot_ms_sd"
#define QE_SPEED_LOAD_S           "load_s"
#define QE_SPEED_PEAK_RSS         "peak_rss_bytes"
#define QE_SPEED_FILE_BYTES       "file_bytes"
#define QE_SPEED_N_PARAMS         "n_params"
#define QE_SPEED_BPW              "bpw"
#define QE_SPEED_SIZE_RATIO       "size_ratio"
#define QE_SPEED_THREADS          "threads"
#define QE_SPEED_THREADS_BATCH    "threads_batch"
#define QE_SPEED_N_BATCH          "n_batch"
#define QE_SPEED_N_UBATCH         "n_ubatch"
#define QE_SPEED_N_GPU_LAYERS     "n_gpu_layers"
#define QE_SPEED_WARNING          "warning"
#define QE_SPEED_SPEEDUP          "speedup"        /* test name -> tokens/s over the reference's; null at it */

/* A test whose tokens/s vary more than this (sd / mean) between repetitions
 * measured a busy machine more than the level. */
#define QE_SPEED_NOISY_CV 0.10

/* The task (speed.c), for `qeval bench`, which runs it alone, and its view
 * (speed_view.c). */
extern const struct qe_task qe_task_speed;
extern const struct qe_view qe_view_speed;

#endif
