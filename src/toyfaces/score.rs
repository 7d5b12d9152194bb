//! Scoring an edit in the toy world: which attribute values a prompt asks for, and whether the
//! oracle's reading of the edited image reached them while keeping everything else.
//!
//! A prompt names an attribute value by the words the captions use: a hair colour with
//! "hair", "haired", "mohawk" or "eyebrows" ("purple hair"); a background colour with
//! "background"; a skin tone with "skin"; "mohawk", "bald", "long hair", "short hair";
//! "smil…", "frown…", "open mouth" or "surprised", "neutral" or "straight face";
//! "sunglasses", "no glasses", "glasses".

use super::attributes::{
    Attribute, Attributes, Background, Glasses, HairColor, Hairstyle, Mouth, Skin,
};

/// One attribute value a prompt asks for: `(attribute index, class index)` in
/// [`Attributes::indices`] order.
pub type Target = (usize, usize);

/// The attribute names in [`Attributes::indices`] order.
pub const ATTRIBUTE_NAMES: [&str; 6] = [
    HairColor::NAME,
    Hairstyle::NAME,
    Mouth::NAME,
    Glasses::NAME,
    Skin::NAME,
    Background::NAME,
];

/// The attribute values `prompt` asks for (empty if it names none the world knows).
pub fn prompt_targets(prompt: &str) -> Vec<Target> {
    let text = prompt.to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |w: &str| words.contains(&w);
    let phrase = |p: &str| format!(" {} ", words.join(" ")).contains(&format!(" {p} "));
    let mut out = Vec::new();
    let hairy = has("hair") || has("haired") || has("mohawk") || has("eyebrows");
    let colour_of = |noun: bool, words_of: &[&str]| -> Option<usize> {
        if !noun {
            return None;
        }
        words_of.iter().position(|w| has(w))
    };
    let hair_words: Vec<&str> = HairColor::ALL.iter().map(|c| c.word()).collect();
    let mut hair_words_alias = hair_words.clone();
    hair_words_alias[HairColor::Grey.index()] = "gray";
    if let Some(i) = colour_of(hairy, &hair_words).or(colour_of(hairy, &hair_words_alias)) {
        out.push((0, i));
    }
    if has("mohawk") {
        out.push((1, Hairstyle::Mohawk.index()));
    } else if has("bald") {
        out.push((1, Hairstyle::Bald.index()));
    } else if phrase("long hair") {
        out.push((1, Hairstyle::Long.index()));
    } else if phrase("short hair") {
        out.push((1, Hairstyle::Short.index()));
    }
    if words.iter().any(|w| w.starts_with("smil")) {
        out.push((2, Mouth::Smile.index()));
    } else if words.iter().any(|w| w.starts_with("frown")) {
        out.push((2, Mouth::Frown.index()));
    } else if phrase("open mouth") || has("surprised") {
        out.push((2, Mouth::Open.index()));
    } else if has("neutral") || phrase("straight face") {
        out.push((2, Mouth::Neutral.index()));
    }
    if has("sunglasses") {
        out.push((3, Glasses::Sunglasses.index()));
    } else if phrase("no glasses") {
        out.push((3, Glasses::None.index()));
    } else if has("glasses") {
        out.push((3, Glasses::Round.index()));
    }
    let skin_words: Vec<&str> = Skin::ALL.iter().map(|s| s.word()).collect();
    if let Some(i) = colour_of(has("skin"), &skin_words) {
        out.push((4, i));
    }
    let bg_words: Vec<&str> = Background::ALL.iter().map(|b| b.word()).collect();
    if let Some(i) = colour_of(has("background"), &bg_words) {
        out.push((5, i));
    }
    out
}

/// The oracle's verdict on one edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Every target value is read on the edited image.
    pub reached: bool,
    /// Every attribute the prompt does not name reads as on the source (hair colour is not
    /// compared when either image is bald: a bald head shows it only on the eyebrows).
    pub kept: bool,
    /// Names of the attributes that changed although the prompt does not name them.
    pub changed: Vec<&'static str>,
}

/// Score an edit from the oracle's readings of the source and the edited image.
pub fn verdict(source: &Attributes, edited: &Attributes, targets: &[Target]) -> Verdict {
    let (a, b) = (source.indices(), edited.indices());
    let reached = !targets.is_empty() && targets.iter().all(|&(k, c)| b[k] == c);
    let bald = source.hairstyle == Hairstyle::Bald || edited.hairstyle == Hairstyle::Bald;
    let changed: Vec<&'static str> = (0..6)
        .filter(|&k| !targets.iter().any(|&(t, _)| t == k))
        .filter(|&k| !(k == 0 && bald))
        .filter(|&k| a[k] != b[k])
        .map(|k| ATTRIBUTE_NAMES[k])
        .collect();
    Verdict {
        reached,
        kept: changed.is_empty(),
        changed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_name_their_targets() {
        assert_eq!(prompt_targets("a smiling face"), vec![(2, 0)]);
        assert_eq!(
            prompt_targets("purple hair"),
            vec![(0, HairColor::Purple.index())]
        );
        assert_eq!(
            prompt_targets("mohawk hairstyle"),
            vec![(1, Hairstyle::Mohawk.index())]
        );
        assert_eq!(
            prompt_targets("a bald man frowning"),
            vec![(1, Hairstyle::Bald.index()), (2, Mouth::Frown.index())]
        );
        assert_eq!(
            prompt_targets("a person with gray hair and sunglasses on a pink background"),
            vec![
                (0, HairColor::Grey.index()),
                (3, Glasses::Sunglasses.index()),
                (5, Background::Pink.index())
            ]
        );
        assert!(prompt_targets("a red car").is_empty());
    }

    #[test]
    fn verdicts() {
        let s = Attributes::sample(1);
        let mut e = s;
        e.mouth = Mouth::Smile;
        let t = [(2, Mouth::Smile.index())];
        assert!(verdict(&s, &e, &t).reached && verdict(&s, &e, &t).kept);
        e.glasses = if s.glasses == Glasses::None {
            Glasses::Round
        } else {
            Glasses::None
        };
        let v = verdict(&s, &e, &t);
        assert!(v.reached && !v.kept);
        assert_eq!(v.changed, vec!["glasses"]);
    }
}
