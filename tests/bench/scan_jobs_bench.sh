#!/usr/bin/env bash
# Parallel sensitivity scan benchmark (issue 15; a script, not a test): the
# same `qeval sensitivity` scan once as one process, then as `--jobs NP`
# (each job on its share of the CPUs and, where several GPUs are visible,
# its own GPU); each run quantizes its own levels (a cache of its own), so
# both pay the same work. Prints both wall times, their ratio, the machine's
# load before each, and whether the two ranked tables are equal.
#
#   tests/bench/scan_jobs_bench.sh QEVAL MODEL [qeval sensitivity flags: the tasks ...]
#
# Knobs (environment): NP (jobs, 2), TYPES (q4_K), SCAN_GROUPS (kind), OUT (a
# fresh temp dir). Example (the CPU figure of docs/recipes.md):
#   tests/bench/scan_jobs_bench.sh ./qeval ../shared/models/zh-bert-4L-256.gguf \
#       --pairs ../shared/datasets/lcqmc/test.tsv --limit 200
set -uo pipefail
[ $# -ge 2 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
QEVAL=$1 MODEL=$2
shift 2
NP=${NP:-2} TYPES=${TYPES:-q4_K} GROUPS_=${SCAN_GROUPS:-kind}
OUT=${OUT:-$(mktemp -d /tmp/qeval-scanjobs.XXXXXX)}
mkdir -p "$OUT"
now() { date +%s.%N; }
echo "scan_jobs_bench: $(date -u +%FT%TZ), $(nproc) CPUs, $("$QEVAL" --version | head -1)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,name --format=csv,noheader
echo "model $MODEL, types $TYPES, groups $GROUPS_, flags: $*"

run() { # NAME JOBS [flags]
	local t0 rc name=$1 jobs=$2
	shift 2
	echo "load before $name: $(cut -d' ' -f1-3 /proc/loadavg)"
	t0=$(now)
	QEVAL_CACHE="$OUT/cache-$name" "$QEVAL" sensitivity --model "$MODEL" --types "$TYPES" --groups "$GROUPS_" \
		--jobs "$jobs" -q --no-summary --out "$OUT/$name" "$@" > "$OUT/$name.log" 2>&1
	rc=$?
	python3 -c "print($(now) - $t0)" > "$OUT/$name.wall"
	python3 -c "print(f'$name (--jobs $jobs): exit $rc, wall {$(cat "$OUT/$name.wall"):.1f} s')"
	return $rc
}
run one 1 "$@" || { tail -5 "$OUT/one.log"; exit 1; }
run jobs "$NP" "$@" || { tail -5 "$OUT/jobs.log"; exit 1; }
grep "^qeval.*: job " "$OUT/jobs.log"
w1=$(cat "$OUT/one.wall") w2=$(cat "$OUT/jobs.wall")
python3 -c "print(f'ratio --jobs $NP / one process: {$w2 / $w1:.3f} ({$w1:.1f} s -> {$w2:.1f} s)')"
if cmp -s "$OUT/one/sensitivity.md" "$OUT/jobs/sensitivity.md"; then
	echo "ranked tables: equal"
else
	echo "ranked tables: DIFFER"; diff "$OUT/one/sensitivity.md" "$OUT/jobs/sensitivity.md" | head; exit 1
fi
echo "output: $OUT"
