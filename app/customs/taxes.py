"""Cross-border retail import limits and tax (财关税〔2018〕49号).

Within the limits (¥5,000 a transaction, ¥26,000 a buyer a calendar year) duty is 0 and VAT
and consumption tax are levied at 70 %: rate = (consumption + VAT) / (1 − consumption) × 70 %.
A single indivisible item above ¥5,000 but within the annual limit pays full tax (duty, full
VAT and consumption tax) and still counts against the year's limit.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.customs.models import BuyerQuota, TaxRate

SINGLE_LIMIT = Decimal(5000)
ANNUAL_LIMIT = Decimal(26000)
RETAIL_SHARE = Decimal("0.7")
FEN = Decimal("0.01")


@dataclass(frozen=True)
class Rates:
    duty: Decimal
    vat: Decimal
    consumption: Decimal


@dataclass(frozen=True)
class LineTax:
    customs_tax: Decimal
    vat: Decimal
    consumption_tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.customs_tax + self.vat + self.consumption_tax


def round_fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


def rates_for(session: Session, gcodes: Sequence[str]) -> dict[str, Rates]:
    """The rates of each HS code: the longest matching prefix in the rate table."""
    # Only the rows that can match (a tariff has thousands): every prefix of every code.
    prefixes = {gcode[:length] for gcode in gcodes for length in range(len(gcode) + 1)}
    table = {
        row.hs_prefix: Rates(row.duty_rate, row.vat_rate, row.consumption_rate)
        for row in session.scalars(
            select(TaxRate).where(TaxRate.hs_prefix.in_(bindparam("prefixes", expanding=True))),
            {"prefixes": sorted(prefixes)},
        )
    }
    found: dict[str, Rates] = {}
    for gcode in gcodes:
        for length in range(len(gcode), -1, -1):
            if gcode[:length] in table:
                found[gcode] = table[gcode[:length]]
                break
        else:
            raise LookupError("the tax rate table has no default row (empty prefix)")
    return found


def line_tax(taxable: Decimal, rates: Rates, *, full: bool) -> LineTax:
    """Duty, VAT and consumption tax of one line's dutiable value, each rounded to the fen."""
    if full:
        duty = taxable * rates.duty
        consumption = (taxable + duty) / (1 - rates.consumption) * rates.consumption
        vat = (taxable + duty + consumption) * rates.vat
        return LineTax(round_fen(duty), round_fen(vat), round_fen(consumption))
    base = taxable / (1 - rates.consumption)
    return LineTax(
        Decimal("0.00"),
        round_fen(base * rates.vat * RETAIL_SHARE),
        round_fen(base * rates.consumption * RETAIL_SHARE),
    )


def dutiable_values(
    totals: Sequence[Decimal], freight: Decimal, insurance: Decimal
) -> list[Decimal]:
    """Each line's value plus its share (by value) of freight and insurance."""
    goods = sum(totals, Decimal(0))
    extra = freight + insurance
    if goods == 0:
        return list(totals)
    shares = [extra * t / goods for t in totals]
    return [t + s for t, s in zip(totals, shares, strict=True)]


def charge_quota(session: Session, *, buyer: str, year: int, amount: Decimal) -> bool:
    """Add ``amount`` to the buyer's year if it stays within the annual limit (atomic)."""
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        dialect_insert(BuyerQuota)
        .values(buyer_id_number=buyer, year=year, used=Decimal(0))
        .on_conflict_do_nothing()
    )
    # One conditional statement: concurrent lists of one buyer serialise on the row and the
    # limit is checked against the committed total, never against a stale read.
    result = session.execute(
        update(BuyerQuota)
        .where(
            BuyerQuota.buyer_id_number == buyer,
            BuyerQuota.year == year,
            BuyerQuota.used + amount <= ANNUAL_LIMIT,
        )
        .values(used=BuyerQuota.used + amount)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def used_quota(session: Session, *, buyer: str, year: int) -> Decimal:
    """What the buyer has used of the year's limit."""
    used = session.scalar(
        select(BuyerQuota.used).where(BuyerQuota.buyer_id_number == buyer, BuyerQuota.year == year)
    )
    return used if used is not None else Decimal(0)


def restore_quota(session: Session, *, buyer: str, year: int, amount: Decimal) -> None:
    """Give back what a cancelled or returned list had consumed."""
    session.execute(
        update(BuyerQuota)
        .where(BuyerQuota.buyer_id_number == buyer, BuyerQuota.year == year)
        .values(used=BuyerQuota.used - amount)
    )
