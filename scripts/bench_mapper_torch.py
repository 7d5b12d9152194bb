"""Time the official latent mapper on CPU with random weights, on the cases of
`benches/mapper.rs`: `LevelsMapper` inference (`w + 0.1 * mapper(w)`), the edit plus
StyleCLIP's config-f synthesis at 1024 px, and one step of the official coach's training loop
(`Coach.train` body: G(w) under no_grad, mapper, G(ŵ), `CLIPLoss` (×7 upsample + avg-pool,
ViT-B/32 in f32), `IDLoss` (IR-SE50), `MSELoss`, backward, official Ranger).

    python scripts/bench_mapper_torch.py /path/to/StyleCLIP
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import official_cpu  # noqa: E402
from bench_util import timeit  # noqa: E402


def main():
    root = sys.argv[1]
    sc = official_cpu.styleclip_model(root)
    sys.modules["models"].__path__ = [f"{root}/models"]
    sys.path.insert(0, root)
    import clip
    from clip.model import CLIP
    from mapper.latent_mappers import LevelsMapper
    from mapper.training.ranger import Ranger
    from models.facial_recognition.model_irse import Backbone

    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    opts = argparse.Namespace(no_coarse_mapper=False, no_medium_mapper=False, no_fine_mapper=False)
    mapper = LevelsMapper(opts).eval()
    for b in (1, 8):
        w = torch.randn(b, 18, 512)
        with torch.no_grad():
            ms, n = timeit(lambda: w + 0.1 * mapper(w))
        print(f"mapper_inference/levels_b{b}  {ms:.2f} ms  ({n} runs)")

    g = sc.Generator(1024, 512, 8, channel_multiplier=2).eval()
    with torch.no_grad():
        w = g.get_latent(torch.randn(1, 512)).unsqueeze(1).repeat(1, g.n_latent, 1)
        ms, n = timeit(lambda: g([w + 0.1 * mapper(w)], input_is_latent=True, randomize_noise=False)[0])
    print(f"mapper_edit_synthesis/1024  {ms:.1f} ms  ({n} runs)")

    model = CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12).eval()
    facenet = Backbone(input_size=112, num_layers=50, drop_ratio=0.6, mode="ir_se").eval()
    for p in list(model.parameters()) + list(facenet.parameters()):
        p.requires_grad_(False)
    text = clip.tokenize(["mohawk hairstyle"])
    sizes = [256] + ([1024] if os.environ.get("STYLECLIP_BENCH_1024") else [])
    for size in sizes:
        g = sc.Generator(size, 512, 8, channel_multiplier=2).eval()
        for p in g.parameters():
            p.requires_grad_(False)
        upsample, pool = torch.nn.Upsample(scale_factor=7), torch.nn.AvgPool2d(size // 32)
        pool256, face_pool = torch.nn.AdaptiveAvgPool2d((256, 256)), torch.nn.AdaptiveAvgPool2d((112, 112))
        mse = torch.nn.MSELoss()
        m = LevelsMapper(opts).train()
        optim = Ranger(list(m.parameters()), lr=0.5)
        w = g.get_latent(torch.randn(2, 512)).unsqueeze(1).repeat(1, g.n_latent, 1).detach()

        def feats(x):  # criteria/id_loss.py IDLoss.extract_feats
            if x.shape[2] != 256:
                x = pool256(x)
            return facenet(face_pool(x[:, :, 35:223, 32:220]))

        def step():  # mapper/training/coach.py Coach.train, one iteration
            optim.zero_grad()
            with torch.no_grad():
                x, _ = g([w], input_is_latent=True, randomize_noise=False, truncation=1)
            w_hat = w + 0.1 * m(w)
            x_hat, _ = g([w_hat], input_is_latent=True, randomize_noise=False, truncation=1)
            y, y_hat = feats(x).detach(), feats(x_hat)
            loss_id = sum(1 - y_hat[i].dot(y[i]) for i in range(2)) / 2
            loss_clip = (1 - model(pool(upsample(x_hat)), text)[0] / 100).mean()
            loss = 0.1 * loss_id + 1.0 * loss_clip + 0.8 * mse(w_hat, w)
            loss.backward()
            optim.step()

        ms, n = timeit(step)
        print(f"mapper_train_step/{size}  {ms:.1f} ms  ({n} runs)")


if __name__ == "__main__":
    main()
