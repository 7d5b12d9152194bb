//! Parity with the official StyleGAN2 code (StyleCLIP's `models/stylegan2/model.py`, itself
//! checked against rosinality's `model.py` fused and unfused) on small random checkpoints in the
//! official formats. Fixtures: `scripts/gen_stylegan2_fixtures.py`.
//!
//! Error measure: `max |ours − official| / max |official|`, ≤ 1e-4 in f32.

mod common;

use burn::prelude::*;
use common::{assert_close, fixture, load};
use styleclip::stylegan2::{Generator, LayerKind, ModConvMode, NoiseMode};
use styleclip::weights::TensorFile;

const TOL: f32 = 1e-4;
const CONFIGS: [&str; 4] = ["g16_mixed", "g32_deep", "g8_bare_f16", "g4_min"];

struct Case {
    name: &'static str,
    g: Generator,
    r: TensorFile,
    device: Device,
}

impl Case {
    fn open(name: &'static str) -> Self {
        let device = Device::flex();
        let g = Generator::load(fixture(&format!("stylegan2/{name}.pt")), &device)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let r = TensorFile::open(fixture(&format!("stylegan2/{name}.ref.safetensors"))).unwrap();
        Self { name, g, r, device }
    }

    fn t<const D: usize>(&self, key: &str) -> Tensor<D> {
        load(&self.r, key, &self.device)
    }

    fn meta(&self, key: &str) -> &str {
        &self.r.metadata()[key]
    }

    fn check<const D: usize>(&self, what: &str, ours: Tensor<D>, key: &str) {
        assert_close(&format!("{} {what}", self.name), ours, self.t(key), TOL);
    }
}

fn cases() -> impl Iterator<Item = Case> {
    CONFIGS.into_iter().map(Case::open)
}

#[test]
fn config_is_inferred_from_shapes() {
    for c in cases() {
        let cfg = c.g.config();
        assert_eq!(cfg.size.to_string(), c.meta("size"), "{}", c.name);
        assert_eq!(cfg.style_dim.to_string(), c.meta("style_dim"), "{}", c.name);
        assert_eq!(cfg.n_mlp.to_string(), c.meta("n_mlp"), "{}", c.name);
        let channels: Vec<usize> = serde_json::from_str(c.meta("channels")).unwrap();
        assert_eq!(cfg.channels, channels, "{}", c.name);
        assert_eq!(cfg.n_latent(), 2 * cfg.size.ilog2() as usize - 2);
        assert_eq!(
            c.g.latent_avg().is_some(),
            c.meta("has_latent_avg") == "true",
            "{}",
            c.name
        );
    }
}

#[test]
fn latent_avg_is_read_from_the_checkpoint() {
    for c in cases() {
        if let Some(avg) = c.g.latent_avg() {
            c.check("latent_avg", avg, "latent_avg");
        }
    }
}

#[test]
fn mapping_and_mean_latent() {
    for c in cases() {
        c.check("mapping", c.g.mapping(c.t("z")), "w");
        c.check(
            "mean_latent",
            c.g.mean_latent_of(c.t("z_mean")),
            "mean_latent",
        );
    }
}

#[test]
fn truncation_on_w_and_w_plus() {
    for c in cases() {
        let w = c.g.mapping(c.t("z"));
        let avg: Tensor<1> = c.t("latent_avg");
        let on_w = c.g.broadcast(c.g.truncate(w.clone(), 0.7, avg.clone()));
        c.check("truncate(W)", on_w.clone(), "w_trunc_plus");
        let on_wp = c.g.truncate(c.g.broadcast(w), 0.7, avg);
        c.check("truncate(W+)", on_wp, "w_trunc_plus");
        c.check(
            "truncated image",
            c.g.synthesis(on_w, NoiseMode::Const),
            "image_trunc",
        );
    }
}

#[test]
fn w_plus_image_in_every_modconv_mode() {
    for mut c in cases() {
        for mode in [ModConvMode::Auto, ModConvMode::Fused, ModConvMode::Unfused] {
            c.g = c.g.with_modconv_mode(mode);
            let img = c.g.synthesis(c.t("wp"), NoiseMode::Const);
            c.check(&format!("W+ image ({mode:?})"), img, "image_wp");
        }
    }
}

#[test]
fn every_style_vector_in_official_order() {
    for c in cases() {
        let s = c.g.styles(c.t("wp"));
        let n_res = c.g.config().channels.len();
        assert_eq!(s.layers().len(), 2 + 3 * (n_res - 1), "{}", c.name);
        for (j, layer) in s.layers().iter().enumerate() {
            c.check(&format!("style {j}"), layer.clone(), &format!("style_{j}"));
        }
        let kinds: Vec<LayerKind> = s.info().iter().map(|l| l.kind).collect();
        assert_eq!(kinds[..2], [LayerKind::Conv, LayerKind::ToRgb]);
        for chunk in kinds[2..].chunks(3) {
            assert_eq!(chunk, [LayerKind::Conv, LayerKind::Conv, LayerKind::ToRgb]);
        }
        let res: Vec<usize> = s.info().iter().map(|l| l.resolution).collect();
        assert_eq!(res.last().copied(), Some(c.g.config().size));
    }
}

#[test]
fn style_mixing() {
    for c in cases() {
        let inject: usize = c.meta("inject_index").parse().unwrap();
        let wp = c.g.mix(c.t("w"), c.t("w2"), inject);
        c.check("mixed W+", wp.clone(), "wp_mix");
        c.check(
            "mixed image",
            c.g.synthesis(wp, NoiseMode::Const),
            "image_mix",
        );
    }
}

#[test]
fn synthesis_from_given_style_vectors() {
    for c in cases() {
        let n = c.g.style_layers().len();
        let layers = (0..n).map(|j| c.t(&format!("style_in_{j}"))).collect();
        let s = c.g.style_code(layers).unwrap();
        let img = c.g.synthesis_from_styles(&s, NoiseMode::Const);
        c.check("image from styles", img, "image_from_styles");
    }
}

#[test]
fn given_and_zero_noise() {
    for c in cases() {
        let noise = (0..c.g.config().num_noises())
            .map(|j| c.t(&format!("noise_{j}")))
            .collect();
        let img = c.g.synthesis(c.t("wp"), NoiseMode::Given(noise));
        c.check("given noise", img, "image_given_noise");
        let img = c.g.synthesis(c.t("wp"), NoiseMode::Zero);
        c.check("zero noise", img, "image_zero_noise");
    }
}
