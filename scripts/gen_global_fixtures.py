"""Regenerate tests/fixtures/global/: StyleCLIP method 3 (global directions) run by the official
`global_torch` code on CPU, on the tiny generator and tiny CLIP of tests/fixtures/optimization/.

    python scripts/gen_global_fixtures.py /path/to/orpatashnik/StyleCLIP

Official functions called unmodified (imported from the checkout):
- `global_torch/manipulate.py`: `Manipulator` (`GetSName`, `SetGParameters`, `GetCodeMS`,
  `MSCode`, `EditOneC`, `GenerateImg`, including its uint8 conversion);
- `global_torch/SingleChannel.py`: `GetImgF`, `GetFs`;
- `global_torch/StyleCLIP.py`: `imagenet_templates`, `GetDt` (`zeroshot_classifier`),
  `GetBoundary`, `SplitS`;
- `clip.clip._transform`: the preprocess `clip.load` returns.

Glue written here:
- the generator behind `Manipulator.G`: StyleCLIP's rosinality `models/stylegan2/model.py`
  (through scripts/official_cpu.py) run from style codes with `input_is_stylespace=True` and the
  constant noise buffers. That path wants each code shaped `[B, 1, C, 1, 1]`, as its forward
  returns them, so the `[1, C]` codes are reshaped. Its S layer order equals NVlabs'.
- `M.mindexs`: `SetGParameters` hard-codes the FFHQ-1024 list; here it is the non-ToRGB indices
  of the tiny generator (same rule).
- `GenerateS` needs the NVlabs mapping: here W+ is built with the same rule
  (`w_avg + ψ (w − w_avg)` for rows `< truncation_cutoff`; the TF variant tiles the truncated
  row 0) and mapped to S by the rosinality forward (`return_latents=True`).
- the `__main__` loop of `SingleChannel.py` (copy the list, set the channel to its mean,
  `EditOneC`, `GetImgF`), written out here because it is not a function; `copy.copy` is kept,
  so its shallow-copy behaviour is reproduced as shipped.
- `Inference.py`'s `GetDt2` (TensorFlow module): its β loop, over official `GetBoundary`.
- `.cuda()` is the identity (`zeroshot_classifier` calls it).
- `GetImgF` assumes 512-wide features: the tiny CLIP's 32 are zero-padded for it, then cut.

Outputs (all small): `ref.safetensors` (W+, S statistics, fs3, features, Δt, boundaries, edited
codes), `fs3.npy` (the official fs3, as `np.save` writes it), `fs3_fortran_f64.npy`.
"""

import copy
import os
import sys
import types

import numpy as np
import torch
from safetensors.numpy import save_file
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402

HERE = os.path.dirname(__file__)
OUT = os.path.join(HERE, "..", "tests", "fixtures", "global")
OPT = os.path.join(HERE, "..", "tests", "fixtures", "optimization")
SIZE, CHANNELS = 32, [16, 12, 10, 8]
N_STATS, N_IMAGES, PSI, CUTOFF = 32, 3, 0.7, 4
EMBED = 32
PAIRS = [("face", "smiling face"), ("female face", "male face")]
BETAS = [0.1, 0.17, 0.25]
ALPHAS = [-3.0, 1.5, 4.1]


