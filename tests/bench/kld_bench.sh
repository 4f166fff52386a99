#!/usr/bin/env bash
# qeval's kld task against llama-perplexity --kl-divergence-base / --kl-divergence,
# on the same text, model, level files, context, chunks, batch and threads
# (docs/benchmarks.md, "Whole-vocabulary KL divergence").
#
#   tests/bench/kld_bench.sh            settings from the environment:
#
#   MODEL    the reference GGUF (default ../shared/models/mc-memorizer-6L-256-f16.gguf)
#   TEXT     the text file (default ../shared/datasets/wikitext2/wiki.test.tokens);
#            "lcqmc" = a zh text made here from both sentence columns of
#            ../shared/datasets/lcqmc/LCQMC.test.data, one sentence a line
#   LEVELS   default Q8_0,Q4_K_M,Q2_K (quantized by qeval into its cache; both
#            tools then read the same files)
#   CHUNKS   chunks of CTX tokens (default 100)     CTX   default 512
#   THREADS  default 2                               NGL   GPU layers, default 0
#   BATCH    tokens per decode, both tools (default 2048, llama-perplexity's:
#            BATCH / CTX chunks per decode)
#   TIMED    the level whose time is compared (default the first of LEVELS)
#   ROUNDS   timing rounds of TIMED after the comparison runs (default 2), the
#            tools in turns (llama-perplexity first in odd rounds): qeval's
#            level is run again alone by `qeval run --resume` (its records and
#            level.json removed, the reference's kept)
#   OUT      work folder (default build/kld-bench)
#   TOOLS    llama-perplexity's folder (default .deps/llama-tools/bin: `make llama-tools`)
#   QEVAL    the qeval binary (default ./qeval)
#   STATIC=1 time a qeval linked here against the static libraries `make
#            llama-tools` built llama-perplexity from (build/static/qeval), so
#            both tools run the same kernels and thread pool
#   REUSE=1  keep OUT's comparison runs (qeval's run, the base file, the levels'
#            logs) from an earlier call: only a missing level log is made again,
#            then the timing rounds
#
# Order: qeval runs the reference and every level in one run; then
# llama-perplexity writes its base file from the reference and reads it once
# per level. The table: the reference's perplexity (qeval's reference level vs
# llama-perplexity's base run), and per level mean KLD (relative and absolute
# difference), same-top rate (difference in points), PPL(level), RMS Δp; then
# the time of the TIMED level: qeval's load + task time (level.json) over
# llama-perplexity's whole --kl-divergence process in each round, and the
# load average around each.
# Needs bash, python3, and llama-perplexity built from the pinned source.
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
shared=${QE_SHARED:-$top/../shared}

MODEL=${MODEL:-$shared/models/mc-memorizer-6L-256-f16.gguf}
TEXT=${TEXT:-$shared/datasets/wikitext2/wiki.test.tokens}
LEVELS=${LEVELS:-Q8_0,Q4_K_M,Q2_K}
CHUNKS=${CHUNKS:-100}
CTX=${CTX:-512}
THREADS=${THREADS:-2}
NGL=${NGL:-0}
BATCH=${BATCH:-2048}
TIMED=${TIMED:-${LEVELS%%,*}}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-build/kld-bench}
TOOLS=${TOOLS:-$top/.deps/llama-tools/bin}
QEVAL=${QEVAL:-$top/qeval}

die() { printf 'kld_bench: %s\n' "$*" >&2; exit 2; }
[ -x "$TOOLS/llama-perplexity" ] || die "$TOOLS/llama-perplexity missing: run 'make llama-tools'"
[ -x "$QEVAL" ] || die "$QEVAL missing: run 'make'"
if [ "${STATIC:-0}" = 1 ]; then
	b=$top/.deps/llama-src/build-tools
	[ -s "$b/src/libllama.a" ] || die "$b/src/libllama.a missing: run 'make llama-tools'"
	make -s build/libqeval.a build/obj/harness/cli/main.o >/dev/null
	mkdir -p build/static
	cc -fopenmp -o build/static/qeval build/obj/harness/cli/main.o build/libqeval.a "$b/src/libllama.a" \
		"$b/ggml/src/libggml.a" "$b/ggml/src/libggml-cpu.a" "$b/ggml/src/libggml-base.a" \
		-lcjson -lcurl -lz -lcsv -lstdc++ -lm -ldl -lpthread || die "cannot link build/static/qeval"
	QEVAL=$top/build/static/qeval
