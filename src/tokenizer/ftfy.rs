//! A port of `ftfy.fix_text` (ftfy 6.3.1, default configuration) and of Python's
//! `html.unescape`, the two text fixers that CLIP's `basic_clean` applies.
//!
//! The steps, their order and the fixed-point loops follow ftfy's source; the data (HTML5
//! entities, single-byte code pages, mojibake heuristics) is generated into
//! [`super::tables`]. See the parent module's documentation for the known differences.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;
use regex::bytes::{NoExpand, Regex as BytesRegex};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use super::tables::{BADNESS, CHARMAPS, HTML5_ENTITIES, UTF8_CONTINUATION_STRICT, UTF8_DETECTOR};

/// ftfy's `max_decode_length`: longest segment (in characters) fixed at once.
const MAX_DECODE_LENGTH: usize = 1_000_000;

/// Bound on ftfy's "repeat until nothing changes" loops. ftfy itself has none; real text settles
/// in two or three rounds, and the bound keeps adversarial input from looping forever.
const MAX_ROUNDS: usize = 64;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant regex pattern compiles")
}

fn bytes_regex(pattern: &str) -> BytesRegex {
    BytesRegex::new(pattern).expect("constant regex pattern compiles")
}

static BADNESS_RE: LazyLock<Regex> = LazyLock::new(|| regex(BADNESS));
static UTF8_DETECTOR_RE: LazyLock<Regex> = LazyLock::new(|| regex(UTF8_DETECTOR));
static UTF8_STRICT_RE: LazyLock<Regex> =
    LazyLock::new(|| regex(&format!("^{UTF8_CONTINUATION_STRICT}$")));
static HTML_ENTITY_RE: LazyLock<Regex> = LazyLock::new(|| regex(r"&#?[0-9A-Za-z]{1,24};"));
static CHARREF_RE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\x0C <&#;]{1,32};?)"));
static ANSI_RE: LazyLock<Regex> = LazyLock::new(|| regex(r"\x1B\[((?:\d|;)*)([a-zA-Z])"));
static ALTERED_UTF8_RE: LazyLock<BytesRegex> = LazyLock::new(|| {
    bytes_regex(
        r"(?-u)[\xc2\xc3\xc5\xce\xd0\xd9][ ]|[\xe2\xe3][ ][\x80-\x84\x86-\x9f\xa1-\xbf]|[\xe0-\xe3][\x80-\x84\x86-\x9f\xa1-\xbf][ ]|[\xf0][ ][\x80-\xbf][\x80-\xbf]|[\xf0][\x80-\xbf][ ][\x80-\xbf]|[\xf0][\x80-\xbf][\x80-\xbf][ ]",
    )
});
static LOSSY_UTF8_RE: LazyLock<BytesRegex> = LazyLock::new(|| {
    bytes_regex(
        r"(?-u)[\xc2-\xdf][\x1a]|[\xc2-\xc3][?]|\xed[\xa0-\xaf][\x1a?]\xed[\xb0-\xbf][\x1a?\x80-\xbf]|\xed[\xa0-\xaf][\x1a?\x80-\xbf]\xed[\xb0-\xbf][\x1a?]|[\xe0-\xef][\x1a?][\x1a\x80-\xbf]|[\xe0-\xef][\x1a\x80-\xbf][\x1a?]|[\xf0-\xf4][\x1a?][\x1a\x80-\xbf][\x1a\x80-\xbf]|[\xf0-\xf4][\x1a\x80-\xbf][\x1a?][\x1a\x80-\xbf]|[\xf0-\xf4][\x1a\x80-\xbf][\x1a\x80-\xbf][\x1a?]|\x1a",
    )
});

/// One of ftfy's `CHARMAP_ENCODINGS` with its inverse table.
struct Charmap {
    name: &'static str,
    sloppy: bool,
    /// What bytes 0x80..=0xFF decode to.
    upper: Vec<char>,
    /// Character -> byte for the non-ASCII half (and U+FFFD -> 0x1A for sloppy codecs).
    encode: HashMap<char, u8>,
}

static CHARMAP_TABLES: LazyLock<Vec<Charmap>> = LazyLock::new(|| {
    CHARMAPS
        .iter()
        .map(|&(name, sloppy, upper)| {
            let upper: Vec<char> = upper.chars().collect();
            let mut encode: HashMap<char, u8> = upper
                .iter()
                .enumerate()
                .map(|(i, &c)| (c, 0x80 + i as u8))
                .collect();
            if sloppy {
                encode.insert('\u{FFFD}', 0x1A);
            }
            Charmap {
                name,
                sloppy,
                upper,
                encode,
            }
        })
        .collect()
});