def main():
    root = sys.argv[1]
    gt = official_cpu.global_torch(root)
    sc, manipulate, SingleChannel, StyleCLIP = gt.model, gt.manipulate, gt.SingleChannel, gt.StyleCLIP
    import clip
    from clip.model import CLIP

    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(5)

    # The committed tiny generator and CLIP (f16 weights, used as f32 on both sides).
    g = official_cpu.make_generator(sc, SIZE, 512, 8, CHANNELS).eval()
    sd = torch.load(os.path.join(OPT, "generator.pt"))["g_ema"]
    g.load_state_dict({k: v.float() for k, v in sd.items()}, strict=False)
    model = CLIP(embed_dim=32, image_resolution=224, vision_layers=2, vision_width=128,
                 vision_patch_size=32, context_length=77, vocab_size=49408, transformer_width=32,
                 transformer_heads=2, transformer_layers=2).eval()
    model.load_state_dict({k: v.float() for k, v in load_file(os.path.join(OPT, "clip.safetensors")).items()})
    preprocess = clip.clip._transform(model.visual.input_resolution)

    class Synthesis:
        block_resolutions = [4 << j for j in range(len(CHANNELS))]
        img_resolution = SIZE
        num_ws = g.n_latent

        def __call__(self, ws, encoded_styles, noise_mode):
            assert ws is None and noise_mode == "const"
            s = [v.reshape(v.shape[0], 1, v.shape[1], 1, 1) for v in encoded_styles.values()]
            with torch.no_grad():
                return g([s], input_is_stylespace=True, randomize_noise=False)[0]

    M = manipulate.Manipulator()
    M.device = "cpu"
    M.G = types.SimpleNamespace(synthesis=Synthesis())
    M.SetGParameters()
    M.mindexs = [i for i, n in enumerate(M.s_names) if "RGB" not in n]

    # Statistics: z, W+ (torch and TF variants), S, then the official GetCodeMS.
    z = torch.randn(N_STATS, 512, generator=gen)
    with torch.no_grad():
        w = g.get_latent(z)
        w_avg = g.mean_latent(256)[0]
        wt = w_avg + PSI * (w - w_avg)
        n = g.n_latent
        wp_torch = torch.stack([wt if i < CUTOFF else w for i in range(n)], 1)
        wp_tf = wt[:, None].repeat(1, n, 1)

        def w2s(wp):
            _, _, s = g([wp], input_is_latent=True, randomize_noise=False, return_latents=True)
            return [x.reshape(x.shape[0], -1).numpy().astype(np.float32) for x in s]

        s_torch, s_tf = w2s(wp_torch), w2s(wp_tf)
    # W+ itself is not stored (the Rust side rebuilds it from z and w_avg); its first row is.
    ref = {"z": z.numpy(), "w_avg": w_avg.numpy(), "wp_torch_first": wp_torch[0].numpy(),
           "wp_tf_first": wp_tf[0].numpy()}
    for name, s in [("tf", s_tf), ("torch", s_torch)]:  # torch last: it stays in M
        M.dlatents = s
        M.GetCodeMS()
        for j in range(len(s)):
            ref[f"{name}_mean.{j}"] = M.code_mean[j]
            ref[f"{name}_std.{j}"] = M.code_std[j]

    # Relevance: the SingleChannel.py main loop, on the first N_IMAGES samples. `GetImgF`
    # reshapes features to 512 wide, so the tiny CLIP's features are zero-padded to 512 there
    # (norms, differences and means are unchanged; the padding is cut off afterwards).
    padded = types.SimpleNamespace(
        encode_image=lambda x: torch.nn.functional.pad(model.encode_image(x), (0, 512 - EMBED)))
    SingleChannel.device = "cpu"
    dlatents_o = [x[0:N_IMAGES] for x in M.dlatents]
    all_f, first_images = [], None
    M.alpha = [-5, 5]
    M.step = 2
    M.num_images = N_IMAGES
    for lindex in M.mindexs:
        for cindex in range(M.dlatents[lindex].shape[1]):
            M.dlatents = copy.copy(dlatents_o)
            M.dlatents[lindex][:, cindex] = M.code_mean[lindex][cindex]
            M.manipulate_layers = [lindex]
            codes, out = M.EditOneC(cindex)
            if first_images is None:
                first_images = out
            all_f.append(SingleChannel.GetImgF(out, padded, preprocess))
    all_f = np.array(all_f)
    fs3 = SingleChannel.GetFs(all_f)[:, :EMBED]
    all_f = all_f[..., :EMBED]
    ref["features"] = all_f.astype(np.float32)
    ref["first_channel_images"] = first_images.astype(np.float32)
    ref["fs3"] = fs3.astype(np.float32)
    np.save(os.path.join(OUT, "fs3.npy"), fs3.astype(np.float32))
    np.save(os.path.join(OUT, "fs3_fortran_f64.npy"), np.asfortranarray(fs3.astype(np.float64)))

    # Text directions with the real templates, then boundaries and edits. M.code_std is still
    # the torch variant's; the relevance loop wrote means into the sampled arrays (they are
    # views), so the codes edited below are recomputed from W+.
    ref["templates_count"] = np.array([len(StyleCLIP.imagenet_templates)], dtype=np.float32)
    rng = np.random.RandomState(0)
    fs3_random = rng.randn(*fs3.shape).astype(np.float32)
    fs3_random /= np.linalg.norm(fs3_random, axis=1, keepdims=True)
    ref["fs3_random"] = fs3_random
    M.num_images = 2
    M.manipulate_layers = None
    M.alpha = ALPHAS
    # The official code keeps the edited samples' S in M.dlatents: recompute them untouched.
    with torch.no_grad():
        dl = w2s(wp_torch[:2])
    for p, (neutral, target) in enumerate(PAIRS):
        dt = StyleCLIP.GetDt([target, neutral], model)
        ref[f"dt.{p}"] = dt.astype(np.float32)
        for fname, f in [("real", fs3.astype(np.float32)), ("random", fs3_random)]:
            for b, beta in enumerate(BETAS):
                boundary, num_c = StyleCLIP.GetBoundary(f, dt, M, threshold=np.float32(beta))
                key = f"{fname}.{p}.{b}"
                ref[f"num_c.{key}"] = np.array([num_c], dtype=np.float32)
                if num_c == 0:
                    continue
                for j, x in enumerate(boundary):
                    ref[f"boundary.{key}.{j}"] = np.asarray(x, dtype=np.float32)
                codes = M.MSCode(dl, boundary)
                for j, x in enumerate(codes):
                    ref[f"codes.{key}.{j}"] = x.astype(np.float32)
            # Inference.py GetDt2: the largest β in arange(0.1, 0.3, 0.01) moving > K channels.
            for K in (5, 20):
                betas = np.arange(0.1, 0.3, 0.01)
                num_cs = np.array([StyleCLIP.GetBoundary(f, dt, M, threshold=b)[1] for b in betas])
                select = num_cs > K
                beta = 0.1 if sum(select) == 0 else betas[select][-1]
                ref[f"auto_beta.{fname}.{p}.{K}"] = np.array([beta], dtype=np.float64)
    for j, x in enumerate(dl):
        ref[f"edit_base.{j}"] = x
    ref = {k: np.ascontiguousarray(v) for k, v in ref.items()}
    path = os.path.join(OUT, "ref.safetensors")
    save_file(ref, path,
              metadata={"pairs": repr(PAIRS), "betas": repr(BETAS), "alphas": repr(ALPHAS),
                        "n_images": str(N_IMAGES), "psi": str(PSI), "cutoff": str(CUTOFF)})
    os.chmod(path, 0o644)
    print("fs3", fs3.shape, "features", all_f.shape)
    print({k: v.shape for k, v in ref.items() if k.startswith("num_c")})
    print({k: ref[k].item() for k in ref if k.startswith("num_c") or k.startswith("auto_beta")})


if __name__ == "__main__":
    main()
