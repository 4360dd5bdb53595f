"""Flet views of the staff screens, one module per role. Each module exports ROUTES: (pattern, builder, parent)."""
