"""Per-symbol CSV / Parquet files in Yahoo and Stooq layouts, and the bad inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from market_assets.schema import PRICE_SCHEMA, InvalidSymbolError
from market_assets.sources.base import SourceError
from market_assets.sources.files import FileSource

YAHOO_CSV = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-03,184.22,185.88,183.43,184.25,183.34,58414460
2024-01-02,187.15,188.44,183.885,185.64,184.72,82488674
2024-01-04,182.15,183.0872,180.88,181.91,null,71983570
"""
STOOQ_CSV = """DATA,OPEN,HIGH,LOW,CLOSE,VOLUME
2024-01-02,373.86,375.9,366.77,370.87,25258600
2024-01-03,369.01,373.26,368.51,370.6,23083500
"""
ALL = (dt.date(2000, 1, 1), dt.date(2030, 1, 1))


@pytest.fixture
def prices_dir(tmp_path: Path) -> Path:
    (tmp_path / "AAPL.csv").write_text(YAHOO_CSV)
    (tmp_path / "MSFT.CSV").write_text(STOOQ_CSV)
    pl.DataFrame(
        {
            "date": [dt.date(2024, 1, 2), dt.date(2024, 1, 3)],
            "Open": [10.0, 11.0],
            "high": [12, 13],
            "LOW": [9.5, 10.5],
            "Close": [11.0, 12.0],
            "adj close": [5.5, 6.0],
            "Volume": [1000, 2000],
        }
    ).write_parquet(tmp_path / "^GSPC.Parquet")
    (tmp_path / "notes.txt").write_text("ignored")
    return tmp_path


def test_reads_yahoo_stooq_and_parquet_case_insensitively(prices_dir: Path) -> None:
    source = FileSource(directory=prices_dir)
    assert source.symbols() == ["AAPL", "MSFT", "^GSPC"]
    frame = source.fetch(*ALL)
    assert frame.schema == pl.Schema(PRICE_SCHEMA)
    assert (frame["source"] == "files").all()
    assert frame.equals(frame.sort("date", "symbol"))
    aapl = frame.filter(pl.col("symbol") == "AAPL")
    assert aapl["date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3), dt.date(2024, 1, 4)]
    assert aapl["adj_close"].to_list() == [184.72, 183.34, None]  # Yahoo's "null" kept as a null
    msft = frame.filter(pl.col("symbol") == "MSFT")
    assert msft["adj_close"].to_list() == msft["close"].to_list() == [370.87, 370.6]  # Stooq: no adjusted close
    gspc = frame.filter(pl.col("symbol") == "^GSPC")
    assert gspc["high"].to_list() == [12.0, 13.0] and gspc["adj_close"].to_list() == [5.5, 6.0]


def test_fetch_filters_the_date_range_and_symbols_option(prices_dir: Path) -> None:
    frame = FileSource(directory=prices_dir, symbols=["AAPL"]).fetch(dt.date(2024, 1, 3), dt.date(2024, 1, 3))
    assert frame.select("symbol", "close").rows() == [("AAPL", 184.25)]


def test_missing_file_for_a_symbol(prices_dir: Path) -> None:
    with pytest.raises(
        ValueError, match=r"no file for symbol\(s\) \['IBM'\].*symbols with files: \['AAPL', 'MSFT', '\^GSPC'\]"
    ):
        FileSource(directory=prices_dir, symbols=["IBM"])


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        FileSource(directory=tmp_path / "nope")


@pytest.mark.parametrize("symbol", ["../etc/passwd", "AAPL;rm -rf", "aapl", "", "..", "A/B"])
def test_unsafe_or_lower_case_symbols_are_refused(prices_dir: Path, symbol: str) -> None:
    with pytest.raises(InvalidSymbolError, match="invalid symbol"):
        FileSource(directory=prices_dir, symbols=[symbol])


def test_a_symlink_leading_out_of_the_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text(YAHOO_CSV)
    inside = tmp_path / "data"
    inside.mkdir()
    (inside / "AAPL.csv").symlink_to(outside)
    with pytest.raises(SourceError, match="outside .*refusing to read it"):
        FileSource(directory=inside)


def test_lower_case_file_name_is_an_error_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "aapl.csv").write_text(YAHOO_CSV)
    with pytest.raises(ValueError, match=r"aapl.csv is not named after a valid symbol"):
        FileSource(directory=tmp_path)


def test_two_files_for_one_symbol_is_an_error(prices_dir: Path) -> None:
    (prices_dir / "AAPL.parquet").write_bytes(b"")
    with pytest.raises(ValueError, match="two files for 'AAPL'"):
        FileSource(directory=prices_dir)


def _source_with(tmp_path: Path, text: str) -> FileSource:
    (tmp_path / "BAD.csv").write_text(text)
    return FileSource(directory=tmp_path)


def test_missing_column_names_file_column_and_columns_found(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "Date,Open,High,Low,Volume\n2024-01-02,1,2,0.5,10\n")
    with pytest.raises(
        SourceError,
        match=r"BAD.csv: missing column 'close' .*columns found: \['Date', 'Open', 'High', 'Low', 'Volume'\]",
    ):
        source.fetch(*ALL)


def test_bad_number_names_file_column_row_and_value(tmp_path: Path) -> None:
    source = _source_with(
        tmp_path, "Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1,2,0.5,1.5x,10\n"
    )
    with pytest.raises(SourceError, match=r"BAD.csv: column 'Close', row 2: cannot parse '1.5x' as a number"):
        source.fetch(*ALL)


def test_bad_date_names_file_column_row_and_value(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "Date,Open,High,Low,Close,Volume\n02/01/2024,1,2,0.5,1.5,10\n")
    with pytest.raises(SourceError, match=r"BAD.csv: column 'Date', row 1: cannot parse '02/01/2024' as a date"):
        source.fetch(*ALL)


def test_empty_file(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "")
    with pytest.raises(SourceError, match=r"BAD.csv: empty CSV"):
        source.fetch(*ALL)


def test_header_only_file_gives_no_rows(tmp_path: Path) -> None:
    source = _source_with(tmp_path, "Date,Open,High,Low,Close,Volume\n")
    frame = source.fetch(*ALL)
    assert frame.is_empty() and frame.schema == pl.Schema(PRICE_SCHEMA)


def test_rows_are_kept_as_received(tmp_path: Path) -> None:
    """Defects (high < low, duplicates, negative volume) are the validation layer's job."""
    text = "Date,Open,High,Low,Close,Volume\n2024-01-02,1,0.5,2,1.5,-10\n2024-01-02,1,0.5,2,1.5,-10\n"
    frame = _source_with(tmp_path, text).fetch(*ALL)
    assert frame.select("high", "low", "volume").rows() == [(0.5, 2.0, -10.0)] * 2
