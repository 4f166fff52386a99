#!/usr/bin/env bash
# The six-level MMLU + C-Eval sweep, timed, against llama-bench (issue 12's
# benchmark; a script, not a test). Prints, per level and task: items, failed,
# items/s, evaluated prompt tokens/s while scoring; then llama-bench's pp at
# the run's token-weighted mean tokens per decode and mean depth (the few-shot
# header) for each level, and the ratio qeval / llama-bench; then the whole
# sweep's wall time.
#
#   QEVAL=./qeval LLAMA_BENCH=.../llama-bench MODEL=f16.gguf MMLU=dir CEVAL=dir \
#   tests/bench/sweep_bench.sh
#
# Knobs (environment): LEVELS (default F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K),
# NGL (99), THREADS (nproc), LIMIT (none: every item), OUT (a fresh temp dir),
# CACHE (quantization cache, default $OUT/cache), EXTRA (more `qeval run`
# flags), BENCH_LEVELS (levels llama-bench measures, default F16,Q4_K_M),
# REPS (llama-bench repetitions, 3), SEQS (questions per decode the run used:
# 32 with GPU layers, 8 without, unless --seqs in EXTRA says otherwise). llama-bench and qeval must link the same
# llama.cpp libraries (docs/benchmarks.md says why).
set -uo pipefail
QEVAL=${QEVAL:-./qeval}
: "${MODEL:?MODEL=the F16 GGUF}" "${MMLU:?MMLU=the MMLU folder}" "${CEVAL:?CEVAL=the C-Eval folder}"
LEVELS=${LEVELS:-F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K}
NGL=${NGL:-99}
THREADS=${THREADS:-$(nproc)}
OUT=${OUT:-$(mktemp -d /tmp/qeval-sweep.XXXXXX)}
mkdir -p "$OUT"
CACHE=${CACHE:-$OUT/cache}
BENCH_LEVELS=${BENCH_LEVELS:-F16,Q4_K_M}
REPS=${REPS:-3}
lim=(); [ -n "${LIMIT:-}" ] && lim=(--limit "$LIMIT")

echo "sweep_bench: $(date -u +%FT%TZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), qeval $("$QEVAL" --version 2>/dev/null | head -1)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
echo "model $MODEL, levels $LEVELS, ngl $NGL, threads $THREADS ${LIMIT:+limit $LIMIT} ${EXTRA:-}"
"$QEVAL" quantize --model "$MODEL" --levels "${LEVELS#F16,}" --cache "$CACHE" --threads "$THREADS" > "$OUT/levels.txt" || exit 1
t0=$(date +%s.%N)
# shellcheck disable=SC2086
"$QEVAL" run -m "$MODEL" -l "$LEVELS" --mmlu "$MMLU" --ceval "$CEVAL" "${lim[@]}" --ngl "$NGL" -t "$THREADS" -q \
	--cache "$CACHE" -o "$OUT/run" ${EXTRA:-} > "$OUT/run.out" 2>&1
rc=$?
t1=$(date +%s.%N)
echo "qeval run exit $rc; whole sweep wall $(python3 -c "print(round($t1-$t0,1))") s (quantization cached before it)"
python3 - "$OUT/run" "$OUT/levels.txt" "${SEQS:-32}" > "$OUT/stats.txt" <<'PY'
import json, sys, glob, collections
d, levels_txt, seqs = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(d + '/results.json'))
paths = {l.split()[0]: l.split()[2] for l in open(levels_txt) if len(l.split()) >= 3 and l.split()[2].endswith('.gguf')}
for t in ('mmlu', 'ceval'):
    for lv, b in r['tasks'][t]['levels'].items():
        th = b.get('throughput', {})
        f = glob.glob(f"{d}/levels/*-{lv}/records-{t}.jsonl")[0]
        by_subj = collections.OrderedDict(); fail = 0; n = 0; hdr = []
        for line in open(f):
            x = json.loads(line); n += 1
            if x.get('status') != 'ok':
                fail += x.get('status') != 'no_gold'; continue
            s = x.get('subject', '')
            by_subj.setdefault(s, []).append(x['n_eval'])
            hdr.append(x['n_prompt'] - x['n_eval'])
        sizes = []
        for s, ev in by_subj.items():
            for i in range(0, len(ev), seqs):
                sizes.append(sum(ev[i:i + seqs]))
        chunk = sum(z * z for z in sizes) / max(1, sum(sizes))   # token-weighted mean decode
        hdr.sort(); depth = hdr[len(hdr) // 2] if hdr else 0
        print(f"STAT {t} {lv} items {n} failed {fail} items_s {th.get('items_per_s', 0):.1f} "
              f"tok_s {th.get('prompt_tokens_per_s', 0):.0f} wall_s {th.get('wall_s', 0):.1f} "
              f"chunk {int(chunk)} depth {depth} path {paths.get(lv, '')}")
PY
cat "$OUT/stats.txt"
[ -n "${LLAMA_BENCH:-}" ] || { echo "(LLAMA_BENCH not set: no ratio)"; exit $rc; }
echo "level | task | qeval tok/s | llama-bench pp<chunk>@d<depth> tok/s | ratio"
for lv in ${BENCH_LEVELS//,/ }; do
	read -r tok chunk depth path <<<"$(awk -v l="$lv" '$1=="STAT" && $2=="mmlu" && $3==l {print $11, $15, $17, $19}' "$OUT/stats.txt")"
	[ -n "${tok:-}" ] || continue
	[ "$lv" = F16 ] && path=$MODEL
	pp=$("$LLAMA_BENCH" -m "$path" -p "$chunk" -d "$depth" -b 8192 -n 0 -ngl "$NGL" -t "$THREADS" -r "$REPS" -o jsonl 2>/dev/null |
		python3 -c "import json,sys; print(round([json.loads(l) for l in sys.stdin if l.strip()][-1]['avg_ts']))")
	echo "$lv | mmlu | $tok | pp$chunk@d$depth $pp | $(python3 -c "print(round($tok/$pp,2))")"
done
exit $rc
