"""Regenerate the bundled CJK font subsets in assets/fonts/ from Debian's fonts-noto-cjk.

The Flet web client ignores system fonts and fpdf2 must embed a font to print Chinese, so the app
ships a subset of Noto Sans CJK SC (SIL OFL 1.1) instead of the 19 MB collection:

- ASCII, Latin-1, general punctuation, CJK symbols and punctuation, full-width forms, a few symbol
  blocks used in forms (arrows, maths operators, enclosed numbers, box drawing, geometric shapes);
- the whole GB2312 character set (both levels, 6,763 hanzi, plus its symbol rows);
- every non-ASCII character that appears in the repository's .py/.toml/.md/.csv files and in the
  shared domain reference at generation time, so any label the code uses is covered.

Regular and bold of that set are what the app registers. A third file, "Ext" (regular only), holds the rest
of the CJK Unified Ideographs block that GB2312 lacks (rare characters in people's and place names, such as
堃 or 喆); the 笔录 PDF uses it as a fallback font so that a name is never printed as a blank.

The output depends only on the source font and the scanned text (sorted code points, no
timestamps), so re-running on the same tree gives byte-identical files.

Usage: .venv/bin/python scripts/make_font_subset.py [--repo DIR] [--fonts DIR] [--extra-text FILE ...]  (about a minute)
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

REPO = Path(__file__).resolve().parent.parent
DEBIAN_NOTO_CJK = Path("/usr/share/fonts/opentype/noto")  # Debian's fonts-noto-cjk; --fonts names another folder
SOURCE_FAMILY = "Noto Sans CJK SC"
SUBSET_FAMILY = "Noto Sans SC Subset"
EXT_FAMILY = "Noto Sans SC Subset Ext"
CJK_UNIFIED = range(0x4E00, 0xA000)
OUT_DIR = REPO / "assets" / "fonts"
SCANNED_SUFFIXES = {".py", ".toml", ".md", ".csv"}
SKIPPED_DIRS = {".venv", ".git", "node_modules", "__pycache__", "build", "dist"}

BLOCKS = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 supplement (¥ · × ÷ ±)
    (0x2000, 0x206F),  # general punctuation (— … ‰ ‘ ’ “ ”)
    (0x2100, 0x214F),  # letterlike symbols (℃ №)
    (0x2150, 0x218F),  # number forms (Ⅰ Ⅱ Ⅲ)
    (0x2190, 0x21FF),  # arrows
    (0x2200, 0x22FF),  # mathematical operators (≤ ≥ ≠)
    (0x2460, 0x24FF),  # enclosed alphanumerics (① ②)
    (0x2500, 0x257F),  # box drawing
    (0x25A0, 0x25FF),  # geometric shapes (■ □ ○ ●)
    (0x2600, 0x26FF),  # miscellaneous symbols (★ ☆)
    (0x2700, 0x27BF),  # dingbats (✓ ✗)
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0xFF00, 0xFFEF),  # half-width and full-width forms
]


def gb2312_characters() -> set[str]:
    """All characters of GB2312: symbol rows 0xA1–0xA9 and hanzi rows 0xB0–0xF7 (levels 1 and 2)."""
    chars: set[str] = set()
    for row in [*range(0xA1, 0xAA), *range(0xB0, 0xF8)]:
        for cell in range(0xA1, 0xFF):
            try:
                chars.add(bytes([row, cell]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def characters_in_text_files(paths: list[Path]) -> set[str]:
    chars: set[str] = set()
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        chars.update(ch for ch in text if ord(ch) > 0x7E and ch.isprintable())
    return chars


def repository_text_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED_DIRS for part in relative.parts):
            continue
        if path.is_file() and path.suffix in SCANNED_SUFFIXES:
            files.append(path)
    return files


def wanted_codepoints(repo: Path, extra_files: list[Path]) -> list[int]:
    chars = {chr(cp) for start, end in BLOCKS for cp in range(start, end + 1)}
    chars |= gb2312_characters()
    text_files = repository_text_files(repo)
    domain_text = repo.parent / "shared" / "domain" / "REGULATIONS.md"  # the team's shared reference, beside the repo
    if domain_text.exists():
        text_files.append(domain_text)
    chars |= characters_in_text_files(text_files + extra_files)
    return sorted(ord(ch) for ch in chars)


def load_sc_face(collection_path: Path) -> TTFont:
    """The Simplified Chinese face of a Noto CJK collection, found by name rather than a fixed index."""
    collection = TTCollection(str(collection_path), recalcTimestamp=False, lazy=False)
    for font in collection.fonts:
        if font["name"].getDebugName(1) == SOURCE_FAMILY:
            return font
    raise SystemExit(f"{collection_path}: no face named {SOURCE_FAMILY!r}")


def rename(font: TTFont, family: str, style: str) -> None:
    """A modified version gets its own name (OFL §3 courtesy); copyright and licence records stay."""
    postscript = f"{family.replace(' ', '')}-{style}"
    names = {1: family, 2: style, 3: f"{postscript};subset", 4: f"{family} {style}", 6: postscript}
    table = font["name"]
    for record in list(table.names):
        if record.nameID in names or record.nameID in (16, 17):
            table.removeNames(nameID=record.nameID)
    for name_id, value in names.items():
        table.setName(value, name_id, 3, 1, 0x409)
        table.setName(value, name_id, 1, 0, 0)
    font["CFF "].cff.fontNames = [postscript]


def make_subset(font: TTFont, family: str, style: str, codepoints: list[int], out_path: Path) -> None:
    options = subset.Options()
    options.name_IDs = list(range(0, 15))  # keep copyright, trademark, vendor and licence records
    options.name_languages = [0x409]
    options.notdef_outline = True
    options.recalc_timestamp = False
    # fontTools' default features minus 'locl': its Japanese/Korean/Traditional variants would
    # almost double the glyph count, and the app only ever renders Simplified Chinese.
    options.layout_features = [f for f in subset.Options().layout_features if f != "locl"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=codepoints)
    subsetter.subset(font)
    rename(font, family, style)
    font.save(str(out_path), reorderTables=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--extra-text", type=Path, action="append", default=[])
    parser.add_argument("--fonts", type=Path, default=DEBIAN_NOTO_CJK,
                        help="folder holding NotoSansCJK-Regular.ttc and NotoSansCJK-Bold.ttc")
    args = parser.parse_args()
    sources = {weight: args.fonts / f"NotoSansCJK-{weight}.ttc" for weight in ("Regular", "Bold")}

    codepoints = wanted_codepoints(args.repo, args.extra_text)
    regular = load_sc_face(sources["Regular"])
    covered, in_main = regular.getBestCmap(), set(codepoints)
    ext_codepoints = [cp for cp in CJK_UNIFIED if cp in covered and cp not in in_main]
    outputs = [
        ("NotoSansSC-Subset.otf", regular, SUBSET_FAMILY, "Regular", codepoints),
        ("NotoSansSC-Subset-Bold.otf", load_sc_face(sources["Bold"]), SUBSET_FAMILY, "Bold", codepoints),
        ("NotoSansSC-Subset-Ext.otf", load_sc_face(sources["Regular"]), EXT_FAMILY, "Regular", ext_codepoints),
    ]
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for file_name, font, family, style, wanted in outputs:
        out_path = OUT_DIR / file_name
        make_subset(font, family, style, wanted, out_path)
        digest = hashlib.sha256(out_path.read_bytes()).hexdigest()[:16]
        print(f"{out_path} {out_path.stat().st_size} bytes, {len(wanted)} code points, sha256 {digest}…")


if __name__ == "__main__":
    main()
