//! What a toy face is: six categorical attributes, a continuous jitter, and the rendering style.
//!
//! Every attribute is an enum with a fixed order ([`Attribute::index`]); captions name them in
//! several phrasings ([`Attributes::caption`]); [`Face::from_latent`] is the deterministic map
//! from a Gaussian latent to a face that the toy generator is fitted to.
//!
//! # The latent map
//! `z` is first normalised as StyleGAN2's mapping network does (PixelNorm:
//! `ẑ = z · √d / ‖z‖`), so the face depends only on what the generator can see. Coordinate `k`
//! of `ẑ` then picks attribute `k` by its normal quantile: class `⌊Φ(ẑ_k) · n⌋` of `n` classes,
//! so every class is (very nearly) equally likely under `z ~ N(0, I)` and the classes of one
//! attribute sit side by side along one axis; the rest of `z` only enters through the norm.
//! The face has no jitter: a StyleGAN2 fitted by regression learns continuous translation
//! slowly (measured: with position and scale jitter in the map, 1600 fitting steps left
//! mouths and glasses at 31 % and 40 % oracle agreement, blurred by the positions it had not
//! learned), so generator samples are centred; renders for CLIP and the oracle keep jitter.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// An attribute type: its classes in a fixed order, and their names.
pub trait Attribute: Copy + Eq + std::fmt::Debug + Sized + 'static {
    /// Every class, in index order.
    const ALL: &'static [Self];
    /// The attribute's name (`"hair_color"`, …), as the field of [`Attributes`].
    const NAME: &'static str;
    /// Position of `self` in [`Attribute::ALL`].
    fn index(self) -> usize {
        Self::ALL.iter().position(|&c| c == self).unwrap_or(0)
    }
    /// The class at `i` (clamped to the last class).
    fn from_index(i: usize) -> Self {
        Self::ALL[i.min(Self::ALL.len() - 1)]
    }
    /// The word or phrase for this class in prompts (`"blonde"`, `"mohawk"`).
    fn word(self) -> &'static str;
}

macro_rules! attribute {
    ($(#[$m:meta])* $name:ident, $key:literal, { $($(#[$vm:meta])* $v:ident => $w:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl Attribute for $name {
            const ALL: &'static [Self] = &[$(Self::$v),+];
            const NAME: &'static str = $key;
            fn word(self) -> &'static str {
                match self { $(Self::$v => $w),+ }
            }
        }
    };
}

attribute!(
    /// Hair colour (also the colour of the eyebrows, so it stays visible on bald faces).
    HairColor, "hair_color", {
        /// Black hair.
        Black => "black", /// Brown hair.
        Brown => "brown", /// Blonde hair.
        Blonde => "blonde", /// Red hair.
        Red => "red", /// Grey hair.
        Grey => "grey", /// Purple hair.
        Purple => "purple",
    }
);
attribute!(
    /// Hairstyle.
    Hairstyle, "hairstyle", {
        /// A short cap of hair with a fringe.
        Short => "short hair", /// Hair down to the shoulders.
        Long => "long hair", /// No hair.
        Bald => "bald", /// A spiky central strip, shaved sides.
        Mohawk => "mohawk",
    }
);
attribute!(
    /// Mouth expression.
    Mouth, "mouth", {
        /// Corners up.
        Smile => "smiling", /// A straight line.
        Neutral => "neutral", /// Corners down.
        Frown => "frowning", /// An open oval.
        Open => "open mouth",
    }
);
attribute!(
    /// Eyewear.
    Glasses, "glasses", {
        /// No glasses.
        None => "no glasses", /// Thin round frames.
        Round => "round glasses", /// Dark filled lenses.
        Sunglasses => "sunglasses",
    }
);
attribute!(
    /// Skin tone.
    Skin, "skin", {
        /// Light skin.
        Light => "light", /// Tan skin.
        Tan => "tan", /// Dark skin.
        Dark => "dark",
    }
);
attribute!(
    /// Background colour.
    Background, "background", {
        /// Light blue.
        Blue => "blue", /// Light green.
        Green => "green", /// Pink.
        Pink => "pink", /// Pale yellow.
        Yellow => "yellow",
    }
);
attribute!(
    /// How a face is drawn. Only [`Style::Photo`] is the generator's domain; the others exist to
    /// teach CLIP (and the oracle) what out-of-domain images look like, for StyleGAN-NADA.
    Style, "style", {
        /// Filled colours: the generator's domain.
        Photo => "photo", /// Dark pencil outlines on white paper.
        Sketch => "pencil sketch", /// The photo with inverted colours.
        Negative => "negative",
    }
);