impl Charmap {
    /// `chardata.possible_encoding` followed by `str.encode`: `None` when some character has
    /// no byte in this code page.
    fn encode(&self, text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            let byte = match c as u32 {
                0x1A if self.sloppy => return None,
                0x1A => 0x1A,
                b @ 0..=0x7F => b as u8,
                _ => *self.encode.get(&c)?,
            };
            out.push(byte);
        }
        Some(out)
    }

    /// Strict decoding of a single byte (windows-1252 without the "sloppy" holes).
    fn decode_byte(&self, b: u8) -> char {
        if b < 0x80 {
            if b == 0x1A && self.sloppy {
                '\u{FFFD}'
            } else {
                b as char
            }
        } else {
            self.upper[(b - 0x80) as usize]
        }
    }
}

fn sloppy_1252() -> &'static Charmap {
    &CHARMAP_TABLES[1]
}

/// `ftfy.fix_text` with its default configuration.
pub(super) fn fix_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // `unescape_html="auto"`: switched off for this and every later segment once a segment
    // contains '<' (ftfy rebinds its config inside the loop).
    let mut unescape = true;
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.find('\n').map_or(rest.len(), |i| i + 1);
        if let Some((i, _)) = rest[..end].char_indices().nth(MAX_DECODE_LENGTH) {
            end = i;
        }
        let segment = &rest[..end];
        if unescape && segment.contains('<') {
            unescape = false;
        }
        out.push_str(&fix_segment(segment, unescape));
        rest = &rest[end..];
    }
    out
}

/// `ftfy.fix_and_explain` for one segment.
fn fix_segment(text: &str, unescape: bool) -> String {
    let mut text = text.to_owned();
    for _ in 0..MAX_ROUNDS {
        let orig = text.clone();
        if unescape {
            text = unescape_html(&text);
        }
        text = fix_encoding(&text);
        text = fix_c1_controls(&text);
        text = fix_latin_ligatures(&text);
        text = fix_character_width(&text);
        text = uncurl_quotes(&text);
        text = fix_line_breaks(&text);
        // fix_surrogates: a Rust `str` cannot hold surrogate code points.
        text = remove_terminal_escapes(&text);
        text = remove_control_chars(&text);
        if is_nfc_quick(text.chars()) != IsNormalized::Yes {
            text = text.nfc().collect();
        }
        if text == orig {
            break;
        }
    }
    text
}

/// `ftfy.fix_encoding`: undo mojibake until nothing changes.
pub(super) fn fix_encoding(text: &str) -> String {
    let mut text = text.to_owned();
    for _ in 0..MAX_ROUNDS {
        match fix_encoding_step(&text) {
            Some(fixed) if fixed != text => text = fixed,
            _ => break,
        }
    }
    text
}

/// `badness.is_bad`.
fn is_bad(text: &str) -> bool {
    BADNESS_RE.is_match(text)
}

/// `_fix_encoding_one_step_and_explain`; `None` when the text stays as it is.
fn fix_encoding_step(text: &str) -> Option<String> {
    if text.is_ascii() || !is_bad(text) {
        return None;
    }
    let mut latin1_possible = false;
    for charmap in CHARMAP_TABLES.iter() {
        let Some(mut bytes) = charmap.encode(text) else {
            continue;
        };
        if charmap.name == "latin-1" {
            latin1_possible = true;
        }
        if charmap.name != "macroman" && ALTERED_UTF8_RE.is_match(&bytes) {
            bytes = restore_byte_a0(&bytes);
        }
        if charmap.sloppy {
            bytes = LOSSY_UTF8_RE
                .replace_all(&bytes, NoExpand("\u{FFFD}".as_bytes()))
                .into_owned();
        }
        let decoded = if bytes.contains(&0xED) || bytes.contains(&0xC0) {
            decode_utf8_variants(&bytes)
        } else {
            String::from_utf8(bytes).ok()
        };
        if decoded.is_some() {
            return decoded;
        }
    }

    if !utf8_detector_matches(text).is_empty() {
        let fixed = decode_inconsistent_utf8(text);
        if fixed != text {
            return Some(fixed);
        }
    }

    // Latin-1 that was meant as windows-1252 (ftfy compares against the name
    // "windows-1252", which its list never contains, so this always runs for Latin-1 text).
    if latin1_possible {
        let cp1252 = sloppy_1252();
        let mut fixed = String::with_capacity(text.len());
        let mut ok = true;
        for c in text.chars() {
            let b = c as u32 as u8;
            if matches!(b, 0x81 | 0x8D | 0x8F | 0x90 | 0x9D) {
                ok = false;
                break;
            }
            fixed.push(if b < 0x80 {
                b as char
            } else {
                cp1252.decode_byte(b)
            });
        }
        if ok && fixed != text {
            return Some(fixed);
        }
    }

    if text.chars().any(is_c1) {
        return Some(fix_c1_controls(text));
    }
    None
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9F}').contains(&c)
}

