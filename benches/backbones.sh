#!/usr/bin/env bash
# The backbones side by side: EfficientNet-Lite0, -Lite1 and -Lite2 in one
# run, taking turns, on the CPU backend (2 threads): a member's forward pass
# for one photo (BatchNorms folded, as in a bundle) at 224 px and at each
# variant's native size, and a whole-network training step (batch 32) at
# 224 px. Prints a Markdown table of medians; JSON lines in $OUT.
#
#   bash benches/backbones.sh [ROUNDS]
#
# Random weights: the timings do not depend on the values.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROUNDS="${1:-3}"
OUT="${CARGO_TARGET_DIR:-target}/peers/backbones.jsonl"
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
cargo bench -p train-cli --bench peers --no-run -q 2>/dev/null || cargo bench -p train-cli --bench peers --no-run
run() { cargo bench -q -p train-cli --bench peers -- "$@" 2>/dev/null | grep '^{' | tee -a "$OUT"; }
declare -A NATIVE=([lite0]=224 [lite1]=240 [lite2]=260)
for round in $(seq 1 "$ROUNDS"); do
  printf '\033[1m==> round %s of %s\033[0m\n' "$round" "$ROUNDS" >&2
  for variant in lite0 lite1 lite2; do
    run infer 1 224 20 cpu "$variant"
    run infer 1 "${NATIVE[$variant]}" 20 cpu "$variant"
    run train-full 32 224 3 cpu "$variant"
  done
done
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
def med(**key):
    v = [r["ms_per_image"] for r in rows if all(r[k] == x for k, x in key.items())]
    return statistics.median(v) if v else float("nan")
native = {"lite0": 224, "lite1": 240, "lite2": 260}
print("| backbone | predict 224 px (ms) | predict native (ms) | train step 224 px (ms/image) |")
print("|---|---|---|---|")
for b in ["lite0", "lite1", "lite2"]:
    print(f"| {b} | {med(backbone=b, task='infer', input=224):.1f} | "
          f"{med(backbone=b, task='infer', input=native[b]):.1f} ({native[b]} px) | "
          f"{med(backbone=b, task='train-full', input=224):.1f} |")
PY