/// The attributes of one face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Attributes {
    /// Hair (and eyebrow) colour.
    pub hair_color: HairColor,
    /// Hairstyle.
    pub hairstyle: Hairstyle,
    /// Mouth expression.
    pub mouth: Mouth,
    /// Eyewear.
    pub glasses: Glasses,
    /// Skin tone.
    pub skin: Skin,
    /// Background colour.
    pub background: Background,
}

/// Small continuous variation of where and how large a face is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jitter {
    /// Horizontal offset, a fraction of the image side, in `[-0.04, 0.04]`.
    pub dx: f32,
    /// Vertical offset, likewise.
    pub dy: f32,
    /// Scale about the centre, in `[0.92, 1.08]`.
    pub scale: f32,
}

impl Jitter {
    /// No offset, scale 1.
    pub const NONE: Jitter = Jitter {
        dx: 0.0,
        dy: 0.0,
        scale: 1.0,
    };

    /// A seeded jitter, uniform in its ranges.
    pub fn sample(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x6a17_7e55);
        Self::from_unit([rng.random(), rng.random(), rng.random()])
    }

    fn from_unit(u: [f32; 3]) -> Self {
        Jitter {
            dx: (u[0] - 0.5) * 0.08,
            dy: (u[1] - 0.5) * 0.08,
            scale: 0.92 + 0.16 * u[2],
        }
    }
}

/// A face: attributes plus jitter, everything the renderer needs besides style and size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Face {
    /// The categorical attributes.
    pub attributes: Attributes,
    /// Position and scale.
    pub jitter: Jitter,
}

/// Classes per attribute, in [`Attributes::indices`] order.
pub const CLASS_COUNTS: [usize; 6] = [
    HairColor::ALL.len(),
    Hairstyle::ALL.len(),
    Mouth::ALL.len(),
    Glasses::ALL.len(),
    Skin::ALL.len(),
    Background::ALL.len(),
];

/// Coordinates of `z` that [`Face::from_latent`] reads (one per attribute).
pub const LATENT_DIMS_USED: usize = 6;

/// Standard normal CDF Φ (Abramowitz–Stegun 7.1.26 through erf; |error| < 1.5e-7).
pub fn normal_cdf(x: f32) -> f32 {
    let x = f64::from(x) / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    let erf = if x >= 0.0 { erf } else { -erf };
    (0.5 * (1.0 + erf)) as f32
}

#[cfg(test)]
fn quantile_class<A: Attribute>(z: f32) -> A {
    unit_class(normal_cdf(z))
}

impl Face {
    /// The face a Gaussian latent stands for (see the module header): `z` is PixelNorm-ed,
    /// then read on its first [`LATENT_DIMS_USED`] coordinates (missing ones count as 0).
    pub fn from_latent(z: &[f32]) -> Face {
        let u = latent_units(z);
        Face {
            attributes: Attributes {
                hair_color: unit_class(u[0]),
                hairstyle: unit_class(u[1]),
                mouth: unit_class(u[2]),
                glasses: unit_class(u[3]),
                skin: unit_class(u[4]),
                background: unit_class(u[5]),
            },
            // No jitter: generator samples are centred (see the module header).
            jitter: Jitter::NONE,
        }
    }
}

/// `Φ(ẑ_k)` for the coordinates [`Face::from_latent`] reads, with `ẑ = z · √d / ‖z‖`
/// (PixelNorm, ε = 1e-8 on the mean square, as the mapping network's first step). Each value
/// lies in `[0, 1]`; an attribute of `n` classes takes class `⌊u · n⌋`.
pub fn latent_units(z: &[f32]) -> [f32; LATENT_DIMS_USED] {
    let mean_sq = z.iter().map(|v| v * v).sum::<f32>() / z.len().max(1) as f32;
    let scale = (mean_sq + 1e-8).sqrt().recip();
    std::array::from_fn(|k| normal_cdf(z.get(k).copied().unwrap_or(0.0) * scale))
}

fn unit_class<A: Attribute>(u: f32) -> A {
    let n = A::ALL.len();
    A::from_index(((u * n as f32) as usize).min(n - 1))
}

