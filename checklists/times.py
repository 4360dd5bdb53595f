"""Times of day as people type them and documents keep them: ``HH:MM``, 24-hour (a hearing's hour)."""

from __future__ import annotations


def clock_time(text: str) -> str | None:
    """``"9:30"`` → ``"09:30"``; None when `text` is not an hour (0–23) and two-digit minute (00–59)."""
    hour, colon, minute = (text or "").strip().partition(":")
    if not (colon and hour.isascii() and hour.isdigit() and len(hour) <= 2 and int(hour) < 24
            and minute.isascii() and minute.isdigit() and len(minute) == 2 and int(minute) < 60):
        return None
    return f"{int(hour):02d}:{minute}"
