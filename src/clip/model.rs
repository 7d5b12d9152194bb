//! OpenAI CLIP (ViT variants), layer by layer. Field names are OpenAI's state-dict keys
//! (`visual.transformer.resblocks.0.attn.in_proj_weight`, …), so a layer is found by its key.
//!
//! Layout choices:
//! - Attention keeps PyTorch's fused `in_proj`; q, k and v are slices of one matmul. (burn's
//!   fused `attention` op measured no faster on flex here, and slower at batch 8.)
//! - Linear weights are held `[in, out]` (burn's layout, transposed once at load), so every
//!   matmul reads contiguous rows; biases and all other tensors keep OpenAI's shapes.
//!   Hugging Face's split q/k/v are concatenated at load time ([`super::load`]).
//! - Sequences are `[B, L, D]` throughout (OpenAI permutes to `[L, B, D]` for
//!   `nn.MultiheadAttention`; the arithmetic is the same).
//! - The causal mask is built once per model; text pooling at the end-of-text token is a
//!   `gather` at `argmax(tokens)` on the device (the EOT id is the vocabulary's largest).

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::module::{conv2d, embedding, layer_norm, linear};
use burn::tensor::ops::ConvOptions;

use super::config::ClipConfig;
use crate::error::{Error, Result};
use crate::stylegan2::layers::join;
use crate::weights::{Init, ParamSource, linear_weight};

/// LayerNorm epsilon of CLIP.
const LN_EPS: f64 = 1e-5;

/// LayerNorm with PyTorch's `weight`/`bias` names.
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// Scale `[D]`.
    pub weight: Param<Tensor<1>>,
    /// Shift `[D]`.
    pub bias: Param<Tensor<1>>,
}

impl LayerNorm {
    fn build<S: ParamSource>(src: &mut S, key: &str, d: usize) -> Result<Self> {
        Ok(Self {
            weight: Param::from_tensor(src.tensor(
                &join(key, "weight"),
                [d],
                Init::Constant(1.0),
            )?),
            bias: Param::from_tensor(src.tensor(&join(key, "bias"), [d], Init::Constant(0.0))?),
        })
    }

    /// Normalise the last axis.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        layer_norm(x, self.weight.val(), Some(self.bias.val()), LN_EPS)
    }
}

/// `nn.Linear` with PyTorch's `[out, in]` weight.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[in, out]`: the checkpoint's `[out, in]` transposed at load (see `linear_weight`).
    pub weight: Param<Tensor<2>>,
    /// `[out]`.
    pub bias: Param<Tensor<1>>,
}

impl Linear {
    fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        d_in: usize,
        d_out: usize,
        std: f64,
    ) -> Result<Self> {
        Ok(Self {
            weight: Param::from_tensor(linear_weight(
                src,
                &join(key, "weight"),
                [d_out, d_in],
                Init::Normal(std),
            )?),
            bias: Param::from_tensor(src.tensor(
                &join(key, "bias"),
                [d_out],
                Init::Constant(0.0),
            )?),
        })
    }

    /// `x Wᵀ + b` (PyTorch's `W`).
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        linear(x, self.weight.val(), Some(self.bias.val()))
    }
}

/// `nn.MultiheadAttention` (self-attention only), PyTorch's fused layout.
#[derive(Module, Debug)]
pub struct MultiheadAttention {
    /// `[D, 3·D]`: q, k, v projections side by side (PyTorch's `[3·D, D]`, transposed at load).
    pub in_proj_weight: Param<Tensor<2>>,
    /// `[3·D]`.
    pub in_proj_bias: Param<Tensor<1>>,
    /// Output projection.
    pub out_proj: Linear,
    #[module(skip)]
    heads: usize,
}

