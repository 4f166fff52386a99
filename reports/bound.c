/* qeval — differences of lower bounds. See reports/bound.h. */
#include "reports/bound.h"

#include "reports/view.h"

const char *qe_bound_diff(int delta, int v_lb, int w_lb, double v, double w)
{
	if (!v_lb && !w_lb)
		return "";
	if (v_lb && w_lb)
		return NULL;
	if (delta != QE_VD_RATIO) /* v - w grows with v and shrinks with w */
		return v_lb ? QE_BOUND_GE : QE_BOUND_LE;
	/* v / w: grows with v when w > 0, shrinks with w when v >= 0 and w > 0 */
	if (v_lb)
		return w > 0 ? QE_BOUND_GE : NULL;
	return v >= 0 && w > 0 ? QE_BOUND_LE : NULL;
}
