/* qeval — the serve task's per-level block of results.json: its keys,
 * written by serve_summarize (harness/tasks/serve.c) and read by its view
 * (harness/tasks/serve_view.c), each spelled once. Shape and meaning:
 * docs/results-schema.md. A concurrency is an element of "concurrency"
 * named by its "name" ("c4"); as a metric path "concurrency.c4.ttft_ms.p99".
 */
#ifndef QE_TASKS_SERVE_KEYS_H
#define QE_TASKS_SERVE_KEYS_H

struct qe_task;
struct qe_view;

#define QE_SERVE_RUNS        "concurrency"   /* array, one element per concurrency */
#define QE_SERVE_NAME        "name"          /* "c4" */
#define QE_SERVE_C           "c"             /* requests in flight */
#define QE_SERVE_N           "n"             /* requests recorded */
#define QE_SERVE_N_FAILED    "n_failed"
#define QE_SERVE_ERROR       "error"         /* the first failed request's message */
#define QE_SERVE_DURATION    "duration_s"
#define QE_SERVE_OUT_TOKENS  "output_tokens"
#define QE_SERVE_OUT_TPS     "output_tps"    /* output tokens/s over the run */
#define QE_SERVE_REQ_RPS     "request_rps"   /* completed requests/s */
#define QE_SERVE_TTFT        "ttft_ms"       /* {mean, median, p90, p99} */
#define QE_SERVE_TPOT        "tpot_ms"
#define QE_SERVE_ITL         "itl_ms"
#define QE_SERVE_E2E         "e2e_ms"
#define QE_SERVE_MEAN        "mean"
#define QE_SERVE_MEDIAN      "median"
#define QE_SERVE_P90         "p90"
#define QE_SERVE_P99         "p99"

extern const struct qe_task qe_task_serve;
extern const struct qe_view qe_view_serve;

#endif
