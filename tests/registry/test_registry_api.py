"""The registry through HTTP: filing, keys, mandates, principals and who may do what."""

import logging
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.models import Base
from app.registry.codes import uscc_check_char

API = "/api/v1"
Headers = dict[str, str]


def valid_uscc(body17: str = "91430100MA4L0000X") -> str:
    return body17 + uscc_check_char(body17)


class TestFiling:
    def test_admin_files_an_enterprise(self, client: TestClient, admin: Headers) -> None:
        body = {
            "code": "4301990002",
            "name": "长沙星沙贸易",
            "roles": ["ebc", "agent"],
            "credit_class": "advanced",
            "callback_url": "https://example.com/receipts",
        }
        response = client.post(f"{API}/enterprises", json=body, headers=admin)
        assert response.status_code == 201, response.text
        got = response.json()
        assert got["roles"] == ["agent", "ebc"]
        assert got["credit_class"] == "advanced"
        assert got["active"] is True
        listed = client.get(f"{API}/enterprises", headers=admin).json()
        assert [e["code"] for e in listed] == ["4301990002"]

    def test_uscc_with_a_correct_check_character_is_accepted(
        self, client: TestClient, admin: Headers
    ) -> None:
        body = {"code": valid_uscc(), "name": "USCC Co", "roles": ["ebc"]}
        assert client.post(f"{API}/enterprises", json=body, headers=admin).status_code == 201

    @pytest.mark.parametrize(
        ("code", "reason"),
        [
            ("430199", "10 characters"),
            ("43019900a2", "capital letters"),
            ("91430100MA4L0000X" + ("1" if valid_uscc()[-1] != "1" else "2"), "check character"),
            ("91430100MA4L0000IZ", "invalid character"),
        ],
    )
    def test_invalid_codes_are_refused_with_the_reason(
        self, client: TestClient, admin: Headers, code: str, reason: str
    ) -> None:
        body = {"code": code, "name": "x", "roles": ["ebc"]}
        response = client.post(f"{API}/enterprises", json=body, headers=admin)
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"
        assert reason in response.json()["detail"]

    def test_unknown_role_is_refused(self, client: TestClient, admin: Headers) -> None:
        body = {"code": "4301990002", "name": "x", "roles": ["smuggler"]}
        response = client.post(f"{API}/enterprises", json=body, headers=admin)
        assert response.status_code == 422
        assert "roles" in response.json()["detail"]

    def test_duplicate_code_is_a_conflict(self, client: TestClient, admin: Headers) -> None:
        body = {"code": "4301990002", "name": "x", "roles": ["ebc"]}
        assert client.post(f"{API}/enterprises", json=body, headers=admin).status_code == 201
        again = client.post(f"{API}/enterprises", json=body, headers=admin)
        assert again.status_code == 409
        assert again.json() == {
            "error": "EnterpriseExists",
            "detail": "enterprise 4301990002 is already registered",
        }

    def test_admin_changes_a_filing_and_it_is_audited(
        self, client: TestClient, admin: Headers, engine: Engine
    ) -> None:
        body = {"code": "4301990002", "name": "x", "roles": ["ebc"]}
        client.post(f"{API}/enterprises", json=body, headers=admin)
        patched = client.patch(
            f"{API}/enterprises/4301990002",
            json={"credit_class": "discredited", "roles": ["ebc", "agent"]},
            headers=admin,
        )
        assert patched.status_code == 200
        assert patched.json()["credit_class"] == "discredited"
        with engine.connect() as conn:
            actions = (
                conn.execute(
                    text(
                        "SELECT action FROM audit_entry WHERE subject_id = '4301990002' ORDER BY id"
                    )
                )
                .scalars()
                .all()
            )
        assert actions == ["enterprise.created", "enterprise.updated"]


