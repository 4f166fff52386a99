#!/usr/bin/env bash
# Scale-out benchmark (issue 16; a script, not a test): the six-level MMLU +
# C-Eval sweep (as tests/bench/sweep_bench.sh runs it) once in one process on
# one GPU, then with mpirun over NP ranks, each rank on the GPU of its local
# rank; prints both wall times, their ratio (target <= 0.55 with 2 GPUs), each
# rank's estimated share, and whether the two results.json are equal value
# for value (timings aside).
#
#   tests/bench/scale_bench.sh QEVAL MODEL MMLU CEVAL
#
#   QEVAL  a qeval built with MPI (make MPI=1, LLAMA_CUDA=1 for the GPUs)
#   MODEL  the F16 GGUF; MMLU, CEVAL the data folders
#
# Knobs (environment): NP (ranks, 2), LEVELS (F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K),
# NGL (99), THREADS (CPU threads of the one-process run, nproc; each rank gets
# THREADS / NP), LIMIT (none: every item), OUT (a fresh temp dir), CACHE
# (quantization cache, default $OUT/cache; the levels are made before either
# run), EXTRA (more `qeval run` flags for both runs), MPIRUN_ARGS (more mpirun
# flags), MODE (mpi, shards, or auto: mpi when qeval has MPI and mpirun is on
# PATH, else shards: NP `qeval run --shard I/NP` processes at once, each on its
# own GPU, then `qeval merge`, timed as a whole). The one-process run sees only
# the first GPU (CUDA_VISIBLE_DEVICES), so that it is one GPU against NP.
set -uo pipefail
[ $# -eq 4 ] || { sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
QEVAL=$1 MODEL=$2 MMLU=$3 CEVAL=$4
NP=${NP:-2}
LEVELS=${LEVELS:-F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K}
NGL=${NGL:-99}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-$(mktemp -d /tmp/qeval-scale.XXXXXX)}
mkdir -p "$OUT"
CACHE=${CACHE:-$OUT/cache}
lim=(); [ -n "${LIMIT:-}" ] && lim=(--limit "$LIMIT")
root=(); [ "$(id -u)" = 0 ] && root=(--allow-run-as-root)

MODE=${MODE:-auto}
if [ "$MODE" = auto ]; then
	MODE=mpi
	"$QEVAL" version | grep -q '^mpi: yes' || { MODE=shards; echo "scale_bench: $QEVAL was built without MPI: shards + merge instead"; }
	[ "$MODE" = mpi ] && ! command -v mpirun >/dev/null && { MODE=shards; echo "scale_bench: no mpirun on PATH: shards + merge instead"; }
fi
gpus=${CUDA_VISIBLE_DEVICES:-$(nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | paste -sd, -)}
first=${gpus%%,*}

now() { date +%s.%N; }
echo "scale_bench: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $("$QEVAL" --version | head -1)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,name,driver_version --format=csv,noheader
echo "model $MODEL, levels $LEVELS, ngl $NGL, $NP ranks ($MODE), GPUs '${gpus:-none}' ${LIMIT:+limit $LIMIT} ${EXTRA:-}"

t0=$(now)
"$QEVAL" quantize --model "$MODEL" --levels "${LEVELS#F16,}" --cache "$CACHE" --threads "$THREADS" > "$OUT/levels.txt" || exit 1
echo "levels made (or found) in the cache: $(python3 -c "print(round($(now)-$t0,1))") s"

# shellcheck disable=SC2086
args=(run -m "$MODEL" -l "$LEVELS" --mmlu "$MMLU" --ceval "$CEVAL" "${lim[@]}" --ngl "$NGL" -q --no-summary --cache "$CACHE")

t0=$(now)
# shellcheck disable=SC2086
CUDA_VISIBLE_DEVICES=${first} "$QEVAL" "${args[@]}" -t "$THREADS" -o "$OUT/one" ${EXTRA:-} > "$OUT/one.log" 2>&1
rc1=$?
w1=$(python3 -c "print($(now)-$t0)")
echo "1 process (GPU ${first:-none}): exit $rc1, wall $(python3 -c "print(round($w1,1))") s"

