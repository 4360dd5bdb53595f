"""The one error type of the rules package: every problem found, in Chinese, for the people who fix the input."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

KeyPath = tuple[str | int, ...]


class InputError(ValueError):
    """Bad input or bad data. `problems` holds one message per problem; str() joins them one per line.

    `entries` keeps each problem's key path and bare message, so a caller that knows the file (the CLI)
    can say where: file, line and key.
    """

    def __init__(self, problems: str | Iterable[str], entries: Sequence[tuple[KeyPath, str]] = ()) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.entries = list(entries) or [((), p) for p in self.problems]
        super().__init__("\n".join(self.problems))
