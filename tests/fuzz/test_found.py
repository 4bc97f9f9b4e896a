"""What the fuzzers found, each kept as the smallest request that showed it."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

Headers = dict[str, str]
TOO_BIG = 2**63  # one past the largest row id either database stores


@pytest.fixture
def caller_of(
    admin: Headers, register: Callable[..., Headers], principal: Callable[..., Headers]
) -> Callable[[str], Headers]:
    """Headers of a caller of this kind, filed when first asked for."""
    makers: dict[str, Callable[[], Headers]] = {
        "admin": lambda: admin,
        "enterprise": lambda: register("4301990003", "agent"),
        "customs": lambda: principal("officer", agency="customs", customs_codes=["4900"]),
        "inspection": lambda: principal("officer", agency="inspection", customs_codes=["4900"]),
        "bank": lambda: principal("bank", bank_code="BANKA001"),
    }
    return lambda kind: makers[kind]()


REVIEW = {"decision": "approve", "reason": "资料齐全"}


@pytest.mark.parametrize(
    ("caller", "method", "path", "body"),
    [
        ("enterprise", "GET", f"/receipts?after={TOO_BIG}", None),
        ("enterprise", "GET", f"/inventories?before_id={TOO_BIG}", None),
        ("enterprise", "GET", f"/inventories?status={TOO_BIG}", None),
        ("customs", "GET", f"/customs/queue?status={TOO_BIG}", None),
        ("customs", "GET", f"/sla/alerts?after={TOO_BIG}", None),
        ("enterprise", "GET", f"/deliveries?after={TOO_BIG}", None),
        ("admin", "DELETE", f"/deliveries/subscriptions/{TOO_BIG}", None),
        ("bank", "GET", f"/forex/trade-lists?after={TOO_BIG}", None),
        ("bank", "GET", f"/forex/alerts?after={TOO_BIG}", None),
        ("admin", "POST", f"/admin/outbox/{TOO_BIG}/retry", None),
        ("inspection", "GET", f"/inspection/goods-filings?after={TOO_BIG}", None),
        ("inspection", "GET", f"/inspection/enterprise-filings/{TOO_BIG}", None),
        ("inspection", "POST", f"/inspection/enterprise-filings/{TOO_BIG}/review", REVIEW),
        ("inspection", "POST", f"/inspection/goods-filings/{-TOO_BIG - 1}/review", REVIEW),
        ("enterprise", "POST", f"/inspection/goods-filings/{TOO_BIG}/cancel", {"reason": "撤回"}),
        (
            "inspection",
            "POST",
            f"/inspection/enterprise-filings/{TOO_BIG}/invalidate",
            {"reason": "虚假材料", "ground": "false_data"},
        ),
    ],
)
def test_a_number_no_row_can_have_is_invalid_input(
    client: TestClient,
    caller_of: Callable[[str], Headers],
    caller: str,
    method: str,
    path: str,
    body: object,
) -> None:
    response = client.request(method, f"/api/v1{path}", json=body, headers=caller_of(caller))

    assert response.status_code == 422, response.text
    assert "than or equal to" in response.json()["detail"]


class TestEnterpriseUpdate:
    @pytest.mark.parametrize("field", ["roles", "name", "credit_class", "active"])
    def test_null_for_a_fact_every_enterprise_has_is_refused(
        self, client: TestClient, admin: Headers, register: Callable[..., Headers], field: str
    ) -> None:
        register("4301990002", "ebc")

        response = client.patch("/api/v1/enterprises/4301990002", json={field: None}, headers=admin)

        assert response.status_code == 422, response.text
        assert f"{field} cannot be null" in response.json()["detail"]

    def test_null_clears_the_fx_class_and_the_callback(
        self, client: TestClient, admin: Headers, register: Callable[..., Headers]
    ) -> None:
        register("4301990002", "ebc", fx_class="A", callback_url="https://example.com/r")

        response = client.patch(
            "/api/v1/enterprises/4301990002",
            json={"fx_class": None, "callback_url": None},
            headers=admin,
        )

        assert response.status_code == 200, response.text
        assert (response.json()["fx_class"], response.json()["callback_url"]) == (None, None)


class TestErrorBodies:
    def test_a_json_body_that_is_not_text_is_a_400_in_the_house_shape(
        self, client: TestClient, admin: Headers
    ) -> None:
        response = client.post(
            "/api/v1/enterprises",
            content=b"\xff\xfe{",
            headers={**admin, "Content-Type": "application/json"},
        )

        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": "BadRequest",
            "detail": "There was an error parsing the body",
        }

    def test_an_unknown_route_is_a_404_in_the_house_shape(self, client: TestClient) -> None:
        response = client.get("/api/v1/nowhere")

        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": "Not Found"}

    def test_the_schema_documents_the_error_bodies_sent(self, client: TestClient) -> None:
        schema = client.get("/openapi.json").json()
        error_body = {"$ref": "#/components/schemas/ErrorBody"}

        listing = schema["paths"]["/api/v1/enterprises"]["get"]["responses"]
        creating = schema["paths"]["/api/v1/enterprises"]["post"]["responses"]

        assert listing["422"]["content"]["application/json"]["schema"] == error_body
        assert creating["400"]["content"]["application/json"]["schema"] == error_body
        assert "HTTPValidationError" not in schema["components"]["schemas"]


class TestRiskRules:
    @pytest.mark.parametrize(
        "condition",
        [
            {"field": "direction", "op": "gt", "value": "E"},
            {"field": "trade_mode", "op": "le", "value": "9610"},
            {"field": "goods_value", "op": "ge", "value": "lots"},
            {"field": "goods_value", "op": "lt", "value": ["1000"]},
            {"field": "unit_value", "op": "gt", "value": "NaN"},
        ],
    )
    def test_an_ordering_the_engine_cannot_evaluate_is_refused(
        self, client: TestClient, admin: Headers, condition: dict[str, object]
    ) -> None:
        rules = {"targeting": [{"id": "t", "when": [condition], "lane": "RED", "reason": "查"}]}

        stored = client.put("/api/v1/customs/rules", json=rules, headers=admin)
        tried = client.post(
            "/api/v1/customs/rules/backtest",
            json={"rules": rules, "start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"},
            headers=admin,
        )

        assert (stored.status_code, tried.status_code) == (422, 422), (stored.text, tried.text)
        assert "compare" in stored.json()["detail"]

    def test_an_ordering_of_numbers_is_kept(self, client: TestClient, admin: Headers) -> None:
        condition = {"field": "goods_value", "op": "ge", "value": "5000"}
        rules = {"targeting": [{"id": "t", "when": [condition], "lane": "RED", "reason": "查"}]}

        stored = client.put("/api/v1/customs/rules", json=rules, headers=admin)

        assert stored.status_code == 200, stored.text


class TestNul:
    """PostgreSQL text and JSONB cannot hold NUL; SQLite can. Both refuse it as input."""

    def test_in_a_body(self, client: TestClient, register: Callable[..., Headers]) -> None:
        ebc = register("4301990002", "ebc")
        filing = {
            "customs_code": "4900",
            "name": "长沙\x00星沙",
            "address": "长沙",
            "contact": "王五",
            "phone": "0731-80000000",
        }

        response = client.post("/api/v1/inspection/enterprise-filings", json=filing, headers=ebc)

        assert response.status_code == 422, response.text
        assert "NUL" in response.json()["detail"]

    def test_in_a_document_stored_as_json(self, client: TestClient, admin: Headers) -> None:
        rules = {
            "targeting": [
                {
                    "id": "t\x00",
                    "when": [{"field": "ebc_code", "op": "eq", "value": "1"}],
                    "lane": "RED",
                    "reason": "查",
                }
            ]
        }

        response = client.put("/api/v1/customs/rules", json=rules, headers=admin)

        assert response.status_code == 422, response.text

    @pytest.mark.parametrize(
        "url", ["/api/v1/enterprises/4301990002%00", "/api/v1/enterprises?after=43%00"]
    )
    def test_in_the_url(self, client: TestClient, admin: Headers, url: str) -> None:
        response = client.get(url, headers=admin)

        assert response.status_code == 422, response.text
        assert "NUL" in response.json()["detail"]
