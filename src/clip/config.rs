//! CLIP hyper-parameters, presets named after the released checkpoints, and inference of a
//! configuration from state-dict shapes (as OpenAI's `build_model` does).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The shape of a ViT CLIP model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipConfig {
    /// Joint embedding width.
    pub embed_dim: usize,
    /// Input image side (224, or 336).
    pub image_resolution: usize,
    /// Vision transformer blocks.
    pub vision_layers: usize,
    /// Vision transformer width.
    pub vision_width: usize,
    /// Vision attention heads (OpenAI: `vision_width / 64`).
    pub vision_heads: usize,
    /// Patch side.
    pub vision_patch_size: usize,
    /// Text context length (77).
    pub context_length: usize,
    /// Token vocabulary size (49408).
    pub vocab_size: usize,
    /// Text transformer width.
    pub text_width: usize,
    /// Text attention heads (OpenAI: `text_width / 64`).
    pub text_heads: usize,
    /// Text transformer blocks.
    pub text_layers: usize,
}

impl ClipConfig {
    /// OpenAI `ViT-B/32`.
    pub fn vit_b_32() -> Self {
        Self {
            embed_dim: 512,
            image_resolution: 224,
            vision_layers: 12,
            vision_width: 768,
            vision_heads: 12,
            vision_patch_size: 32,
            context_length: 77,
            vocab_size: 49408,
            text_width: 512,
            text_heads: 8,
            text_layers: 12,
        }
    }

    /// OpenAI `ViT-B/16`.
    pub fn vit_b_16() -> Self {
        Self {
            vision_patch_size: 16,
            ..Self::vit_b_32()
        }
    }

    /// OpenAI `ViT-L/14`.
    pub fn vit_l_14() -> Self {
        Self {
            embed_dim: 768,
            image_resolution: 224,
            vision_layers: 24,
            vision_width: 1024,
            vision_heads: 16,
            vision_patch_size: 14,
            context_length: 77,
            vocab_size: 49408,
            text_width: 768,
            text_heads: 12,
            text_layers: 12,
        }
    }

    /// OpenAI `ViT-L/14@336px`.
    pub fn vit_l_14_336() -> Self {
        Self {
            image_resolution: 336,
            ..Self::vit_l_14()
        }
    }

    /// Patches per side.
    pub fn grid_size(&self) -> usize {
        self.image_resolution / self.vision_patch_size.max(1)
    }

    /// Check the numbers describe a buildable model.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidConfig(m));
        let positive = [
            self.embed_dim,
            self.image_resolution,
            self.vision_layers,
            self.vision_width,
            self.vision_heads,
            self.vision_patch_size,
            self.context_length,
            self.vocab_size,
            self.text_width,
            self.text_heads,
            self.text_layers,
        ];
        if positive.contains(&0) {
            return bad(format!("every CLIP dimension must be positive: {self:?}"));
        }
        if !self.image_resolution.is_multiple_of(self.vision_patch_size) {
            return bad(format!(
                "image_resolution {} is not a multiple of the patch size {}",
                self.image_resolution, self.vision_patch_size
            ));
        }
        if !self.vision_width.is_multiple_of(self.vision_heads)
            || !self.text_width.is_multiple_of(self.text_heads)
        {
            return bad(format!(
                "widths must divide by their head counts (vision {}/{}, text {}/{})",
                self.vision_width, self.vision_heads, self.text_width, self.text_heads
            ));
        }
        Ok(())
    }
}
