"""三单对碰's partner lookup stays a few index entries per list, however many payments exist."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from app.customs.matching import _PARTNERS
from app.customs.models import Document

PAYMENTS = 3000


def _payment(n: int) -> Document:
    at = datetime(2026, 11, 29, tzinfo=UTC)
    return Document(
        kind="payment",
        direction="E",
        business_key=f"4301990002|PAY{n:06d}",
        ref_key=f"4301990001|ORDER{n:06d}",
        guid=str(uuid4()).upper(),
        app_type="1",
        app_time=at,
        app_status="2",
        status=120,
        sender_code="4301990002",
        message_id=uuid4(),
        head={},
        lines=[],
    )


def _index_entries_read(plan: dict[str, Any]) -> int:
    own = plan["Actual Rows"] if "Index" in plan["Node Type"] else 0
    return own + sum(_index_entries_read(child) for child in plan.get("Plans", []))


@pytest.mark.postgres_only
def test_a_money_document_is_found_by_its_order_without_reading_the_others(
    session_factory: sessionmaker[Session],
) -> None:
    # Statistics taken while the table was empty, as after a district's first start or a
    # bulk load before autovacuum catches up: the plan must not depend on them to stay small.
    with session_factory.begin() as session:
        session.execute(text("ANALYZE customs_document"))
    with session_factory.begin() as session:
        session.add_all(_payment(n) for n in range(PAYMENTS))
    statement = _PARTNERS["postgresql"].compile(dialect=postgresql.psycopg.dialect())  # type: ignore[no-untyped-call]
    values = {
        **statement.params,
        "direction": "E",
        "orders": ["4301990001|ORDER001234"],
        "waybills": ["4301990004|WB001234"],
    }
    # Bound values, planned for them as a prepared statement's first executions are.
    with session_factory() as session:
        plan = (
            session.connection()
            .exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", values)
            .scalar_one()
        )
    read = _index_entries_read(plan[0]["Plan"])
    assert read <= 10, f"finding 1 payment read {read} index entries of {PAYMENTS}"
