"""Regenerate tests/fixtures/clip/: a tiny random CLIP in the OpenAI and Hugging Face formats,
and the official code's outputs on it.

    pip install torch clip-anytorch transformers safetensors
    python scripts/gen_clip_fixtures.py

References: OpenAI's `clip.model.CLIP` (package `clip-anytorch`) and `transformers`'
`CLIPModel`, loaded with the same weights (the script checks that they agree). The vision tower
has 2 heads (width 128, OpenAI's width/64 rule); the text tower 3 heads at width 96, which the
width/64 rule cannot infer, so loading needs an explicit config. Vocabulary 1000 with id 999 as
the end-of-text token (the largest id, as 49407 is in the real vocabulary). Formats: OpenAI state dict (`.pt`, and
f16 safetensors), Hugging Face safetensors, and a TorchScript archive with OpenAI's f16/f32 mix
(`tiny_openai_jit.pt`, as the released `ViT-B-32.pt`). Every weight,
including LayerNorm scales and biases, is perturbed. `vit_b_32_keys.json` lists the key set and
shapes of the real OpenAI ViT-B/32 state dict.
"""

import json
import os

import torch
from safetensors.torch import save_file

from clip.model import CLIP
from transformers import CLIPConfig, CLIPModel

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "clip")
CFG = dict(embed_dim=24, image_resolution=32, vision_layers=2, vision_width=128, vision_patch_size=8,
           context_length=77, vocab_size=1000, transformer_width=96, transformer_heads=3,
           transformer_layers=2)


