#!/usr/bin/env bash
# Runs every built test binary and adds up their summary lines.
# Usage: tests/run.sh BUILD_DIR. Ends with "N passed, N failed, N skipped".
# A binary that crashes, times out (QE_TEST_TIMEOUT seconds, default 600: said
# as a timeout) or prints no summary counts as one failure.
set -u
bdir=${1:-build}
export QE_FIXTURES=${QE_FIXTURES:-$bdir/fixtures}
export QE_SHARED=${QE_SHARED:-../shared}
export QE_BUILD=$bdir
[ -d "$QE_SHARED" ] || echo "note: $QE_SHARED is absent: tests on the real models and datasets will skip"
pass=0 fail=0 skip=0
for t in "$bdir"/tests/t_* "$bdir"/tests/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	out=$(timeout "${QE_TEST_TIMEOUT:-600}" "$t" 2> >(sed "s/^/[$name] /" >&2))
	rc=$?
	line=$(printf '%s\n' "$out" | grep -E "^$name: [0-9]+ passed, [0-9]+ failed" | tail -n 1)
	if [ -z "$line" ] && { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; }; then
		echo "$name: timed out after ${QE_TEST_TIMEOUT:-600} s (QE_TEST_TIMEOUT; a loaded machine? see uptime)"
		fail=$((fail + 1))
		continue
	fi
	if [ -z "$line" ]; then
		echo "$name: crashed or printed no summary (exit $rc)"
		fail=$((fail + 1))
		continue
	fi
	echo "$line"
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	s=$(echo "$line" | sed -E 's/.* ([0-9]+) skipped.*/\1/')
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail=$((fail + 1)); echo "$name: exit $rc"; fi
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
