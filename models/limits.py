"""Rate-limit windows kept in the database, so every API process on every machine counts one key's
requests together. A window opens at a bucket's first request after the last one closed and counts up;
one statement per request opens or counts it (the row lock makes concurrent counts add up)."""

from __future__ import annotations

import random

from sqlalchemy import Float, Integer, String, delete, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base

__all__ = ("RateWindow", "count_request", "window_of")

_COUNT = text(
    """
    INSERT INTO rate_windows (bucket, started, used) VALUES (:bucket, :now, 1)
    ON CONFLICT (bucket) DO UPDATE SET
        started = CASE WHEN rate_windows.started <= :now - :seconds THEN :now ELSE rate_windows.started END,
        used = CASE WHEN rate_windows.started <= :now - :seconds THEN 1 ELSE rate_windows.used + 1 END
    RETURNING started, used
    """
)
PRUNE_ONE_IN = 1000  # about one count in this many also deletes the windows that closed long ago


class RateWindow(Base):
    """One bucket's current window (``key:12``, ``address:10.0.0.5``): when it opened (seconds since the
    epoch) and the requests counted in it."""

    __tablename__ = "rate_windows"

    bucket: Mapped[str] = mapped_column(String(200), primary_key=True)
    started: Mapped[float] = mapped_column(Float)
    used: Mapped[int] = mapped_column(Integer)


def count_request(session: Session, bucket: str, now: float, seconds: float) -> tuple[float, int]:
    """Count one request of ``bucket`` at ``now`` (epoch seconds) in its window of ``seconds``: returns
    when the window opened and how many requests it holds now, this one included."""
    started, used = session.execute(_COUNT, {"bucket": bucket, "now": now, "seconds": seconds}).one()
    if random.random() < 1 / PRUNE_ONE_IN:
        session.execute(delete(RateWindow).where(RateWindow.started < now - 10 * seconds))
    return started, used


def window_of(session: Session, bucket: str, now: float, seconds: float) -> tuple[float, int]:
    """``bucket``'s window as it stands (counts nothing): when it opened and its requests; a closed or
    missing window reads as opening now, empty."""
    row = session.execute(select(RateWindow.started, RateWindow.used).where(RateWindow.bucket == bucket)).first()
    if row is None or now - row.started >= seconds:
        return now, 0
    return row.started, row.used
