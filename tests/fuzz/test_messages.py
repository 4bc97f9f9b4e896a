"""Mutated CEB messages through POST /api/v1/messages: refused or accepted, never a 5xx.

Seeds: our golden samples and the official 202205 samples (when ../shared is present), each
sent by the enterprise its BaseTransfer names, all of them filed. Mutations: tests/fuzz/
mutations.py. Every answer must be one the window documents, and a 200 or 400 must carry a
readable CEB message (XML or JSON as asked). The suite sends 150 seeded messages;
``SW_FUZZ_MESSAGES=10000`` makes the full run, ``SW_HYPOTHESIS_PROFILE=explore`` new ones.
"""

import json
import os
import random
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.fuzz.conftest import Tally
from tests.fuzz.mutations import CEB, GOLDEN, OFFICIAL, Mutated, mutate

Headers = dict[str, str]
COUNT = int(os.environ.get("SW_FUZZ_MESSAGES", "150"))
SEEDS = [*GOLDEN, *OFFICIAL]
ALL_ROLES = ("ebp", "ebc", "agent", "logistics", "payment", "operator", "guarantor")
# tests/samples/README.md: the golden parties and their roles.
GOLDEN_PARTIES = {
    **dict.fromkeys(("4301990001", "4301990011"), ("ebp",)),
    **dict.fromkeys(("4301990002", "4301990012"), ("ebc",)),
    **dict.fromkeys(("4301990003", "4301990013"), ("agent",)),
    **dict.fromkeys(("4301990004", "4301990014"), ("logistics",)),
    **dict.fromkeys(("4301990005", "4301990015"), ("payment",)),
    **dict.fromkeys(("4301990006", "4301990017"), ("operator",)),
    "4301990016": ("guarantor",),
}
# The enterprises the official samples name (one of their copCodes is no valid code).
OFFICIAL_PARTIES = dict.fromkeys(
    ("1105910159", "1105910158", "1101180326", "1101110325", "1101110323", "1101110326"),
    ALL_ROLES,
)
# Receipts and the unregistrable sender go in as the golden platform: refused either way.
FALLBACK_SENDER = "4301990001"
DOCUMENTED = frozenset({200, 400, 403, 409, 413})


@cache
def sender_of(seed: Path) -> str:
    found = re.search(rb"<ceb:copCode>([^<]+)</ceb:copCode>", seed.read_bytes())
    code = found.group(1).decode() if found else FALLBACK_SENDER
    return code if code in GOLDEN_PARTIES or code in OFFICIAL_PARTIES else FALLBACK_SENDER


@pytest.fixture
def senders(register: Callable[..., Headers]) -> dict[str, Headers]:
    parties = {**GOLDEN_PARTIES, **OFFICIAL_PARTIES}
    return {code: register(code, *roles) for code, roles in parties.items()}


def problem_with(response: httpx.Response) -> str | None:
    """Why the window's answer is wrong, or None."""
    if response.status_code not in DOCUMENTED:
        return f"status {response.status_code}"
    if response.status_code not in (200, 400):
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            json.loads(response.content)
        except ValueError as exc:
            return f"unreadable JSON reply: {exc}"
        return None
    try:
        root = etree.fromstring(response.content)
    except etree.XMLSyntaxError as exc:
        return f"unreadable XML reply: {exc}"
    if not (root.tag.startswith(f"{{{CEB}}}CEB") or root.tag.endswith("ReceiptBatch")):
        return f"reply is no CEB message: {root.tag}"
    return None


def test_mutated_messages_are_answered_without_a_server_error(
    client: TestClient,
    senders: dict[str, Headers],
    backend: str,
    fuzz_tally: Tally,
    tmp_path: Path,
) -> None:
    statuses: Counter[int] = Counter()
    by_form: dict[str, Counter[int]] = {}
    failures: list[str] = []

    def record(mutated: Mutated, problem: str) -> None:
        saved = tmp_path / f"{len(failures):04d}.body"
        saved.write_bytes(mutated.body)
        failures.append(
            f"{mutated.seed} {mutated.how} as {mutated.form} ({mutated.content_type}): "
            f"{problem}\n  body: {saved}"
        )

    @settings(
        max_examples=COUNT,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        seed=st.sampled_from(SEEDS),
        rnd_seed=st.integers(0, 2**32 - 1),
        junk=st.text(max_size=40),
    )
    def send(seed: Path, rnd_seed: int, junk: str) -> None:
        mutated = mutate(seed, random.Random(rnd_seed), junk)
        answered = by_form.setdefault(mutated.form, Counter())
        headers = {**senders[sender_of(seed)], "Content-Type": mutated.content_type}
        try:
            response = client.post("/api/v1/messages", content=mutated.body, headers=headers)
        except Exception:
            statuses[500] += 1
            answered[500] += 1
            record(mutated, traceback.format_exc()[-3000:])
            return
        statuses[response.status_code] += 1
        answered[response.status_code] += 1
        if problem := problem_with(response):
            record(mutated, f"{problem}\n  reply: {response.text[:1000]}")

    started, cpu = time.perf_counter(), time.process_time()
    send()
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu

    forms = {form: dict(sorted(counts.items())) for form, counts in sorted(by_form.items())}
    fuzz_tally.append(
        f"messages [{backend}]: {statuses.total()} mutated messages of {len(SEEDS)} samples in "
        f"{elapsed:.1f} s ({used:.1f} s CPU), statuses {dict(sorted(statuses.items()))} "
        f"(by form {forms}), {len(failures)} failures"
    )
    if failures:
        pytest.fail("\n\n".join(failures[:50]), pytrace=False)