/// `UTF8_DETECTOR_RE.finditer` with its look-behind `(?<! [utf8_continuation_strict])`.
fn utf8_detector_matches(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= text.len() {
        let Some(m) = UTF8_DETECTOR_RE.find_at(text, pos) else {
            break;
        };
        let before = text[..m.start()].chars().next_back();
        let blocked = before.is_some_and(|c| {
            let mut buf = [0u8; 4];
            UTF8_STRICT_RE.is_match(c.encode_utf8(&mut buf))
        });
        if blocked {
            // Retry one character further on, as the regex engine would.
            pos = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        out.push((m.start(), m.end()));
        pos = m.end();
    }
    out
}

/// `fixes.decode_inconsistent_utf8`.
fn decode_inconsistent_utf8(text: &str) -> String {
    let total = text.chars().count();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in utf8_detector_matches(text) {
        let sub = &text[start..end];
        out.push_str(&text[last..start]);
        if sub.chars().count() < total && is_bad(sub) {
            out.push_str(&fix_encoding(sub));
        } else {
            out.push_str(sub);
        }
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// `fixes.restore_byte_a0`.
fn restore_byte_a0(bytes: &[u8]) -> Vec<u8> {
    // A_GRAVE_WORD_RE = b"\xc3 (?! |quele|quela|quilo|s )" -> b"\xc3\xa0 "
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0xC3 && bytes.get(i + 1) == Some(&b' ') {
            let rest = &bytes[i + 2..];
            let excluded = [&b" "[..], b"quele", b"quela", b"quilo", b"s "]
                .iter()
                .any(|p| rest.starts_with(p));
            if !excluded {
                out.extend_from_slice(b"\xC3\xA0 ");
                i += 2;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    ALTERED_UTF8_RE
        .replace_all(&out, |caps: &regex::bytes::Captures<'_>| {
            caps[0]
                .iter()
                .map(|&b| if b == b' ' { 0xA0 } else { b })
                .collect::<Vec<u8>>()
        })
        .into_owned()
}

/// ftfy's `utf-8-variants` codec: UTF-8 plus CESU-8 surrogate pairs and Java's `C0 80`.
///
/// ftfy's byte patterns end their alternatives with `$`, which in Python also matches before
/// a final `\n`; so a final `C0 0A` decodes as U+0000, and a final CESU-8 pair whose last
/// byte is that `\n` decodes too (with the newline's low bits). Both quirks are kept.
fn decode_utf8_variants(bytes: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    let mut plain_start = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let final_newline = |at: usize| at + 1 == bytes.len() && bytes[at] == b'\n';
        let special = match b {
            0xC0 if bytes.get(i + 1) == Some(&0x80)
                || (i + 2 == bytes.len() && final_newline(i + 1)) =>
            {
                Some(('\0', 2))
            }
            0xED if bytes.get(i + 1).is_some_and(|b| (0xA0..=0xBF).contains(b)) => {
                let s = &bytes[i..bytes.len().min(i + 6)];
                let cesu = s.len() == 6
                    && (0xA0..=0xAF).contains(&s[1])
                    && (0x80..=0xBF).contains(&s[2])
                    && s[3] == 0xED
                    && (0xB0..=0xBF).contains(&s[4])
                    && ((0x80..=0xBF).contains(&s[5]) || final_newline(i + 5));
                if !cesu {
                    return None;
                }
                let cp = ((u32::from(s[1]) & 0x0F) << 16)
                    + ((u32::from(s[2]) & 0x3F) << 10)
                    + ((u32::from(s[4]) & 0x0F) << 6)
                    + (u32::from(s[5]) & 0x3F)
                    + 0x10000;
                Some((char::from_u32(cp)?, 6))
            }
            _ => None,
        };
        match special {
            Some((c, len)) => {
                out.push_str(std::str::from_utf8(&bytes[plain_start..i]).ok()?);
                out.push(c);
                i += len;
                plain_start = i;
            }
            None => i += 1,
        }
    }
    out.push_str(std::str::from_utf8(&bytes[plain_start..]).ok()?);
    Some(out)
}

/// `fixes.fix_c1_controls`: C1 controls read as windows-1252.
fn fix_c1_controls(text: &str) -> String {
    if !text.chars().any(is_c1) {
        return text.to_owned();
    }
    let cp1252 = sloppy_1252();
    text.chars()
        .map(|c| {
            if is_c1(c) {
                cp1252.decode_byte(c as u32 as u8)
            } else {
                c
            }
        })
        .collect()
}

/// `fixes.fix_latin_ligatures`.
fn fix_latin_ligatures(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let rep = match c {
            'Ĳ' => "IJ",
            'ĳ' => "ij",
            'ŉ' => "ʼn",
            'Ǳ' => "DZ",
            'ǲ' => "Dz",
            'ǳ' => "dz",
            'Ǆ' => "DŽ",
            'ǅ' => "Dž",
            'ǆ' => "dž",
            'Ǉ' => "LJ",
            'ǈ' => "Lj",
            'ǉ' => "lj",
            'Ǌ' => "NJ",
            'ǋ' => "Nj",
            'ǌ' => "nj",
            'ﬀ' => "ff",
            'ﬁ' => "fi",
            'ﬂ' => "fl",
            'ﬃ' => "ffi",
            'ﬄ' => "ffl",
            'ﬅ' => "ſt",
            'ﬆ' => "st",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(rep);
    }
    out
}

/// `fixes.fix_character_width`: U+3000 and the halfwidth/fullwidth block to their NFKC form.
fn fix_character_width(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{3000}' => out.push(' '),
            '\u{FF01}'..='\u{FFEF}' => out.extend(std::iter::once(c).nfkc()),
            _ => out.push(c),
        }
    }
    out
}

/// `fixes.uncurl_quotes`.
fn uncurl_quotes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{02BC}' | '\u{2018}'..='\u{201B}' => '\'',
            '\u{201C}'..='\u{201F}' => '"',
            _ => c,
        })
        .collect()
}