def openai_to_hf(sd):
    """OpenAI state dict → transformers `CLIPModel` state dict (the inverse of the crate's rules)."""
    out = {}
    for k, v in sd.items():
        tower, rest = ("vision_model", k[len("visual."):]) if k.startswith("visual.") else ("text_model", k)
        if k == "visual.proj":
            out["visual_projection.weight"] = v.t().contiguous()
            continue
        if k == "text_projection":
            out["text_projection.weight"] = v.t().contiguous()
            continue
        if k == "logit_scale":
            out["logit_scale"] = v
            continue
        rest = (rest.replace("transformer.resblocks.", "encoder.layers.")
                .replace(".attn.out_proj.", ".self_attn.out_proj.")
                .replace(".ln_1.", ".layer_norm1.").replace(".ln_2.", ".layer_norm2.")
                .replace(".mlp.c_fc.", ".mlp.fc1.").replace(".mlp.c_proj.", ".mlp.fc2."))
        rest = {"conv1.weight": "embeddings.patch_embedding.weight",
                "class_embedding": "embeddings.class_embedding",
                "positional_embedding": "embeddings.position_embedding.weight",
                "token_embedding.weight": "embeddings.token_embedding.weight",
                "ln_pre.weight": "pre_layrnorm.weight", "ln_pre.bias": "pre_layrnorm.bias",
                "ln_post.weight": "post_layernorm.weight", "ln_post.bias": "post_layernorm.bias",
                "ln_final.weight": "final_layer_norm.weight",
                "ln_final.bias": "final_layer_norm.bias"}.get(rest, rest)
        if rest.endswith(".attn.in_proj_weight") or rest.endswith(".attn.in_proj_bias"):
            base = rest.rsplit(".attn.", 1)[0]
            part = "weight" if rest.endswith("weight") else "bias"
            for name, chunk in zip("qkv", v.chunk(3, dim=0)):
                out[f"{tower}.{base}.self_attn.{name}_proj.{part}"] = chunk.contiguous()
            continue
        out[f"{tower}.{rest}"] = v
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    model = CLIP(**CFG).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                p.copy_(torch.tensor(2.5))
            elif p.ndim == 1 and ("ln" in name):
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.add_(0.05 * p.std().clamp(min=1e-3) * torch.randn(p.shape, generator=gen))
                if p.ndim == 1:
                    p.add_(0.05 * torch.randn(p.shape, generator=gen))
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}

    pixels = torch.randn(2, 3, 32, 32, generator=gen)
    tokens = torch.zeros(3, 77, dtype=torch.long)
    for row, n in enumerate([5, 12, 75]):
        tokens[row, 0] = 998  # stands for <|startoftext|>
        tokens[row, 1:n] = torch.randint(1, 998, (n - 1,), generator=gen)
        tokens[row, n] = 999  # end of text: the largest id
    ref = {"pixels": pixels, "tokens": tokens.float()}
    hooks = {}

    def keep(name, nld):
        def hook(_m, _inp, out):
            hooks[name] = (out.permute(1, 0, 2) if nld else out).detach().clone()
        return hook

    model.visual.ln_pre.register_forward_hook(keep("visual_embed", False))
    model.visual.transformer.resblocks[0].register_forward_hook(keep("visual_block0", True))
    model.transformer.resblocks[0].register_forward_hook(keep("text_block0", True))
    with torch.no_grad():
        ref["image_features"] = model.encode_image(pixels)
        ref["text_features"] = model.encode_text(tokens)
        ref["logits_per_image"], ref["logits_per_text"] = model(pixels, tokens)
        ref["text_embed"] = model.token_embedding(tokens) + model.positional_embedding
    ref.update(hooks)

    # transformers' CLIPModel on the same weights must agree (checks the key mapping).
    hf_cfg = CLIPConfig(
        projection_dim=CFG["embed_dim"], logit_scale_init_value=2.5,
        text_config=dict(vocab_size=CFG["vocab_size"], hidden_size=CFG["transformer_width"],
                         intermediate_size=4 * CFG["transformer_width"], num_hidden_layers=2,
                         num_attention_heads=CFG["transformer_heads"], max_position_embeddings=77,
                         hidden_act="quick_gelu", layer_norm_eps=1e-5, eos_token_id=999,
                         bos_token_id=998, pad_token_id=0),
        vision_config=dict(hidden_size=CFG["vision_width"], intermediate_size=4 * CFG["vision_width"],
                           num_hidden_layers=2, num_attention_heads=CFG["vision_width"] // 64,
                           image_size=32, patch_size=8, hidden_act="quick_gelu", layer_norm_eps=1e-5))
    hf = CLIPModel(hf_cfg).eval()
    hf_sd = openai_to_hf(sd)
    missing, unexpected = hf.load_state_dict(hf_sd, strict=False)
    assert not unexpected, unexpected
    assert all("position_ids" in k for k in missing), missing
    with torch.no_grad():
        img_hf = hf.get_image_features(pixel_values=pixels)
        txt_hf = hf.get_text_features(input_ids=tokens)
        img_hf = getattr(img_hf, "pooler_output", img_hf)
        txt_hf = getattr(txt_hf, "pooler_output", txt_hf)
    for a, b, what in [(img_hf, ref["image_features"], "image"), (txt_hf, ref["text_features"], "text")]:
        err = ((a - b).abs().max() / b.abs().max()).item()
        assert err < 1e-5, f"transformers disagrees with OpenAI on {what} features: {err}"

    torch.save(sd, os.path.join(OUT, "tiny_openai.pt"))
    save_file({k: v.half().contiguous() for k, v in sd.items()}, os.path.join(OUT, "tiny_openai_f16.safetensors"))
    hf_sd["text_model.embeddings.position_ids"] = torch.arange(77).unsqueeze(0)
    save_file({k: v.contiguous() for k, v in hf_sd.items()}, os.path.join(OUT, "tiny_hf.safetensors"))
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "tiny.ref.safetensors"),
              metadata={"config": json.dumps(CFG)})

    # f16 reference: the same model run on f16-rounded weights (computed in f32).
    model.load_state_dict({k: v.half().float() for k, v in sd.items()})
    with torch.no_grad():
        f16 = {"image_features": model.encode_image(pixels), "text_features": model.encode_text(tokens)}
    save_file(f16, os.path.join(OUT, "tiny_f16.ref.safetensors"))

    # TorchScript archive as OpenAI releases them: traced, then `convert_weights`' choice of
    # f16 tensors (conv, linear, attention, projections), the rest f32.
    model.load_state_dict(sd)
    traced = torch.jit.trace(model, (pixels[:1], tokens[:1]))
    half = (".conv1.weight", "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias",
            "c_fc.weight", "c_fc.bias", "c_proj.weight", "c_proj.bias", "text_projection", "visual.proj")
    rounded = {}
    with torch.no_grad():
        for name, p in traced.named_parameters():
            if name.endswith(half):
                p.data = p.data.half()
            rounded[name] = p.data.float()
    traced.save(os.path.join(OUT, "tiny_openai_jit.pt"))
    fresh = CLIP(**CFG).eval()  # the traced module shares (and now half-casts) model's tensors
    fresh.load_state_dict(rounded)
    with torch.no_grad():
        jit = {"image_features": fresh.encode_image(pixels), "text_features": fresh.encode_text(tokens)}
    save_file(jit, os.path.join(OUT, "tiny_jit.ref.safetensors"))

    real = CLIP(512, 224, 12, 768, 32, 77, 49408, 512, 8, 12)
    keys = {k: list(v.shape) for k, v in real.state_dict().items()}
    with open(os.path.join(OUT, "vit_b_32_keys.json"), "w") as f:
        json.dump(keys, f, indent=0, sort_keys=True)
    print("clip fixtures written;", len(keys), "ViT-B/32 keys")


if __name__ == "__main__":
    main()
