"""Regenerate tests/fixtures/clip/preprocess.ref.safetensors: OpenAI's `clip.load` transform
(`clip.clip._transform`: torchvision Resize(n, BICUBIC) on a PIL image, CenterCrop(n), ToTensor,
Normalize) on random uint8 images of awkward sizes.

    pip install torch torchvision pillow clip-anytorch safetensors
    python scripts/gen_clip_preprocess_fixtures.py
"""

import json
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file

from clip.clip import _transform

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "clip")
# (width, height, n_px): down- and up-scaling, odd sizes, odd crop offsets, already-sized.
CASES = [(37, 53, 64), (120, 83, 64), (64, 64, 64), (151, 150, 64), (9, 70, 64), (100, 65, 64),
         (300, 200, 224)]


def main():
    rng = np.random.default_rng(7)
    ref, meta = {}, []
    for i, (w, h, n) in enumerate(CASES):
        # Smooth-ish content plus noise, so resampling weights matter.
        yy, xx = np.mgrid[0:h, 0:w]
        base = 127 + 100 * np.sin(xx[..., None] / 5.0 + yy[..., None] / 7.0 + np.arange(3))
        img = np.clip(base + rng.normal(0, 40, (h, w, 3)), 0, 255).astype(np.uint8)
        ref[f"image_{i}"] = torch.from_numpy(img.astype(np.float32))
        ref[f"pixels_{i}"] = _transform(n)(Image.fromarray(img, "RGB"))
        meta.append([w, h, n])
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "preprocess.ref.safetensors"),
              metadata={"cases": json.dumps(meta)})
    print(f"{len(CASES)} preprocessing cases written")


if __name__ == "__main__":
    main()
