/* qeval — the table `qeval run` prints when a run is done: every level's
 * size, then each task's rows as its view writes them (reports/view.h). */
#ifndef QE_REPORTS_SUMMARY_H
#define QE_REPORTS_SUMMARY_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* Read run_dir/results.json and print its summary to out; prints nothing
 * when the file cannot be read (the run's own messages say why). */
void qe_summary_print(const char *run_dir, FILE *out);

/* For views' summary rows: o[k] as a percentage with 2 decimals ("25.13"),
 * or with `digits` decimals, written into b (cap bytes); "-" (static) when
 * the value is null or absent. */
const char *qe_summary_pct(char *b, size_t cap, const cJSON *o, const char *k);
const char *qe_summary_num(char *b, size_t cap, const cJSON *o, const char *k, int digits);

#endif
