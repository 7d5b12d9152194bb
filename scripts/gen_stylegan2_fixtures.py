"""Regenerate tests/fixtures/stylegan2/: small random StyleGAN2 checkpoints in the official
formats and the official code's outputs on them.

    python scripts/gen_stylegan2_fixtures.py /path/to/orpatashnik/StyleCLIP /path/to/rosinality/stylegan2-pytorch

Needs `torch` (CPU). The reference is StyleCLIP's `models/stylegan2/model.py` (rosinality's
generator with the StyleSpace extensions); rosinality's own `model.py` is run on the same weights,
fused and unfused, as a check of the reference itself.

Each config writes `<name>.pt` (the checkpoint, in the format named below) and
`<name>.ref.safetensors` (inputs and official outputs). Channel counts differ between layers and
every parameter and noise buffer is perturbed away from its initial value, so no bug can hide
behind symmetry or zero-initialised weights. `ffhq_config_f_keys.json` lists the key set and
shapes of the real FFHQ config-f generator (1024 px).
"""

import json
import math
import os
import sys
import zlib

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "stylegan2")

# name, size, style_dim, n_mlp, channels per resolution (4 px first), batch, format
CONFIGS = [
    ("g16_mixed", 16, 32, 3, [24, 20, 12], 2, "full"),      # g_ema + latent_avg[D] + g, d, g_optim
    ("g32_deep", 32, 48, 8, [16, 16, 12, 8], 3, "g_ema2d"),  # g_ema + latent_avg[1, D]
    ("g8_bare_f16", 8, 16, 2, [10, 6], 2, "bare_f16"),       # bare state dict, float16
    ("g4_min", 4, 8, 1, [6], 1, "g_ema_only"),               # no latent_avg
]


def flat_styles(styles):
    return [s.reshape(s.shape[0], -1) for s in styles]


