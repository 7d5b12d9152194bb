"""Time the official StyleGAN2 generator (StyleCLIP's `models/stylegan2/model.py`, and
rosinality's for the unfused path) on the configs of `benches/generator.rs`.

    python scripts/bench_generator_torch.py /path/to/StyleCLIP /path/to/stylegan2-pytorch

Prints one line per case: `name  mean_ms  (n runs)`. CPU, all cores, float32, constant noise.
"""

import os
import sys
import torch

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402
from bench_util import timeit  # noqa: E402


def main():
    sc = official_cpu.styleclip_model(sys.argv[1])
    ros = official_cpu.rosinality_model(sys.argv[2], sys.argv[1])
    torch.manual_seed(0)
    g = sc.Generator(256, 512, 8, channel_multiplier=2).eval()
    r = ros.Generator(256, 512, 8, channel_multiplier=2).eval()
    r.load_state_dict(g.state_dict())
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for batch in (1, 4):
        wp = g.get_latent(torch.randn(batch, 512)).unsqueeze(1).repeat(1, g.n_latent, 1).detach()
        with torch.no_grad():
            ms, n = timeit(lambda: g([wp], input_is_latent=True, randomize_noise=False))
            print(f"synthesis_256_config_f/fused/{batch}  {ms:.1f} ms  ({n} runs)")
            for m in r.modules():
                if isinstance(m, ros.ModulatedConv2d):
                    m.fused = False
            ms, n = timeit(lambda: r([wp], input_is_latent=True, randomize_noise=False))
            print(f"synthesis_256_config_f/unfused/{batch}  {ms:.1f} ms  ({n} runs)")
            for m in r.modules():
                if isinstance(m, ros.ModulatedConv2d):
                    m.fused = True
    for p in g.parameters():
        p.requires_grad_(False)
    wp0 = g.get_latent(torch.randn(1, 512)).unsqueeze(1).repeat(1, g.n_latent, 1).detach()

    def step():
        wp = wp0.clone().requires_grad_(True)
        img, _ = g([wp], input_is_latent=True, randomize_noise=False)
        img.pow(2).mean().backward()
        return wp.grad

    ms, n = timeit(step)
    print(f"synthesis_backward_256_config_f/batch_1  {ms:.1f} ms  ({n} runs)")


if __name__ == "__main__":
    main()
