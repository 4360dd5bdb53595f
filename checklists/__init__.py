"""Checklists, scoring and the penalty and points rules of 医保基金现场检查 — data files plus pure functions.

Public API:
    load_templates(), template_for_kind(kind), resolve_template("id@hash"), Template, Item, Section, Limit
    KINDS (kind id → 中文名), SEVERITIES, CATEGORIES (category id → Category with the article text), vocabulary()
    checklists.scoring.score / score_partial, checklists.penalty.decide, checklists.points.*, checklists.money.*
    InputError: every problem found, in Chinese.

KINDS, SEVERITIES and CATEGORIES are read from rules/vocabulary.toml on first use, so a bad data file
surfaces as an InputError where it is used rather than breaking every import.
"""

from __future__ import annotations

from typing import Any

from checklists.errors import InputError
from checklists.templates import (
    Item,
    Limit,
    Section,
    Template,
    load_template,
    load_templates,
    resolve_template,
    template_for_kind,
)
from checklists.vocabulary import Article, Category, vocabulary

__all__ = [
    "CATEGORIES", "KINDS", "SEVERITIES", "Article", "Category", "InputError", "Item", "Limit", "Section",
    "Template", "load_template", "load_templates", "resolve_template", "template_for_kind", "vocabulary",
]


def __getattr__(name: str) -> Any:
    if name == "KINDS":
        return vocabulary().kinds
    if name == "SEVERITIES":
        return vocabulary().severities
    if name == "CATEGORIES":
        return vocabulary().categories
    raise AttributeError(f"module 'checklists' has no attribute {name!r}")