tr=$((THREADS / NP > 0 ? THREADS / NP : 1))
IFS=, read -r -a glist <<<"$gpus"
t0=$(now)
if [ "$MODE" = mpi ]; then
	# shellcheck disable=SC2086
	CUDA_VISIBLE_DEVICES=$gpus mpirun "${root[@]}" -np "$NP" --bind-to none ${MPIRUN_ARGS:-} \
		"$QEVAL" "${args[@]}" -t "$tr" -o "$OUT/mpi" ${EXTRA:-} > "$OUT/mpi.log" 2>&1
	rc2=$?
	grep "^qeval run: rank" "$OUT/mpi.log"
else
	pids=()
	for ((i = 0; i < NP; i++)); do
		g=${glist[$((i % (${#glist[@]} > 0 ? ${#glist[@]} : 1)))]:-$i}
		# shellcheck disable=SC2086
		CUDA_VISIBLE_DEVICES=$g "$QEVAL" "${args[@]}" -t "$tr" --shard "$i/$NP" -o "$OUT/shard$i" ${EXTRA:-} \
			> "$OUT/shard$i.log" 2>&1 &
		pids+=($!)
		echo "shard $i/$NP on GPU $g"
	done
	rc2=0
	for p in "${pids[@]}"; do wait "$p" || rc2=$?; done
	shards=(); for ((i = 0; i < NP; i++)); do shards+=("$OUT/shard$i"); done
	[ "$rc2" -eq 0 ] && { "$QEVAL" merge "$OUT/mpi" "${shards[@]}" --no-summary > "$OUT/merge.log" 2>&1; rc2=$?; }
	for ((i = 0; i < NP; i++)); do mkdir -p "$OUT/mpi/ranks" && ln -sfn "$OUT/shard$i" "$OUT/mpi/ranks/$i"; done
fi
w2=$(python3 -c "print($(now)-$t0)")
echo "$NP ranks: exit $rc2, wall $(python3 -c "print(round($w2,1))") s"
echo "ratio ($NP ranks / 1 process): $(python3 -c "print(round($w2/$w1,3))") (target <= 0.55 for 2)"

python3 - "$OUT/one" "$OUT/mpi" <<'PY'
import json, sys, glob
one, ranks = sys.argv[1], sys.argv[2]
for f in sorted(glob.glob(ranks + '/ranks/*/shard.json')):
    s = json.load(open(f))
    walls = sum(json.load(open(l)).get('wall_s', 0) for l in glob.glob(f.rsplit('/', 1)[0] + '/levels/*/level.json'))
    mine = [u for u in s['units'] if u['shard'] == s['shard']]
    print(f"rank {s['shard']}: {len(mine)} units, estimated {s['load_tokens'][s['shard']]} tokens, level processes' wall {walls:.1f} s")
# what differs by nature, and the CPU threads each run was given
skip = {"created", "git", "machine", "path", "dir", "file", "out", "speedup", "peak_rss_bytes", "noisy", "load1", "load1_mean",
        "threads", "threads_batch"}
def ig(k): return k in skip or k.endswith('_s') or k.startswith('tps_') or '_ms_' in k
diffs = []
def d(x, y, p):
    if type(x) != type(y): diffs.append(p); return
    if isinstance(x, dict):
        for k in set(x) | set(y):
            if not ig(k): d(x.get(k), y.get(k), p + '.' + k)
    elif isinstance(x, list):
        if len(x) != len(y): diffs.append(p); return
        for i, (u, v) in enumerate(zip(x, y)): d(u, v, f"{p}[{i}]")
    elif isinstance(x, float) and isinstance(y, float):
        if x != y and abs(x - y) > 1e-12 * max(abs(x), abs(y)): diffs.append(p)
    elif x != y: diffs.append(p)
try:
    a, b = json.load(open(one + '/results.json')), json.load(open(ranks + '/results.json'))
    for r in (a, b):
        r['run']['plan'].pop('runtime', None)
    d(a, b, 'results')
    print(f"results.json equal (timings aside): {'yes' if not diffs else 'no, ' + str(len(diffs)) + ' values differ, e.g. ' + ', '.join(diffs[:5])}")
except OSError as e:
    print(f"results.json missing: {e}")
PY
[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ]
