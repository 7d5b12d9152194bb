//! Real images in, on the toy world: project renders (faces the generator never drew) into the
//! shipped generator with [`crate::invert::projector`], and measure the reconstructions by the
//! oracle. The toy world has no LPIPS (no VGG weights), so the projector runs on the pixel loss
//! alone, as it does on any machine without them.

use burn::prelude::*;

use super::attributes::Attributes;
use super::world::ToyFaces;
use crate::edit::optimization::ObserverResult;
use crate::error::Result;
use crate::invert::projector::{PixelOnly, Projection, Projector, ProjectorStep};
use crate::stylegan2::Generator;

/// The toy world's projector settings: W+ from the mean latent, the official schedule and
/// noise terms, the pixel MSE as the only image loss.
pub fn toy_projector(steps: usize) -> Projector {
    Projector::new().with_steps(steps).with_w_plus(true)
}

impl ToyFaces {
    /// Project `images` (`[N, 3, 64, 64]` in `[-1, 1]`) into the shipped generator with
    /// `projector` (pixel loss only); the result lives on the world's device.
    ///
    /// # Errors
    /// As [`Projector::run`], and a generator file that no longer loads.
    pub fn invert<R: ObserverResult>(
        &self,
        images: Tensor<4>,
        projector: &Projector,
        observer: impl FnMut(&ProjectorStep) -> R,
    ) -> Result<Projection> {
        let ad = self.device().clone().autodiff();
        let g = Generator::load(self.dir().join("generator.safetensors"), &ad)?.no_grad();
        let images = Tensor::from_data(images.into_data(), &ad);
        let out = projector.run(&g, &PixelOnly, images, observer)?;
        let home = |t: Tensor<4>| Tensor::from_data(t.inner().into_data(), self.device());
        Ok(Projection {
            latent: Tensor::from_data(out.latent.inner().into_data(), self.device()),
            noises: out.noises.into_iter().map(home).collect(),
            image: home(out.image),
            latent_path: out
                .latent_path
                .into_iter()
                .map(|t| Tensor::from_data(t.inner().into_data(), self.device()))
                .collect(),
            history: out.history,
            perceptual: out.perceptual,
        })
    }

    /// The fraction of attributes, over all faces, that the oracle reads on `images` as in
    /// `truth` (one record per image).
    ///
    /// # Errors
    /// The oracle's, or a count of records that differs from the images.
    pub fn attribute_agreement(&self, images: Tensor<4>, truth: &[Attributes]) -> Result<f64> {
        let found = self.oracle.classify(images)?;
        if found.len() != truth.len() {
            return Err(crate::Error::InvalidArgument(format!(
                "{} images but {} attribute records",
                found.len(),
                truth.len()
            )));
        }
        let same: usize = found
            .iter()
            .zip(truth)
            .map(|(a, b)| {
                a.indices()
                    .iter()
                    .zip(b.indices())
                    .filter(|(x, y)| *x == y)
                    .count()
            })
            .sum();
        Ok(same as f64 / (6 * truth.len().max(1)) as f64)
    }
}
