"""Regenerate tests/fixtures/clip/preprocess.ref.safetensors: OpenAI's `clip.load` transform
(`clip.clip._transform`: torchvision Resize(n, BICUBIC) on a PIL image, CenterCrop(n), ToTensor,
Normalize) on random uint8 images of awkward sizes, and the differentiable tensor path (StyleGAN-NADA's
composition of the same transforms on [-1, 1] tensors: antialiased bicubic `interpolate`).

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
from torchvision.transforms import Compose, Normalize

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
    # Differentiable path on generator-like tensors in [-1, 1] (StyleGAN-NADA's composition:
    # Normalize(-1, 2), then clip.load's Resize + CenterCrop, then its Normalize, on tensors).
    gmeta = []
    for i, (h, w, n) in enumerate([(64, 64, 32), (20, 20, 32), (48, 40, 24), (64, 64, 64)]):
        img = torch.from_numpy(rng.uniform(-1.2, 1.2, (2, 3, h, w)).astype(np.float32))
        t = _transform(n)
        nada = Compose([Normalize(mean=[-1.0] * 3, std=[2.0] * 3)] + t.transforms[:2] + t.transforms[4:])
        ref[f"gen_{i}"] = img
        ref[f"gen_pixels_{i}"] = nada(img)
        gmeta.append([h, w, n])
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "preprocess.ref.safetensors"),
              metadata={"cases": json.dumps(meta), "generator_cases": json.dumps(gmeta)})
    print(f"{len(CASES)} preprocessing cases written")


if __name__ == "__main__":
    main()
