"""Where the bureau keeps its data, which database it talks to, and how its keys' recovery is split by default.

Resolution order for each setting: the command-line flag, then the environment
(`YIBAO_DATA`, `YIBAO_DATABASE_URL`), then the default (`./yibao-data/bureau`, SQLite inside it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# the M-of-N recovery shares of the bureau keys (`bureau.keystore`): here, so the command line's help needs no crypto
DEFAULT_SHARES, DEFAULT_THRESHOLD = 5, 3


@dataclass(frozen=True)
class BureauSettings:
    data_dir: Path
    database_url: str


def resolve_settings(db: str | None = None, data: str | None = None) -> BureauSettings:
    data_dir = Path(data or os.environ.get("YIBAO_DATA") or Path.cwd() / "yibao-data" / "bureau").resolve()
    url = db or os.environ.get("YIBAO_DATABASE_URL") or f"sqlite:///{data_dir / 'bureau.db'}"
    return BureauSettings(data_dir=data_dir, database_url=url)
