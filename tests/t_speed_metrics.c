/* Tests of metrics/speed.h against hand-worked values. */
#include "metrics/speed.h"

#include <math.h>
#include <stdint.h>

#include "tests/tq.h"

#define TOL 1e-9

static void test_rate(void)
{
	/* rates 512 * {2, 4, 1} tokens/s: mean 512 * 7/3, sample sd 512 * sqrt(7/3)
	 * (deviations -1/3, 5/3, -4/3: squares sum 42/9, over n - 1 = 2) */
	const uint64_t tok[3] = { 512, 512, 512 };
	const double sec[3] = { 0.5, 0.25, 1.0 };
	struct qe_speed_summary s;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_speed_rate(tok, sec, 3, &s, &err), 0);
	TQ_EQ_INT(s.n, 3);
	TQ_NEAR(s.mean, 512.0 * 7.0 / 3.0, TOL);
	TQ_NEAR(s.sd, 512.0 * sqrt(7.0 / 3.0), TOL);
	TQ_NEAR(s.min, 512.0, TOL);
	TQ_NEAR(s.max, 2048.0, TOL);
	/* the mean of rates, not total tokens over total time (1536 / 1.75) */
	TQ_CHECK(fabs(s.mean - 1536.0 / 1.75) > 1.0);

	TQ_EQ_INT(qe_speed_rate(tok, sec, 1, &s, &err), 0);
	TQ_NEAR(s.mean, 1024.0, TOL);
	TQ_CHECK(isnan(s.sd));
	TQ_EQ_INT(qe_speed_rate(tok, sec, 0, &s, &err), 0);
	TQ_CHECK(isnan(s.mean));
}

static void test_rate_errors(void)
{
	const uint64_t tok[2] = { 10, 10 };
	const double sec[2] = { 1.0, 0.0 };
	struct qe_speed_summary s;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_speed_rate(tok, sec, 2, &s, &err), QE_EINPUT);
	TQ_CHECK(strstr(err.msg, "repetition 1") != NULL);
	TQ_EQ_INT(qe_speed_rate(NULL, sec, 2, &s, &err), QE_EINVAL);
}

static void test_latency(void)
{
	/* 10, 12, 14 ms: mean 12, sd 2 */
	const double sec[3] = { 0.010, 0.012, 0.014 }, bad[1] = { -1.0 };
	struct qe_speed_summary s;
	struct qe_err err = { 0 };

	TQ_EQ_INT(qe_speed_latency(sec, 3, &s, &err), 0);
	TQ_NEAR(s.mean, 12.0, TOL);
	TQ_NEAR(s.sd, 2.0, TOL);
	TQ_NEAR(s.min, 10.0, TOL);
	TQ_EQ_INT(qe_speed_latency(bad, 1, &s, &err), QE_EINPUT);
}

int main(void)
{
	TQ_RUN(test_rate);
	TQ_RUN(test_rate_errors);
	TQ_RUN(test_latency);
	return tq_done("t_speed_metrics");
}