impl MultiheadAttention {
    fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        d: usize,
        heads: usize,
        layers: usize,
    ) -> Result<Self> {
        let attn_std = (d as f64).powf(-0.5);
        let proj_std = attn_std * ((2 * layers) as f64).powf(-0.5);
        Ok(Self {
            in_proj_weight: Param::from_tensor(linear_weight(
                src,
                &join(key, "in_proj_weight"),
                [3 * d, d],
                Init::Normal(attn_std),
            )?),
            in_proj_bias: Param::from_tensor(src.tensor(
                &join(key, "in_proj_bias"),
                [3 * d],
                Init::Constant(0.0),
            )?),
            out_proj: Linear::build(src, &join(key, "out_proj"), d, d, proj_std)?,
            heads,
        })
    }

    /// Self-attention over `[B, L, D]`; `mask` is additive `[L, L]` (0 or −∞).
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<2>>) -> Tensor<3> {
        let [b, l, d] = x.dims();
        let (h, dh) = (self.heads, d / self.heads);
        let qkv = linear(x, self.in_proj_weight.val(), Some(self.in_proj_bias.val()));
        let split = |i: usize| {
            qkv.clone()
                .narrow(2, i * d, d)
                .reshape([b, l, h, dh])
                .swap_dims(1, 2)
        };
        let (q, k, v) = (split(0), split(1), split(2));
        let mut scores = q
            .mul_scalar((dh as f64).powf(-0.5))
            .matmul(k.swap_dims(2, 3));
        if let Some(mask) = mask {
            scores = scores + mask.reshape([1, 1, l, l]);
        }
        let out = softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([b, l, d]);
        self.out_proj.forward(out)
    }
}

/// `c_fc` → QuickGELU → `c_proj`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// `D → 4D`.
    pub c_fc: Linear,
    /// `4D → D`.
    pub c_proj: Linear,
}

/// `x · σ(1.702 x)`, OpenAI's QuickGELU.
pub fn quick_gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone() * sigmoid(x.mul_scalar(1.702))
}

/// Pre-norm transformer block.
#[derive(Module, Debug)]
pub struct ResidualAttentionBlock {
    /// Self-attention.
    pub attn: MultiheadAttention,
    /// Norm before attention.
    pub ln_1: LayerNorm,
    /// Feed-forward.
    pub mlp: Mlp,
    /// Norm before the MLP.
    pub ln_2: LayerNorm,
}

impl ResidualAttentionBlock {
    /// `x + attn(ln_1 x)`, then `x + mlp(ln_2 x)`.
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<2>>) -> Tensor<3> {
        let x = x.clone() + self.attn.forward(self.ln_1.forward(x), mask);
        let h = self.mlp.c_fc.forward(self.ln_2.forward(x.clone()));
        x + self.mlp.c_proj.forward(quick_gelu(h))
    }
}

/// A stack of blocks (`resblocks.{i}`).
#[derive(Module, Debug)]
pub struct Transformer {
    /// The blocks.
    pub resblocks: Vec<ResidualAttentionBlock>,
}

