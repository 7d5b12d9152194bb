#!/usr/bin/env bash
# Seed each target's corpus (fuzz/corpus/<target>/) from the test fixtures.
set -euo pipefail
cd "$(dirname "$0")"
f=../tests/fixtures
mkdir -p corpus/{tensor_file,mapper_checkpoint,global_direction_files,image,tokenizer}
find $f -name "*.safetensors" -size -2M -exec cp {} corpus/tensor_file/ \;
# e4e256_genuine.pt is left out: its stride-0 views expand to an IR-SE50 of full size, 15 s a
# run under coverage instrumentation (legitimate work, proportional to the declared shapes).
find $f -name "*.pt" -size -2M ! -name e4e256_genuine.pt -exec cp {} corpus/tensor_file/ \;
find $f -name "*.pth" -size -2M -exec cp {} corpus/tensor_file/ \;
find $f -name "*.npy" -size -2M -exec cp {} corpus/tensor_file/ \;
find $f/mapper -name "*.pt" -exec cp {} corpus/mapper_checkpoint/ \;
find $f/global $f/latents -type f -size -2M -exec cp {} corpus/global_direction_files/ \;
find $f -name "*.png" -size -300k -exec cp {} corpus/image/ \;
printf 'a smiling face' > corpus/tokenizer/smile
printf 'a face with blonde hair and purple glasses, 🙂 ÿ\0' > corpus/tokenizer/mixed
