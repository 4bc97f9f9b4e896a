"""Many banks' threads at once on PostgreSQL: the ledger never over-allocates, a bankRef
settles once however often it is retried."""

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_sessionmaker
from app.forex import service
from app.forex.models import Allocation, Ledger, Settlement
from app.forex.schemas import SettlementCreate, SettlementRead
from tests.forex.conftest import BANK, EXPORT_EBC

pytestmark = pytest.mark.postgres_only
THREADS = 50
Headers = dict[str, str]


@pytest.fixture
def wide_engine(db_url: str) -> Iterator[Engine]:
    """A pool with a connection per thread, so the threads really race."""
    engine = make_engine(db_url, pool_size=THREADS)
    yield engine
    engine.dispose()


@pytest.fixture
def invt_no(
    register: Callable[..., Headers],
    mandate: Callable[..., None],
    rates: Callable[..., None],
    trade_list: Callable[..., str],
) -> str:
    register(EXPORT_EBC, "ebc")
    mandate(EXPORT_EBC, BANK)
    rates(("502", "2026-01-01", "7.1"))
    return trade_list()  # value 1050.00 CNY


def race(
    factory: sessionmaker[Session], requests: list[SettlementCreate]
) -> list[tuple[SettlementRead, bool]]:
    start = threading.Barrier(len(requests))
    at = datetime(2026, 11, 2, 3, tzinfo=UTC)

    def one(data: SettlementCreate) -> tuple[SettlementRead, bool]:
        start.wait()
        with factory.begin() as session:
            return service.settle(session, bank_code=BANK, data=data, actor="bank:T", at=at)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(one, requests))


def request(invt_no: str, ref: str, amount: str) -> SettlementCreate:
    return SettlementCreate(
        kind="collection",  # type: ignore[arg-type]
        invt_no=invt_no,
        amount=Decimal(amount),
        currency="142",
        account_holder=EXPORT_EBC,
        bank_ref=ref,
    )


def ledger_totals(factory: sessionmaker[Session], invt_no: str) -> tuple[Decimal, Decimal]:
    with factory() as session:
        ledger = session.scalars(select(Ledger).where(Ledger.invt_no == invt_no)).one()
        journal = session.scalar(
            select(func.sum(Allocation.amount)).where(
                Allocation.ledger_id == ledger.id, Allocation.gnum.is_(None)
            )
        )
        return ledger.allocated, journal or Decimal(0)


def test_parallel_settlements_never_over_allocate_a_list(invt_no: str, wide_engine: Engine) -> None:
    factory = make_sessionmaker(wide_engine)
    results = race(factory, [request(invt_no, f"R{i}", "50") for i in range(THREADS)])
    settled = [r for r, _ in results if r.status == "settled"]
    assert len(settled) == 21, "21 × 50 = 1050, the list's value"
    assert all(r.status == "rejected" for r, _ in results if r.status != "settled")
    allocated, journal = ledger_totals(factory, invt_no)
    assert allocated == journal == Decimal("1050")
    assert sum((r.allocated or Decimal(0) for r in settled), Decimal(0)) == Decimal("1050")


def test_all_retries_of_one_bank_ref_yield_one_allocation(
    invt_no: str, wide_engine: Engine
) -> None:
    factory = make_sessionmaker(wide_engine)
    results = race(factory, [request(invt_no, "ONE", "400") for _ in range(THREADS)])
    first = results[0][0].model_dump()
    assert all(r.model_dump() == first for r, _ in results), "every retry, the same answer"
    assert sum(1 for _, replayed in results if not replayed) == 1
    assert results[0][0].status == "settled"
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Settlement)) == 1
    assert ledger_totals(factory, invt_no) == (Decimal("400"), Decimal("400"))