/// `fixes.fix_line_breaks`.
fn fix_line_breaks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\u{2028}' | '\u{2029}' | '\u{85}' => out.push('\n'),
            _ => out.push(c),
        }
    }
    out
}

/// `fixes.remove_terminal_escapes`.
fn remove_terminal_escapes(text: &str) -> String {
    if !text.contains('\u{1B}') {
        return text.to_owned();
    }
    ANSI_RE.replace_all(text, "").into_owned()
}

/// `fixes.remove_control_chars`.
fn remove_control_chars(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            !matches!(c,
                '\u{0}'..='\u{8}'
                | '\u{B}'
                | '\u{E}'..='\u{1F}'
                | '\u{7F}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFC}')
        })
        .collect()
}

/// Python's `html.entities.html5[name]`.
fn html5(name: &str) -> Option<&'static str> {
    HTML5_ENTITIES
        .binary_search_by(|(n, _)| n.as_bytes().cmp(name.as_bytes()))
        .ok()
        .map(|i| HTML5_ENTITIES[i].1)
}

/// ftfy's `chardata.HTML_ENTITIES`: `&name;` for every HTML5 name ending in ';', plus the
/// all-caps spelling of lowercase names that Python's `html.unescape` leaves alone.
static FTFY_ENTITIES: LazyLock<HashMap<String, String>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for &(name, value) in HTML5_ENTITIES {
        if !name.ends_with(';') {
            continue;
        }
        map.insert(format!("&{name}"), value.to_owned());
        if name == name.to_lowercase() {
            let upper = format!("&{}", name.to_uppercase());
            if html_unescape(&upper) == upper {
                map.insert(upper, value.to_uppercase());
            }
        }
    }
    map
});

/// `fixes.unescape_html`.
fn unescape_html(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    HTML_ENTITY_RE
        .replace_all(text, |caps: &regex::Captures<'_>| {
            let m = &caps[0];
            if let Some(v) = FTFY_ENTITIES.get(m) {
                v.clone()
            } else if m.starts_with("&#") {
                let u = html_unescape(m);
                if u.contains(';') { m.to_owned() } else { u }
            } else {
                m.to_owned()
            }
        })
        .into_owned()
}

/// Python's `html.unescape`.
pub(super) fn html_unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    CHARREF_RE
        .replace_all(text, |caps: &regex::Captures<'_>| replace_charref(&caps[1]))
        .into_owned()
}

