"""智能监控 screening: settlement line items (结算明细) screened by rules (SQL over a fixed claims schema) against a
knowledge base in the shape of the national 两库.

Pure parts: the claims file's columns and row checks (`claims.py`), the rules and the knowledge base as data
(`rules.py`, `rules.toml`, `kb_default.csv`), the hits and the institutions' risk (`risk.py`). The claims store is a
DuckDB file under the bureau's data directory (`store.py`, the only module that imports duckdb); each run is kept in
the bureau database (`runs.py`) so a later draw can weight institutions by it.
"""
