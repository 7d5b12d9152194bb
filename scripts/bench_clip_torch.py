"""Time OpenAI's CLIP ViT-B/32 (`clip-anytorch`, random weights, f32, CPU, all cores) on the
cases of `benches/clip.rs`. Prints `name  mean_ms  (n runs)` per case.

    python scripts/bench_clip_torch.py
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import clip  # noqa: E402
from bench_util import timeit  # noqa: E402
from clip.model import CLIP  # noqa: E402


def main():
    torch.manual_seed(0)
    model = CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12).eval()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    with torch.no_grad():
        for batch in (1, 8):
            x = torch.randn(batch, 3, 224, 224)
            ms, n = timeit(lambda: model.encode_image(x))
            print(f"clip_vit_b_32/encode_image/{batch}  {ms:.1f} ms  ({n} runs)")
            tokens = clip.tokenize(["a face with blonde hair"] * batch)
            ms, n = timeit(lambda: model.encode_text(tokens))
            print(f"clip_vit_b_32/encode_text/{batch}  {ms:.1f} ms  ({n} runs)")


if __name__ == "__main__":
    main()
