"""Enterprise and goods filings: filed by enterprises, reviewed by inspection officers."""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.audit import AuditEntry
from tests.inspection.conftest import ENTERPRISE_FILING, EXPORT_GOODS, Filer, Headers, goods_body

EBC = "4301990002"
API = "/api/v1/inspection"


@pytest.fixture
def ebc(register: Callable[..., Headers]) -> Headers:
    return register(EBC, "ebc")


def file_enterprise(client: TestClient, headers: Headers, **fields: Any) -> dict[str, Any]:
    response = client.post(
        f"{API}/enterprise-filings", json={**ENTERPRISE_FILING, **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def file_goods(client: TestClient, headers: Headers, **fields: Any):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API}/goods-filings", json=goods_body(**{**EXPORT_GOODS[0], **fields}), headers=headers
    )


class TestEnterpriseFiling:
    def test_an_enterprise_files_and_an_inspection_officer_approves(
        self,
        client: TestClient,
        ebc: Headers,
        inspector: Headers,
        session_factory: sessionmaker[Session],
    ) -> None:
        filed = file_enterprise(client, ebc)
        assert filed["status"] == "received"
        assert filed["enterprise_code"] == EBC
        assert filed["filing_no"] == f"QE{filed['id']:010d}"
        reviewed = client.post(
            f"{API}/enterprise-filings/{filed['id']}/review",
            json={"decision": "approve", "reason": "资料齐全"},
            headers=inspector,
        )
        assert reviewed.status_code == 200, reviewed.text
        assert reviewed.json()["status"] == "approved"
        with session_factory() as session:
            actions = session.scalars(
                select(AuditEntry.action).where(AuditEntry.subject_id == filed["filing_no"])
            ).all()
        assert actions == [
            "inspection.enterprise_filing.received",
            "inspection.enterprise_filing.approved",
        ]

    def test_a_rejected_filing_can_be_filed_again(
        self, client: TestClient, ebc: Headers, inspector: Headers
    ) -> None:
        filed = file_enterprise(client, ebc)
        rejected = client.post(
            f"{API}/enterprise-filings/{filed['id']}/review",
            json={"decision": "reject", "reason": "地址不全"},
            headers=inspector,
        )
        assert rejected.json()["status"] == "rejected"
        assert rejected.json()["reason"] == "地址不全"
        file_enterprise(client, ebc)

    def test_one_live_filing_per_enterprise(self, client: TestClient, ebc: Headers) -> None:
        file_enterprise(client, ebc)
        again = client.post(f"{API}/enterprise-filings", json=ENTERPRISE_FILING, headers=ebc)
        assert again.status_code == 409
        assert again.json()["error"] == "FilingExists"

    def test_a_decided_filing_cannot_be_reviewed_again(
        self, client: TestClient, ebc: Headers, filer: Filer
    ) -> None:
        filing = filer.enterprise(ebc)
        again = client.post(
            f"{API}/enterprise-filings/{filing['id']}/review",
            json={"decision": "reject", "reason": "改主意"},
            headers=filer.inspector,
        )
        assert again.status_code == 409

    def test_officers_review_only_within_their_customs_codes(
        self, client: TestClient, ebc: Headers, principal: Callable[..., Headers]
    ) -> None:
        filed = file_enterprise(client, ebc)
        elsewhere = principal("officer", agency="inspection", customs_codes=["5100"])
        review = {"decision": "approve", "reason": "资料齐全"}
        response = client.post(
            f"{API}/enterprise-filings/{filed['id']}/review", json=review, headers=elsewhere
        )
        assert response.status_code == 404
        assert client.get(f"{API}/enterprise-filings", headers=elsewhere).json() == []

    def test_customs_officers_and_enterprises_cannot_review(
        self, client: TestClient, ebc: Headers, customs_officer: Headers
    ) -> None:
        filed = file_enterprise(client, ebc)
        review = {"decision": "approve", "reason": "资料齐全"}
        for headers in (customs_officer, ebc):
            response = client.post(
                f"{API}/enterprise-filings/{filed['id']}/review", json=review, headers=headers
            )
            assert response.status_code == 403, response.text

    def test_an_enterprise_sees_only_its_own_filings(
        self, client: TestClient, ebc: Headers, register: Callable[..., Headers]
    ) -> None:
        filed = file_enterprise(client, ebc)
        other = register("4301990099", "ebc")
        file_enterprise(client, other)
        assert [f["id"] for f in client.get(f"{API}/enterprise-filings", headers=ebc).json()] == [
            filed["id"]
        ]
        assert client.get(f"{API}/enterprise-filings/{filed['id']}", headers=other).status_code == (
            404
        )

    def test_an_officer_lists_received_filings_of_the_district(
        self, client: TestClient, ebc: Headers, filer: Filer, register: Callable[..., Headers]
    ) -> None:
        filer.enterprise(ebc)
        waiting = file_enterprise(client, register("4301990099", "ebc"))
        listed = client.get(
            f"{API}/enterprise-filings",
            params={"status": "received", "customsCode": "4900"},
            headers=filer.inspector,
        )
        assert [f["id"] for f in listed.json()] == [waiting["id"]]


