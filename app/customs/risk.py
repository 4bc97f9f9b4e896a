"""Risk lanes: rules as data, applied in the customary order, explainable and reproducible.

Order of selection: blocking rules → targeting rules → random selection at a minimum rate
per lane, stratified by the enterprise's credit class → top-up toward the expected rate of
each lane. A draw is reproducible from the seed stored with the decision.
"""

import hashlib
import json
import random
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, model_validator

from app.schemas import Schema


class Lane(StrEnum):
    GREEN = "GREEN"  # release automatically
    BLUE = "BLUE"  # release now, audit later
    YELLOW = "YELLOW"  # document review (300)
    RED = "RED"  # physical inspection (500)


SEVERITY = {Lane.GREEN: 0, Lane.BLUE: 1, Lane.YELLOW: 2, Lane.RED: 3}

Field_ = Literal[
    "gcode",
    "line_country",
    "country",
    "trade_mode",
    "goods_value",
    "unit_value",
    "credit_class",
    "enterprise_age_days",
    "ebc_code",
    "lists_per_buyer_24h",
    "lists_per_ebc_24h",
    "customs_code",
    "direction",
]
# The facts that are numbers; the others are codes, compared as text.
NUMERIC_FIELDS = frozenset(
    {"goods_value", "unit_value", "enterprise_age_days", "lists_per_buyer_24h", "lists_per_ebc_24h"}
)
ORDERINGS = frozenset({"gt", "ge", "lt", "le"})


def _is_finite_number(value: object) -> bool:
    try:
        return Decimal(str(value)).is_finite()
    except InvalidOperation:
        return False


class Condition(Schema):
    """One test on the list: a head field, or any line (gcode, line_country, unit_value)."""

    model_config = ConfigDict(frozen=True)

    field: Field_
    op: Literal["eq", "ne", "in", "prefix", "gt", "ge", "lt", "le"]
    value: str | Decimal | list[str]
    # unit_value bounds apply to the lines of this HS prefix only.
    hs_prefix: str | None = None

    @model_validator(mode="after")
    def _orders_numbers_only(self) -> "Condition":
        # Refused when written: a rule the engine cannot evaluate would fail every list's
        # lane assignment.
        if self.op in ORDERINGS:
            if self.field not in NUMERIC_FIELDS:
                raise ValueError(f"{self.op} compares numbers and {self.field} is not one")
            if isinstance(self.value, list) or not _is_finite_number(self.value):
                raise ValueError(f"{self.op} needs a number to compare with")
        return self


class Rule(Schema):
    model_config = ConfigDict(frozen=True)

    id: Annotated[str, Field(min_length=1, max_length=40)]
    when: Annotated[list[Condition], Field(min_length=1)]
    lane: Lane
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class RuleSetBody(Schema):
    """The rule set an administrator writes; stored as data, versioned on every change."""

    model_config = ConfigDict(frozen=True)

    blocking: list[Rule] = Field(default_factory=list)
    targeting: list[Rule] = Field(default_factory=list)
    # Minimum random selection: lane → credit class → rate (0..1).
    random: dict[Lane, dict[str, Decimal]] = Field(default_factory=dict)
    # Expected share of lists per lane; random top-up closes the gap to it.
    expected: dict[Lane, Decimal] = Field(default_factory=dict)


# Inspection rates of 2019 by credit class (DOMAIN.md §5) as the minimum physical selection.
DEFAULT_RULES = RuleSetBody(
    random={
        Lane.RED: {
            "advanced": Decimal("0.0057"),
            "general": Decimal("0.0244"),
            "discredited": Decimal("0.8476"),
        },
        Lane.YELLOW: {
            "advanced": Decimal("0.001"),
            "general": Decimal("0.01"),
            "discredited": Decimal("0.05"),
        },
    }
)


@dataclass(frozen=True)
class Facts:
    """What the rules look at, gathered once per list."""

    head: Mapping[str, Any]
    lines: Sequence[Mapping[str, Any]]

    def canonical(self) -> str:
        return json.dumps({"head": self.head, "lines": self.lines}, sort_keys=True, default=str)


@dataclass(frozen=True)
class Assessment:
    lane: Lane
    rule_ids: tuple[str, ...]
    reason: str
    seed: str
    draw: float
    inputs_hash: str


def _holds(condition: Condition, value: Any) -> bool:
    target = condition.value
    if value is None:
        return False
    match condition.op:
        case "eq":
            return str(value) == str(target)
        case "ne":
            return str(value) != str(target)
        case "in":
            return str(value) in (target if isinstance(target, list) else [str(target)])
        case "prefix":
            return str(value).startswith(str(target))
    number, bound = Decimal(str(value)), Decimal(str(target))
    return {
        "gt": number > bound,
        "ge": number >= bound,
        "lt": number < bound,
        "le": number <= bound,
    }[condition.op]


_LINE_FIELDS = {"gcode", "line_country", "unit_value"}


def _matches(rule: Rule, facts: Facts) -> bool:
    for condition in rule.when:
        if condition.field in _LINE_FIELDS:
            lines = [
                line
                for line in facts.lines
                if condition.hs_prefix is None or str(line["gcode"]).startswith(condition.hs_prefix)
            ]
            if not any(_holds(condition, line.get(condition.field)) for line in lines):
                return False
        elif not _holds(condition, facts.head.get(condition.field)):
            return False
    return True


def draw_for(seed: str, key: str) -> float:
    """The reproducible uniform draw of one list: the same seed and key give the same number."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return random.Random(digest).random()  # noqa: S311 - a sampling draw, not a secret


def assess(
    rules: RuleSetBody,
    facts: Facts,
    *,
    key: str,
    seed: str | None = None,
    realized: Callable[[Lane], Decimal] | None = None,
) -> Assessment:
    """Choose the lane of one list; ``realized`` gives each lane's recent share for top-up."""
    seed = seed or secrets.token_hex(16)
    inputs_hash = hashlib.sha256(facts.canonical().encode()).hexdigest()
    draw = draw_for(seed, key)

    def result(lane: Lane, ids: Sequence[str], reason: str) -> Assessment:
        return Assessment(lane, tuple(ids), reason, seed, draw, inputs_hash)

    for rule in rules.blocking:
        if _matches(rule, facts):
            return result(rule.lane, [rule.id], f"blocking rule {rule.id}: {rule.reason}")
    hits = [rule for rule in rules.targeting if _matches(rule, facts)]
    if hits:
        worst = max(hits, key=lambda r: SEVERITY[r.lane])
        return result(
            worst.lane,
            [r.id for r in hits],
            f"targeting rule {worst.id}: {worst.reason}",
        )
    credit = str(facts.head.get("credit_class", "general"))
    threshold = 0.0
    for lane in sorted(rules.random, key=lambda lane: -SEVERITY[lane]):
        threshold += float(rules.random[lane].get(credit, Decimal(0)))
        if draw < threshold:
            return result(lane, ["random"], f"random selection ({credit} rate)")
    if realized is not None:
        for lane in sorted(rules.expected, key=lambda lane: -SEVERITY[lane]):
            gap = rules.expected[lane] - realized(lane)
            if gap > 0 and draw_for(seed, f"{key}:top-up:{lane}") < float(gap):
                return result(lane, ["top-up"], f"top-up toward the expected {lane} rate")
    return result(Lane.GREEN, [], "no rule selected the list")
