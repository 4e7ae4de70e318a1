"""What the ``helpdesk`` commands build from the settings: database sessions, and who runs them (the
encoder comes from :func:`triage.ml.encoders.configured_encoder`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.audit import local_actor
from models.db import make_engine, make_session_factory
from models.settings import Settings
from triage.errors import InvalidImport

__all__ = ("CLI_ACTOR", "TrainProgress", "bar", "read_json", "sessions")

CLI_ACTOR = local_actor("cli")  # who runs a command, for the audit trail


def sessions(settings: Settings) -> sessionmaker[Session]:
    """Sessions on the configured database (with its busy timeout)."""
    database = settings.database
    return make_session_factory(make_engine(database.url, busy_timeout_ms=database.busy_timeout_ms))


def read_json(path: Path) -> Any:
    """A JSON file's content; one that cannot be read or is not JSON is an error naming ``file``."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidImport(f"cannot read {path}: {exc}", field="file") from None
    except json.JSONDecodeError as exc:
        raise InvalidImport(f"{path} is not JSON: {exc}", field="file") from None


def bar(label: str):
    """A progress bar on stderr over the rows of an import."""
    from tqdm import tqdm

    def wrap(items: Iterable) -> Iterable:
        return tqdm(items, desc=label, unit="row", file=sys.stderr, leave=False)

    return wrap


class TrainProgress:
    """Feeds ``train_bundle`` progress callbacks into one tqdm bar per step."""

    def __init__(self) -> None:
        self.bars: dict = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        from tqdm import tqdm

        bar = self.bars.get(step)
        if bar is None:
            bar = self.bars[step] = tqdm(total=total, desc=step, file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()
