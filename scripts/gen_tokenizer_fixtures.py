#!/usr/bin/env python3
"""Reference data for the native CLIP tokenizer (`src/tokenizer/`).

Runs OpenAI's official tokenizer (`clip.simple_tokenizer.SimpleTokenizer` and `clip.tokenize`
from the `clip-anytorch` package) on a fixed list of strings and writes

- `tests/fixtures/tokenizer/goldens.json`: per string the text, the cleaned text, `encode` ids,
  `decode(encode(text))`, the `clip.tokenize(truncate=True)` row and whether
  `clip.tokenize(truncate=False)` raises; plus `decode` of hand-picked id lists;
- `src/tokenizer/tables.rs`: the data the Rust port of the text cleaning needs, taken from the
  same Python installation (Python's HTML5 entity list, ftfy's single-byte code pages and
  ftfy's mojibake-detection expressions rewritten for Rust's `regex` crate).

Deterministic, no arguments. Needs: `pip install clip-anytorch ftfy regex` (and torch, which
clip-anytorch pulls in). Run from anywhere; paths are relative to this file.
"""

import html
import html.entities
import json
import os
import sys
import types
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GOLDENS = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "goldens.json")
TABLES = os.path.join(ROOT, "src", "tokenizer", "tables.rs")


def _shim_pkg_resources():
    """clip-anytorch imports `pkg_resources.packaging`, which recent setuptools dropped.

    Only used for a version warning at import time; a minimal stand-in is enough.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pkg_resources  # noqa: F401
        return
    except ImportError:
        pass
    try:
        import packaging.version as version
    except ImportError:

        def parse(v):
            out = []
            for part in v.split("+")[0].split("."):
                digits = "".join(ch for ch in part if ch.isdigit())
                out.append(int(digits) if digits else 0)
            return tuple(out)

        version = types.SimpleNamespace(parse=parse)
    mod = types.ModuleType("pkg_resources")
    mod.packaging = types.SimpleNamespace(version=version)
    sys.modules["pkg_resources"] = mod


_shim_pkg_resources()

import ftfy  # noqa: E402
import ftfy.badness  # noqa: E402
import ftfy.chardata  # noqa: E402
import clip  # noqa: E402
from clip.simple_tokenizer import SimpleTokenizer, basic_clean, whitespace_clean  # noqa: E402

LONG_SENTENCE = "a photo of a cat sitting on a red sofa next to a window, " * 6

TEXTS = [
    # plain text and case
    "a photo of a cat",
    "A Photo Of A Cat",
    "Mixed CASE iN WoRdS",
    "a face with blond hair",
    # punctuation
    "Hello, world!",
    "...!!!???",
    "repeated !!!! ???? .... ---- ,,,,",
    "hyphen-ated words, e-mail@example.com and http://example.com/path?q=1&x=2",
    "under_score snake_case camelCase (parens) [brackets] {braces}",
    "price: $100, \u20ac50, \u00a330, \u00a51000",
    # apostrophes and contractions
    "don't stop",
    "it's, you're, we've, I'm, they'll, he'd, can't",
    "IT'S YOU'RE WE'VE I'M THEY'LL HE'D CAN'T",
    "'s 't 're 've 'm 'll 'd",
    "'S 'T 'RE 'VE 'M 'LL 'D",
    "rock'n'roll o'clock 'quoted' ''",
    "it'\u017f long s",
    # numbers
    "numbers 0123456789 and 3.14159 and 1,000,000",
    "2024-01-01T12:00:00Z",
    "math: x\u00b2 + y\u00b3 = z\u00bd \u2211 \u221e \u2460 \u216b",
    # whitespace
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines\r\nand\u000bvertical\u000cform feed",
    "multiple     spaces\t\t\tand\n\n\nnewlines",
    "carriage\rreturn",
    "\u00a0nbsp\u00a0padded\u00a0",
    "line\u2028separator\u2029paragraph\u3000ideographic",
    "",
    "   \t\n  ",
    # HTML entities
    "&amp; &lt; &gt; &quot; &#39; &#x27;",
    "Tom &amp; Jerry",
    "double escaped &amp;amp; and &amp;lt; and &amp;amp;amp;",
    "&lt;b&gt;bold&lt;/b&gt;",
    "<b>bold</b> &amp; tags &ldquo;kept curly&rdquo;",
    "&eacute;t&eacute; &EACUTE;T&EACUTE; P&EACUTE;REZ BUNDESSTRA&SZLIG;E",
    "this&not that &notit; &ampersand &amp",
    "&#128512; &#x1F600; &#0; &#x80; &#x85; &#xD800; &#1114112; &#59; &#x1c; &#xFFFF;",
    "UPPER &AMP; &LT; &QUOT; entities",
    "curly via entities: &ldquo;hi&rdquo; &lsquo;x&rsquo; it&rsquo;s &hellip;",
    # accents and scripts
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade",
    "Cr\u00e8me br\u00fbl\u00e9e \u00e0 la mode",
    "e\u0301 composed via NFC, a\u030a",
    "\u00c5ngstr\u00f6m \u0130stanbul \u00df stra\u00dfe \u00fcmlaut \u00dc",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
    "\u4e2d\u6587\u5b57\u7b26\u6d4b\u8bd5",
    "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8",
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u039f\u0394\u039f\u03a3 \u039f\u0394\u039f\u03a3. \u03a3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2",
    "Hindi: \u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "Thai: \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
    "Hebrew: \u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "a\u0345b ypogegrammeni",
    "\U0001d41b\U0001d428\U0001d425\U0001d41d math letters \u210c \u210d \u2122",
    # emoji
    "emoji \U0001f600\U0001f389\U0001f44d",
    "family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 ZWJ",
    "skin tones \U0001f44d\U0001f3fb\U0001f44d\U0001f3ff \U0001f44b\U0001f3fd",
    "flags \U0001f1fa\U0001f1f8\U0001f1ef\U0001f1f5 "
    "\U0001f3f4\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",
    "emoji with text\U0001f600no spaces\u2764\ufe0f",
    # ftfy: quotes, width, ligatures
    "\u201ccurly quotes\u201d and \u2018single\u2019 and it\u2019s \u201eLow\u201f",
    "\uff2c\uff2f\uff35\uff24\u3000\uff2e\uff2f\uff29\uff33\uff25\uff33 \uff46\uff55\uff4c\uff4c \uff11\uff12\uff13",
    "halfwidth \uff76\uff80\uff76\uff85 \uff8a\uff9d\uff76\uff78 \uffe1",
    "ligatures \ufb01ne \ufb02ow \ufb00 \ufb03 \ufb04 \ufb05 \ufb06 \u0132 \u01c6",
    # ftfy: mojibake
    "caf\u00c3\u00a9",
    "\u00c3\u00a9",
    "\u00e2\u0153\u201d No problems",
    "The Mona Lisa doesn\u00e2\u20ac\u2122t have eyebrows.",
    "voil\u00c3\u00a0 le travail",
    "\u00c3 la mode",
    "&macr;\\_(\u00e3\u0083\u0084)_/&macr;",
    "\u00c3\u00a2\u00e2\u201a\u00ac\u00c5\u201cdouble encoded\u00c3\u00a2\u00e2\u201a\u00ac\u00c2\ufffd",
    "Windows-1251: \u00d0\u00bf\u00d1\u20ac\u00d0\u00b8\u00d0\u00b2\u00d0\u00b5\u00d1\u201a",
    "embedded: na\u00c3\u00afve caf\u00c3\u00a9 and real caf\u00e9",
    "\u00e2\u20ac\u0153quoted\u00e2\u20ac\ufffd lossy",
    "caf\u00c3\u00a9 \u00c0\nnext line",
    "\u00c3\u0192\u00c2\u00a9 twice",
    "\u00ce\u0091\u00ce\u00b8\u00ce\u00ae\u00ce\u00bd\u00ce\u00b1 Greek as latin-1",
    # ftfy's unescape_html="auto": off from the first line with '<' on
    "first &amp; &ldquo;line&rdquo;\n<tag> &amp; &ldquo;two&rdquo;\nthird &ldquo;x&rdquo;",
    # ftfy: control characters
    "control\x00chars\x01here\x7f and\u200b zero width \ufeffbom\ufffc",
    "\x1b[36;44mcolored\x1b[0m",
    "C1 controls \x80 \x93quoted\x94 \x85 \x81",
    "\ufffd replacement char",
    # special tokens
    "<|endoftext|>",
    "hello <|endoftext|> world",
    "<|startoftext|>a photo<|endoftext|>",
    "<|ENDOFTEXT|>",
    "!<|endoftext|>",
    # long words and over-long text
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "a" * 200,
    LONG_SENTENCE,
    "a " * 75,
    "a " * 76,
    "\U0001f600" * 40,
]

# decode() of arbitrary id lists, including ones that split a UTF-8 sequence.
DECODE_IDS = [
    [],
    [49406, 320, 1125, 539, 320, 2368, 49407],
    [49406],
    [49407, 0, 0, 0],
    [0, 1, 2, 255, 256, 511, 512],
]


def rust_string(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        else:
            out.append("\\u{%x}" % o)
    return '"' + "".join(out) + '"'


def regex_class_body(chars):
    """Body of a Rust regex character class; ranges written as `a-b` in ftfy stay ranges."""
    out = []
    for ch in chars:
        o = ord(ch)
        if ch == "-":
            out.append("-")
        elif ch.isalnum() and o < 0x80:
            out.append(ch)
        else:
            out.append("\\x{%x}" % o)
    return "".join(out)


def python_re_to_rust(pattern):
    """Rewrite one of ftfy's verbose `re` patterns for Rust's `regex` crate.

    Whitespace and comments outside classes are dropped (verbose mode), every non-alphanumeric
    or non-ASCII literal becomes `\\x{..}`, `\\s` and `\\w` get Python's `str` meanings.
    """
    out = []
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1]
            if nxt == "x":
                out.append("\\x{%s}" % pattern[i + 2 : i + 4])
                i += 4
                continue
            if nxt == "s":
                out.append("\\s\\x{1c}-\\x{1f}" if in_class else "[\\s\\x{1c}-\\x{1f}]")
            elif nxt == "w":
                out.append("\\p{L}\\p{N}_" if in_class else "[\\p{L}\\p{N}_]")
            else:
                raise ValueError("unexpected escape \\" + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
                out.append("]")
            elif ch == "-" or (ch.isalnum() and ord(ch) < 0x80):
                out.append(ch)
            elif ch == "^" and out[-1] == "[":
                out.append("^")
            else:
                out.append("\\x{%x}" % ord(ch))
            i += 1
            continue
        if ch == "#":
            while i < len(pattern) and pattern[i] != "\n":
                i += 1
            continue
        if ch in " \t\n":
            i += 1
            continue
        if ch == "[":
            in_class = True
            out.append("[")
        elif ch in "|()?{}^.+*" or (ch.isalnum() and ord(ch) < 0x80):
            out.append(ch)
        else:
            out.append("\\x{%x}" % ord(ch))
        i += 1
    return "".join(out)


def write_tables():
    lines = [
        "//! Data for the text cleaning, generated by `scripts/gen_tokenizer_fixtures.py` from",
        "//! Python %s's `html.entities.html5` and ftfy %s. Do not edit by hand."
        % (sys.version.split()[0], ftfy.__version__),
        "",
        "/// Python's `html.entities.html5` (WHATWG named references, with and without `;`),",
        "/// sorted by name bytes for binary search.",
        "pub(super) static HTML5_ENTITIES: &[(&str, &str)] = &[",
    ]
    for name in sorted(html.entities.html5, key=lambda n: n.encode()):
        lines.append("    (%s, %s)," % (rust_string(name), rust_string(html.entities.html5[name])))
    lines.append("];")
    lines.append("")
    lines.append("/// ftfy's `CHARMAP_ENCODINGS`, in the order ftfy tries them: name, whether it is a")
    lines.append("/// `sloppy-` codec (byte 0x1A stands for U+FFFD), and what bytes 0x80..=0xFF decode to.")
    lines.append("pub(super) static CHARMAPS: &[(&str, bool, &str)] = &[")
    for enc in ftfy.chardata.CHARMAP_ENCODINGS:
        upper = bytes(range(0x80, 0x100)).decode(enc)
        assert len(upper) == 128
        sloppy = enc.startswith("sloppy")
        assert bytes([0x1A]).decode(enc) == ("\ufffd" if sloppy else "\x1a")
        table = bytes(range(0x80, 0x100)).decode(enc) + bytes(range(0x80)).decode(enc)
        assert len(set(table)) == 256, enc  # one byte per character: encoding is the inverse
        assert bytes(range(0x80)).decode(enc) == "".join(map(chr, range(0x80))) or sloppy
        # The layout `rustfmt` gives a tuple too long for one line.
        lines.append("    (")
        lines.append("        %s," % rust_string(enc))
        lines.append("        %s," % ("true" if sloppy else "false"))
        lines.append("        %s," % rust_string(upper))
        lines.append("    ),")
    lines.append("];")
    lines.append("")
    lines.append("/// ftfy's `badness.BADNESS_RE`.")
    lines.append("pub(super) const BADNESS: &str = %s;" % rust_string(python_re_to_rust(ftfy.badness.BADNESS_RE.pattern)))
    clues = ftfy.chardata.UTF8_CLUES
    detector = "(?:[%s][%s]|[%s][%s]{2}|[%s][%s]{3})+" % (
        regex_class_body(clues["utf8_first_of_2"]),
        regex_class_body(clues["utf8_continuation"]),
        regex_class_body(clues["utf8_first_of_3"]),
        regex_class_body(clues["utf8_continuation"]),
        regex_class_body(clues["utf8_first_of_4"]),
        regex_class_body(clues["utf8_continuation"]),
    )
    lines.append("")
    lines.append("/// ftfy's `chardata.UTF8_DETECTOR_RE` without its look-behind (applied by hand).")
    lines.append("pub(super) const UTF8_DETECTOR: &str = %s;" % rust_string(detector))
    lines.append("")
    lines.append("/// The look-behind of `UTF8_DETECTOR_RE`: `utf8_continuation_strict` characters.")
    lines.append(
        "pub(super) const UTF8_CONTINUATION_STRICT: &str = %s;"
        % rust_string("[%s]" % regex_class_body(clues["utf8_continuation_strict"]))
    )
    with open(TABLES, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def write_goldens():
    tok = SimpleTokenizer()
    cases = []
    for text in TEXTS:
        ids = tok.encode(text)
        row = clip.tokenize([text], truncate=True)[0].tolist()
        try:
            clip.tokenize([text], truncate=False)
            raises = False
        except RuntimeError:
            raises = True
        cases.append(
            {
                "text": text,
                "cleaned": whitespace_clean(basic_clean(text)).lower(),
                "encode": ids,
                "decode": tok.decode(ids),
                "tokenize_truncate": row,
                "raises": raises,
            }
        )
    decodes = [{"ids": ids, "text": tok.decode(ids)} for ids in DECODE_IDS]
    # Byte-level tokens that split one emoji (4 UTF-8 bytes) and an accented letter.
    emoji_bytes = [tok.byte_encoder[b] for b in "\U0001f600\u00e9".encode("utf-8")]
    split = [tok.encoder[c] for c in emoji_bytes]
    for cut in [split[:2], split[1:], split[:4] + split[5:], split[:-1]]:
        decodes.append({"ids": cut, "text": tok.decode(cut)})
    batch = ["a photo of a cat", "", "<|endoftext|>"]
    out = {
        "generator": "scripts/gen_tokenizer_fixtures.py",
        "python": sys.version.split()[0],
        "ftfy": ftfy.__version__,
        "context_length": 77,
        "vocab_size": len(tok.encoder),
        "cases": cases,
        "decode": decodes,
        "batch": {"texts": batch, "tokenize": clip.tokenize(batch).tolist()},
    }
    os.makedirs(os.path.dirname(GOLDENS), exist_ok=True)
    with open(GOLDENS, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=True, indent=1)
        f.write("\n")
    return len(cases)


if __name__ == "__main__":
    if len(sys.argv) != 1:
        sys.exit("usage: gen_tokenizer_fixtures.py (no arguments)")
    write_tables()
    n = write_goldens()
    print(f"wrote {n} cases to {os.path.relpath(GOLDENS, ROOT)} and {os.path.relpath(TABLES, ROOT)}")
