#include "reports/fmt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* printf the magnitude with dec decimals, then put the sign in front. */
static char *signed_fmt(char *buf, size_t cap, double v, int dec, int plus)
{
	char num[QE_FMT_CAP];
	const char *sign = "";

	if (isnan(v)) {
		snprintf(buf, cap, "%s", QE_DASH);
		return buf;
	}
	snprintf(num, sizeof(num), "%.*f", dec, fabs(v));
	/* a value that rounds to zero shows no sign */
	if (strspn(num, "0.") != strlen(num)) {
		if (v < 0)
			sign = QE_MINUS;
		else if (plus)
			sign = "+";
	}
	snprintf(buf, cap, "%s%s", sign, num);
	return buf;
}

char *qe_fmt_pct(char *buf, size_t cap, double frac, int dec)
{
	signed_fmt(buf, cap, frac * 100.0, dec, 0);
	if (!isnan(frac) && strlen(buf) + 2 <= cap)
		strcat(buf, "%");
	return buf;
}

char *qe_fmt_points(char *buf, size_t cap, double frac, int dec)
{
	return signed_fmt(buf, cap, frac * 100.0, dec, 1);
}

char *qe_fmt_fixed(char *buf, size_t cap, double v, int dec, int is_signed)
{
	return signed_fmt(buf, cap, v, dec, is_signed);
}

char *qe_fmt_sig(char *buf, size_t cap, double v, int sig)
{
	double a = fabs(v);
	int dec;

	if (isnan(v)) {
		snprintf(buf, cap, "%s", QE_DASH);
		return buf;
	}
	if (a == 0)
		return signed_fmt(buf, cap, v, 0, 0);
	if (a < 1e-4 || a >= 1e9) {
		char num[QE_FMT_CAP];
		snprintf(num, sizeof(num), "%.*e", sig - 1, a);
		snprintf(buf, cap, "%s%s", v < 0 ? QE_MINUS : "", num);
		return buf;
	}
	dec = sig - 1 - (int)floor(log10(a));
	if (dec < 0)
		dec = 0;
	return signed_fmt(buf, cap, v, dec, 0);
}

char *qe_fmt_p(char *buf, size_t cap, double p)
{
	if (isnan(p))
		snprintf(buf, cap, "%s", QE_DASH);
	else if (p >= 0.001 || p == 0)
		snprintf(buf, cap, "%.3f", p);
	else
		snprintf(buf, cap, "%.1e", p);
	return buf;
}

char *qe_fmt_bytes(char *buf, size_t cap, double b)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	int u = -1;

	if (isnan(b)) {
		snprintf(buf, cap, "%s", QE_DASH);
		return buf;
	}
	if (b < 1024) {
		snprintf(buf, cap, "%.0f B", b);
		return buf;
	}
	while (b >= 1024 && u < 3) {
		b /= 1024;
		u++;
	}
	snprintf(buf, cap, b < 10 ? "%.2f %s" : b < 100 ? "%.1f %s" : "%.0f %s", b, unit[u]);
	return buf;
}

char *qe_fmt_ratio(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "%s", QE_DASH);
	else
		snprintf(buf, cap, "%.2f%s", v, QE_TIMES);
	return buf;
}

char *qe_fmt_count(char *buf, size_t cap, double v)
{
	if (isnan(v))
		snprintf(buf, cap, "%s", QE_DASH);
	else
		snprintf(buf, cap, "%.0f", v);
	return buf;
}

char *qe_fmt_grouped(char *buf, size_t cap, double v)
{
	char digits[QE_FMT_CAP];
	size_t n, o = 0;

	if (isnan(v) || fabs(v) >= 1e18) {
		snprintf(buf, cap, "%s", isnan(v) ? QE_DASH : "?");
		return buf;
	}
	snprintf(digits, sizeof(digits), "%.0f", fabs(v));
	n = strlen(digits);
	if (v < 0 && o + 1 < cap)
		buf[o++] = '-';
	for (size_t i = 0; i < n && o + 2 < cap; i++) {
		if (i && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}
