#!/usr/bin/env bash
# Time styleclip's CLIP (criterion) and OpenAI's PyTorch CLIP on the same machine, one after
# the other, and print the ratios.   scripts/bench_clip.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo bench --bench clip -- --noplot
python3 scripts/bench_clip_torch.py | tee /tmp/styleclip-clip-torch-bench.txt
python3 scripts/compare_bench.py "$target" /tmp/styleclip-clip-torch-bench.txt
