"""Words both apps show for the same codes: institution kinds and checklist answers."""

from __future__ import annotations

import checklists

KIND_LABELS = dict(checklists.KINDS)  # kind id → 中文名, from checklists/rules/vocabulary.toml
RESULT_LABELS = {"pass": "符合", "fail": "不符合", "na": "不适用"}
