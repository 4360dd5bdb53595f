"""The bundled CJK font subsets cover what the app and the 笔录 print, so nothing renders as a blank or a box."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

REPO = Path(__file__).resolve().parent.parent
FONTS = REPO / "assets" / "fonts"
sys.path.insert(0, str(REPO / "scripts"))
import make_font_subset  # noqa: E402


@cache
def cmap(name: str) -> frozenset[int]:
    return frozenset(TTFont(str(FONTS / name), lazy=True).getBestCmap())


def is_cjk(char: str) -> bool:
    code = ord(char)
    return 0x3000 <= code <= 0x303F or 0x4E00 <= code <= 0x9FFF or 0xFF00 <= code <= 0xFFEF


def test_files_and_licence_are_there():
    for name in ("NotoSansSC-Subset.otf", "NotoSansSC-Subset-Bold.otf", "NotoSansSC-Subset-Ext.otf"):
        assert (FONTS / name).stat().st_size < 5 * 1024 * 1024, name
    licence = (FONTS / "LICENSE-NotoSansCJK.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence


@pytest.mark.parametrize("name", ["NotoSansSC-Subset.otf", "NotoSansSC-Subset-Bold.otf"])
def test_all_of_gb2312_and_ascii(name):
    covered = cmap(name)
    missing = [ch for ch in make_font_subset.gb2312_characters() if ord(ch) not in covered]
    assert not missing, missing[:20]
    assert all(code in covered for code in range(0x20, 0x7F))


@pytest.mark.parametrize("name", ["NotoSansSC-Subset.otf", "NotoSansSC-Subset-Bold.otf"])
def test_every_chinese_character_in_the_repository(name):
    files = make_font_subset.repository_text_files(REPO)
    used = {ch for ch in make_font_subset.characters_in_text_files(files) if is_cjk(ch)}
    missing = sorted(ch for ch in used if ord(ch) not in cmap(name))
    assert not missing, f"run scripts/make_font_subset.py: {name} lacks {''.join(missing)}"


def test_ext_font_completes_the_ideographs():
    main, ext = cmap("NotoSansSC-Subset.otf"), cmap("NotoSansSC-Subset-Ext.otf")
    assert not main & ext
    together = main | ext
    assert sum(1 for code in range(0x4E00, 0xA000) if code in together) > 20_000
    assert all(ord(char) in together for char in "堃喆珺玥昇")  # name characters outside GB2312
