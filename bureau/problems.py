"""The refusal every review and procedure rule raises: an HTTP status, a stable reason code and a Chinese message.
Its own module so the pure procedure rules (`bureau.procedure`) and the review operations share it without importing
each other."""

from __future__ import annotations


class ReviewError(Exception):
    """An action that is not allowed: an HTTP status, a stable reason code and a Chinese message."""

    def __init__(self, status: int, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.status, self.reason, self.message = status, reason, message
