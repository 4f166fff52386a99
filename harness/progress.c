#include "harness/progress.h"
#include "harness/base/sys.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Every field is read and written under mu: the task's thread adds, the
 * timer thread draws. */
struct qe_progress {
	pthread_mutex_t mu;
	pthread_t timer;
	int timer_on, stop;
	size_t total, done, done_at_start; /* done_at_start: units before this task's timing (resumed ones) */
	int quiet, tty;
	int level_index, n_levels;         /* 0-based; n_levels 0 = unknown */
	double t_level, t_start, t_last;   /* level start, task timing start, last draw */
	char level[64], task[64];
};

/* "1:05" or "1:02:05" */
static char *clock_text(char *b, size_t cap, double s)
{
	long t = s > 0 && s < 1e7 ? (long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(b, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(b, cap, "%ld:%02ld", t / 60, t % 60);
	return b;
}

/* Called with mu held. The rate counts only units done since the task's
 * timing started (resumed items are not work done now); the run's ETA assumes
 * each level left takes as long as this one will. */
static void draw(struct qe_progress *p, int final)
{
	double now = qe_now(), el = now - p->t_start, lel = now - p->t_level;
	double rate = el > 0 ? (double)(p->done - p->done_at_start) / el : 0;
	double eta = p->total && p->done >= p->total ? 0 : rate > 0 && p->total > p->done ? (double)(p->total - p->done) / rate : -1;
	double left = p->n_levels > p->level_index + 1 && eta >= 0 ? (double)(p->n_levels - p->level_index - 1) * (lel + eta)
								   : 0;
	char lv[32] = "", a[16], b[16], c[16];

	if (p->n_levels)
		snprintf(lv, sizeof(lv), "level %d/%d ", p->level_index + 1, p->n_levels);
	p->t_last = now;
	if (p->tty) {
		char bar[21];
		size_t fill = p->total ? (size_t)(20.0 * (double)p->done / (double)p->total) : 0;
		fill = fill > 20 ? 20 : fill;
		memset(bar, '#', fill);
		memset(bar + fill, '.', 20 - fill);
		bar[20] = '\0';
		fprintf(stderr, "\r\033[K%s%s %s [%s] %zu/%zu %.1f it/s, %s in level, ETA %s", lv, p->level, p->task, bar, p->done,
			p->total, rate, clock_text(a, sizeof(a), lel), eta >= 0 ? clock_text(b, sizeof(b), eta) : "?");
		if (left > 0)
			fprintf(stderr, ", run ~%s", clock_text(c, sizeof(c), eta + left));
		fputs(final ? "\n" : "", stderr);
	} else {
		fprintf(stderr, "progress: %s%s task %s: %zu/%zu items, %.1f items/s, %s in level, ETA %s", lv, p->level,
			p->task, p->done, p->total, rate, clock_text(a, sizeof(a), lel),
			eta >= 0 ? clock_text(b, sizeof(b), eta) : "?");
		if (left > 0)
			fprintf(stderr, " (run ~%s)", clock_text(c, sizeof(c), eta + left));
		fputc('\n', stderr);
	}
	fflush(stderr);
}

/* The timer: redraws every second on a terminal, every 10 s otherwise, so
 * that a long load or a slow batch still shows the time going. */
static void *timer_main(void *arg)
{
	struct qe_progress *p = arg;
	const struct timespec tick = { 0, 100000000 };

	for (;;) {
		nanosleep(&tick, NULL);
		pthread_mutex_lock(&p->mu);
		if (p->stop) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		if (qe_now() - p->t_last >= (p->tty ? 1.0 : 10.0))
			draw(p, 0);
		pthread_mutex_unlock(&p->mu);
	}
}

struct qe_progress *qe_progress_new(size_t total, int quiet)
{
	struct qe_progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->mu, NULL);
	p->total = total;
	p->quiet = quiet;
	p->tty = isatty(2);
	p->t_level = p->t_start = p->t_last = qe_now();
	if (!quiet)
		p->timer_on = pthread_create(&p->timer, NULL, timer_main, p) == 0;
	return p;
}

void qe_progress_recount(struct qe_progress *p, size_t was, size_t now)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->total = p->total >= was ? p->total - was + now : now;
	pthread_mutex_unlock(&p->mu);
}

void qe_progress_levels(struct qe_progress *p, int index, int n)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->level_index = index;
	p->n_levels = n;
	pthread_mutex_unlock(&p->mu);
}

void qe_progress_label(struct qe_progress *p, const char *level, const char *task)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	snprintf(p->level, sizeof(p->level), "%s", level ? level : "");
	snprintf(p->task, sizeof(p->task), "%s", task ? task : "");
	p->t_start = qe_now();
	p->done_at_start = p->done;
	pthread_mutex_unlock(&p->mu);
}

void qe_progress_add(struct qe_progress *p, size_t n)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->done += n;
	if (!p->quiet && qe_now() - p->t_last >= (p->tty ? 0.2 : 10.0))
		draw(p, 0);
	pthread_mutex_unlock(&p->mu);
}

void qe_progress_skip(struct qe_progress *p, size_t n)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->done += n;
	p->done_at_start += n;
	pthread_mutex_unlock(&p->mu);
}

void qe_progress_set(struct qe_progress *p, size_t done)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->done = done;
	p->done_at_start = done;
	pthread_mutex_unlock(&p->mu);
}

void qe_progress_free(struct qe_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_mutex_unlock(&p->mu);
	if (p->timer_on)
		pthread_join(p->timer, NULL);
	if (!p->quiet && p->tty && p->done)
		draw(p, 1);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
