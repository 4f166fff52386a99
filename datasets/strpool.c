#include "datasets/strpool.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { POOL_CHUNK = 64 * 1024 };

struct chunk {
	struct chunk *next;
	size_t size, used;      /* bytes of data[] */
	alignas(max_align_t) unsigned char data[];
};

struct qe_strpool {
	struct chunk *head;     /* the chunk being filled; older ones follow */
	size_t used;
};

struct qe_strpool *qe_strpool_new(void)
{
	return calloc(1, sizeof(struct qe_strpool));
}

static struct chunk *chunk_new(size_t size)
{
	struct chunk *c;

	if (size > SIZE_MAX - sizeof(*c))
		return NULL;
	c = malloc(sizeof(*c) + size);
	if (!c)
		return NULL;
	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

/* n bytes at a multiple of align (a power of two) from the head chunk. */
static void *pool_take(struct qe_strpool *p, size_t n, size_t align)
{
	struct chunk *c = p->head;
	size_t at;

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX - align)
		return NULL;
	if (c) {
		at = (c->used + align - 1) & ~(align - 1);
		if (at <= c->size && c->size - at >= n) {
			c->used = at + n;
			p->used += n;
			return c->data + at;
		}
	}
	if (n > POOL_CHUNK / 4) {
		/* A big block gets its own chunk, linked behind the head so
		 * the head keeps filling. */
		struct chunk *big = chunk_new(n);

		if (!big)
			return NULL;
		big->used = n;
		if (c) {
			big->next = c->next;
			c->next = big;
		} else {
			p->head = big;
		}
		p->used += n;
		return big->data;
	}
	c = chunk_new(POOL_CHUNK);
	if (!c)
		return NULL;
	c->next = p->head;
	p->head = c;
	c->used = n;
	p->used += n;
	return c->data;
}

void *qe_strpool_alloc(struct qe_strpool *p, size_t n)
{
	return pool_take(p, n, alignof(max_align_t));
}

char *qe_strpool_dup(struct qe_strpool *p, const char *s, size_t len)
{
	char *d;

	if (len == SIZE_MAX)
		return NULL;
	d = pool_take(p, len + 1, 1);
	if (!d)
		return NULL;
	if (len)
		memcpy(d, s, len);
	d[len] = '\0';
	return d;
}

char *qe_strpool_str(struct qe_strpool *p, const char *s)
{
	return qe_strpool_dup(p, s, strlen(s));
}

size_t qe_strpool_used(const struct qe_strpool *p)
{
	return p ? p->used : 0;
}

void qe_strpool_free(struct qe_strpool *p)
{
	struct chunk *c, *next;

	if (!p)
		return;
	for (c = p->head; c; c = next) {
		next = c->next;
		free(c);
	}
	free(p);
}
