"""The bad-input corpus of issue 9: every case with its expected clear outcome.

Each case does one bad thing an attacker or a careless user did (a run
config, an environment, a file, a fault server, a partition range) and
declares what must happen:

* :class:`Clear`: an exception of the given type whose message matches a
  pattern naming what failed (the value, the variable, the partition, the
  path, the provider and symbol);
* :class:`Handled`: no exception, and a check that nothing went silently wrong
  and no row was lost (rows routed to ``price_rejections`` with their reason,
  a transient fault retried, a file reconciled).

A case fails as a **crash** when another exception escapes (``IndexError``, a
raw ``ChunkedEncodingError``), as an **unclear error** when the message does
not say where, as a **silent wrong** when nothing is raised where an error is
due, and as **data lost** when a Handled check finds rows missing.  The
validation rules' own corpus is ``quant/validation/test_bad_inputs.py``;
:func:`corpus_counts` counts both.
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from market_assets.defs.io_manager import PartitionedParquetIOManager
from market_assets.defs.partitions import partition_dates
from market_assets.quant.validation import validate_prices
from market_assets.quant.validation.received import RECEIVED_DATE, store_under_sessions
from market_assets.settings import load_settings
from market_assets.sources.base import SourceError
from market_assets.sources.http import HttpClient, RetryPolicy, redact, register_secret
from market_assets.sources.options import SourceOptionError
from market_assets_tests.quant.validation import test_bad_inputs
from market_assets_tests.quant.validation.frames import bar, prices
from market_assets_tests.sources.test_http import BAD_GZIP, GOOD, RESET, TRUNCATED, FaultServer

D = dt.date
WEEK = [D(2024, 1, 2), D(2024, 1, 3), D(2024, 1, 4), D(2024, 1, 5), D(2024, 1, 8)]
UNIVERSE = ["AAA", "BBB"]
EXFILTRATION = {"kind": "alpha_vantage", "base_url": "http://attacker/", "api_key_env": "DAGSTER_PG_PASSWORD"}
SECRET = "corpus-Secret+Value/42"


@dataclass(frozen=True)
class Clear:
    """An exception of ``error`` whose message matches ``pattern`` (re.search)."""

    error: type[BaseException] | tuple[type[BaseException], ...]
    pattern: str


@dataclass(frozen=True)
class Handled:
    """No exception; ``check(result)`` holds (nothing silently wrong, nothing lost)."""

    check: Callable[[Any], bool]
    what: str


@dataclass(frozen=True)
class Case:
    id: str
    item: int  # the issue's item
    run: Callable[[Path], Any]
    expect: Clear | Handled
    slow: bool = False


# ---- helpers -----------------------------------------------------------------------------------


@functools.cache
def _code_location_job() -> dg.JobDefinition:
    from market_assets.definitions import defs

    return defs.resolve_implicit_global_asset_job_def()


def _run_config(config: dict) -> Callable[[Path], Any]:
    def run(_: Path) -> Any:
        return dg.validate_run_config(_code_location_job(), {"resources": {"price_source": {"config": config}}})

    return run


def _deployment(environ: dict, kind: str | None = None, refinements: dict | None = None) -> Callable[[Path], Any]:
    def run(_: Path) -> Any:
        return load_settings(environ).price_source.resolve(kind, refinements or {})

    return run


def _settings(environ: dict) -> Callable[[Path], Any]:
    return lambda _: load_settings(environ)


STOOQ_TEST = {"MARKET_ASSETS_ENV": "test", "MARKET_ASSETS_SOURCE": "stooq", "MARKET_ASSETS_SYMBOLS": "AAPL",
              "MARKET_ASSETS_SOURCE_BASE_URL": "https://stooq.example/q/d/l/"}
FILES_TEST = {"MARKET_ASSETS_ENV": "test", "MARKET_ASSETS_SOURCE": "files", "MARKET_ASSETS_SOURCE_DIRECTORY": "/data"}


def _redacted(text: str) -> Callable[[Path], str]:
    def run(_: Path) -> str:
        register_secret(SECRET)
        return redact(text)

    return run


def _validate_stored(extra: list[dict], sessions: list[dt.date] = WEEK) -> Callable[[Path], Any]:
    """Store a clean week plus ``extra`` rows as raw_prices does, then validate the week."""

    def run(_: Path) -> Any:
        raw = prices(*(bar(d, s) for d in WEEK for s in UNIVERSE), *extra)
        stored = store_under_sessions(raw, sessions)
        return stored, validate_prices(stored, sessions=sessions, universe=UNIVERSE)

    return run


def _nothing_lost(reason: str, received: Any, stored_in: dt.date) -> Callable[[Any], bool]:
    def check(outcome: Any) -> bool:
        stored, result = outcome
        rejected = result.rejections.filter(pl.col("reasons").str.contains(reason))
        return (
            result.validated.height + result.rejections.height == stored.height  # raw = validated + rejected
            and result.validated.height == len(WEEK) * len(UNIVERSE)
            and rejected.select("date", RECEIVED_DATE).rows() == [(stored_in, received)]
        )

    return check


def _io_case(action: str) -> Callable[[Path], Any]:
    keys = ["2025-01-02", "2025-01-03", "2025-01-06"]
    parts = dg.StaticPartitionsDefinition(keys)
    frame = pl.DataFrame({"date": [D.fromisoformat(k) for k in keys], "close": [1.0, 2.0, 3.0]})

    def output() -> dg.OutputContext:
        return dg.build_output_context(asset_key=dg.AssetKey("prices"), asset_partitions_def=parts,
                                       asset_partition_key_range=dg.PartitionKeyRange(keys[0], keys[-1]))

    def run(root: Path) -> Any:
        manager = PartitionedParquetIOManager(root=str(root))
        manager.handle_output(output(), frame)

        def load(metadata: dict | None = None) -> pl.DataFrame:
            return manager.load_input(dg.build_input_context(
                asset_key=dg.AssetKey("prices"), asset_partitions_def=parts, definition_metadata=metadata,
                asset_partition_key_range=dg.PartitionKeyRange(keys[0], keys[-1])))

        directory = root / "prices"
        if action == "hole":
            (directory / "2025-01-03.parquet").unlink()
            return load({"lookback_partitions": 2})
        if action == "history_absent":
            (directory / "2025-01-02.parquet").unlink()
            return load({"lookback_partitions": 2})
        if action == "target_absent":
            (directory / "2025-01-06.parquet").unlink()
            return load()
        if action == "corrupt":
            (directory / "2025-01-03.parquet").write_bytes(b"PAR1 not really")
            return load()
        if action == "stale_tmp":
            stale = directory / ".2025-01-02.parquet.dead.tmp"
            stale.write_bytes(b"half")
            os.utime(stale, (0, 0))
            manager.handle_output(output(), frame)
            return sorted(p.name for p in directory.iterdir())
        raise AssertionError(action)

    return run


def _full_disk(root: Path) -> Any:
    manager = PartitionedParquetIOManager(root=str(root))
    context = dg.build_output_context(asset_key=dg.AssetKey("prices"), partition_key="2025-01-02",
                                      asset_partitions_def=dg.StaticPartitionsDefinition(["2025-01-02"]))
    real = pl.DataFrame.write_parquet

    def full(self, file, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    pl.DataFrame.write_parquet = full  # type: ignore[method-assign]
    try:
        return manager.handle_output(context, pl.DataFrame({"date": [D(2025, 1, 2)]}))
    finally:
        pl.DataFrame.write_parquet = real  # type: ignore[method-assign]


def _http(*script: tuple[bytes, bytes, str], retries: int = 1) -> Callable[[Path], Any]:
    def run(_: Path) -> Any:
        server = FaultServer(*script)
        try:
            client = HttpClient(provider="stooq", retry=RetryPolicy(max_retries=retries, backoff=0.0, jitter=0.0),
                                sleep=lambda _: None)
            return client.get(server.base + "/q/d/l/", {"s": "aapl.us", "apikey": SECRET}, symbol="AAPL", parse=str)
        finally:
            server.close()

    return run


def _reversed_range_materialize(root: Path) -> Any:
    from market_assets.defs.assets.prices import raw_prices
    from market_assets.defs.resources import PriceSourceResource

    with dg.instance_for_test() as instance:
        dg.materialize(
            [raw_prices], instance=instance,
            resources={"parquet_io_manager": PartitionedParquetIOManager(root=str(root)),
                       "price_source": PriceSourceResource(kind="synthetic", n_symbols=3)},
            tags={"dagster/asset_partition_range_start": "2025-03-10",
                  "dagster/asset_partition_range_end": "2025-03-03"},
        )


def _reversed_range_cli(root: Path) -> Any:
    home = root / "home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "MARKET_ASSETS_DATA_ROOT": str(root / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "market_assets.definitions",
         "--select", "raw_prices", "--partition-range", "2025-03-10...2025-03-03"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    if done.returncode:
        raise RuntimeError(done.stdout[-4000:] + done.stderr[-4000:])
    return done


def _reconcile(action: str) -> Callable[[Path], Any]:
    def run(root: Path) -> Any:
        from market_assets.reconcile import find_discrepancies, record

        store = PartitionedParquetIOManager(root=str(root))
        parts = dg.StaticPartitionsDefinition(["2025-01-02", "2025-01-03"])
        (root / "prices").mkdir()
        name = "2025-01-04" if action == "misnamed" else "2025-01-02"
        pl.DataFrame({"date": [D(2025, 1, 2)]}).write_parquet(root / "prices" / f"{name}.parquet")
        with dg.instance_for_test() as instance:
            if action == "event_without_file":
                instance.report_runless_asset_event(dg.AssetMaterialization("prices", partition="2025-01-03"))
            found = find_discrepancies(instance, store, {dg.AssetKey("prices"): parts})
            recorded = record(instance, found)
            return [(d.partition, d.kind) for d in found], len(recorded), instance.get_materialized_partitions(
                dg.AssetKey("prices"))

    return run


def _run_monitoring(_: Path) -> Any:
    import yaml

    return yaml.safe_load((Path(__file__).resolve().parents[1] / "dagster.yaml").read_text())


def _files_source(body: str, name: str = "ACME.csv") -> Callable[[Path], Any]:
    def run(root: Path) -> Any:
        from market_assets.sources.files import FileSource

        (root / name).write_text(body)
        return FileSource(directory=root).fetch(D(2024, 1, 1), D(2024, 12, 31))

    return run


HEADER = "Date,Open,High,Low,Close,Adj Close,Volume\n"

# ---- the corpus --------------------------------------------------------------------------------

CASES: list[Case] = [
    # 1. secrets: run config never chooses hosts or key variables; key values are redacted
    Case("exfiltration_run_config_refused_by_schema", 1, _run_config(EXFILTRATION),
         Clear(dg.DagsterInvalidConfigError, r"unexpected config entries \"\['api_key_env', 'base_url'\]\"")),
    Case("run_config_base_url_alone_refused", 1, _run_config({"base_url": "http://attacker/"}),
         Clear(dg.DagsterInvalidConfigError, r"unexpected config entry \"base_url\"")),
    Case("run_config_api_key_env_alone_refused", 1, _run_config({"api_key_env": "DAGSTER_PG_PASSWORD"}),
         Clear(dg.DagsterInvalidConfigError, r"unexpected config entry \"api_key_env\"")),
    Case("run_refinement_base_url_refused", 1, _deployment(STOOQ_TEST, None, {"base_url": "http://attacker/"}),
         Clear(SourceOptionError, r"base_url is decided by the deployment.*never by a run")),
    Case("run_refinement_key_variable_refused", 1,
         _deployment(STOOQ_TEST, None, {"api_key_env": "DAGSTER_PG_PASSWORD"}),
         Clear(SourceOptionError, r"api_key_env is decided by the deployment.*never by a run")),
    Case("key_echoed_in_json_redacted", 1, _redacted(f'{{"Error Message": "bad key {SECRET}"}}'),
         Handled(lambda text: SECRET not in text and "bad key ***" in text, "the value is replaced")),
    Case("key_echoed_as_key_equals_redacted", 1, _redacted(f"Information: key={SECRET} reached the limit"),
         Handled(lambda text: text == "Information: key=*** reached the limit", "the value is replaced")),
    Case("key_echoed_url_encoded_redacted", 1, _redacted("GET /q?token=corpus-Secret%2BValue%2F42"),
         Handled(lambda text: "corpus-Secret" not in text, "the encoded value is replaced")),
    Case("key_variable_not_an_identifier", 1, _settings({"MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV": "my key"}),
         Clear(ValueError, r"MARKET_ASSETS_ALPHA_VANTAGE_KEY_ENV: api_key_env='my key': expected an environment")),
    Case("production_plain_http_endpoint_refused", 1,
         _settings({**STOOQ_TEST, "MARKET_ASSETS_ENV": "production", "MARKET_ASSETS_DATA_ROOT": "s3://b/p",
                    "MARKET_ASSETS_SOURCE_BASE_URL": "http://stooq.example/",
                    "MARKET_ASSETS_MLFLOW_URI": "postgresql://h/m", "MARKET_ASSETS_OPTUNA_URL": "postgresql://h/o"}),
         Clear(ValueError, r"MARKET_ASSETS_SOURCE_BASE_URL='http://stooq.example/': .*only over https")),
    # 2. run config refines the deployment's source, never replaces it
    Case("run_switching_kind_refused", 2, _deployment(STOOQ_TEST, "synthetic"),
         Clear(SourceOptionError, r"kind='synthetic' is refused: the deployment's price source is 'stooq' "
                                  r"\(MARKET_ASSETS_SOURCE\)")),
    Case("run_refining_symbols_keeps_kind_and_host", 2, _deployment(STOOQ_TEST, None, {"symbols": ["MSFT"]}),
         Handled(lambda r: r == ("stooq", {"symbols": ["MSFT"], "base_url": "https://stooq.example/q/d/l/"}),
                 "kind and host stay the deployment's")),
    Case("run_refining_directory_keeps_files_kind", 2, _deployment(FILES_TEST, None, {"directory": "/other"}),
         Handled(lambda r: r == ("files", {"directory": "/other"}), "still the files source")),
    Case("run_unknown_kind_refused_by_schema", 2, _run_config({"kind": "yahoo"}),
         Clear(dg.DagsterInvalidConfigError, r"kind not in enum type SourceKind got yahoo")),
    Case("run_lower_case_symbol_refused", 2, _deployment(STOOQ_TEST, None, {"symbols": ["aapl"]}),
         Clear(SourceOptionError, r"invalid symbol 'aapl'")),
    # 3. a hole in history fails naming the missing sessions
    Case("hole_inside_the_lookback", 3, _io_case("hole"),
         Clear(FileNotFoundError, r"1 partition\(s\) of prices inside the window 2025-01-02 … 2025-01-06 are not "
                                  r"materialized \(2025-01-03\)")),
    Case("history_before_the_first_stored_session", 3, _io_case("history_absent"),
         Handled(lambda frame: frame["date"].to_list() == [D(2025, 1, 3), D(2025, 1, 6)], "the rest is read")),
    Case("target_partition_missing", 3, _io_case("target_absent"),
         Clear(FileNotFoundError, r"prices partition 2025-01-06 has not been materialized \(expected .*2025-01-06")),
    # 4. errors that say where; transient faults retried
    Case("corrupt_parquet_partition", 4, _io_case("corrupt"),
         Clear(ValueError, r"prices partition 2025-01-03 cannot be read \(.*prices/2025-01-03.parquet\)")),
    Case("full_disk", 4, _full_disk,
         Clear(OSError, r"writing partition 2025-01-02 to .*prices/2025-01-02.parquet failed: No space left")),
    Case("truncated_http_body_retried", 4, _http(TRUNCATED, GOOD),
         Handled(lambda body: body.startswith("Date,Open"), "the retry's body is returned")),
    Case("corrupt_gzip_body_retried", 4, _http(BAD_GZIP, GOOD),
         Handled(lambda body: body.startswith("Date,Open"), "the retry's body is returned")),
    Case("reset_mid_body_retried", 4, _http(RESET, GOOD),
         Handled(lambda body: body.startswith("Date,Open"), "the retry's body is returned")),
    Case("truncated_http_body_until_retries_run_out", 4, _http(TRUNCATED),
         Clear(SourceError, r"^stooq: no data for 'AAPL' after 2 attempts; last failure: truncated or undecodable "
                            r"body \(ChunkedEncodingError.*\(GET http://127.0.0.1:\d+/q/d/l/\?s=aapl.us&apikey=\*\*\*\)$")),
    Case("empty_partition_key_list", 4, lambda _: partition_dates([]),
         Clear(ValueError, r"no partition keys: .*start on or before its end")),
    Case("reversed_range_tags", 4, _reversed_range_materialize,
         Clear(ValueError, r"^the run's partition range is reversed: start 2025-03-10 is after end 2025-03-03, so it "
                           r"holds no session; give the earlier key first \(--partition-range 2025-03-03...2025-03-10, "
                           r"or tags dagster/asset_partition_range_start=2025-03-03 and "
                           r"dagster/asset_partition_range_end=2025-03-10\)$"), slow=True),
    Case("reversed_range_cli", 4, _reversed_range_cli,
         Clear(RuntimeError, r"ValueError: the run's partition range is reversed: start 2025-03-10 is after end "
                             r"2025-03-03.*--partition-range 2025-03-03...2025-03-10"), slow=True),
    # 5. leftovers
    Case("stale_temporary_file_removed", 5, _io_case("stale_tmp"),
         Handled(lambda names: names == ["2025-01-02.parquet", "2025-01-03.parquet", "2025-01-06.parquet"],
                 "only partition files remain")),
    Case("embedded_instance_monitors_runs", 5, _run_monitoring,
         Handled(lambda config: config["run_monitoring"]["enabled"] is True, "run monitoring is on")),
    Case("file_without_materialization_reconciled", 5, _reconcile("file_without_event"),
         Handled(lambda r: r[0] == [("2025-01-02", "file_without_event")] and r[1] == 1 and r[2] == {"2025-01-02"},
                 "listed, then recorded")),
    Case("materialization_without_file_listed", 5, _reconcile("event_without_file"),
         Handled(lambda r: ("2025-01-03", "event_without_file") in r[0] and r[2] == {"2025-01-02", "2025-01-03"},
                 "listed, not recorded")),
    Case("file_not_named_after_a_partition_never_recorded", 5, _reconcile("misnamed"),
         Handled(lambda r: r[0] == [("2025-01-04", "not_a_partition")] and r[1] == 0 and r[2] == set(),
                 "listed, never recorded")),
    # 6. nothing dropped: off-session and undated rows reach price_rejections
    Case("saturday_row_rejected_in_fridays_partition", 6, _validate_stored([bar(D(2024, 1, 6), "AAA")]),
         Handled(_nothing_lost("date_not_in_sessions", D(2024, 1, 6), D(2024, 1, 5)), "rejected, not dropped")),
    Case("sunday_row_rejected_in_fridays_partition", 6, _validate_stored([bar(D(2024, 1, 7), "BBB")]),
         Handled(_nothing_lost("date_not_in_sessions", D(2024, 1, 7), D(2024, 1, 5)), "rejected, not dropped")),
    Case("holiday_row_rejected_in_the_session_before", 6,
         _validate_stored([bar(D(2024, 1, 15), "AAA")], sessions=[*WEEK, D(2024, 1, 12), D(2024, 1, 16)]),
         Handled(lambda o: o[1].rejections.filter(pl.col(RECEIVED_DATE) == D(2024, 1, 15))
                 .select("date", "reasons").rows() == [(D(2024, 1, 12), "date_not_in_sessions")],
                 "MLK day under the Friday before")),
    Case("undated_row_rejected_in_the_first_session", 6, _validate_stored([bar(None, "AAA")]),
         Handled(_nothing_lost("null_value;date_not_in_sessions", None, WEEK[0]), "rejected with both reasons")),
    Case("row_dated_after_the_last_session", 6, _validate_stored([bar(D(2024, 1, 13), "AAA")]),
         Handled(_nothing_lost("date_not_in_sessions", D(2024, 1, 13), WEEK[-1]), "under the last session")),
    Case("row_dated_before_the_first_session", 6, _validate_stored([bar(D(2023, 12, 29), "AAA")]),
         Handled(_nothing_lost("date_not_in_sessions", D(2023, 12, 29), WEEK[0]), "under the first session")),
    Case("row_filed_under_another_session", 6,
         lambda _: validate_prices(
             store_under_sessions(prices(*(bar(d, s) for d in WEEK for s in UNIVERSE)), WEEK)
             .with_columns(pl.when(pl.col("date") == WEEK[1]).then(WEEK[2]).otherwise(pl.col("date")).alias("date")),
             sessions=WEEK, universe=UNIVERSE),
         Handled(lambda r: r.rejections.select("date", RECEIVED_DATE, "reasons").unique().rows()
                 == [(WEEK[2], WEEK[1], "date_not_in_sessions")] and r.rejections.height == 2
                 and r.validated.height == 2 * len(WEEK) - 2, "a file copied under another session is caught")),
    Case("received_date_of_the_wrong_dtype", 6,
         lambda _: validate_prices(store_under_sessions(prices(bar(WEEK[0])), WEEK[:1])
                                   .with_columns(pl.col(RECEIVED_DATE).cast(pl.String)),
                                   sessions=WEEK[:1], universe=["AAA"]),
         Handled(lambda r: [o.check_name for o in r.blocking_failures] == ["prices_have_schema"]
                 and "column 'received_date' has dtype String" in r.outcomes[0].details, "ERROR, names the column")),
    Case("symbols_with_the_synthetic_source_name_the_variable", 6, _settings({"MARKET_ASSETS_SYMBOLS": "AAPL"}),
         Clear(ValueError, r"MARKET_ASSETS_SYMBOLS=\['AAPL'\] does not apply to price source 'synthetic'")),
    # the holds of the issue's introduction: parse errors say where, symbols are checked, bad settings named
    Case("csv_bad_number", 0, _files_source(HEADER + "2024-01-02,10,11,9,abc,10,100\n"),
         Clear(SourceError, r"ACME.csv: column 'Close', row 1: cannot parse 'abc'")),
    Case("csv_bad_date", 0, _files_source(HEADER + "02/01/2024,10,11,9,10,10,100\n"),
         Clear(SourceError, r"ACME.csv: column 'Date', row 1: cannot parse '02/01/2024' as a date")),
    Case("csv_empty_date", 0, _files_source(HEADER + ",10,11,9,10,10,100\n"),
         Clear(SourceError, r"ACME.csv: column 'Date', row 1: the date is empty")),
    Case("csv_missing_columns", 0, _files_source("Date,Open\n2024-01-02,10\n"),
         Clear(SourceError, r"ACME.csv: missing column 'high' .*columns found: \['Date', 'Open'\]")),
    Case("path_traversal_symbol_in_settings", 0,
         _settings({**STOOQ_TEST, "MARKET_ASSETS_SYMBOLS": "../etc/passwd"}),
         Clear(ValueError, r"MARKET_ASSETS_SYMBOLS: invalid symbol '../etc/passwd'")),
    Case("unknown_environment", 0, _settings({"MARKET_ASSETS_ENV": "bogus"}),
         Clear(ValueError, r"MARKET_ASSETS_ENV='bogus': expected one of \['local', 'test', 'production'\]")),
    Case("bad_start_date", 0, _settings({"MARKET_ASSETS_START": "2016-13-01"}),
         Clear(ValueError, r"MARKET_ASSETS_START='2016-13-01': expected an ISO date")),
    Case("base_url_not_http", 0, _settings({**STOOQ_TEST, "MARKET_ASSETS_SOURCE_BASE_URL": "ftp://x"}),
         Clear(ValueError, r"MARKET_ASSETS_SOURCE_BASE_URL: base_url='ftp://x': expected an http:// or https://")),
    Case("unknown_calendar", 0, lambda _: __import__("market_assets.defs.partitions", fromlist=["x"])
         .session_partitions(load_settings({"MARKET_ASSETS_CALENDAR": "XXXX"})),
         Clear(ValueError, r"unknown exchange calendar 'XXXX'")),
    Case("alpha_vantage_key_variable_unset", 0,
         lambda _: __import__("market_assets.sources.alpha_vantage", fromlist=["x"]).AlphaVantageSource(
             symbols=["AAPL"], api_key_env="MARKET_ASSETS_CORPUS_UNSET_KEY"),
         Clear(ValueError, r"alpha_vantage: environment variable MARKET_ASSETS_CORPUS_UNSET_KEY is not set")),
]

def corpus_counts() -> dict[str, int]:
    """Cases here and in the validation corpus by expected outcome (every case's test must pass).

    ``raised``: a clear exception (this file's Clear cases); ``flagged``: checks
    fail naming the rows or cells, which go to ``price_rejections`` with their
    reasons (validation cases with failed checks); ``handled``: no error is due
    and none is raised (a retry, a redaction, rows routed, a file recorded, a
    split explained by adj_close).
    """
    validation = test_bad_inputs.CASES
    raised = sum(isinstance(c.expect, Clear) for c in CASES)
    flagged = sum(bool(c.failed) for c in validation)
    return {
        "cases": len(CASES) + len(validation),
        "raised": raised,
        "flagged": flagged,
        "handled": len(CASES) - raised + len(validation) - flagged,
    }


def _outcome(case: Case, tmp_path: Path) -> tuple[str, Any]:
    try:
        return "returned", case.run(tmp_path)
    except Exception as error:  # noqa: BLE001 - classified below
        return "raised", error


def _judge(case: Case, tmp_path: Path) -> None:
    how, value = _outcome(case, tmp_path)
    expect = case.expect
    if isinstance(expect, Clear):
        assert how == "raised", f"silent wrong: {case.id} returned {value!r} instead of raising"
        assert isinstance(value, expect.error), f"crash: {case.id} raised {type(value).__name__}: {value}"
        assert re.search(expect.pattern, str(value), re.S), f"unclear error in {case.id}: {value}"
    else:
        assert how == "returned", f"crash: {case.id} raised {type(value).__name__}: {value}"
        assert expect.check(value), f"silent wrong or data lost in {case.id} ({expect.what}): {value!r}"


FAST = [pytest.param(c, id=c.id) for c in CASES if not c.slow]
SLOW = [pytest.param(c, id=c.id, marks=pytest.mark.slow) for c in CASES if c.slow]


@pytest.mark.parametrize("case", FAST + SLOW)
def test_each_bad_input_has_its_clear_outcome(case: Case, tmp_path: Path) -> None:
    _judge(case, tmp_path)


def test_a_reversed_range_on_an_asset_with_inputs_names_both_keys(tmp_path: Path) -> None:
    from market_assets.defs.assets.prices import validate_prices_step
    from market_assets.defs.partitions import SESSIONS as SESSION_PARTITIONS
    from market_assets.defs.resources import PriceSourceResource

    raw = dg.AssetSpec("raw_prices", partitions_def=SESSION_PARTITIONS).with_io_manager_key("parquet_io_manager")
    with dg.instance_for_test() as instance, pytest.raises(Exception) as raised:
        dg.materialize(
            [raw, validate_prices_step], instance=instance, selection=[validate_prices_step],
            resources={"parquet_io_manager": PartitionedParquetIOManager(root=str(tmp_path)),
                       "price_source": PriceSourceResource(kind="synthetic", n_symbols=3)},
            tags={"dagster/asset_partition_range_start": "2025-03-10", "dagster/asset_partition_range_end": "2025-03-03"},
        )
    text = f"{raised.value} {getattr(raised.value, 'user_exception', '')}"
    assert "reversed: start 2025-03-10 is after end 2025-03-03" in text, text


def test_the_corpus_covers_every_item_of_the_issue_and_is_large_enough() -> None:
    assert {c.item for c in CASES} == {0, 1, 2, 3, 4, 5, 6}
    assert len({c.id for c in CASES}) == len(CASES)
    counts = corpus_counts()
    assert counts["cases"] >= 60 and counts["cases"] == counts["raised"] + counts["flagged"] + counts["handled"]


def test_a_crash_or_a_silent_wrong_fails_the_corpus(tmp_path: Path) -> None:
    crash = Case("crash", 0, lambda _: [][0], Clear(ValueError, "x"))
    silent = Case("silent", 0, lambda _: None, Clear(ValueError, "x"))
    unclear = Case("unclear", 0, lambda _: partition_dates([]), Clear(ValueError, "names nothing like this"))
    lost = Case("lost", 0, lambda _: 1, Handled(lambda v: v == 2, "two rows"))
    for case, verdict in ((crash, "crash"), (silent, "silent wrong"), (unclear, "unclear error"), (lost, "data lost")):
        with pytest.raises(AssertionError, match=verdict):
            _judge(case, tmp_path)
