#!/usr/bin/env bash
# Issue 3's acceptance on the real data: the FP16 reference and five levels
# over the full MMLU test split (14,042 items) and C-Eval val (1,346), twice:
#   A  uninterrupted;
#   B  killed with SIGKILL (the whole process group) while its second level is
#      under way, then `qeval run --resume`;
# then checks that every metric is present per level, that B's results.json
# equals A's (timing fields aside, docs/cli.md "Resume") and that every
# item's record is the same in both (log-likelihoods to the bit). A and B run
# side by side.
#
# Usage: tests/bench/acceptance_mc.sh [OUTDIR]   (env: QEVAL, MODEL, MMLU, CEVAL, THREADS, NGL, LEVELS)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/acceptance}
q=${QEVAL:-./qeval}
model=${MODEL:-../shared/models/stories260K-ffn192-f16.gguf}
mmlu=${MMLU:-../shared/datasets/mmlu}
ceval=${CEVAL:-../shared/datasets/ceval}
threads=${THREADS:-4}
ngl=${NGL:-0}
levels=${LEVELS:-F16,Q8_0,Q6_K,Q4_K_M,Q3_K_M,Q2_K}
mkdir -p "$out"
common=(--model "$model" --levels "$levels" --mmlu "$mmlu" --ceval "$ceval" -t "$threads" --ngl "$ngl" -q --cache "$out/cache")

# the levels once, so that A and B do not quantize at the same time
$q quantize --model "$model" --levels "$levels" --cache "$out/cache" >/dev/null

t0=$(date +%s)
if [ ! -f "$out/A/results.json" ]; then
	if [ -f "$out/A/plan.json" ]; then $q run --resume "$out/A" -q >"$out/A.log" 2>&1 &
	else $q run "${common[@]}" --out "$out/A" >"$out/A.log" 2>&1 & fi
	pa=$!
else
	pa=""
fi

if [ ! -f "$out/B/results.json" ]; then
	if [ ! -f "$out/B/killed" ]; then
		setsid $q run "${common[@]}" --out "$out/B" >"$out/B.log" 2>&1 &
		pb=$!
		rec="$out/B/levels/01-$(echo "$levels" | cut -d, -f2)/records-mmlu.jsonl"
		while kill -0 $pb 2>/dev/null; do
			n=$( [ -f "$rec" ] && wc -l <"$rec" || echo 0 )
			if [ "$n" -ge 5000 ]; then
				kill -9 -- -$pb
				echo "killed B with $n records in $rec" | tee "$out/B/killed"
				break
			fi
			sleep 0.5
		done
		wait $pb 2>/dev/null || true
	fi
	$q run --resume "$out/B" -q >"$out/B-resume.log" 2>&1
fi
[ -n "$pa" ] && wait $pa
echo "wall: $(( $(date +%s) - t0 )) s"

python3 - "$out/A/results.json" "$out/B/results.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
TIMING = {"created", "wall_s", "load_s", "peak_rss_bytes", "task_wall_s", "dir", "out", "prompt_tokens_evaluated",
          "tokens_saved_by_reuse", "prompt_tokens_per_s", "items_per_s", "plan"}
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in TIMING}
    if isinstance(o, list):
        return [strip(v) for v in o]
    return o
ok = True
for task in ("mmlu", "ceval"):
    la, lb = a["tasks"][task]["levels"], b["tasks"][task]["levels"]
    for lv, blk in la.items():
        need = ["acc", "acc_stderr", "acc_ci95", "acc_macro", "categories", "subjects", "throughput"]
        miss = [k for k in need if blk.get(k) is None]
        if lv != a["reference"]:
            v = blk.get("vs_ref") or {}
            miss += [k for k in ("delta_acc", "delta_ci95", "mcnemar_p", "ref_right_level_wrong", "ref_wrong_level_right",
                                 "same_answer_rate", "kl_mean", "top_changed_rate") if v.get(k) is None]
        if miss:
            ok = False
            print(f"MISSING {task} {lv}: {miss}")
        print(f"{task:6s} {lv:7s} n={blk['n_scored']:6d} failed={blk['n_failed']:3d} acc={blk['acc']*100:6.2f}%"
              + ("" if lv == a["reference"] else
                 f" delta={blk['vs_ref']['delta_acc']*100:+.2f} CI=({blk['vs_ref']['delta_ci95'][0]*100:+.2f},{blk['vs_ref']['delta_ci95'][1]*100:+.2f})"
                 f" p={blk['vs_ref']['mcnemar_p']:.3g} same={blk['vs_ref']['same_answer_rate']*100:.1f}% KL={blk['vs_ref']['kl_mean']:.4f}")
              + f" tok/s={blk['throughput']['prompt_tokens_per_s']:.0f}")
# every record, A against B (n_eval aside: the resumed level recomputed one header)
import glob, os
for fa in sorted(glob.glob(os.path.dirname(sys.argv[1]) + "/levels/*/records-*.jsonl")):
    fb = fa.replace(os.path.dirname(sys.argv[1]), os.path.dirname(sys.argv[2]), 1)
    ra = {r["id"]: r for r in map(json.loads, open(fa))}
    rb = {r["id"]: r for r in map(json.loads, open(fb))}
    for r in list(ra.values()) + list(rb.values()):
        r.pop("n_eval", None)
    diff = [k for k in ra if ra[k] != rb.get(k)]
    if diff or len(ra) != len(rb):
        ok = False
        print(f"records differ: {fa.split('/levels/')[1]}: {len(diff)} of {len(ra)} (B has {len(rb)}), first {diff[:3]}")
sa, sb = strip(a["tasks"]), strip(b["tasks"])
if sa != sb:
    ok = False
    print("A and B differ beyond timing fields")
print("acceptance:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
