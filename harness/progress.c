#include "harness/progress.h"
#include "harness/base/sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct qe_progress {
	size_t total, done, done_at_start;
	int quiet, tty;
	double t_start, t_last;
	char level[64], task[64];
};

struct qe_progress *qe_progress_new(size_t total, int quiet)
{
	struct qe_progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->total = total;
	p->quiet = quiet;
	p->tty = isatty(2);
	p->t_start = p->t_last = qe_now();
	return p;
}

void qe_progress_label(struct qe_progress *p, const char *level, const char *task)
{
	if (!p)
		return;
	snprintf(p->level, sizeof(p->level), "%s", level ? level : "");
	snprintf(p->task, sizeof(p->task), "%s", task ? task : "");
	p->t_start = qe_now();
	p->done_at_start = p->done;
}

static void draw(struct qe_progress *p, int final)
{
	double el = qe_now() - p->t_start;
	double rate = el > 0 ? (double)(p->done - p->done_at_start) / el : 0;
	double eta = rate > 0 && p->total > p->done ? (double)(p->total - p->done) / rate : 0;

	if (p->tty) {
		char bar[31];
		size_t fill = p->total ? (size_t)(30.0 * (double)p->done / (double)p->total) : 0;
		if (fill > 30)
			fill = 30;
		memset(bar, '#', fill);
		memset(bar + fill, '.', 30 - fill);
		bar[30] = '\0';
		fprintf(stderr, "\r%-8s %-10s [%s] %zu/%zu %.1f it/s ETA %02d:%02d%s", p->level, p->task, bar, p->done,
			p->total, rate, (int)(eta / 60), (int)eta % 60, final ? "\n" : "");
	} else {
		fprintf(stderr, "progress: level %s task %s: %zu/%zu items, %.1f items/s, ETA %.0f s\n", p->level,
			p->task, p->done, p->total, rate, eta);
	}
	fflush(stderr);
}

void qe_progress_add(struct qe_progress *p, size_t n)
{
	double now;

	if (!p)
		return;
	p->done += n;
	if (p->quiet)
		return;
	now = qe_now();
	if (now - p->t_last >= (p->tty ? 0.2 : 10.0)) {
		p->t_last = now;
		draw(p, 0);
	}
}

void qe_progress_set(struct qe_progress *p, size_t done)
{
	if (!p)
		return;
	p->done = done;
	p->done_at_start = done;
}

void qe_progress_free(struct qe_progress *p)
{
	if (!p)
		return;
	if (!p->quiet && p->tty && p->done)
		draw(p, 1);
	free(p);
}
