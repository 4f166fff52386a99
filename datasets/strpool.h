/* qeval — a string pool: many small allocations freed together.
 *
 * The dataset loaders keep every question, choice, id and sentence of a set
 * in one pool, so releasing a set is one call. Memory comes in chunks of
 * 64 KiB (larger requests get a chunk of their own); nothing is freed before
 * qe_strpool_free. Not thread-safe: one pool per thread or per set.
 */
#ifndef QE_DATASETS_STRPOOL_H
#define QE_DATASETS_STRPOOL_H

#include <stddef.h>

struct qe_strpool;

/* A new empty pool, NULL when out of memory. Free with qe_strpool_free. */
struct qe_strpool *qe_strpool_new(void);

/* n bytes aligned for any type; NULL when out of memory. Valid until
 * qe_strpool_free(p). */
void *qe_strpool_alloc(struct qe_strpool *p, size_t n);

/* A NUL-terminated copy of s[0..len) (s may hold no NUL in that range);
 * NULL when out of memory. Valid until qe_strpool_free(p). */
char *qe_strpool_dup(struct qe_strpool *p, const char *s, size_t len);

/* qe_strpool_dup(p, s, strlen(s)). */
char *qe_strpool_str(struct qe_strpool *p, const char *s);

/* Bytes handed out so far (statistics). */
size_t qe_strpool_used(const struct qe_strpool *p);

/* Frees the pool and everything allocated from it; NULL is a no-op. */
void qe_strpool_free(struct qe_strpool *p);

#endif