/// `html._replace_charref`.
fn replace_charref(s: &str) -> String {
    if let Some(num) = s.strip_prefix('#') {
        let (digits, radix) = match num.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (num, 10),
        };
        let digits = digits.trim_end_matches(';');
        // Saturate: anything above U+10FFFF is answered with U+FFFD either way.
        let n = digits.chars().fold(0u32, |acc, d| {
            acc.saturating_mul(radix)
                .saturating_add(d.to_digit(radix).unwrap_or(0))
        });
        if let Some(c) = invalid_charref(n) {
            return c.to_string();
        }
        if (0xD800..=0xDFFF).contains(&n) || n > 0x10FFFF {
            return '\u{FFFD}'.to_string();
        }
        if is_invalid_codepoint(n) {
            return String::new();
        }
        return char::from_u32(n).map_or_else(|| '\u{FFFD}'.to_string(), |c| c.to_string());
    }
    if let Some(v) = html5(s) {
        return v.to_owned();
    }
    // The longest name that is a prefix (HTML5 allows some names without ';').
    let bounds: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    for x in (2..bounds.len()).rev() {
        let (head, tail) = s.split_at(bounds[x]);
        if let Some(v) = html5(head) {
            return format!("{v}{tail}");
        }
    }
    format!("&{s}")
}

/// `html._invalid_charrefs`.
fn invalid_charref(n: u32) -> Option<char> {
    match n {
        0x00 => Some('\u{FFFD}'),
        0x0D => Some('\r'),
        0x80..=0x9F => {
            let c = sloppy_1252().decode_byte(n as u8);
            Some(c)
        }
        _ => None,
    }
}

/// `html._invalid_codepoints`.
fn is_invalid_codepoint(n: u32) -> bool {
    matches!(n, 0x1..=0x8 | 0xB | 0xE..=0x1F | 0x7F..=0x9F | 0xFDD0..=0xFDEF)
        || (n & 0xFFFE == 0xFFFE && n <= 0x10FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftfy_entity_table_matches_python_size() {
        // len(ftfy.chardata.HTML_ENTITIES) for Python 3.11 / ftfy 6.3.1.
        assert_eq!(FTFY_ENTITIES.len(), 3501);
        assert_eq!(FTFY_ENTITIES["&EACUTE;"], "É");
        assert_eq!(FTFY_ENTITIES["&SZLIG;"], "SS");
    }

    #[test]
    fn docstring_examples() {
        assert_eq!(fix_text("âœ” No problems"), "✔ No problems");
        assert_eq!(fix_text("&macr;\\_(ã\u{83}\u{84})_/&macr;"), "¯\\_(ツ)_/¯");
        assert_eq!(
            fix_text("Broken text&hellip; it&#x2019;s ﬂubberiﬁc!"),
            // ftfy's docstring says "...", but ftfy 6.3.1 itself keeps the ellipsis.
            "Broken text… it's flubberific!"
        );
        assert_eq!(fix_text("ＬＯＵＤ　ＮＯＩＳＥＳ"), "LOUD NOISES");
        assert_eq!(fix_encoding("sÃ³"), "só");
        assert_eq!(fix_encoding("voilÃ le travail"), "voilà le travail");
        assert_eq!(
            unescape_html("&ntilde; &Ntilde; &NTILDE; &nTILDE;"),
            "ñ Ñ Ñ &nTILDE;"
        );
        assert_eq!(
            unescape_html("&Jscr;ohn &HilbertSpace;ancock"),
            "𝒥ohn ℋancock"
        );
        assert_eq!(
            decode_utf8_variants(b"here comes a null! \xc0\x80").as_deref(),
            Some("here comes a null! \0")
        );
    }

    #[test]
    fn utf8_variants_keep_python_end_of_input_quirks() {
        // Checked against `bytes.decode("utf-8-variants")` with ftfy 6.3.1.
        assert_eq!(
            decode_utf8_variants(b"\xed\xa0\xbd\xed\xb8\x80").as_deref(),
            Some("😀")
        );
        assert_eq!(
            decode_utf8_variants(b"\xc3\xa9\xc0\n").as_deref(),
            Some("é\0")
        );
        assert_eq!(
            decode_utf8_variants(b"ab\xed\xa0\xbd\xed\xb8\n").as_deref(),
            Some("ab😊")
        );
        assert_eq!(decode_utf8_variants(b"\xc0\nx"), None);
        assert_eq!(decode_utf8_variants(b"\xed\xa0\x80x"), None);
        assert_eq!(fix_text("cafÃ© À\n"), "café ");
        assert_eq!(fix_text("cafÃ© À\nx"), "café x");
    }

    #[test]
    fn python_html_unescape() {
        assert_eq!(
            html_unescape("&amp;&ampx &notit; &#x41;&#0;&#128;"),
            "&&x ¬it; A\u{FFFD}€"
        );
        assert_eq!(
            html_unescape("&#99999999999999999999;&#xD800;&#1;"),
            "\u{FFFD}\u{FFFD}"
        );
        assert_eq!(html_unescape("&unknown; & &;"), "&unknown; & &;");
    }
}
