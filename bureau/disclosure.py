"""一公开: a period's draws and outcomes as static HTML (Chinese), CSV and JSON, checkable by anyone.

* Draws: every transcript drawn in the period, exactly as stored, one JSON file each: `yibao draw verify` re-runs it.
* Outcomes: every case decided in the period that stands (已决定 or 已公开): institution, inspection day and kind,
  result, violation categories, measures, amounts, decision number. Nothing about patients, insured persons or
  staff: no finding descriptions (free text may name people), no staff codes, no signatures.
* The log: the latest signed tree head of the bureau's merkle log (size, root, timestamp, signature) with the
  bureau's public signing key, each outcome's record hash, log index and inclusion proof, and a consistency proof
  from every earlier disclosure's tree head, so a reader can check that nothing published before has left the log.

`content` and the renderers are pure; `export` gathers from the database, writes the files, records the disclosure
and moves the published cases to 已公开 (one audit event each).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from fontTools import subset
from fontTools.ttLib import TTFont
from sqlmodel import Session, col, select

import checklists
from bureau import review
from bureau.agency import agency_name
from bureau.assignments import utc_iso
from bureau.decisions import decision_json
from bureau.draw import transcript_hash
from bureau.models import (
    Decision,
    Disclosure,
    DrawRecord,
    Institution,
    LogLeaf,
    ReceivedRecord,
    ReviewCase,
    SignedTreeHead,
)
from bureau.review import local_date
from checklists.money import parse_money
from checklists.spreadsheet import inert_cell
from documents.pdf import FONT_DIR
from sync import merkle
from sync.canonical import canonical_bytes
from sync.envelope import log_leaf_hash

FORMAT = "yibao-disclosure-v1"
_PERIOD = re.compile(r"([0-9]{4})(?:-(?:Q([1-4])|([0-9]{2})))?")  # matched whole
INSPECTION_KINDS = {"random": "双随机抽查", "followup": "回头看"}
OUTCOME_COLUMNS = [("institution_code", "机构编码"), ("institution_name", "机构名称"), ("kind_label", "机构类别"),
                   ("region", "区划代码"), ("inspection_kind", "检查类型"), ("inspected_on", "检查日期"),
                   ("decided_on", "决定日期"), ("decision_no", "决定书文号"), ("result", "检查结果"),
                   ("violations_text", "违规类别"), ("measures_text", "处理措施"), ("recovered_yuan", "责令退回（元）"),
                   ("fined_yuan", "罚款（元）"), ("suspension_months", "暂停（月）"), ("terminate_agreement", "解除协议"),
                   ("status", "状态"), ("log_index", "日志序号"), ("record_hash", "检查记录哈希")]
DRAW_COLUMNS = [("plan_id", "抽查计划"), ("drawn_at", "抽取时间"), ("selected", "抽中机构数"), ("committed", "事先承诺"),
                ("transcript_hash", "抽取记录哈希"), ("file", "抽取记录文件")]


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date  # exclusive

    def contains(self, day: date) -> bool:
        return self.start <= day < self.end


def parse_period(text: str) -> Period:
    """``2026``, ``2026-Q4`` or ``2026-11``; ValueError with a Chinese message otherwise."""
    found = _PERIOD.fullmatch(text.strip())
    if not found or not 2000 <= int(found.group(1)) <= 2999:
        raise ValueError(f"期间格式不正确：{text!r}（应为 2026、2026-Q4 或 2026-11）")
    year = int(found.group(1))
    if found.group(2):
        quarter = int(found.group(2))
        start = date(year, 3 * quarter - 2, 1)
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    elif found.group(3):
        month = int(found.group(3))
        if not 1 <= month <= 12:
            raise ValueError(f"期间中的月份不正确：{text!r}")
        start = date(year, month, 1)
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    else:
        start, end = date(year, 1, 1), date(year + 1, 1, 1)
    return Period(text.strip(), start, end)


# ============================================================ pure


def outcome(case: Mapping[str, Any], decision: Mapping[str, Any], record: Mapping[str, Any],
            institution: Mapping[str, Any], proof: Sequence[bytes]) -> dict[str, Any]:
    """One published outcome, built field by field from structured data only (nothing typed as free text)."""
    categories = checklists.CATEGORIES
    counted = Counter(f["category"] for f in review.counted_findings(record))
    violations = [{"category": c, "title": categories[c].title if c in categories else "", "count": n}
                  for c, n in sorted(counted.items())]
    handled = decision["outcome"] == "handled"
    kind = institution.get("kind") or ""
    return {
        "record_id": case["record_id"], "version": decision["version"], "record_hash": decision["record_hash"],
        "log_index": case["log_index"], "inclusion_proof": [p.hex() for p in proof],
        "institution_code": decision["institution_code"], "institution_name": institution.get("name", ""),
        "kind": kind, "kind_label": checklists.KINDS.get(kind, kind), "region": institution.get("region", ""),
        "inspection_kind": INSPECTION_KINDS.get(record.get("inspection_kind", ""), record.get("inspection_kind", "")),
        "inspected_on": case["inspected_on"], "decided_on": case["decided_on"],
        "decision_no": decision.get("decision_no") or "", "doc_kind": decision.get("doc_kind") or "",
        "result": f"发现问题 {sum(counted.values())} 项" if handled else "未发现违法违规问题",
        "violations": violations, "measures": list(decision["measures"]) if handled else [],
        "recovered_yuan": decision["recover_yuan"] if handled else "0.00",
        "fined_yuan": decision.get("fine_yuan") or "0.00",
        "suspension_months": decision.get("suspension_months"),
        "terminate_agreement": bool(decision.get("terminate_agreement")),
        "status": review.PUBLISHED,
    }


def content(period: Period, draws: Sequence[Mapping[str, Any]], outcomes: Sequence[Mapping[str, Any]],
            tree_head: Mapping[str, Any], signing_public_key_b64: str, consistency: Sequence[Mapping[str, Any]],
            generated_at: str, *, agency: str) -> dict[str, Any]:
    """The disclosure as data (what disclosure.json holds; the HTML and CSV render it); `agency` publishes it."""
    return {
        "format": FORMAT, "agency": agency, "period": period.label, "from": period.start.isoformat(),
        "until": period.end.isoformat(), "generated_at": generated_at,
        "log": {"tree_head": dict(tree_head), "bureau_signing_key": signing_public_key_b64,
                "leaf": "SHA-256(0x00 ‖ \"yibao-log-entry-v1\\n\" ‖ canonical JSON {record_hash, record_id})，"
                        "RFC 6962 / RFC 9162 树",
                "consistency": list(consistency)},
        "draws": list(draws), "outcomes": list(outcomes),
        "totals": {"draws": len(draws), "outcomes": len(outcomes),
                   "with_violations": sum(1 for o in outcomes if o["violations"])},
    }


def _cell(row: Mapping[str, Any], key: str) -> str:
    if key == "violations_text":
        return "；".join(f"{v['category']} {v['title']}（{v['count']}）" for v in row["violations"])
    if key == "measures_text":
        return "、".join(row["measures"])
    value = row.get(key)
    if isinstance(value, bool):
        return "是" if value else "否"
    return "" if value is None else str(value)


def table_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> bytes:
    """UTF-8 with a BOM, so Excel opens the Chinese headers correctly; no cell Excel would run as a formula (an
    institution's name comes from a registry file)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _key, label in columns])
    for row in rows:
        writer.writerow([inert_cell(_cell(row, key)) for key, _label in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


BEIJING = timezone(timedelta(hours=8))  # 北京时间 (no daylight saving)
WEB_FONT = "YibaoNotoSansSC"  # the embedded subsets' family; the Ext subset is a family of its own after it
_WEB_FONT_FILES = {"regular": "NotoSansSC-Subset.otf", "bold": "NotoSansSC-Subset-Bold.otf",
                   "ext": "NotoSansSC-Subset-Ext.otf"}
_TAG = re.compile(r"<[^>]+>")
_BOLD = re.compile(r"<(h1|h2|th|dt)\b[^>]*>(.*?)</\1>", re.S)  # what PAGE_CSS sets bold
PRINT_EXTRA_TEXT = "（）"  # what the print style sheet adds around a link's address

PAGE_CSS = """
:root { color: #1a1a1a; background: #fff; }
body { font-family: "%(font)s", "%(font)sExt", "Noto Sans SC", "Microsoft YaHei", sans-serif; margin: 0 auto;
       padding: 24px 32px 48px; max-width: 1200px; line-height: 1.6; font-size: 15px; }
.agency { margin: 0; font-size: 17px; letter-spacing: 0.1em; color: #8a1c1c; }
h1 { margin: 4px 0 8px; font-size: 26px; line-height: 1.35; }
h2 { margin: 32px 0 8px; font-size: 20px; border-bottom: 2px solid #c9d3e0; padding-bottom: 4px; }
.meta, .note { color: #555; }
.meta span { white-space: nowrap; margin-right: 2em; }
.downloads a { margin-right: 1.5em; }
table { border-collapse: collapse; margin: 12px 0; width: 100%%; font-size: 14px; }
th, td { border: 1px solid #c4c4c4; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #eef2f7; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; }
.sub { display: block; color: #555; font-size: 13px; }
.nowrap, time { white-space: nowrap; }
ul.plain { margin: 0; padding-left: 1.2em; }
a { color: #0b4f9c; overflow-wrap: anywhere; }
code { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, "%(font)s", "%(font)sExt", monospace;
       font-size: 13px; }
code.hash { display: inline-block; max-width: 12ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
            vertical-align: bottom; user-select: all; cursor: text; }
code.full { overflow-wrap: anywhere; word-break: break-all; user-select: all; }
dl.log { display: grid; grid-template-columns: max-content 1fr; gap: 6px 16px; margin: 12px 0; }
dl.log dt { font-weight: 700; }
dl.log dd { margin: 0; min-width: 0; }
@media (max-width: 960px) {
  body { padding: 16px 16px 32px; font-size: 14px; }
  table { font-size: 13px; }
  th, td { padding: 4px 6px; }
}
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  body { padding: 0; max-width: none; font-size: 10pt; }
  table { font-size: 9pt; }
  h2 { break-after: avoid; }
  tr, li, dl.log > * { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: #000; }
  a[href]::after { content: "（" attr(href) "）"; }
  code.hash { display: inline; max-width: none; overflow: visible; white-space: normal; overflow-wrap: anywhere;
              word-break: break-all; }
}
"""


def beijing_time(moment: str | int) -> str:
    """An ISO UTC time, or milliseconds since the epoch, as people read it: ``2026年3月5日 14:30`` (北京时间)."""
    at = (datetime.fromtimestamp(moment / 1000, timezone.utc) if isinstance(moment, int)
          else datetime.fromisoformat(moment.replace("Z", "+00:00"))).astimezone(BEIJING)
    return f"{at.year}年{at.month}月{at.day}日 {at:%H:%M}"


def cn_date(day: str | date) -> str:
    """``2026-03-05`` → ``2026年3月5日``."""
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{value.year}年{value.month}月{value.day}日"


def _time(moment: str | int) -> str:
    """A <time> with the machine value kept in its datetime attribute."""
    iso = (datetime.fromtimestamp(moment / 1000, timezone.utc).isoformat().replace("+00:00", "Z")
           if isinstance(moment, int) else moment)
    return f'<time datetime="{html.escape(iso)}">{beijing_time(moment)}</time>'


def _hash(value: str, full: bool = False) -> str:
    """A long hash or key: all of it in the text (selected whole with one click, copied whole); in a table shown
    shortened with an ellipsis and the full value on hover; printed in full."""
    e = html.escape(value)
    return f'<code class="full">{e}</code>' if full else f'<code class="hash" title="{e}">{e}</code>'


def _draw_rows(draws: Sequence[Mapping[str, Any]]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(d['plan_id'])}</td><td>{_time(d['drawn_at'])}</td><td class=\"num\">{d['selected']}</td>"
        f"<td>{'是' if d['committed'] else '否'}</td><td>{_hash(d['transcript_hash'])}</td>"
        f"<td><a href=\"{e(d['file'])}\">{e(d['file'].rsplit('/', 1)[-1])}</a></td></tr>" for d in draws)
    return ("<table><thead><tr><th>抽查计划</th><th>抽取时间</th><th>抽中机构数</th><th>事先承诺</th>"
            f"<th>抽取记录哈希</th><th>抽取记录文件</th></tr></thead><tbody>{rows}</tbody></table>")


def _measures(row: Mapping[str, Any]) -> str:
    e = html.escape
    lines = [e("、".join(row["measures"])) or "无"]
    if row["recovered_yuan"] != "0.00":
        lines.append(f"责令退回 <span class=\"nowrap\">{parse_money(row['recovered_yuan']):,} 元</span>")
    if row["fined_yuan"] != "0.00":
        lines.append(f"罚款 <span class=\"nowrap\">{parse_money(row['fined_yuan']):,} 元</span>")
    if row["suspension_months"]:
        lines.append(f"暂停 {row['suspension_months']} 个月")
    if row["terminate_agreement"]:
        lines.append("解除服务协议")
    return "<br>".join(lines)


def _outcome_rows(outcomes: Sequence[Mapping[str, Any]]) -> str:
    e = html.escape
    rows = []
    for o in outcomes:
        region = f" · 区划 {e(o['region'])}" if o["region"] else ""
        violations = "".join(f"<li>{e(v['category'])} {e(v['title'])}（{v['count']} 项）</li>" for v in o["violations"])
        listed = f'<ul class="plain">{violations}</ul>' if violations else ""
        inspected = f"<span class=\"nowrap\">{cn_date(o['inspected_on'])}</span>检查" if o["inspected_on"] else ""
        rows.append(
            f"<tr><td>{e(o['institution_name'])}<span class=\"sub\"><span class=\"nowrap\">"
            f"{e(o['institution_code'])}</span> · {e(o['kind_label'])}{region}</span></td>"
            f"<td><span class=\"nowrap\">{e(o['decision_no']) or '（无需处理）'}</span>"
            f"<span class=\"sub\"><span class=\"nowrap\">{cn_date(o['decided_on'])}</span>决定 · {e(o['status'])}"
            f"</span><span class=\"sub\">{e(o['inspection_kind'])} {inspected}</span></td>"
            f"<td>{e(o['result'])}{listed}</td><td>{_measures(o)}</td>"
            f"<td>日志第 {o['log_index']} 条<span class=\"sub\">{_hash(o['record_hash'])}</span></td></tr>")
    return ("<table><thead><tr><th>被检查机构</th><th>决定书文号与日期</th><th>检查结果</th><th>处理措施</th>"
            f"<th>核验</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _page_body(data: Mapping[str, Any]) -> str:
    e = html.escape
    head, totals = data["log"]["tree_head"], data["totals"]
    last_day = date.fromisoformat(data["until"]) - timedelta(days=1)
    consistency = "".join(
        f"<li>自 {_time(c['published_at'])} 公示时的第 {c['from_size']} 条（根哈希 {_hash(c['from_root'])}）"
        f"至本期第 {head['size']} 条：一致性证明 {len(c['proof'])} 个节点</li>" for c in data["log"]["consistency"])
    stamp = _time(head["timestamp"]) if head["timestamp"] else "—"
    return f"""<header>
<p class="agency">{e(data['agency'])}</p>
<h1>医保基金监督检查“双随机、一公开”结果公示</h1>
<p class="meta"><span>公示期间：{cn_date(data['from'])}至{cn_date(last_day)}</span>
<span>生成时间：{_time(data['generated_at'])}（北京时间）</span></p>
<p class="downloads">数据下载：<a href="disclosure.json">完整数据（JSON）</a><a href="outcomes.csv">检查结果表（CSV）</a><a
href="draws.csv">抽取记录表（CSV）</a></p>
</header>
<main>
<h2>一、随机抽取记录（{totals['draws']} 次）</h2>
<p>每次抽取的完整记录见所附 JSON 文件；任何人可用 <code>yibao draw verify 文件名</code> 复现抽取结果。时间均为北京时间。</p>
{_draw_rows(data['draws']) if data['draws'] else '<p>本期无。</p>'}
<h2>二、检查结果（{totals['outcomes']} 家次，其中发现问题 {totals['with_violations']} 家次）</h2>
{_outcome_rows(data['outcomes']) if data['outcomes'] else '<p>本期无。</p>'}
<h2>三、防篡改核验</h2>
<p>每份检查记录在局端接收时即写入防篡改日志（Merkle 树）。本期公示依据的日志树头：</p>
<dl class="log">
<dt>日志条数</dt><dd>{head['size']}</dd>
<dt>根哈希</dt><dd>{_hash(head['root'], full=True)}</dd>
<dt>树头时间</dt><dd>{stamp}（北京时间）</dd>
<dt>局端签名</dt><dd>{_hash(head['signature'], full=True) if head['signature'] else '—'}</dd>
<dt>局端签名公钥（Ed25519）</dt><dd>{_hash(data['log']['bureau_signing_key'], full=True)}</dd>
</dl>
<p>完整数据（JSON）中每条检查结果附有检查记录哈希、日志序号和包含证明，可据此核验该记录在上述树中；
以下一致性证明表明此前各期公示时的日志均未被删改：</p>
<ul>{consistency or '<li>此前无公示记录。</li>'}</ul>
</main>
<footer>
<p class="note">本公示不含参保人员、患者及医务人员的个人信息。发布机关：{e(data['agency'])}。</p>
</footer>"""


def font_face(font_file: Path, family: str, weight: int, text: str) -> str:
    """An @font-face rule that embeds `font_file` cut down to the glyphs of `text` (WOFF, base64): the page shows
    Chinese on a machine without any CJK font, and stays small."""
    options = subset.Options()
    options.flavor = "woff"
    font = TTFont(font_file, recalcTimestamp=False)  # same text → same bytes
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    encoded = base64.b64encode(out.getvalue()).decode("ascii")
    return (f'@font-face {{ font-family: "{family}"; font-weight: {weight}; font-style: normal; font-display: block;'
            f' src: url(data:font/woff;base64,{encoded}) format("woff"); }}')


def _characters(markup: str) -> str:
    return "".join(sorted(set(html.unescape(_TAG.sub("", markup))) - {"\n", "\r", "\t"}))


def embedded_fonts(body: str) -> str:
    """The @font-face rules the page needs: the regular subset for all its text, the bold one for its headings, and
    the Ext subset for rare characters (names such as 王堃) when there are any."""
    regular_file = FONT_DIR / _WEB_FONT_FILES["regular"]
    text = _characters(body) + PRINT_EXTRA_TEXT
    bold = _characters("".join(m.group(2) for m in _BOLD.finditer(body)))
    rules = [font_face(regular_file, WEB_FONT, 400, text), font_face(FONT_DIR / _WEB_FONT_FILES["bold"], WEB_FONT,
                                                                     700, bold)]
    with TTFont(regular_file, lazy=True) as font:
        covered = font.getBestCmap()
    rare = "".join(ch for ch in text if ord(ch) not in covered and not ch.isspace())
    if rare:
        rules.append(font_face(FONT_DIR / _WEB_FONT_FILES["ext"], f"{WEB_FONT}Ext", 400, rare))
    return "\n".join(rules)


def render_html(data: Mapping[str, Any]) -> str:
    """A static page a bureau can put on its website as it is: no scripts, no outside resources, the fonts it needs
    embedded; readable from 800 px wide up, and on paper."""
    body = _page_body(data)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(data['agency'])} 医保基金监督检查 双随机、一公开 · {html.escape(data['period'])}</title>
<style>
{embedded_fonts(body)}
{PAGE_CSS % {"font": WEB_FONT}}</style>
</head>
<body>
{body}
</body>
</html>
"""


def safe_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("_") or "draw"


# ============================================================ the shell


def _tree(session: Session) -> merkle.MerkleTree:
    tree = merkle.MerkleTree()
    for index, leaf in session.exec(select(LogLeaf.leaf_index, LogLeaf.leaf_hash).order_by(col(LogLeaf.leaf_index))):
        if index != tree.size:
            raise RuntimeError(f"merkle log has a gap at index {tree.size}")
        tree.append(bytes.fromhex(leaf))
    return tree


def _head(session: Session, tree: merkle.MerkleTree) -> dict[str, Any]:
    if tree.size == 0:
        return {"size": 0, "root": merkle.MerkleTree().root().hex(), "timestamp": 0, "signature": ""}
    row = session.get(SignedTreeHead, tree.size)
    if row is None or row.root != tree.root().hex():
        raise RuntimeError("the stored tree head does not match the log")
    return {"size": row.size, "root": row.root, "timestamp": row.timestamp, "signature": row.signature}


def gather(session: Session, period: Period, tree: merkle.MerkleTree) -> tuple[list[dict], list[dict], list[dict]]:
    """(draw rows with their transcripts, outcomes, consistency proofs) for the period."""
    draws: list[dict] = []
    for row in session.exec(select(DrawRecord).order_by(col(DrawRecord.drawn_at), col(DrawRecord.plan_id))):
        if period.contains(local_date(row.drawn_at)):
            draws.append({"plan_id": row.plan_id, "drawn_at": utc_iso(row.drawn_at), "selected": row.selected,
                          "committed": bool(row.transcript.get("committed")),
                          "transcript_hash": transcript_hash(row.transcript),
                          "file": f"draws/{len(draws) + 1:02d}-{safe_name(row.plan_id)}.json",
                          "transcript": row.transcript})
    outcomes = []
    rows = session.exec(select(ReviewCase, Decision)
                        .join(Decision, col(Decision.record_id) == col(ReviewCase.record_id))
                        .where(col(ReviewCase.status).in_((review.DECIDED, review.PUBLISHED)),
                               col(Decision.status) == "issued")
                        .order_by(col(Decision.decided_at), col(Decision.record_id)))
    for case, decision in rows:
        assert decision.decided_at is not None  # an issued decision always has its decided_at
        decided_on = local_date(decision.decided_at)
        if not period.contains(decided_on):
            continue
        record = session.get(ReceivedRecord, (decision.record_id, decision.version))
        assert record is not None  # a decision is always made on a received record
        institution = session.get(Institution, decision.institution_code)
        leaf = log_leaf_hash(record.record_id, record.record_hash)
        proof = tree.inclusion_proof(record.log_index, tree.size)
        merkle.verify_inclusion(leaf, record.log_index, tree.size, proof, tree.root())
        outcomes.append(outcome(
            {"record_id": case.record_id, "log_index": record.log_index, "decided_on": decided_on.isoformat(),
             "inspected_on": case.inspected_on.isoformat() if case.inspected_on else None},
            decision_json(decision), record.record,
            {"name": institution.name, "kind": institution.kind, "region": institution.region} if institution else {},
            proof))
    consistency = []
    for earlier in session.exec(select(Disclosure).order_by(col(Disclosure.id))):
        if 0 < earlier.tree_size <= tree.size:
            consistency.append({"from_size": earlier.tree_size, "from_root": earlier.tree_root,
                                "published_at": utc_iso(earlier.published_at), "period": earlier.period,
                                "proof": [p.hex() for p in tree.consistency_proof(earlier.tree_size, tree.size)]})
    return draws, outcomes, consistency


def export(session: Session, period: Period, out_dir: Path, signing_public_key_b64: str,
           now: datetime) -> dict[str, Any]:
    """Write index.html, disclosure.json, outcomes.csv, draws.csv and draws/*.json under `out_dir`; record the
    disclosure and move its cases to 已公开. The caller commits (after the files are written)."""
    review.backfill_cases(session, now)
    tree = _tree(session)
    head = _head(session, tree)
    draws, outcomes, consistency = gather(session, period, tree)
    data = content(period, [{k: v for k, v in d.items() if k != "transcript"} for d in draws], outcomes, head,
                   signing_public_key_b64, consistency, utc_iso(now), agency=agency_name(session))
    files = {"disclosure.json": json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"),
             "index.html": render_html(data).encode("utf-8"),
             "outcomes.csv": table_csv(outcomes, OUTCOME_COLUMNS),
             "draws.csv": table_csv(data["draws"], DRAW_COLUMNS)}
    for draw in draws:
        files[draw["file"]] = (json.dumps(draw["transcript"], ensure_ascii=False, separators=(",", ":"))
                               + "\n").encode("utf-8")
    for name, data_bytes in files.items():
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data_bytes)
        partial.replace(path)
    published = 0
    for item in outcomes:
        case = session.get(ReviewCase, item["record_id"])
        assert case is not None  # every outcome was gathered from its review case
        if case.status == review.DECIDED:
            review.act(session, item["record_id"], "publish", None, now, details={"period": period.label})
            published += 1
    session.add(Disclosure(period=period.label, published_at=now, tree_size=head["size"], tree_root=head["root"],
                           content_sha256=hashlib.sha256(canonical_bytes(data)).hexdigest(), draws=len(draws),
                           outcomes=len(outcomes)))
    return {"period": period.label, "out": str(out_dir), "draws": len(draws), "outcomes": len(outcomes),
            "newly_published": published, "tree_head": head, "files": sorted(files)}