fi
[ -r "$MODEL" ] || die "cannot read MODEL $MODEL"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ "$TEXT" = lcqmc ]; then
	src=$shared/datasets/lcqmc/LCQMC.test.data
	[ -r "$src" ] || die "cannot read $src"
	TEXT=$OUT/lcqmc-test.txt
	awk -F'\t' '{ print $1; print $2 }' "$src" > "$TEXT"
fi
[ -r "$TEXT" ] || die "cannot read TEXT $TEXT"

now() { date +%s.%N; }
say() { printf 'kld_bench: %s\n' "$*" >&2; }
lp() { "$TOOLS/llama-perplexity" -c "$CTX" -b "$BATCH" -t "$THREADS" -ngl "$NGL" "$@"; }

# ---- qeval: the reference and every level in one run ----
run=$OUT/qeval
reuse=0
[ "${REUSE:-0}" = 1 ] && [ -s "$run/results.json" ] && [ -s "$OUT/base.kld" ] && reuse=1
if [ $reuse = 0 ]; then
	rm -rf "$run"
	say "qeval: F16,$LEVELS over $CHUNKS chunks of $CTX (load $(cut -d' ' -f1-3 /proc/loadavg))"
	QEVAL_CACHE=$OUT/cache "$QEVAL" run -q --model "$MODEL" --levels "F16,$LEVELS" --tasks kld --text "$TEXT" \
		--kld-ctx "$CTX" --limit "$CHUNKS" --threads "$THREADS" --ngl "$NGL" --batch "$BATCH" --out "$run" >/dev/null
	load_q=$(cut -d' ' -f1-3 /proc/loadavg)

	# ---- llama-perplexity: the base file, then each level (below) ----
	say "llama-perplexity: base"
	lp -m "$MODEL" -f "$TEXT" --chunks "$CHUNKS" --kl-divergence-base "$OUT/base.kld" > "$OUT/lp-base.log" 2>&1
