"""Which champion a session's prediction may use (point in time).

Convention: the model for session ``t`` is, among the versions that were
promoted to champion when registered and have not been rolled back, the one
with the latest ``train_end`` on or before ``t`` (ties: the higher version).
A backfill of old sessions therefore uses the models of their own weeks, never
a model trained later; a nightly run uses the current champion.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass

from market_assets.tracking._session import TrackingConfig, client_for
from market_assets.tracking.registry import ROLLED_BACK_TO_TAG


@dataclass(frozen=True)
class ChampionRecord:
    """A version that served as champion from its ``train_end`` on (``run_id``: the run that logged it)."""

    version: str
    train_end: dt.date
    tags: dict[str, str]
    run_id: str | None = None


def champion_history(config: TrackingConfig, model_name: str) -> list[ChampionRecord]:
    """Promoted, not rolled-back versions of ``model_name`` sorted by ``train_end``."""
    client = client_for(config)
    records = [
        ChampionRecord(str(v.version), dt.date.fromisoformat(v.tags["train_end"]), dict(v.tags), v.run_id or None)
        for v in client.search_model_versions(f"name = '{model_name}'")
        if v.tags.get("promotion_alias") == "champion"
        and ROLLED_BACK_TO_TAG not in v.tags
        and "train_end" in v.tags
    ]
    return sorted(records, key=lambda r: (r.train_end, int(r.version)))


def champion_for(history: list[ChampionRecord], session: dt.date) -> ChampionRecord | None:
    """The record of ``history`` (sorted) that serves ``session``, or None before the first."""
    index = bisect_right([r.train_end for r in history], session)
    return history[index - 1] if index else None
