"""`yibao demo` — a seeded bureau and the app, both on loopback."""

from __future__ import annotations


def demo() -> None:
    """Seeded bureau + app in web mode on loopback; prints both URLs; runs until Ctrl-C."""
    raise NotImplementedError