def run_config(sc_model, ros_model, name, size, style_dim, n_mlp, channels, batch, fmt):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    g = official_cpu.make_generator(sc_model, size, style_dim, n_mlp, channels).eval()
    official_cpu.perturb_generator(g, gen)
    sd = g.state_dict()
    if fmt == "bare_f16":
        # The reference runs on the f16-rounded weights, as the loader will see them.
        sd = {k: v.half() for k, v in sd.items()}
        g.load_state_dict({k: v.float() for k, v in sd.items()})

    n_latent = g.n_latent
    ref = {}
    z = torch.randn(batch, style_dim, generator=gen)
    z2 = torch.randn(batch, style_dim, generator=gen)
    z_mean = torch.randn(64, style_dim, generator=gen)
    wp = torch.randn(batch, n_latent, style_dim, generator=gen)
    latent_avg = g.style(z_mean).mean(0) + 0.05 * torch.randn(style_dim, generator=gen)
    ref.update(z=z, z2=z2, z_mean=z_mean, wp=wp, latent_avg=latent_avg)

    with torch.no_grad():
        ref["w"] = g.get_latent(z)
        ref["w2"] = g.get_latent(z2)
        ref["mean_latent"] = g.style(z_mean).mean(0)

        # Truncation (official forward, ψ = 0.7) and the image of the truncated W.
        img, lat, _ = g([z], return_latents=True, truncation=0.7, truncation_latent=latent_avg,
                        randomize_noise=False)
        ref["w_trunc_plus"] = lat
        ref["image_trunc"] = img

        # W+ image and style vectors, constant noise.
        img, lat, styles = g([wp], input_is_latent=True, return_latents=True, randomize_noise=False)
        ref["image_wp"] = img
        for j, s in enumerate(flat_styles(styles)):
            ref[f"style_{j}"] = s

        # Style mixing at an inject index.
        inject = max(1, n_latent // 2 - 1)
        img, lat, _ = g([ref["w"], ref["w2"]], input_is_latent=True, inject_index=inject,
                        return_latents=True, randomize_noise=False)
        ref["wp_mix"] = lat
        ref["image_mix"] = img

        # Synthesis from perturbed style vectors.
        s_in = [s + 0.3 * torch.randn(s.shape, generator=gen) for s in styles]
        img, _ = g([s_in], input_is_stylespace=True, randomize_noise=False)
        ref["image_from_styles"] = img
        for j, s in enumerate(flat_styles(s_in)):
            ref[f"style_in_{j}"] = s

        # Given noise tensors, and zero noise.
        noise = [torch.randn(batch, 1, 2 ** ((j + 5) // 2), 2 ** ((j + 5) // 2), generator=gen)
                 for j in range(g.num_layers)]
        img, _ = g([wp], input_is_latent=True, noise=noise)
        ref["image_given_noise"] = img
        for j, nz in enumerate(noise):
            ref[f"noise_{j}"] = nz
        zeros = [torch.zeros_like(nz) for nz in noise]
        ref["image_zero_noise"], _ = g([wp], input_is_latent=True, noise=zeros)

        # Check the reference against rosinality's generator, fused and unfused.
        for fused in (True, False):
            r = official_cpu.make_generator(ros_model, size, style_dim, n_mlp, channels).eval()
            r.load_state_dict(g.state_dict())
            for m in r.modules():
                if isinstance(m, ros_model.ModulatedConv2d):
                    m.fused = fused
            img_r, _ = r([wp], input_is_latent=True, randomize_noise=False)
            err = (img_r - ref["image_wp"]).abs().max() / ref["image_wp"].abs().max()
            assert err < 1e-5, f"rosinality (fused={fused}) disagrees with StyleCLIP: {err}"

    if fmt == "full":
        opt_param = torch.nn.Parameter(torch.randn(5, 3, generator=gen))
        optim = torch.optim.Adam([opt_param], lr=0.01)
        opt_param.sum().backward()
        optim.step()
        ckpt = {
            "g_ema": sd,
            "latent_avg": latent_avg,
            "g": {k: v + 1.0 for k, v in sd.items() if k.startswith("style.")},
            "d": {"convs.0.0.weight": torch.randn(4, 3, 1, 1, generator=gen), "final_linear.1.bias": torch.zeros(1)},
            "g_optim": optim.state_dict(),
            "args": {"size": size, "note": "non-tensor entries are ignored"},
        }
    elif fmt == "g_ema2d":
        ckpt = {"g_ema": sd, "latent_avg": latent_avg.unsqueeze(0)}
    elif fmt == "bare_f16":
        ckpt = sd
    elif fmt == "g_ema_only":
        ckpt = {"g_ema": sd}
    else:
        raise ValueError(fmt)
    torch.save(ckpt, os.path.join(OUT, f"{name}.pt"))
    ref = {k: v.contiguous() for k, v in ref.items()}
    meta = {"size": str(size), "style_dim": str(style_dim), "n_mlp": str(n_mlp),
            "channels": json.dumps(channels), "batch": str(batch), "format": fmt,
            "inject_index": str(max(1, n_latent // 2 - 1)),
            "has_latent_avg": str(fmt in ("full", "g_ema2d")).lower()}
    save_file(ref, os.path.join(OUT, f"{name}.ref.safetensors"), metadata=meta)
    print(f"{name}: n_latent={n_latent}, {len(styles)} style layers, |image|max={ref['image_wp'].abs().max():.3f}")


def ffhq_keys(sc_model):
    g = sc_model.Generator(1024, 512, 8, channel_multiplier=2)
    keys = {k: list(v.shape) for k, v in g.state_dict().items()}
    with open(os.path.join(OUT, "ffhq_config_f_keys.json"), "w") as f:
        json.dump(keys, f, indent=0, sort_keys=True)
    print(f"ffhq config-f: {len(keys)} keys, {sum(math.prod(s) for s in keys.values())} values")


def main():
    styleclip_dir, rosinality_dir = sys.argv[1], sys.argv[2]
    sc_model = official_cpu.styleclip_model(styleclip_dir)
    ros_model = official_cpu.rosinality_model(rosinality_dir, styleclip_dir)
    os.makedirs(OUT, exist_ok=True)
    for cfg in CONFIGS:
        run_config(sc_model, ros_model, *cfg)
    ffhq_keys(sc_model)


if __name__ == "__main__":
    main()