class TestAuthMatrix:
    def test_no_key_is_401(self, client: TestClient) -> None:
        response = client.get(f"{API}/enterprises")
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"

    def test_unknown_key_is_401(self, client: TestClient) -> None:
        response = client.get(f"{API}/enterprises", headers={"Authorization": "Bearer sw_nope"})
        assert response.status_code == 401

    def test_revoked_key_is_401(
        self, client: TestClient, admin: Headers, register: Callable[..., Headers]
    ) -> None:
        headers = register("4301990002", "ebc")
        assert client.get(f"{API}/enterprises/4301990002", headers=headers).status_code == 200
        keys = client.get(f"{API}/enterprises/4301990002/keys", headers=headers).json()
        assert client.delete(f"{API}/keys/{keys[0]['id']}", headers=headers).status_code == 204
        assert client.get(f"{API}/enterprises/4301990002", headers=headers).status_code == 401

    def test_deactivated_enterprise_key_is_401(
        self, client: TestClient, admin: Headers, register: Callable[..., Headers]
    ) -> None:
        headers = register("4301990002", "ebc")
        client.patch(f"{API}/enterprises/4301990002", json={"active": False}, headers=admin)
        assert client.get(f"{API}/enterprises/4301990002", headers=headers).status_code == 401

    def test_enterprise_reads_itself_but_not_another(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        mine = register("4301990002", "ebc")
        register("4301990003", "agent")
        assert client.get(f"{API}/enterprises/4301990002", headers=mine).status_code == 200
        other = client.get(f"{API}/enterprises/4301990003", headers=mine)
        assert other.status_code == 403
        # Asking for an unregistered code gives the same answer: nothing to probe.
        assert client.get(f"{API}/enterprises/4301999999", headers=mine).status_code == 403
        listed = client.get(f"{API}/enterprises", headers=mine).json()
        assert [e["code"] for e in listed] == ["4301990002"]

    def test_only_admins_manage_the_registry(
        self,
        client: TestClient,
        register: Callable[..., Headers],
        principal: Callable[..., Headers],
    ) -> None:
        enterprise = register("4301990002", "ebc")
        officer = principal("officer", agency="customs", customs_codes=["4900"])
        bank = principal("bank", bank_code="BANK1")
        body = {"code": "4301990009", "name": "x", "roles": ["ebc"]}
        for headers in (enterprise, officer, bank):
            assert client.post(f"{API}/enterprises", json=body, headers=headers).status_code == 403
            assert client.get(f"{API}/principals", headers=headers).status_code == 403
            patch = client.patch(
                f"{API}/enterprises/4301990002", json={"active": False}, headers=headers
            )
            assert patch.status_code == 403
        assert client.get(f"{API}/enterprises", headers=officer).status_code == 403

    def test_an_enterprise_cannot_issue_keys_for_another(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        mine = register("4301990002", "ebc")
        register("4301990003", "agent")
        assert client.post(f"{API}/enterprises/4301990003/keys", headers=mine).status_code == 403
        assert client.post(f"{API}/enterprises/4301990002/keys", headers=mine).status_code == 201

    def test_an_enterprise_cannot_revoke_anothers_key(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        mine = register("4301990002", "ebc")
        theirs = register("4301990003", "agent")
        their_key = client.get(f"{API}/enterprises/4301990003/keys", headers=theirs).json()[0]
        assert client.delete(f"{API}/keys/{their_key['id']}", headers=mine).status_code == 404
        assert client.get(f"{API}/enterprises/4301990003", headers=theirs).status_code == 200


class TestKeys:
    def test_key_is_shown_once_and_stored_only_as_a_hash(
        self,
        client: TestClient,
        admin: Headers,
        engine: Engine,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        client.post(
            f"{API}/enterprises",
            json={"code": "4301990002", "name": "x", "roles": ["ebc"]},
            headers=admin,
        )
        issued = client.post(
            f"{API}/enterprises/4301990002/keys", json={"label": "erp"}, headers=admin
        ).json()
        key = issued["key"]
        assert key.startswith("sw_") and len(key) >= 3 + 43
        assert (
            client.get(
                f"{API}/enterprises/4301990002", headers={"Authorization": f"Bearer {key}"}
            ).status_code
            == 200
        )
        listed = client.get(f"{API}/enterprises/4301990002/keys", headers=admin).json()
        assert listed[0]["label"] == "erp" and "key" not in listed[0]
        assert listed[0]["last_used_at"] is not None
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                for row in conn.execute(table.select()):
                    assert key not in str(tuple(row)), f"key found in {table.name}"
                    assert key[3:] not in str(tuple(row))
        assert key not in caplog.text

    def test_two_keys_are_different(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        first = register("4301990002", "ebc")
        second = client.post(f"{API}/enterprises/4301990002/keys", headers=first).json()["key"]
        assert first["Authorization"] != f"Bearer {second}"


class TestMandatesAndPrincipals:
    def test_enterprise_replaces_its_bank_mandates(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        headers = register("4301990002", "ebc")
        body = [
            {"bank_code": "BOC001"},
            {
                "bank_code": "ICBC01",
                "exception_kind": "foreign_trade_service",
                "collecting_entity": "4301990099",
            },
        ]
        put = client.put(f"{API}/enterprises/4301990002/bank-mandates", json=body, headers=headers)
        assert put.status_code == 200, put.text
        again = client.put(
            f"{API}/enterprises/4301990002/bank-mandates",
            json=[{"bank_code": "ICBC01"}],
            headers=headers,
        )
        assert [m["bank_code"] for m in again.json()] == ["ICBC01"]
        got = client.get(f"{API}/enterprises/4301990002/bank-mandates", headers=headers).json()
        assert got == [{"bank_code": "ICBC01", "exception_kind": None, "collecting_entity": None}]

    def test_exception_mandate_must_name_the_collector(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        headers = register("4301990002", "ebc")
        body = [{"bank_code": "BOC001", "exception_kind": "payment_institution"}]
        response = client.put(
            f"{API}/enterprises/4301990002/bank-mandates", json=body, headers=headers
        )
        assert response.status_code == 422
        assert "collecting entity" in response.json()["detail"]

    def test_duplicate_bank_in_mandates_is_a_conflict(
        self, client: TestClient, register: Callable[..., Headers]
    ) -> None:
        headers = register("4301990002", "ebc")
        body = [{"bank_code": "BOC001"}, {"bank_code": "BOC001"}]
        response = client.put(
            f"{API}/enterprises/4301990002/bank-mandates", json=body, headers=headers
        )
        assert response.status_code == 409

    def test_principals_get_a_key_once(self, client: TestClient, admin: Headers) -> None:
        body = {
            "kind": "officer",
            "name": "officer Li",
            "agency": "customs",
            "customs_codes": ["4900", "4901"],
        }
        created = client.post(f"{API}/principals", json=body, headers=admin)
        assert created.status_code == 201
        officer_key = created.json()["key"]["key"]
        listed = client.get(f"{API}/principals", headers=admin).json()
        assert listed[0]["customs_codes"] == ["4900", "4901"]
        officer = {"Authorization": f"Bearer {officer_key}"}
        assert client.get(f"{API}/principals", headers=officer).status_code == 403

    @pytest.mark.parametrize(
        "body",
        [
            {"kind": "officer", "name": "x", "customs_codes": ["4900"]},
            {"kind": "officer", "name": "x", "agency": "customs"},
            {"kind": "bank", "name": "x"},
            {"kind": "enterprise", "name": "x"},
            {"kind": "admin", "name": "x", "bank_code": "B1"},
        ],
    )
    def test_principal_fields_must_fit_its_kind(
        self, client: TestClient, admin: Headers, body: dict[str, object]
    ) -> None:
        assert client.post(f"{API}/principals", json=body, headers=admin).status_code == 422

    def test_bank_codes_are_unique(self, client: TestClient, admin: Headers) -> None:
        body = {"kind": "bank", "name": "x", "bank_code": "BOC001"}
        assert client.post(f"{API}/principals", json=body, headers=admin).status_code == 201
        assert client.post(f"{API}/principals", json=body, headers=admin).status_code == 409
