"""The 一公开 page as a visitor sees it: the CJK subset it needs is embedded (Chromium loads and uses it, so a
machine without Chinese fonts shows Chinese, not boxes), times are 北京时间 as people write them, long hashes are
shortened with the whole value on hover and in the copied text, the columns fit 800 px, and it prints (rows never
cut, links' addresses shown). Screenshots at 1280 and 800 px and the printed PDF go to test-artifacts/."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess

import pytest
from fontTools.ttLib import TTFont

from bureau import disclosure
from tests.browser import ARTIFACTS, chromium_page

AGENCY = "福州市医疗保障局"
# U+7287: a name character outside GB2312, which only the Ext subset has
PLACES = ["鼓楼区东街口大药房", "台江区人民医院", "仓山区盖山镇卫生院", "晋安区新店镇卫生院", "马尾区民康门诊部",
          "鼓楼区华大街道社区卫生服务中心", "长乐区\u7287鑫大药房有限公司连锁第十二分店", "闽侯县上街镇卫生院"]
KINDS = ["pharmacy", "hospital", "primary", "primary", "private", "primary", "pharmacy", "primary"]


def digest(n: int) -> str:
    return f"{n:02x}" * 32


def sample(outcomes: int = 30) -> dict:
    """A year's disclosure of `outcomes` decided cases (every third without a problem) and two draws."""
    period = disclosure.parse_period("2026")
    rows = []
    for n in range(outcomes):
        kind = KINDS[n % len(KINDS)]
        handled = n % 3 != 2
        record = {"inspection_kind": "followup" if n % 5 == 4 else "random",
                  "findings": [{"category": "38.4"}, {"category": "39.2"}, {"category": "38.4"}][: n % 3 + 1]
                  if handled else []}
        decision = {"outcome": "handled" if handled else "no_violation", "version": 1, "record_hash": digest(n),
                    "institution_code": f"{'PH'[n % 2]}350102{n:05d}",
                    "decision_no": f"医保行处〔2026〕{n + 1}号" if handled else "", "doc_kind": "行政处理",
                    "measures": ["责令改正", "责令退回", "罚款"] if handled else [], "recover_yuan": "12800.50",
                    "fine_yuan": "25601.00" if handled else None, "suspension_months": 3 if n % 7 == 0 else None,
                    "terminate_agreement": n == 13}
        rows.append(disclosure.outcome(
            {"record_id": f"r{n}", "log_index": n, "decided_on": f"2026-{n % 12 + 1:02d}-15",
             "inspected_on": f"2026-{n % 12 + 1:02d}-02"}, decision, record,
            {"name": f"福州市{PLACES[n % len(PLACES)]}", "kind": kind, "region": "350102"}, [bytes(32)]))
    draws = [{"plan_id": f"2026-{season}-定点医药机构", "drawn_at": f"2026-{month}-20T06:30:00Z", "selected": 12,
              "committed": True, "transcript_hash": digest(200 + i), "file": f"draws/0{i + 1}-2026-{season}.json"}
             for i, (season, month) in enumerate([("春季", "03"), ("秋季", "09")])]
    head = {"size": outcomes, "root": digest(250), "timestamp": 1772692200000,  # 2026-03-05 06:30 UTC
            "signature": base64.b64encode(bytes(range(64))).decode()}
    consistency = [{"from_size": 4, "from_root": digest(251), "published_at": "2026-01-10T01:05:00Z",
                    "period": "2025", "proof": [digest(252)]}]
    return disclosure.content(period, draws, rows, head, base64.b64encode(bytes(32)).decode(), consistency,
                              "2026-03-05T06:30:00Z", agency=AGENCY)


# ------------------------------------------------------------ pure


def test_times_are_beijing_time_as_people_write_them():
    assert disclosure.beijing_time("2026-03-05T06:30:00Z") == "2026年3月5日 14:30"
    assert disclosure.beijing_time("2026-12-31T16:05:00Z") == "2027年1月1日 00:05"
    assert disclosure.beijing_time(1772692200000) == "2026年3月5日 14:30"
    assert disclosure.cn_date("2026-03-05") == "2026年3月5日"