impl Transformer {
    fn build<S: ParamSource>(
        src: &mut S,
        key: &str,
        width: usize,
        layers: usize,
        heads: usize,
    ) -> Result<Self> {
        let proj_std = (width as f64).powf(-0.5) * ((2 * layers) as f64).powf(-0.5);
        let fc_std = ((2 * width) as f64).powf(-0.5);
        let resblocks = (0..layers)
            .map(|i| {
                let k = join(key, &format!("resblocks.{i}"));
                Ok(ResidualAttentionBlock {
                    attn: MultiheadAttention::build(src, &join(&k, "attn"), width, heads, layers)?,
                    ln_1: LayerNorm::build(src, &join(&k, "ln_1"), width)?,
                    mlp: Mlp {
                        c_fc: Linear::build(src, &join(&k, "mlp.c_fc"), width, 4 * width, fc_std)?,
                        c_proj: Linear::build(
                            src,
                            &join(&k, "mlp.c_proj"),
                            4 * width,
                            width,
                            proj_std,
                        )?,
                    },
                    ln_2: LayerNorm::build(src, &join(&k, "ln_2"), width)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { resblocks })
    }

    /// Run every block.
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<2>>) -> Tensor<3> {
        self.resblocks
            .iter()
            .fold(x, |x, block| block.forward(x, mask.clone()))
    }
}

/// The patch-embedding convolution (no bias).
#[derive(Module, Debug)]
pub struct PatchConv {
    /// `[width, 3, patch, patch]`.
    pub weight: Param<Tensor<4>>,
}

/// CLIP's image tower.
#[derive(Module, Debug)]
pub struct VisionTransformer {
    /// Patch embedding.
    pub conv1: PatchConv,
    /// `[width]`.
    pub class_embedding: Param<Tensor<1>>,
    /// `[grid² + 1, width]`.
    pub positional_embedding: Param<Tensor<2>>,
    /// Norm before the transformer.
    pub ln_pre: LayerNorm,
    /// The blocks.
    pub transformer: Transformer,
    /// Norm of the class token.
    pub ln_post: LayerNorm,
    /// `[width, embed_dim]`.
    pub proj: Param<Tensor<2>>,
    #[module(skip)]
    patch: usize,
}

impl VisionTransformer {
    fn build<S: ParamSource>(src: &mut S, c: &ClipConfig) -> Result<Self> {
        let (w, p) = (c.vision_width, c.vision_patch_size);
        let scale = (w as f64).powf(-0.5);
        let tokens = c.grid_size() * c.grid_size() + 1;
        Ok(Self {
            conv1: PatchConv {
                weight: Param::from_tensor(src.tensor(
                    "visual.conv1.weight",
                    [w, 3, p, p],
                    Init::Normal(0.02),
                )?),
            },
            class_embedding: Param::from_tensor(src.tensor(
                "visual.class_embedding",
                [w],
                Init::Normal(scale),
            )?),
            positional_embedding: Param::from_tensor(src.tensor(
                "visual.positional_embedding",
                [tokens, w],
                Init::Normal(scale),
            )?),
            ln_pre: LayerNorm::build(src, "visual.ln_pre", w)?,
            transformer: Transformer::build(
                src,
                "visual.transformer",
                w,
                c.vision_layers,
                c.vision_heads,
            )?,
            ln_post: LayerNorm::build(src, "visual.ln_post", w)?,
            proj: Param::from_tensor(src.tensor(
                "visual.proj",
                [w, c.embed_dim],
                Init::Normal(scale),
            )?),
            patch: p,
        })
    }

    /// Patch embedding, class token, positions and `ln_pre`: the transformer's input.
    ///
    /// # Shapes
    /// `[B, 3, R, R]` → `[B, grid² + 1, width]`
    pub fn embed(&self, x: Tensor<4>) -> Tensor<3> {
        let b = x.dims()[0];
        let p = self.patch;
        let x = conv2d(
            x,
            self.conv1.weight.val(),
            None,
            ConvOptions::new([p, p], [0, 0], [1, 1], 1),
        );
        let [_, w, gh, gw] = x.dims();
        let x = x.reshape([b, w, gh * gw]).swap_dims(1, 2);
        let cls = self
            .class_embedding
            .val()
            .reshape([1, 1, w])
            .repeat_dim(0, b);
        let x = Tensor::cat(vec![cls, x], 1) + self.positional_embedding.val().unsqueeze::<3>();
        self.ln_pre.forward(x)
    }

    /// `[B, 3, R, R]` (normalised pixels) → `[B, embed_dim]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self.transformer.forward(self.embed(x), None);
        let [b, _, w] = x.dims();
        let cls = self.ln_post.forward(x.narrow(1, 0, 1).reshape([b, w]));
        cls.matmul(self.proj.val())
    }
}

/// The token embedding table.
#[derive(Module, Debug)]
pub struct TokenEmbedding {
    /// `[vocab, width]`.
    pub weight: Param<Tensor<2>>,
}

/// OpenAI CLIP with a ViT image tower. On an autodiff device, call `.no_grad()` when CLIP only
/// scores images (as in every StyleCLIP method).
#[derive(Module, Debug)]
pub struct Clip {
    /// Image tower.
    pub visual: VisionTransformer,
    /// Text transformer.
    pub transformer: Transformer,
    /// Token embeddings.
    pub token_embedding: TokenEmbedding,
    /// `[context_length, width]`.
    pub positional_embedding: Param<Tensor<2>>,
    /// Final text norm.
    pub ln_final: LayerNorm,
    /// `[width, embed_dim]`.
    pub text_projection: Param<Tensor<2>>,
    /// Log of the logit temperature (`[1]`; OpenAI stores a 0-d tensor).
    pub logit_scale: Param<Tensor<1>>,
    /// Additive causal mask `[context, context]` (0 on and below the diagonal, −∞ above).
    attn_mask: Tensor<2>,
    #[module(skip)]
    config: ClipConfig,
}

impl Clip {
    /// A model with OpenAI's random initialisation, drawn from `seed`.
    pub fn new_seeded(config: ClipConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::build(config, &mut crate::weights::RandomInit::new(seed, device))
    }

