"""Regenerate tests/fixtures/latents/: one W+ array in every latent-file format users bring
(e4e's `torch.save(tensor)` `.pt`, NumPy `.npy` in several dtypes and orders, safetensors).

    pip install torch numpy safetensors
    python scripts/gen_latent_fixtures.py
"""

import os

import numpy as np
import torch
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "latents")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(11)
    wp = rng.normal(size=(2, 6, 32)).astype(np.float32)
    save_file({"expected": wp}, os.path.join(OUT, "expected.safetensors"))
    torch.save(torch.from_numpy(wp), os.path.join(OUT, "e4e_latents.pt"))
    torch.save({"latent": torch.from_numpy(wp), "step": 3}, os.path.join(OUT, "dict_latents.pt"))
    np.save(os.path.join(OUT, "c_f32.npy"), wp)
    np.save(os.path.join(OUT, "fortran_f64.npy"), np.asfortranarray(wp.astype(np.float64)))
    np.save(os.path.join(OUT, "big_endian_f4.npy"), wp[0].astype(">f4"))  # [6, 32]: one latent
    np.save(os.path.join(OUT, "f16.npy"), wp.astype(np.float16))
    save_file({"w_plus": wp}, os.path.join(OUT, "w_plus.safetensors"))
    print("latent fixtures written")


if __name__ == "__main__":
    main()