impl Attributes {
    /// Uniformly random attributes from a seed.
    pub fn sample(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        fn pick<A: Attribute>(rng: &mut StdRng) -> A {
            A::from_index(rng.random_range(0..A::ALL.len()))
        }
        Attributes {
            hair_color: pick(&mut rng),
            hairstyle: pick(&mut rng),
            mouth: pick(&mut rng),
            glasses: pick(&mut rng),
            skin: pick(&mut rng),
            background: pick(&mut rng),
        }
    }

    /// The class index of each attribute, in field order
    /// (hair_color, hairstyle, mouth, glasses, skin, background).
    pub fn indices(&self) -> [usize; 6] {
        [
            self.hair_color.index(),
            self.hairstyle.index(),
            self.mouth.index(),
            self.glasses.index(),
            self.skin.index(),
            self.background.index(),
        ]
    }

    /// Inverse of [`Attributes::indices`] (indices clamp to the last class).
    pub fn from_indices(i: [usize; 6]) -> Self {
        Attributes {
            hair_color: HairColor::from_index(i[0]),
            hairstyle: Hairstyle::from_index(i[1]),
            mouth: Mouth::from_index(i[2]),
            glasses: Glasses::from_index(i[3]),
            skin: Skin::from_index(i[4]),
            background: Background::from_index(i[5]),
        }
    }

    /// A caption in the training phrasing, for the photo style (seed 0 of
    /// [`Attributes::caption_seeded`]).
    pub fn caption(&self) -> String {
        self.caption_seeded(Style::Photo, 0)
    }

    /// One of many captions of these attributes drawn in `style`: a seeded choice of which
    /// attributes to name (one to all) and of the phrasing. Sketches never name colours.
    pub fn caption_seeded(&self, style: Style, seed: u64) -> String {
        self.caption_inner(style, seed, Mention::Random)
    }

    /// Like [`Attributes::caption_seeded`] (same seed, same other choices), but attribute
    /// `attribute` (an [`Attributes::indices`] position) is always named; colours (0, 4, 5)
    /// are still never named on sketches.
    pub fn caption_naming(&self, style: Style, seed: u64, attribute: usize) -> String {
        self.caption_inner(style, seed, Mention::Force(attribute))
    }

    /// A caption that names exactly the attributes `named` ([`Attributes::indices`]
    /// positions; colours are dropped on sketches, and a caption naming nothing names the
    /// face alone: "a face"), in a seeded phrasing: the short prompts users write ("a smiling
    /// face", "purple hair").
    pub fn caption_only(&self, style: Style, seed: u64, named: &[usize]) -> String {
        let mut mask = [false; 6];
        for &k in named.iter().filter(|&&k| k < 6) {
            mask[k] = true;
        }
        self.caption_inner(style, seed, Mention::Exactly(mask))
    }

    fn caption_inner(&self, style: Style, seed: u64, which: Mention) -> String {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xc0de);
        let colours = style != Style::Sketch;
        // Phrases for the attributes, each as (noun-phrase "with ...", adjective/prefix) forms.
        let mut with: Vec<String> = Vec::new();
        let noun = ["face", "person", "man", "woman", "portrait"][rng.random_range(0..5)];
        let mut adjective: Option<&str> = None;
        let mut suffix: Option<String> = None;

