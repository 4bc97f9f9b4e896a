"""``singlewindow forex rates load FILE``: rates from a CSV file into the rate table."""

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.forex import service


@pytest.fixture
def cli_database(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SW_DATABASE_URL", db_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_database")
def test_rates_load_from_a_csv_file(tmp_path: Path, session_factory: sessionmaker[Session]) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "currency,effective_date,rate\n502,2026-11-01,7.1234\n116,2026-11-01,0.047853\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["forex", "rates", "load", str(rates)])
    assert result.exit_code == 0, result.output
    assert "loaded 2 rates" in result.output
    with session_factory() as session:
        stored = service.list_rates(session, currency=None, on=date(2026, 11, 2))
        assert {(r.currency, r.rate, r.loaded_by) for r in stored} == {
            ("116", Decimal("0.047853"), "admin:cli"),
            ("502", Decimal("7.1234"), "admin:cli"),
        }


@pytest.mark.usefixtures("cli_database")
def test_a_bad_rate_file_is_refused_with_its_line(tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,effective_date,rate\n502,2026-11-01,-1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["forex", "rates", "load", str(rates)])
    assert result.exit_code == 2
    assert "line 2" in result.output
