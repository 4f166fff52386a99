#!/usr/bin/env bash
# qeval's importance matrix and imatrix-made levels against llama-imatrix and
# llama-quantize (docs/benchmarks.md, "Importance matrix"):
#
#   1. llama-imatrix (defaults: -c 512, -b 2048) and qeval (a recipe whose
#      "imatrix" is the calibration text) compute the matrix of MODEL over TEXT;
#      tests/bench/imatrix_cmp compares them value by value as the quantizer
#      reads them (sums over counts): pass = every relative difference <= 1e-4
#      and equal counts.
#   2. Q4_K_M with llama-imatrix's file: llama-quantize --imatrix FILE against
#      qeval's level Q4_K_M+imatrix:FILE (same path, which both record in the
#      file): pass = byte-identical (cmp).
#   3. The same with qeval's own computed matrix.
#
# Settings from the environment:
#   MODEL    default ../shared/models/mc-memorizer-6L-256-f16.gguf
#   TEXT     the source of the slice (default ../shared/datasets/wikitext2/wiki.test.tokens)
#   BYTES    bytes of TEXT taken (default 200000)
#   TYPE     the type of steps 2-3 (default Q4_K_M)
#   THREADS  default 2
#   OUT      work folder (default build/imatrix-bench; its cache is OUT/cache)
#   TOOLS    llama-imatrix / llama-quantize folder (default .deps/llama-tools/bin; `make llama-tools`)
#   QEVAL    default ./qeval
# Exit 0 when all three pass, 1 when one fails, 2 when something is missing.
set -u
MODEL=${MODEL:-../shared/models/mc-memorizer-6L-256-f16.gguf}
TEXT=${TEXT:-../shared/datasets/wikitext2/wiki.test.tokens}
BYTES=${BYTES:-200000}
TYPE=${TYPE:-Q4_K_M}
THREADS=${THREADS:-2}
OUT=${OUT:-build/imatrix-bench}
TOOLS=${TOOLS:-.deps/llama-tools/bin}
QEVAL=${QEVAL:-./qeval}

for f in "$MODEL" "$TEXT"; do
	[ -f "$f" ] || { echo "imatrix_bench: missing $f" >&2; exit 2; }
done
if [ ! -x "$TOOLS/llama-imatrix" ] || [ ! -x "$TOOLS/llama-quantize" ]; then
	nice make llama-tools || { echo "imatrix_bench: no llama-imatrix/llama-quantize in $TOOLS" >&2; exit 2; }
fi
nice make -j2 "$QEVAL" build/bench/imatrix_cmp >/dev/null || exit 2
rm -rf "$OUT" && mkdir -p "$OUT/cache"
OUT=$(cd "$OUT" && pwd)
CALIB=$OUT/calib.txt
head -c "$BYTES" "$TEXT" > "$CALIB"
fail=0

echo "== 1. the matrix: llama-imatrix vs qeval on $(basename "$MODEL"), $(wc -c < "$CALIB") bytes of $(basename "$TEXT")"
t0=$(date +%s.%N)
"$TOOLS/llama-imatrix" -m "$MODEL" -f "$CALIB" -o "$OUT/ref.imatrix.gguf" -t "$THREADS" > "$OUT/llama-imatrix.log" 2>&1 ||
	{ echo "llama-imatrix failed: $OUT/llama-imatrix.log"; exit 2; }
t1=$(date +%s.%N)
"$QEVAL" quantize --model "$MODEL" --levels "qe=$TYPE+imatrix:$CALIB" --cache "$OUT/cache" --threads "$THREADS" \
	> "$OUT/qeval-quantize.log" 2>&1 || { echo "qeval quantize failed: $OUT/qeval-quantize.log"; exit 2; }
t2=$(date +%s.%N)
QE_MAT=$(ls "$OUT"/cache/quant/*/imatrix-*.gguf)
printf 'llama-imatrix %.1f s; qeval matrix + %s %.1f s\n' "$(echo "$t1 - $t0" | bc)" "$TYPE" "$(echo "$t2 - $t1" | bc)"
build/bench/imatrix_cmp "$OUT/ref.imatrix.gguf" "$QE_MAT" || fail=1

same() { # $1 matrix file, $2 label
	local ref="$OUT/ref-$2.gguf" lv
	"$TOOLS/llama-quantize" --imatrix "$1" "$MODEL" "$ref" "$TYPE" "$THREADS" > "$OUT/llama-quantize-$2.log" 2>&1 ||
		{ echo "llama-quantize failed: $OUT/llama-quantize-$2.log"; return 1; }
	"$QEVAL" quantize --model "$MODEL" --levels "$2=$TYPE+imatrix:$1" --cache "$OUT/cache" --threads "$THREADS" \
		> "$OUT/qeval-$2.log" 2>&1 || { echo "qeval quantize failed: $OUT/qeval-$2.log"; return 1; }
	lv=$(awk -v n="$2" '$1 == n { print $3 }' "$OUT/qeval-$2.log")
	if cmp -s "$ref" "$lv"; then
		echo "byte-identical: $(sha256sum < "$ref" | cut -c1-16) $(stat -c %s "$ref") bytes"
	else
		echo "DIFFERENT: $ref vs $lv ($(cmp "$ref" "$lv" | head -1))"
		return 1
	fi
}
echo "== 2. $TYPE with llama-imatrix's file: llama-quantize vs qeval"
same "$OUT/ref.imatrix.gguf" refmat || fail=1
echo "== 3. $TYPE with qeval's computed file: llama-quantize vs qeval"
same "$QE_MAT" qemat || fail=1
[ $fail = 0 ] && echo "imatrix_bench: PASS" || echo "imatrix_bench: FAIL"
exit $fail