    pub(crate) fn build<S: ParamSource>(config: ClipConfig, src: &mut S) -> Result<Self> {
        config.validate()?;
        let c = &config;
        let visual = VisionTransformer::build(src, c)?;
        let transformer = Transformer::build(
            src,
            "transformer",
            c.text_width,
            c.text_layers,
            c.text_heads,
        )?;
        let token_embedding = TokenEmbedding {
            weight: Param::from_tensor(src.tensor(
                "token_embedding.weight",
                [c.vocab_size, c.text_width],
                Init::Normal(0.02),
            )?),
        };
        let positional_embedding = Param::from_tensor(src.tensor(
            "positional_embedding",
            [c.context_length, c.text_width],
            Init::Normal(0.01),
        )?);
        let ln_final = LayerNorm::build(src, "ln_final", c.text_width)?;
        let text_projection = Param::from_tensor(src.tensor(
            "text_projection",
            [c.text_width, c.embed_dim],
            Init::Normal((c.text_width as f64).powf(-0.5)),
        )?);
        let logit_scale = Param::from_tensor(src.tensor(
            "logit_scale",
            [1],
            Init::Constant((1.0f64 / 0.07).ln()),
        )?);
        let n = c.context_length;
        let mask: Vec<f32> = (0..n * n)
            .map(|i| {
                if i % n > i / n {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
            .collect();
        let attn_mask = Tensor::from_data(TensorData::new(mask, [n, n]), src.device());
        Ok(Self {
            visual,
            transformer,
            token_embedding,
            positional_embedding,
            ln_final,
            text_projection,
            logit_scale,
            attn_mask,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClipConfig {
        &self.config
    }

    /// Image features (unnormalised, as OpenAI's `encode_image`).
    ///
    /// # Shapes
    /// `[B, 3, R, R]` with `R = config().image_resolution`, preprocessed → `[B, embed_dim]`
    ///
    /// # Panics
    /// If `pixels` has another channel count or size (burn's conv or broadcast assertion, with
    /// burn's message); see [`Clip::try_encode_image`] for the checked version. NaN pixels
    /// give NaN features.
    pub fn encode_image(&self, pixels: Tensor<4>) -> Tensor<2> {
        self.visual.forward(pixels)
    }

    /// [`Clip::encode_image`] with the pixels' shape checked first.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `pixels` is not `[B, 3, R, R]` with `B ≥ 1` and
    /// `R = config().image_resolution` (preprocess with
    /// [`clip_normalized`](crate::clip::preprocess::clip_normalized) or
    /// [`styleclip_raw`](crate::clip::preprocess::styleclip_raw) first).
    pub fn try_encode_image(&self, pixels: Tensor<4>) -> Result<Tensor<2>> {
        let [b, c, h, w] = pixels.dims();
        let r = self.config.image_resolution;
        if b == 0 || (c, h, w) != (3, r, r) {
            return Err(Error::InvalidArgument(format!(
                "CLIP images must be [B, 3, {r}, {r}] with B ≥ 1, got [{b}, {c}, {h}, {w}]"
            )));
        }
        Ok(self.encode_image(pixels))
    }

    /// Text features (unnormalised, as OpenAI's `encode_text`), pooled at each row's
    /// end-of-text token (its largest id).
    ///
    /// # Shapes
    /// `[B, L]` token ids, `L ≤ context_length` → `[B, embed_dim]`
    ///
    /// # Panics
    /// If `L > context_length` (slicing the causal mask); ids `≥ vocab_size` are not checked
    /// (the embedding gather reads out of range: a panic or garbage, depending on the backend).
    /// See [`Clip::try_encode_text`] for the checked version.
    pub fn encode_text(&self, tokens: Tensor<2, Int>) -> Tensor<2> {
        let [b, l] = tokens.dims();
        let d = self.config.text_width;
        let x = self
            .transformer
            .forward(self.embed_text(tokens.clone()), Some(self.causal_mask(l)));
        let x = self.ln_final.forward(x);
        let eot = tokens.argmax(1).reshape([b, 1, 1]).repeat_dim(2, d);
        x.gather(1, eot)
            .reshape([b, d])
            .matmul(self.text_projection.val())
    }

    /// [`Clip::encode_text`] with the token shape and ids checked first (one host read of the
    /// ids).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `tokens` is not `[B, L]` with `B ≥ 1` and
    /// `1 ≤ L ≤ context_length`, or holds an id outside `0..vocab_size`.
    pub fn try_encode_text(&self, tokens: Tensor<2, Int>) -> Result<Tensor<2>> {
        let [b, l] = tokens.dims();
        let (ctx, vocab) = (self.config.context_length, self.config.vocab_size);
        if b == 0 || l == 0 || l > ctx {
            return Err(Error::InvalidArgument(format!(
                "CLIP tokens must be [B, L] with B ≥ 1 and 1 ≤ L ≤ {ctx}, got [{b}, {l}]"
            )));
        }
        let ids = tokens
            .clone()
            .into_data()
            .try_into_vec_as::<i64>()
            .map_err(|e| Error::InvalidArgument(format!("cannot read token ids: {e:?}")))?;
        if let Some(bad) = ids.iter().find(|&&t| t < 0 || t as usize >= vocab) {
            return Err(Error::InvalidArgument(format!(
                "token id {bad} is outside the vocabulary 0..{vocab}"
            )));
        }
        Ok(self.encode_text(tokens))
    }

    /// Token plus positional embeddings: the text transformer's input, `[B, L] → [B, L, width]`.
    ///
    /// # Panics
    /// If `L > context_length` (burn's `narrow` assertion); see [`Clip::try_encode_text`].
    pub fn embed_text(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let l = tokens.dims()[1];
        embedding(self.token_embedding.weight.val(), tokens)
            + self
                .positional_embedding
                .val()
                .narrow(0, 0, l)
                .unsqueeze::<3>()
    }

    /// The additive causal mask for `l ≤ context_length` tokens, `[l, l]`.
    pub fn causal_mask(&self, l: usize) -> Tensor<2> {
        self.attn_mask.clone().slice([0..l, 0..l])
    }

    /// `exp(logit_scale)` as a tensor `[1]`.
    pub fn logit_scale_exp(&self) -> Tensor<1> {
        self.logit_scale.val().exp()
    }

    /// OpenAI's `forward`: `(logits_per_image [Bi, Bt], logits_per_text [Bt, Bi])`, the cosine
    /// similarities times `exp(logit_scale)`.
    ///
    /// # Panics
    /// As [`Clip::encode_image`] and [`Clip::encode_text`]; check the inputs with
    /// [`Clip::try_encode_image`] / [`Clip::try_encode_text`] first.
    pub fn logits(&self, pixels: Tensor<4>, tokens: Tensor<2, Int>) -> (Tensor<2>, Tensor<2>) {
        let img = l2_normalize(self.encode_image(pixels));
        let txt = l2_normalize(self.encode_text(tokens));
        let per_image = img.matmul(txt.transpose()) * self.logit_scale_exp().reshape([1, 1]);
        (per_image.clone(), per_image.transpose())
    }
}

/// `x / ‖x‖₂` along the last axis.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt();
    x / norm
}
