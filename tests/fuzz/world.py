"""A small populated window for the API fuzzer: every kind of caller and an id for every path.

Built through the API (and the outbox), like a real deployment gets its data: the golden
export story with quarantined goods gives one released list (settled by a bank and summarised)
and one held by an open inspection task; filings, a certificate, a spare key, push channels.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.customs.conftest import EXPORT_PARTIES, ExportStory
from tests.summaries.messages import send, summary_apply
from tests.support.filings import file_golden_export_goods
from tests.support.identities import make_rsa_identity

Headers = dict[str, str]
AGENT, EBC = "4301990003", "4301990002"
# Filed only to be a target: the fuzzer may deactivate it or change its roles.
BYSTANDER = "4301990099"
BANK = "BANKA001"
CUSTOMS_CODE = "4900"


@dataclass(frozen=True)
class World:
    callers: dict[str, Headers]
    path_values: dict[str, list[str]]
    # Values for top-level body fields of the same name.
    body_values: dict[str, list[str]]

    def values_for(self, path: str, parameter: str) -> list[str]:
        """Seeded values of a path parameter (filing ids name two kinds of filing)."""
        if parameter == "filing_id":
            kind = "enterprise" if "/enterprise-filings/" in path else "goods"
            parameter = f"{kind}_filing_id"
        return self.path_values.get(parameter, [])


def _created(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def seed_world(
    client: TestClient,
    admin: Headers,
    register: Callable[..., Headers],
    run_outbox: Callable[[], int],
) -> World:
    parties = {code: register(code, *roles) for code, roles in EXPORT_PARTIES.items()}
    register(BYSTANDER, "ebc")
    agent, ebc = parties[AGENT], parties[EBC]

    def principal(**body: Any) -> tuple[str, Headers]:
        created = _created(client.post("/api/v1/principals", json=body, headers=admin))
        return created["principal"]["id"], {"Authorization": f"Bearer {created['key']['key']}"}

    _, customs = principal(kind="officer", name="关员", agency="customs", customs_codes=["4900"])
    _, inspector = principal(
        kind="officer", name="检验员", agency="inspection", customs_codes=["4900"]
    )
    bank_id, bank = principal(kind="bank", name="湘江银行", bank_code=BANK)

    assert client.put("/api/v1/customs/rules", json={}, headers=admin).status_code == 200
    file_golden_export_goods(client, ebc, inspector, quarantine=True)
    story = ExportStory(client, parties)

    released = story.declare("A")
    run_outbox()
    [task_a] = client.get("/api/v1/inspection/tasks", headers=inspector).json()
    passed = client.post(
        f"/api/v1/inspection/tasks/{task_a['id']}/result",
        json={"outcome": "pass", "reason": "检疫合格"},
        headers=inspector,
    )
    _created(passed)
    run_outbox()
    assert story.get(released["invt_no"])["status"] == 800
    held = story.declare("B")
    run_outbox()
    [task_b] = client.get("/api/v1/inspection/tasks", headers=inspector).json()

    mandate = [{"bank_code": BANK}]
    _created(client.put(f"/api/v1/enterprises/{EBC}/bank-mandates", json=mandate, headers=admin))
    rates = {"rates": [{"currency": "502", "effective_date": "2026-10-01", "rate": "7.10"}]}
    _created(client.put("/api/v1/forex/rates", json=rates, headers=admin))
    settlement = _created(
        client.post(
            "/api/v1/forex/settlements",
            json={
                "kind": "collection",
                "invt_no": released["invt_no"],
                "amount": "100.00",
                "currency": "142",
                "account_holder": EBC,
                "value_date": "2026-11-02",
                "bank_ref": "SEED-1",
            },
            headers=bank,
        )
    )
    sum_no = send(client, agent, summary_apply((released["invt_no"],)))["sumNo"]

    received_filing = _created(
        client.post(
            "/api/v1/inspection/enterprise-filings",
            json={
                "customs_code": CUSTOMS_CODE,
                "name": "长沙报关行",
                "address": "长沙",
                "contact": "赵六",
                "phone": "0731-80000001",
            },
            headers=agent,
        )
    )
    enterprise_filings = client.get("/api/v1/inspection/enterprise-filings", headers=ebc).json()
    goods_filings = client.get("/api/v1/inspection/goods-filings", headers=ebc).json()

    identity = make_rsa_identity(1001, "fuzz")
    certificate = _created(
        client.post(
            f"/api/v1/enterprises/{AGENT}/certificates",
            json={"certificate": identity.cert_pem.decode()},
            headers=agent,
        )
    )
    spare_key = _created(client.post(f"/api/v1/enterprises/{AGENT}/keys", headers=agent))
    _created(client.post("/api/v1/deliveries/secret", headers=agent))
    _created(client.post("/api/v1/deliveries/copies", json={"subscriber_code": EBC}, headers=agent))
    subscription = _created(
        client.post(
            "/api/v1/deliveries/subscriptions",
            json={
                "name": "口岸办",
                "callback_url": "https://example.com/alerts",
                "customs_codes": [CUSTOMS_CODE],
            },
            headers=admin,
        )
    )

    return World(
        callers={
            "admin": admin,
            "agent": agent,
            "ebc": ebc,
            "customs": customs,
            "inspection": inspector,
            "bank": bank,
            "anonymous": {},
        },
        path_values={
            "code": [EBC, AGENT],
            "enterprise_filing_id": [
                str(received_filing["id"]),
                *(str(f["id"]) for f in enterprise_filings),
            ],
            "goods_filing_id": [str(f["id"]) for f in goods_filings],
            "key": [
                released["invt_no"],
                held["invt_no"],
                held["pre_no"],
                held["cop_no"],
            ],
            "invt_no": [released["invt_no"], held["invt_no"]],
            "sum_no": [sum_no],
            "settlement_id": [settlement["id"]],
            "task_id": [task_b["id"], task_a["id"]],
            "principal_id": [bank_id],
            "key_id": [spare_key["id"]],
            "certificate_id": [certificate["id"]],
            "subscriber_code": [EBC],
            "subscription_id": [str(subscription["id"])],
        },
        body_values={
            "invt_no": [released["invt_no"], held["invt_no"]],
            "account_holder": [EBC],
            "bank_code": [BANK],
            "subscriber_code": [EBC, BYSTANDER],
            "enterprise_code": [AGENT],
            "customs_code": [CUSTOMS_CODE],
            "hs_code": ["6911101900", "3304990099"],
        },
    )
