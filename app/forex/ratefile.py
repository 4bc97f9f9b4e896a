"""Rate files for the CLI: CSV with the columns currency, effective_date, rate."""

import csv
import io

from pydantic import ValidationError

from app.errors import RuleViolation
from app.forex.schemas import RateItem

COLUMNS = ("currency", "effective_date", "rate")


class BadRateFile(RuleViolation):
    pass


def parse(text: str) -> list[RateItem]:
    """Rates of a CSV file (header row first; rate = CNY for one unit, customs currency code)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not set(COLUMNS) <= set(reader.fieldnames):
        raise BadRateFile(f"the header must name the columns {', '.join(COLUMNS)}")
    items: list[RateItem] = []
    for row in reader:
        try:
            items.append(RateItem.model_validate({c: (row[c] or "").strip() for c in COLUMNS}))
        except ValidationError as exc:
            raise BadRateFile(f"line {reader.line_num}: {exc.errors()[0]['msg']}") from exc
    if not items:
        raise BadRateFile("the file holds no rates")
    return items
