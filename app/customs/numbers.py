"""Customs numbers: preNo "B"+date+serial, invtNo customs code+year+I/E+serial (18 chars)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.ceb.times import CHINA, china_date

SERIAL_DIGITS = 9
_MODULUS = 10**SERIAL_DIGITS


def allocate(session: Session, count: int) -> list[int]:
    """``count`` fresh serials. PostgreSQL sequences never block concurrent requests."""
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return list(
            session.scalars(
                text("SELECT nextval('customs_number_seq') FROM generate_series(1, :n)"),
                {"n": count},
            )
        )
    last = session.scalar(
        text(
            "UPDATE customs_number_counter SET value = value + :n WHERE name = 'number' "
            "RETURNING value"
        ),
        {"n": count},
    )
    assert last is not None, "the migration seeds the counter"  # noqa: S101
    return list(range(last - count + 1, last + 1))


@dataclass(frozen=True)
class ListNumbers:
    """What a new inventory list is given before it is judged: its row id and two serials."""

    inventory_id: int
    pre_serial: int
    invt_serial: int  # used if customs accepts the list; a gap in the serials otherwise


def reserve_lists(session: Session, count: int) -> list[ListNumbers]:
    """Ids and serials for ``count`` new lists, in one statement.

    With its id known, a list is judged before it is stored and goes into the database once,
    at its final status, in one executemany with the rest of its message.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT nextval('customs_inventory_id_seq'), nextval('customs_number_seq'), "
                "nextval('customs_number_seq') FROM generate_series(1, :n)"
            ),
            {"n": count},
        )
        return [ListNumbers(*row) for row in rows]
    # SQLite has one writer at a time (BEGIN IMMEDIATE): the next ids are free until commit.
    last_id = session.scalar(text("SELECT coalesce(max(id), 0) FROM customs_inventory")) or 0
    serials = allocate(session, 2 * count)
    return [ListNumbers(last_id + 1 + n, serials[2 * n], serials[2 * n + 1]) for n in range(count)]


def pre_no(serial: int, at: datetime) -> str:
    return f"B{china_date(at)}{serial % _MODULUS:0{SERIAL_DIGITS}d}"


def invt_no(serial: int, *, customs_code: str, direction: str, at: datetime) -> str:
    year = at.astimezone(CHINA).year
    return f"{customs_code}{year}{direction}{serial % _MODULUS:0{SERIAL_DIGITS}d}"
