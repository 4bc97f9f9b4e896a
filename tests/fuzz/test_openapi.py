"""Schemathesis over the whole OpenAPI schema, each operation called by callers who may use it.

Every operation gets cases valid by its schema (positive) and invalid ones (negative), sent by
each kind of caller that reaches its logic, with path ids of the seeded window most of the time
(tests/fuzz/world.py). Nothing may answer 5xx, nor raise through the app; responses must match
the schema (status codes, content types, headers, bodies). The suite runs two seeded examples
per operation and mode; ``SW_FUZZ_EXAMPLES=100`` makes a full run (about 16,000 requests per
database), ``SW_HYPOTHESIS_PROFILE=explore`` draws examples never seen before.
"""

import os
import time
import traceback
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

from tests.fuzz.conftest import Tally
from tests.fuzz.world import World, seed_world

Headers = dict[str, str]
EXAMPLES = int(os.environ.get("SW_FUZZ_EXAMPLES", "2"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ENTERPRISE = ("agent", "ebc")
OFFICERS = ("customs", "inspection")

# Who can reach each operation's logic (tests/fuzz/world.py names them). Every operation of the
# schema must be here, so a new endpoint cannot slip past the fuzzer.
CALLERS: dict[str, tuple[str, ...]] = {
    "POST /api/v1/enterprises": ("admin",),
    "GET /api/v1/enterprises": ("admin", "ebc"),
    "GET /api/v1/enterprises/{code}": ("admin", *ENTERPRISE),
    "PATCH /api/v1/enterprises/{code}": ("admin",),
    "POST /api/v1/enterprises/{code}/keys": ("admin", *ENTERPRISE),
    "GET /api/v1/enterprises/{code}/keys": ("admin", *ENTERPRISE),
    "DELETE /api/v1/keys/{key_id}": ("admin", "agent"),
    "GET /api/v1/enterprises/{code}/bank-mandates": ("admin", "ebc"),
    "PUT /api/v1/enterprises/{code}/bank-mandates": ("admin", "ebc"),
    "GET /api/v1/principals": ("admin",),
    "POST /api/v1/principals": ("admin",),
    "POST /api/v1/principals/{principal_id}/keys": ("admin", "bank"),
    "POST /api/v1/enterprises/{code}/certificates": ("admin", "agent"),
    "GET /api/v1/enterprises/{code}/certificates": ("admin", "agent"),
    "DELETE /api/v1/enterprises/{code}/certificates/{certificate_id}": ("admin", "agent"),
    "GET /api/v1/admin/outbox/failed": ("admin",),
    "POST /api/v1/admin/outbox/{message_id}/retry": ("admin",),
    "POST /api/v1/messages": ENTERPRISE,
    "GET /api/v1/receipts": ENTERPRISE,
    "GET /api/v1/inventories": (*ENTERPRISE, "customs"),
    "GET /api/v1/inventories/{key}": (*ENTERPRISE, *OFFICERS),
    "GET /api/v1/customs/queue": ("customs",),
    "POST /api/v1/customs/inventories/{key}/claim": ("customs",),
    "DELETE /api/v1/customs/inventories/{key}/claim": ("customs",),
    "POST /api/v1/customs/inventories/{key}/decisions": ("customs",),
    "GET /api/v1/customs/rules": ("customs", "admin"),
    "PUT /api/v1/customs/rules": ("admin",),
    "POST /api/v1/customs/rules/backtest": ("customs", "admin"),
    "POST /api/v1/summaries/preview": ("agent",),
    "GET /api/v1/summaries/overdue": ("agent", "customs"),
    "GET /api/v1/summaries/{sum_no}": (*ENTERPRISE, "customs"),
    "GET /api/v1/forex/trade-lists": ("bank",),
    "GET /api/v1/forex/trade-lists/{invt_no}": ("bank",),
    "POST /api/v1/forex/checks": ("bank",),
    "POST /api/v1/forex/settlements": ("bank",),
    "GET /api/v1/forex/settlements/{settlement_id}": ("bank",),
    "POST /api/v1/forex/settlements/{settlement_id}/reverse": ("bank",),
    "GET /api/v1/forex/alerts": ("bank", "admin"),
    "PUT /api/v1/forex/rates": ("admin",),
    "GET /api/v1/forex/rates": ("bank", "admin"),
    "GET /api/v1/forex/policy": ("bank", "admin"),
    "PUT /api/v1/forex/policy": ("admin",),
    "POST /api/v1/inspection/enterprise-filings": ENTERPRISE,
    "GET /api/v1/inspection/enterprise-filings": ("ebc", "inspection"),
    "POST /api/v1/inspection/goods-filings": ("ebc",),
    "GET /api/v1/inspection/goods-filings": ("ebc", "inspection"),
    "GET /api/v1/inspection/enterprise-filings/{filing_id}": (*ENTERPRISE, "inspection"),
    "POST /api/v1/inspection/enterprise-filings/{filing_id}/review": ("inspection",),
    "POST /api/v1/inspection/enterprise-filings/{filing_id}/cancel": ENTERPRISE,
    "POST /api/v1/inspection/enterprise-filings/{filing_id}/invalidate": ("inspection",),
    "GET /api/v1/inspection/goods-filings/{filing_id}": ("ebc", "inspection"),
    "POST /api/v1/inspection/goods-filings/{filing_id}/review": ("inspection",),
    "POST /api/v1/inspection/goods-filings/{filing_id}/cancel": ("ebc",),
    "POST /api/v1/inspection/goods-filings/{filing_id}/invalidate": ("inspection",),
    "GET /api/v1/inspection/negative-list": ("ebc", "inspection"),
    "PUT /api/v1/inspection/negative-list": ("admin",),
    "GET /api/v1/inspection/positive-list": ("ebc", "inspection"),
    "PUT /api/v1/inspection/positive-list": ("admin",),
    "GET /api/v1/inspection/bans": ("ebc", "inspection"),
    "PUT /api/v1/inspection/bans": ("admin",),
    "GET /api/v1/inspection/sampling": ("inspection", "admin"),
    "PUT /api/v1/inspection/sampling": ("admin",),
    "GET /api/v1/inspection/tasks": ("inspection",),
    "GET /api/v1/inspection/tasks/{task_id}": ("inspection",),
    "POST /api/v1/inspection/tasks/{task_id}/result": ("inspection",),
    "GET /api/v1/inspection/screenings/{invt_no}": OFFICERS,
    "GET /api/v1/sla/overview": ("customs",),
    "GET /api/v1/sla/inventories": ("customs",),
    "GET /api/v1/sla/alerts": ("customs",),
    "POST /api/v1/deliveries/secret": ENTERPRISE,
    "GET /api/v1/deliveries": ENTERPRISE,
    "POST /api/v1/deliveries/redrive": ("agent",),
    "GET /api/v1/deliveries/copies": ("agent",),
    "POST /api/v1/deliveries/copies": ("agent",),
    "DELETE /api/v1/deliveries/copies/{subscriber_code}": ("agent",),
    "GET /api/v1/deliveries/subscriptions": ("admin",),
    "POST /api/v1/deliveries/subscriptions": ("admin",),
    "DELETE /api/v1/deliveries/subscriptions/{subscription_id}": ("admin",),
    "GET /healthz": ("anonymous",),
    "GET /metrics": ("anonymous",),
}
# They can take a seeded caller's role, key or bank away: run after everything else.
RUN_LAST = (
    "PATCH /api/v1/enterprises/{code}",
    "PUT /api/v1/enterprises/{code}/bank-mandates",
    "DELETE /api/v1/keys/{key_id}",
)
# Kept as schemathesis generated it: no header, a malformed one or an unknown key (401).
GENERATED_AUTH = "generated"


@pytest.fixture
def world(
    client: TestClient,
    admin: Headers,
    register: Callable[..., Headers],
    run_outbox: Callable[[], int],
) -> World:
    return seed_world(client, admin, register, run_outbox)


def send(client: TestClient, case: schemathesis.Case) -> httpx.Response:
    """The case as schemathesis would send it, through the test client (one app, one lifespan)."""
    wire = case.as_transport_kwargs(base_url=str(client.base_url))
    body = wire.pop("data", None)
    json_body = wire.pop("json", None)
    unexpected = set(wire) - {"method", "url", "headers", "params", "cookies"}
    assert not unexpected, f"schemathesis sends {unexpected}: teach send() about them"
    return client.request(
        wire["method"],
        wire["url"],
        headers=wire["headers"],
        params=wire["params"],
        content=body,
        json=json_body,
    )


class Fuzzer:
    """Runs the cases of each operation and keeps the tally and the first failure of each kind."""

    def __init__(self, client: TestClient, world: World) -> None:
        self.client = client
        self.world = world
        self.statuses: Counter[int] = Counter()
        self.succeeded: set[str] = set()
        self.failures: dict[tuple[str, str], str] = {}
        self.nothing_to_negate: list[str] = []

    def run(self, operation: schemathesis.APIOperation, mode: GenerationMode) -> None:
        callers = CALLERS[operation.label]
        if mode is GenerationMode.NEGATIVE:
            callers = (*callers, GENERATED_AUTH)
        seeded_ids = {
            parameter.name: values
            for parameter in operation.path_parameters
            if (values := self.world.values_for(operation.path, parameter.name))
        }

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(generation_mode=mode),
            caller=st.sampled_from(callers),
            data=st.data(),
        )
        def fuzz(case: schemathesis.Case, caller: str, data: st.DataObject) -> None:
            if caller != GENERATED_AUTH:
                case.headers = {**(case.headers or {}), **self.world.callers[caller]}
                if caller == "anonymous":
                    case.headers.pop("Authorization", None)
            if mode is GenerationMode.POSITIVE:
                # Mostly names of things that exist, so the case gets past "not found".
                for name, values in seeded_ids.items():
                    if value := data.draw(st.one_of(st.sampled_from(values), st.none())):
                        case.path_parameters = {**(case.path_parameters or {}), name: value}
                if isinstance(case.body, dict):
                    for name in case.body.keys() & self.world.body_values.keys():
                        values = self.world.body_values[name]
                        if value := data.draw(st.one_of(st.sampled_from(values), st.none())):
                            case.body = {**case.body, name: value}
            if self.check(f"{operation.label} as {caller}", case):
                self.succeeded.add(operation.label)

        try:
            fuzz()
        except Unsatisfiable:
            # An operation without parameters or body has nothing to make invalid.
            assert mode is GenerationMode.NEGATIVE, operation.label
            self.nothing_to_negate.append(operation.label)

    def check(self, label: str, case: schemathesis.Case) -> bool:
        """Send the case and check the answer; whether it succeeded (2xx)."""
        try:
            response = send(self.client, case)
        except Exception:
            self.statuses[500] += 1
            self._fail(label, "unhandled exception", case, traceback.format_exc())
            return False
        self.statuses[response.status_code] += 1
        if response.status_code >= 500:
            self._fail(label, str(response.status_code), case, response.text)
            return False
        try:
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                self._fail(label, failure.title, case, failure.message)
        return response.is_success

    def _fail(self, label: str, what: str, case: schemathesis.Case, detail: str) -> None:
        self.failures.setdefault(
            (label, what), f"{case.as_curl_command(base_url='http://testserver')}\n{detail[-2000:]}"
        )


def test_every_operation_answers_its_callers_within_its_schema(
    client: TestClient, world: World, backend: str, fuzz_tally: Tally
) -> None:
    schema = schemathesis.openapi.from_dict(client.app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} == set(CALLERS)
    operations.sort(key=lambda op: op.label in RUN_LAST)
    fuzzer = Fuzzer(client, world)
    started, cpu = time.perf_counter(), time.process_time()

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzzer.run(operation, mode)

    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    fuzz_tally.append(
        f"schemathesis [{backend}]: {len(operations)} operations, {EXAMPLES} examples per "
        f"operation and mode, {fuzzer.statuses.total()} requests in {elapsed:.1f} s "
        f"({used:.1f} s CPU), "
        f"statuses {dict(sorted(fuzzer.statuses.items()))}, {len(fuzzer.failures)} failures "
        f"({len(fuzzer.nothing_to_negate)} operations without inputs to make invalid); "
        f"never 2xx: {sorted(set(CALLERS) - fuzzer.succeeded) or 'none'}"
    )
    if fuzzer.failures:
        pytest.fail(
            "\n\n".join(
                f"{label}: {what}\n{detail}" for (label, what), detail in fuzzer.failures.items()
            ),
            pytrace=False,
        )
