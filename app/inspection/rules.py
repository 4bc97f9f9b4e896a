"""Inspection's rules as pure functions: the lists' matching and the reproducible sampling draw.

The built-in lists (version 0) are starter excerpts so a fresh window works; a district
loads the lists it applies through the admin endpoints, which version every change.
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.inspection.schemas import (
    Ban,
    BanList,
    NegativeEntry,
    NegativeList,
    PositiveEntry,
    PositiveList,
    RiskTier,
    Sampling,
)
from app.registry.schemas import CreditClass

BONDED = "1210"
RATE_QUANTUM = Decimal("0.00001")
_DRAW_SPACE = Decimal(2**64)

DEFAULT_NEGATIVE = NegativeList(
    entries=[
        NegativeEntry(
            id="1-live-animals", category=1, hs_prefix="0106", reason="活动物: 动植物检疫法禁止"
        ),
        NegativeEntry(
            id="1-live-plants", category=1, hs_prefix="0602", reason="活植物: 动植物检疫法禁止"
        ),
        NegativeEntry(
            id="2-bovine-meat",
            category=2,
            hs_prefix="0201",
            reason="未获检疫准入的肉类产品",
            directions=["I"],
        ),
        NegativeEntry(id="3-fireworks", category=3, hs_prefix="3604", reason="烟花爆竹: 危险品"),
        NegativeEntry(
            id="4-blood-vaccines", category=4, hs_prefix="3002", reason="血液制品、疫苗: 特殊物品"
        ),
        NegativeEntry(
            id="5-radioactive", category=5, hs_prefix="2844", reason="放射性物质: 核生化有害因子"
        ),
        NegativeEntry(
            id="6-worn-clothing", category=6, hs_prefix="6309", reason="旧服装: 旧品、废品"
        ),
        NegativeEntry(id="6-second-hand", category=6, keyword="二手", reason="旧品: 二手物品"),
    ]
)

# An excerpt of the 2019 list (跨境电子商务零售进口商品清单), common retail goods only.
DEFAULT_POSITIVE = PositiveList(
    entries=[
        PositiveEntry(hs_code="0402", name="奶粉"),
        PositiveEntry(hs_code="1901101000", name="婴幼儿配方食品"),
        PositiveEntry(
            hs_code="2106909090", name="其他食品 (保健食品)", remark="限网购保税", bonded_only=True
        ),
        PositiveEntry(hs_code="3303", name="香水及花露水"),
        PositiveEntry(hs_code="3304", name="美容品或化妆品及护肤品"),
        PositiveEntry(hs_code="3305", name="护发品"),
        PositiveEntry(hs_code="3306", name="口腔及牙齿清洁剂"),
        PositiveEntry(hs_code="4202", name="箱包"),
        PositiveEntry(hs_code="6109", name="针织T恤衫"),
        PositiveEntry(hs_code="6403", name="皮革鞋面的鞋靴"),
        PositiveEntry(hs_code="9004", name="太阳镜"),
        PositiveEntry(hs_code="9102", name="手表"),
    ]
)

DEFAULT_BANS = BanList()

# DOMAIN.md §5-6: the 2019 inspection rates by credit class (advanced 0.57 %, general
# 2.44 %, discredited 84.76 %) are the medium tier's rate times the class factor.
DEFAULT_SAMPLING = Sampling(
    base_rates={
        RiskTier.LOW: Decimal("0.01"),
        RiskTier.MEDIUM: Decimal("0.0244"),
        RiskTier.HIGH: Decimal("0.10"),
    },
    credit_factors={
        CreditClass.ADVANCED: Decimal("0.2336"),
        CreditClass.GENERAL: Decimal("1"),
        CreditClass.DISCREDITED: Decimal("34.7377"),
    },
)


@dataclass(frozen=True)
class Line:
    """What inspection reads of one list line; country is the origin (import) or destination."""

    gnum: int
    gcode: str
    gname: str
    country: str
    item_no: str | None = None
    item_record_no: str | None = None


@dataclass(frozen=True)
class Hit:
    rule_id: str
    reason: str


def negative_hits(entries: NegativeList, lines: Sequence[Line], *, direction: str) -> list[Hit]:
    """Lines on the negative list (prefix and keyword both hold when both are given)."""
    hits = []
    for line in lines:
        for entry in entries.entries:
            if direction in entry.directions and _negative_match(entry, line):
                hits.append(
                    Hit(
                        f"negative:{entry.id}",
                        f"第{line.gnum}项 {line.gcode} {line.gname} "
                        f"属负面清单第{entry.category}类: {entry.reason}",
                    )
                )
    return hits


def _negative_match(entry: NegativeEntry, line: Line) -> bool:
    if entry.hs_prefix is not None and not line.gcode.startswith(entry.hs_prefix):
        return False
    return entry.keyword is None or entry.keyword in line.gname


def positive_hits(entries: PositiveList, lines: Sequence[Line], *, trade_mode: str) -> list[Hit]:
    """Import lines off the positive list, or bonded-only goods imported directly."""
    hits = []
    for line in lines:
        entry = _most_specific(entries.entries, line.gcode)
        if entry is None:
            hits.append(
                Hit(
                    "positive:absent",
                    f"第{line.gnum}项 {line.gcode} 不在跨境电商零售进口商品清单内",
                )
            )
        elif entry.bonded_only and trade_mode != BONDED:
            hits.append(
                Hit(
                    f"positive:bonded-only:{entry.hs_code}",
                    f"第{line.gnum}项 {line.gcode} 限网购保税进口 "
                    f"({entry.remark or entry.hs_code})",
                )
            )
    return hits


def _most_specific(entries: Sequence[PositiveEntry], gcode: str) -> PositiveEntry | None:
    matches = [entry for entry in entries if gcode.startswith(entry.hs_code)]
    return max(matches, key=lambda entry: len(entry.hs_code), default=None)


def ban_hits(bans: BanList, lines: Sequence[Line], *, at: datetime) -> list[Hit]:
    """Import lines from an origin country under an emergency ban in force at ``at``."""
    hits = []
    for line in lines:
        for ban in bans.bans:
            if _ban_applies(ban, line, at):
                hits.append(
                    Hit(
                        f"ban:{ban.id}",
                        f"第{line.gnum}项 {line.gcode} 原产国 {line.country} "
                        f"暂停进口: {ban.reason}",
                    )
                )
    return hits


def _ban_applies(ban: Ban, line: Line, at: datetime) -> bool:
    return (
        line.country == ban.country
        and (ban.hs_prefix is None or line.gcode.startswith(ban.hs_prefix))
        and ban.valid_from <= at
        and (ban.valid_to is None or at < ban.valid_to)
    )


def sampling_rate(sampling: Sampling, *, tier: RiskTier, credit_class: CreditClass) -> Decimal:
    """Base rate of the tier × factor of the class, at most 1, to the stored precision."""
    rate = sampling.base_rates[tier] * sampling.credit_factors[credit_class]
    return min(rate, Decimal(1)).quantize(RATE_QUANTUM)


def draw(seed: str, key: str) -> Decimal:
    """A uniform number in [0, 1) fixed by the seed and the list: the same inputs, the same draw."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return Decimal(int.from_bytes(digest[:8], "big")) / _DRAW_SPACE


def selected(rate: Decimal, *, seed: str, key: str) -> bool:
    """Whether the list is drawn for inspection at ``rate``."""
    return draw(seed, key) < rate
