"""Roll a registered model's champion back to the previous champion.

Usage::

    python -m market_assets.tracking.rollback --model NAME [--tracking-uri URI] [--registry-uri URI]

Prints the champion version before and after.  Exits 1 with the reason on
stderr when there is nothing to roll back to (no such model, no champion, or
a champion that was the first one).  ``--tracking-uri`` defaults to
``MARKET_ASSETS_MLFLOW_URI`` (see :mod:`market_assets.settings`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from market_assets.tracking._session import TrackingConfig, redacted, sqlite_path
from market_assets.tracking.registry import NothingToRollBackError, champion_version, rollback_champion


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m market_assets.tracking.rollback",
        description="Move alias 'champion' back to the previous champion version.",
    )
    parser.add_argument("--model", required=True, help="registered model name")
    parser.add_argument(
        "--tracking-uri", default=None,
        help="MLflow tracking URI (default: MARKET_ASSETS_MLFLOW_URI or the local SQLite store)",
    )
    parser.add_argument("--registry-uri", default=None, help="model registry URI (default: tracking URI)")
    return parser


def _default_tracking_uri() -> str:
    from market_assets.settings import load_settings

    return load_settings().mlflow_tracking_uri


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 rolled back, 1 nothing to roll back)."""
    args = _parser().parse_args(argv)
    config = TrackingConfig(
        tracking_uri=args.tracking_uri or _default_tracking_uri(), registry_uri=args.registry_uri
    )
    where = redacted(config.registry_uri or config.tracking_uri)
    database = sqlite_path(config.registry_uri or config.tracking_uri)
    if database is not None and not database.exists():
        print(f"rollback failed: no MLflow database at {database}; expected the registry "
              "that holds the model (check --tracking-uri)", file=sys.stderr)
        return 1
    before = champion_version(config, args.model)
    print(f"model {args.model!r} at {where}")
    print(f"champion before: {'none' if before is None else 'version ' + before.version}")
    try:
        after = rollback_champion(config, args.model)
    except NothingToRollBackError as error:
        print(f"rollback failed: {error}", file=sys.stderr)
        return 1
    print(f"champion after:  version {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
