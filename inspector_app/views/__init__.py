"""Flet views, one module per role. Each module exports ROUTES: (pattern, builder, parent route)."""
