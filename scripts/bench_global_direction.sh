#!/usr/bin/env bash
# Time global directions in styleclip (criterion) and in the official PyTorch code on the same
# machine, one after the other, and print the ratios.
#   scripts/bench_global_direction.sh /path/to/StyleCLIP
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo bench --bench global_direction -- --noplot
python3 scripts/bench_global_direction_torch.py "$1" | tee /tmp/styleclip-global-torch-bench.txt
python3 scripts/compare_bench.py "$target" /tmp/styleclip-global-torch-bench.txt