class TestGoodsFiling:
    def test_goods_are_filed_under_an_approved_enterprise_filing(
        self, client: TestClient, ebc: Headers, filer: Filer
    ) -> None:
        refused = file_goods(client, ebc)
        assert refused.status_code == 422
        assert refused.json()["error"] == "EnterpriseNotFiled"
        filer.enterprise(ebc)
        filed = file_goods(client, ebc)
        assert filed.status_code == 201, filed.text
        body = filed.json()
        assert body["status"] == "received"
        assert body["filing_no"] == f"QG{body['id']:010d}"
        for field in (
            "hs_code",
            "name",
            "brand",
            "model",
            "origin_country",
            "manufacturer",
            "supplier",
            "ingredients",
            "conformity_statement",
        ):
            assert body[field]

    def test_review_sets_the_risk_tier_and_the_quarantine_flag(
        self, client: TestClient, ebc: Headers, filer: Filer
    ) -> None:
        filer.enterprise(ebc)
        filed = file_goods(client, ebc).json()
        assert filed["risk_tier"] == "medium"
        approved = filer.review("goods-filings", filed["id"], risk_tier="high", quarantine=True)
        assert (approved["status"], approved["risk_tier"], approved["quarantine"]) == (
            "approved",
            "high",
            True,
        )

    def test_only_the_ebc_files_goods(
        self, client: TestClient, register: Callable[..., Headers], filer: Filer
    ) -> None:
        agent = register("4301990003", "agent")
        filer.enterprise(agent)
        assert file_goods(client, agent).status_code == 403

    def test_the_same_goods_are_filed_once(
        self, client: TestClient, ebc: Headers, filer: Filer
    ) -> None:
        filer.enterprise(ebc)
        assert file_goods(client, ebc).status_code == 201
        again = file_goods(client, ebc)
        assert again.status_code == 409
        assert file_goods(client, ebc, item_no="XS-CJ-009").status_code == 201

    def test_cancelled_goods_can_be_filed_anew(
        self, client: TestClient, ebc: Headers, filer: Filer
    ) -> None:
        filer.enterprise(ebc)
        filed = filer.goods(ebc, EXPORT_GOODS[:1])[0]
        cancelled = client.post(
            f"{API}/goods-filings/{filed['id']}/cancel", json={"reason": "停售"}, headers=ebc
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        assert file_goods(client, ebc).status_code == 201

    def test_an_officer_invalidates_a_filing_with_its_ground(
        self, client: TestClient, ebc: Headers, filer: Filer
    ) -> None:
        filer.enterprise(ebc)
        filed = filer.goods(ebc, EXPORT_GOODS[:1])[0]
        response = client.post(
            f"{API}/goods-filings/{filed['id']}/invalidate",
            json={"ground": "prohibited", "reason": "含禁用成分"},
            headers=filer.inspector,
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "invalidated"
        assert response.json()["reason"] == "prohibited: 含禁用成分"
        again = client.post(
            f"{API}/goods-filings/{filed['id']}/invalidate",
            json={"ground": "false_data", "reason": "再来一次"},
            headers=filer.inspector,
        )
        assert again.status_code == 409

    def test_an_enterprise_cannot_invalidate_nor_cancel_anothers_filing(
        self, client: TestClient, ebc: Headers, filer: Filer, register: Callable[..., Headers]
    ) -> None:
        filer.enterprise(ebc)
        filed = filer.goods(ebc, EXPORT_GOODS[:1])[0]
        invalidation = {"ground": "false_data", "reason": "虚假"}
        assert (
            client.post(
                f"{API}/goods-filings/{filed['id']}/invalidate", json=invalidation, headers=ebc
            ).status_code
            == 403
        )
        other = register("4301990099", "ebc")
        assert (
            client.post(
                f"{API}/goods-filings/{filed['id']}/cancel", json={"reason": "停售"}, headers=other
            ).status_code
            == 404
        )

    def test_ending_the_enterprise_filing_ends_its_goods_filings(
        self, client: TestClient, ebc: Headers, filer: Filer
    ) -> None:
        enterprise = filer.enterprise(ebc)
        goods = filer.goods(ebc, EXPORT_GOODS)
        response = client.post(
            f"{API}/enterprise-filings/{enterprise['id']}/invalidate",
            json={"ground": "false_data", "reason": "营业执照虚假"},
            headers=filer.inspector,
        )
        assert response.status_code == 200, response.text
        for item in goods:
            after = client.get(f"{API}/goods-filings/{item['id']}", headers=ebc).json()
            assert after["status"] == "invalidated"

    def test_cancelling_the_enterprise_filing_withdraws_goods_waiting_for_review(
        self, client: TestClient, ebc: Headers, filer: Filer
    ) -> None:
        enterprise = filer.enterprise(ebc)
        waiting = file_goods(client, ebc).json()
        client.post(
            f"{API}/enterprise-filings/{enterprise['id']}/cancel",
            json={"reason": "停业"},
            headers=ebc,
        )
        assert (
            client.get(f"{API}/goods-filings/{waiting['id']}", headers=ebc).json()["status"]
            == "cancelled"
        )


@pytest.mark.postgres_only
def test_concurrent_filings_of_the_same_goods_make_one(
    client: TestClient, ebc: Headers, filer: Filer
) -> None:
    filer.enterprise(ebc)
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def attempt() -> None:
        barrier.wait(timeout=10)
        codes.append(file_goods(client, ebc).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(codes) == [201, 409, 409, 409]
