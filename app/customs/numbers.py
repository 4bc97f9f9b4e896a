"""Customs numbers: preNo "B"+date+serial, invtNo customs code+year+I/E+serial (18 chars)."""

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


def pre_no(serial: int, at: datetime) -> str:
    return f"B{china_date(at)}{serial % _MODULUS:0{SERIAL_DIGITS}d}"


def invt_no(serial: int, *, customs_code: str, direction: str, at: datetime) -> str:
    year = at.astimezone(CHINA).year
    return f"{customs_code}{year}{direction}{serial % _MODULUS:0{SERIAL_DIGITS}d}"
