"""Time the official global-directions code (`global_torch/`) on CPU with random weights, on the
cases of `benches/global_direction.rs`:
- `global_direction_edit/{size}`: `GetBoundary` (β 0.15) + `MSCode` (α 4.1) + `GenerateImg`
  (generation from S with constant noise, uint8);
- `global_direction_text/vit_b_32`: `GetDt` (2 × 79 templates through ViT-B/32);
- `fs3_throughput/256`: the `SingleChannel.py` loop for 2 channels × 2 images
  (`EditOneC` + `GetImgF` + `GetFs`), 256 px only.

    python scripts/bench_global_direction_torch.py /path/to/StyleCLIP

Generation from S uses StyleCLIP's rosinality generator (`input_is_stylespace=True`) behind
`Manipulator.G`, as in scripts/gen_global_fixtures.py (the NVlabs networks need their CUDA
plugins or fall back to the same reference ops).
"""

import contextlib
import copy
import io
import os
import sys
import types

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402
from bench_util import timeit  # noqa: E402


def quiet(fn):
    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            return fn()
    return run


def main():
    root = sys.argv[1]
    gt = official_cpu.global_torch(root)
    sc, manipulate, SingleChannel, StyleCLIP = gt.model, gt.manipulate, gt.SingleChannel, gt.StyleCLIP
    import clip
    from clip.model import CLIP

    torch.manual_seed(0)
    model = CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12).eval()
    preprocess = clip.clip._transform(224)
    SingleChannel.device = "cpu"
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"global_direction_text/vit_b_32  {timeit(quiet(lambda: StyleCLIP.GetDt(['smiling face', 'face'], model)))[0]:.1f} ms")

    sizes = [256] + ([1024] if os.environ.get("STYLECLIP_BENCH_1024") else [])
    for size in sizes:
        g = sc.Generator(size, 512, 8, channel_multiplier=2).eval()

        class Synthesis:
            block_resolutions = [4 << j for j in range(int(np.log2(size)) - 1)]
            img_resolution = size
            num_ws = g.n_latent

            def __call__(self, ws, encoded_styles, noise_mode):
                s = [v.reshape(v.shape[0], 1, v.shape[1], 1, 1) for v in encoded_styles.values()]
                with torch.no_grad():
                    return g([s], input_is_stylespace=True, randomize_noise=False)[0]

        M = manipulate.Manipulator()
        M.device = "cpu"
        M.G = types.SimpleNamespace(synthesis=Synthesis())
        M.SetGParameters()
        M.mindexs = [i for i, n in enumerate(M.s_names) if "RGB" not in n]
        # S of 1000 samples (W+ rows < 8 truncated), straight from the layers' affine maps, in
        # the S order (conv1, to_rgb1, then conv up, conv, to_rgb per resolution).
        with torch.no_grad():
            w = g.get_latent(torch.randn(1000, 512))
            avg = w.mean(0)
            wp = torch.stack([avg + 0.7 * (w - avg) if i < 8 else w for i in range(g.n_latent)], 1)
            mods = [(g.conv1, 0), (g.to_rgb1, 1)]
            for i, rgb in enumerate(g.to_rgbs):
                mods += [(g.convs[2 * i], 1 + 2 * i), (g.convs[2 * i + 1], 2 + 2 * i), (rgb, 3 + 2 * i)]
            s = [layer.conv.modulation(wp[:, k]) for layer, k in mods]
        M.dlatents = [x.numpy() for x in s]
        M.GetCodeMS()
        rows = sum(M.dlatents[i].shape[1] for i in M.mindexs)
        rng = np.random.RandomState(1)
        fs3 = rng.randn(rows, 512).astype(np.float32)
        fs3 /= np.linalg.norm(fs3, axis=1, keepdims=True)
        dt = rng.randn(512).astype(np.float32)
        dt /= np.linalg.norm(dt)

        def edit():
            M.alpha, M.num_images, M.manipulate_layers = [4.1], 1, None
            boundary, _ = StyleCLIP.GetBoundary(fs3, dt, M, threshold=0.15)
            codes = M.MSCode([x[0:1] for x in M.dlatents], boundary)
            return M.GenerateImg(codes)

        print(f"global_direction_edit/{size}  {timeit(quiet(edit))[0]:.1f} ms")

        dlatents_o = [x[0:2].copy() for x in M.dlatents]

        def channels():
            all_f = []
            M.alpha, M.step, M.num_images = [-5, 5], 2, 2
            for cindex in range(2):
                M.dlatents = copy.copy(dlatents_o)
                M.dlatents[0][:, cindex] = M.code_mean[0][cindex]
                M.manipulate_layers = [0]
                _, out = M.EditOneC(cindex)
                all_f.append(SingleChannel.GetImgF(out, model, preprocess))
            return SingleChannel.GetFs(np.array(all_f))

        if size != 256:  # fs3 throughput: the reduced configuration only, as the Rust bench
            continue
        saved = M.dlatents
        ms, n = timeit(channels, min_time=10.0, warmup=1)
        M.dlatents = saved
        print(f"fs3_throughput/{size}  {ms:.1f} ms  ({n} runs; {2000 / ms:.2f} channels/s)")


if __name__ == "__main__":
    main()
