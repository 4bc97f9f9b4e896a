"""Tax rates by HS code: the longest prefix of the code in the district's tariff wins."""

from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from app.customs import taxes
from app.customs.models import TaxRate


def _rate(prefix: str, vat: str) -> TaxRate:
    return TaxRate(
        hs_prefix=prefix,
        duty_rate=Decimal(0),
        vat_rate=Decimal(vat),
        consumption_rate=Decimal(0),
        note=f"test {prefix}",
    )


def test_the_longest_matching_prefix_wins_among_many_rows(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        # A tariff of thousands of rows; only the prefixes of the codes asked for can match.
        session.add_all(_rate(f"97{n:04d}", "0.11") for n in range(2000))
        session.add_all([_rate("9801", "0.01"), _rate("980102", "0.02"), _rate("98010203", "0.03")])
    with session_factory() as session:
        found = taxes.rates_for(session, ["9801020399", "9801990000", "9802000000"])
        default = taxes.rates_for(session, [""])[""]
    assert found["9801020399"].vat == Decimal("0.03")
    assert found["9801990000"].vat == Decimal("0.01")
    assert found["9802000000"] == default, "no prefix but the empty one: the default rate"