        // Decide which attributes to mention: each with probability 0.5, at least one.
        let mut mention = [false; 6];
        for m in mention.iter_mut() {
            *m = rng.random_bool(0.5);
        }
        match which {
            Mention::Force(k) if k < 6 => mention[k] = true,
            Mention::Exactly(mask) => mention = mask,
            _ => {}
        }
        if !colours {
            mention[0] = false;
            mention[4] = false;
            mention[5] = false;
        }
        if !mention.iter().any(|&m| m) && !matches!(which, Mention::Exactly(_)) {
            let options: &[usize] = if colours {
                &[0, 1, 2, 3, 4, 5]
            } else {
                &[1, 2, 3]
            };
            mention[options[rng.random_range(0..options.len())]] = true;
        }
        let bald = self.hairstyle == Hairstyle::Bald;
        // Hair: colour and style merge into one phrase when both are named.
        match (mention[0], mention[1], bald) {
            (_, true, true) => adjective = Some("bald"),
            (true, _, true) => with.push(format!("{} eyebrows", self.hair_color.word())),
            (true, true, false) => with.push(match self.hairstyle {
                Hairstyle::Mohawk => format!("a {} mohawk", self.hair_color.word()),
                Hairstyle::Short => format!("short {} hair", self.hair_color.word()),
                _ => format!("long {} hair", self.hair_color.word()),
            }),
            (true, false, false) => with.push(format!("{} hair", self.hair_color.word())),
            (false, true, false) => with.push(match self.hairstyle {
                Hairstyle::Mohawk => {
                    ["a mohawk", "a mohawk hairstyle"][rng.random_range(0..2)].to_string()
                }
                h => h.word().to_string(),
            }),
            (false, false, _) => {}
        }
        if mention[2] {
            match (self.mouth, rng.random_bool(0.5)) {
                (Mouth::Smile, true) => {
                    adjective = Some(adjective.map_or("smiling", |_| "bald smiling"))
                }
                (Mouth::Smile, false) => with.push("a smile".into()),
                (Mouth::Frown, true) => suffix = Some("frowning".into()),
                (Mouth::Frown, false) => with.push("a frown".into()),
                (Mouth::Open, true) => {
                    adjective = Some(adjective.map_or("surprised", |_| "bald surprised"))
                }
                (Mouth::Open, false) => with.push("an open mouth".into()),
                (Mouth::Neutral, true) => with.push("a neutral expression".into()),
                (Mouth::Neutral, false) => with.push("a straight face".into()),
            }
        }
        if mention[3] {
            with.push(match self.glasses {
                Glasses::None => "no glasses".into(),
                Glasses::Round => ["round glasses", "glasses"][rng.random_range(0..2)].into(),
                Glasses::Sunglasses => "sunglasses".into(),
            });
        }
        if mention[4] {
            with.push(format!("{} skin", self.skin.word()));
        }
        if mention[5] {
            with.push(format!("a {} background", self.background.word()));
        }

        let article = |w: &str| {
            if w.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            }
        };
        let head = match adjective {
            Some(a) => format!("{} {a} {noun}", article(a)),
            None => format!("{} {noun}", article(noun)),
        };
        let mut text = head;
        if let Some(s) = suffix {
            text = format!("{text} {s}");
        }
        if !with.is_empty() {
            let list = match with.len() {
                1 => with[0].clone(),
                n => format!("{} and {}", with[..n - 1].join(", "), with[n - 1]),
            };
            text = format!("{text} with {list}");
        }
        match style {
            Style::Photo => {
                if rng.random_bool(0.3) {
                    text = format!("a photo of {text}");
                }
            }
            Style::Sketch => {
                text = match rng.random_range(0..3) {
                    0 => format!("a pencil sketch of {text}"),
                    1 => format!("a sketch of {text}"),
                    _ => format!("a pencil drawing of {text}"),
                }
            }
            Style::Negative => {
                text = match rng.random_range(0..2) {
                    0 => format!("a negative of {text}"),
                    _ => format!("an inverted colour image of {text}"),
                }
            }
        }
        text
    }
}

/// Which attributes a caption names.
#[derive(Debug, Clone, Copy)]
enum Mention {
    /// Each with probability ½, at least one.
    Random,
    /// As `Random`, and this one always.
    Force(usize),
    /// Exactly these.
    Exactly([bool; 6]),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latent_map_is_uniform_over_classes() {
        // Φ quantiles: z = 0 sits in the middle class boundary region, ±large at the ends.
        assert_eq!(quantile_class::<HairColor>(-4.0), HairColor::Black);
        assert_eq!(quantile_class::<HairColor>(4.0), HairColor::Purple);
        assert_eq!(quantile_class::<Mouth>(-0.1), Mouth::Neutral);
        assert_eq!(quantile_class::<Mouth>(0.1), Mouth::Frown);
        assert!((normal_cdf(1.0) - 0.841_344_7).abs() < 1e-6);
    }

    #[test]
    fn indices_round_trip_and_captions_name_things() {
        for seed in 0..200 {
            let a = Attributes::sample(seed);
            assert_eq!(Attributes::from_indices(a.indices()), a);
            let c = a.caption_seeded(Style::Sketch, seed);
            assert!(c.contains("sketch") || c.contains("drawing"), "{c}");
            assert!(!c.contains("purple") && !c.contains("blue"), "{c}");
            // A caption naming only the mouth names nothing else the prompt parser knows.
            let only = a.caption_only(Style::Photo, seed, &[2]);
            let targets = crate::toyfaces::prompt_targets(&only);
            assert_eq!(targets, vec![(2, a.mouth.index())], "{only}");
        }
    }
}
