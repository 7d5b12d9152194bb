"""Time one official latent-optimisation step (the body of `run_optimization.py`'s loop:
StyleCLIP's generator, `CLIPLoss`'s ×7 upsample + avg-pool, OpenAI CLIP ViT-B/32 in f32, L2,
backward) on CPU with random weights, on the cases of `benches/optimization.rs`.

    python scripts/bench_optimization_torch.py /path/to/StyleCLIP /path/to/stylegan2-pytorch
"""

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402
from bench_util import timeit  # noqa: E402


def main():
    sc = official_cpu.styleclip_model(sys.argv[1])
    import clip
    from clip.model import CLIP

    torch.manual_seed(0)
    model = CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    text = clip.tokenize(["a person with purple hair"])
    sizes = [256] + ([1024] if os.environ.get("STYLECLIP_BENCH_1024") else [])
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    for size in sizes:
        g = sc.Generator(size, 512, 8, channel_multiplier=2).eval()
        for p in g.parameters():
            p.requires_grad_(False)
        upsample = torch.nn.Upsample(scale_factor=7)
        pool = torch.nn.AvgPool2d(kernel_size=size // 32)
        wp0 = g.get_latent(torch.randn(1, 512)).unsqueeze(1).repeat(1, g.n_latent, 1).detach()

        def step():
            wp = wp0.clone().requires_grad_(True)
            img, _ = g([wp], input_is_latent=True, randomize_noise=False)
            c_loss = 1 - model(pool(upsample(img)), text)[0] / 100
            loss = c_loss + 0.008 * ((wp0 - wp) ** 2).sum()
            loss.backward()
            return wp.grad

        ms, n = timeit(step)
        print(f"optimization_step/{size}  {ms:.1f} ms  ({n} runs)")


if __name__ == "__main__":
    main()