fi
load_q=${load_q:-"(reused)"}
declare -A lvfile
for lv in ${LEVELS//,/ }; do
	lvfile[$lv]=$(python3 -c 'import json,sys; print([l["path"] for l in json.load(open(sys.argv[1]))["levels"] if l["name"] == sys.argv[2]][0])' \
		"$run/results.json" "$lv")
	[ $reuse = 1 ] && grep -q "Mean    KLD" "$OUT/lp-$lv.log" 2>/dev/null && continue
	say "llama-perplexity: $lv (${lvfile[$lv]})"
	lp -m "${lvfile[$lv]}" --kl-divergence-base "$OUT/base.kld" --kl-divergence > "$OUT/lp-$lv.log" 2>&1
done

# ---- timing rounds of one level ----
tdir=$(ls -d "$run"/levels/*-"$TIMED")
: > "$OUT/times.txt"
time_lp() {
	local l0 t0 t1
	l0=$(cut -d' ' -f1 /proc/loadavg)
	t0=$(now)
	lp -m "${lvfile[$TIMED]}" --kl-divergence-base "$OUT/base.kld" --kl-divergence > "$OUT/lp-timed.log" 2>&1
	t1=$(now)
	echo "lp $(echo "$t1 - $t0" | bc -l) $l0 $(cut -d' ' -f1 /proc/loadavg)" >> "$OUT/times.txt"
}
time_qe() {
	local l0
	l0=$(cut -d' ' -f1 /proc/loadavg)
	rm -f "$tdir/records-kld.jsonl" "$tdir/level.json"
	QEVAL_CACHE=$OUT/cache "$QEVAL" run -q --resume "$run" >/dev/null
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print("qe", j["load_s"] + j["task_wall_s"]["kld"], sys.argv[2], sys.argv[3])' \
		"$tdir/level.json" "$l0" "$(cut -d' ' -f1 /proc/loadavg)" >> "$OUT/times.txt"
}
for r in $(seq 1 "$ROUNDS"); do
	say "timing round $r of $ROUNDS ($TIMED)"
	if [ $((r % 2)) = 1 ]; then time_lp; time_qe; else time_qe; time_lp; fi
done

# ---- the table ----
python3 - "$run" "$OUT" "$LEVELS" "$TIMED" "$load_q" "$CHUNKS" "$CTX" "$THREADS" "$BATCH" <<'EOF'
import json, re, sys, glob
run, out, levels, timed, load_q, chunks, ctx, threads, batch = sys.argv[1:]
res = json.load(open(run + "/results.json"))
blk = res["tasks"]["kld"]["levels"]

def grab(path, pat):
    m = re.search(pat, open(path, encoding="utf-8", errors="replace").read())
    return float(m.group(1)) if m else float("nan")

ppl_lp = grab(out + "/lp-base.log", r"Final estimate: PPL = ([0-9.]+)")
ppl_q = blk["F16"]["ppl"]
print(f"text {res['tasks']['kld']['settings']['text']}, {blk['F16']['n_chunks']} chunks of {ctx}, "
      f"threads {threads}, batch {batch}")
print(f"reference PPL: qeval {ppl_q:.6f}, llama-perplexity {ppl_lp:.6f}, relative difference {(ppl_q - ppl_lp) / ppl_lp:+.2e}")
print()
print("| level | KLD qeval | KLD llama-perplexity | rel. diff | abs. diff | bound | same top qeval | same top l-p | diff (points) | PPL qeval | PPL l-p | RMS Δp qeval | RMS Δp l-p |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for lv in levels.split(","):
    b = blk[lv]
    log = out + "/lp-" + lv + ".log"
    k = grab(log, r"Mean    KLD:\s+([0-9.eE+-]+)")
    st = grab(log, r"Same top p:\s+([0-9.]+)") / 100
    pq = grab(log, r"Mean PPL\(Q\)\s+:\s+([0-9.]+)")
    rms = grab(log, r"RMS Δp\s+:\s+([0-9.]+)") / 100
    print(f"| {lv} | {b['kld_mean']:.6f} | {k:.6f} | {(b['kld_mean'] - k) / k:+.2%} | {b['kld_mean'] - k:+.2e} | "
          f"{b['kld_repr_bound']:.1e} | {b['same_top']:.4%} | {st:.4%} | {100 * (b['same_top'] - st):+.3f} | "
          f"{b['ppl']:.4f} | {pq:.4f} | {b['dp_rms']:.3%} | {rms:.3%} |")
print()
print(f"load average during the comparison runs: {load_q} (after qeval)")
rows = [l.split() for l in open(out + "/times.txt")]
qe = [float(r[1]) for r in rows if r[0] == "qe"]
lp = [float(r[1]) for r in rows if r[0] == "lp"]
print(f"time of {timed} over {chunks} chunks of {ctx}, each round (seconds, load average before -> after):")
for r in rows:
    print(f"  {'qeval           ' if r[0] == 'qe' else 'llama-perplexity'} {float(r[1]):8.2f}  load {r[2]} -> {r[3]}")
for i in range(min(len(qe), len(lp))):
    print(f"  round {i + 1}: ratio qeval / llama-perplexity {qe[i] / lp[i]:.3f}")
if qe and lp:
    print(f"  best of each: qeval {min(qe):.2f} s, llama-perplexity {min(lp):.2f} s, ratio {min(qe) / min(lp):.3f}")
EOF
