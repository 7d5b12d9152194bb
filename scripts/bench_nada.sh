#!/usr/bin/env bash
# Time one StyleGAN-NADA training step in styleclip (criterion: 256 px config-f, one ViT-B/32,
# batch 2, layer selection off and at the official k = 1) and in the official PyTorch code
# (2 threads) on the same machine, one after the other, and print the ratios.
#   scripts/bench_nada.sh /path/to/StyleGAN-nada /path/to/StyleCLIP /path/to/stylegan2-pytorch
# Extra cargo flags (e.g. `--profile dev`, whose numbers are slower than release's) go in
# STYLECLIP_CARGO_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
# shellcheck disable=SC2086  # the flags are words
cargo bench ${STYLECLIP_CARGO_FLAGS:-} --bench nada -- --noplot
python3 scripts/bench_nada_torch.py "$1" "$2" "$3" | tee /tmp/styleclip-nada-torch-bench.txt
python3 scripts/compare_bench.py "$target" /tmp/styleclip-nada-torch-bench.txt