def test_the_page_embeds_the_glyphs_it_uses_and_keeps_machine_values():
    data = sample(8)
    page = disclosure.render_html(data)
    assert page == disclosure.render_html(data)  # same input, same bytes
    faces = re.findall(r'font-family: "([^"]+)"; font-weight: (\d+);[^}]*base64,([A-Za-z0-9+/=]+)', page)
    assert [(family, weight) for family, weight, _ in faces] == [
        (disclosure.WEB_FONT, "400"), (disclosure.WEB_FONT, "700"), (f"{disclosure.WEB_FONT}Ext", "400")]
    text = re.sub(r"<[^>]+>", "", page.split("<body>")[1])
    regular = TTFont(io.BytesIO(base64.b64decode(faces[0][2]))).getBestCmap()
    ext = TTFont(io.BytesIO(base64.b64decode(faces[2][2]))).getBestCmap()
    missing = {ch for ch in text if not ch.isspace() and ord(ch) not in regular and ord(ch) not in ext}
    assert not missing, f"glyphs missing from the embedded fonts: {''.join(sorted(missing))}"
    assert 0x7287 in ext and 0x7287 not in regular and len(ext) < 10  # only the rare characters
    assert len(page) < 400_000, len(page)
    assert "公示期间：2026年1月1日至2026年12月31日" in page and "2026年3月5日 14:30" in page
    assert "2026-03-05T06:30:00Z" in page  # the machine time stays in <time datetime=…>
    assert page.count(AGENCY) >= 3  # above the title, in the title and as publisher
    for n in range(6):
        assert f'<code class="hash" title="{digest(n)}">{digest(n)}</code>' in page
    assert f'<code class="full">{digest(250)}</code>' in page
    assert "<script" not in page and "http" not in page.split("<body>")[1]


def test_csv_and_json_keep_their_machine_formats():
    data = sample(3)
    table = disclosure.table_csv(data["outcomes"], disclosure.OUTCOME_COLUMNS).decode("utf-8-sig")
    assert "2026-01-15" in table and digest(0) in table and "年" not in table.split("\r\n", 1)[1]
    assert data["generated_at"] == "2026-03-05T06:30:00Z" and data["agency"] == AGENCY
    assert disclosure.table_csv(data["draws"], disclosure.DRAW_COLUMNS).decode("utf-8-sig").count(
        "2026-03-20T06:30:00Z") == 1


# ------------------------------------------------------------ in Chromium

FONT_REPORT = """async () => {
  await document.fonts.ready;
  return [...document.fonts].map(f => ({family: f.family.replace(/"/g, ''), weight: f.weight, status: f.status}));
}"""


def platform_fonts(page, selector: str) -> list[dict]:
    """The fonts Chromium actually drew `selector`'s text with (DevTools' CSS.getPlatformFontsForNode)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


@pytest.mark.browser
def test_the_page_in_chromium_on_screen_and_on_paper(tmp_path):
    page_file = tmp_path / "index.html"
    page_file.write_text(disclosure.render_html(sample()), encoding="utf-8")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 800):
        with chromium_page(viewport=(width, 900)) as page:
            page.goto(page_file.as_uri())
            fonts = page.evaluate(FONT_REPORT)
            embedded = {(f["weight"], f["status"]) for f in fonts if f["family"] == disclosure.WEB_FONT}
            assert embedded == {("400", "loaded"), ("700", "loaded")}, fonts
            assert {f["status"] for f in fonts if f["family"] == f"{disclosure.WEB_FONT}Ext"} == {"loaded"}
            for selector in ("h1", "table tbody td"):
                used = platform_fonts(page, selector)
                assert used and all(f["isCustomFont"] for f in used if f["glyphCount"]), (selector, used)
            # nothing sticks out sideways, and every column keeps room for a few characters
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            narrowest = page.evaluate("Math.min(...[...document.querySelectorAll('th')]"
                                      ".map(th => th.getBoundingClientRect().width))")
            assert narrowest >= 56, narrowest
            first = page.locator("tbody code.hash").nth(2)  # the first outcome's record hash (after two draws)
            assert first.get_attribute("title") == first.text_content() == digest(0)
            box = first.bounding_box()
            assert box is not None and box["width"] < 200  # shown shortened …
            first.click()  # … one click selects it whole (user-select: all), and a copy takes all of it
            assert page.evaluate("window.getSelection().toString()") == digest(0)
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / f"disclosure-page-{width}.png"), full_page=True)
            if width == 1280:
                pdf = page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "disclosure-page.pdf").write_bytes(pdf)
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils (pdftotext) not installed: cannot read the printed page back")
    pages = subprocess.run(["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True,  # cell by cell
                           check=True).stdout.decode("utf-8").split("\f")
    pages = [text for text in pages if text.strip()]
    assert len(pages) >= 2
    flat = ["".join(text.split()) for text in pages]
    assert "医保基金监督检查“双随机、一公开”结果公示" in flat[0] and AGENCY in flat[0]
    assert "完整数据（JSON）（disclosure.json）" in flat[0]  # a link prints its address
    assert "01-2026-春季.json（draws/01-2026-春季.json）" in flat[0]
    for n in range(30):  # each row whole on one page: its decision number (or its institution) and its hash
        holding = [i for i, text in enumerate(flat) if digest(n) in text]
        assert len(holding) == 1, (n, holding)
        if n % 3 != 2:
            assert f"医保行处〔2026〕{n + 1}号" in flat[holding[0]], n
