"""The negative and positive lists, bans and sampling rates: read by all, versioned by admins."""

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.inspection.conftest import Headers

API = "/api/v1/inspection"
NEGATIVE = {
    "entries": [{"id": "3-fireworks", "category": 3, "hs_prefix": "3604", "reason": "烟花爆竹"}]
}
POSITIVE = {
    "entries": [
        {"hs_code": "3304", "name": "护肤品"},
        {"hs_code": "2106909090", "remark": "限网购保税", "bonded_only": True},
    ]
}
BANS = {
    "bans": [
        {
            "id": "jp-2026",
            "country": "116",
            "reason": "疫情",
            "valid_from": "2026-11-01T00:00:00+08:00",
            "valid_to": None,
        }
    ]
}
SAMPLING = {
    "base_rates": {"low": "0.01", "medium": "0.05", "high": "0.2"},
    "credit_factors": {"advanced": "0.5", "general": "1", "discredited": "10"},
}
LISTS = [
    ("negative-list", NEGATIVE),
    ("positive-list", POSITIVE),
    ("bans", BANS),
    ("sampling", SAMPLING),
]
MALFORMED = [
    (
        "negative-list",
        {"entries": [{"id": "x", "category": 8, "hs_prefix": "01", "reason": "类别"}]},
    ),
    ("negative-list", {"entries": [{"id": "x", "category": 1, "reason": "无条件"}]}),
    ("positive-list", {"entries": [{"hs_code": "33"}]}),
    ("positive-list", {"entries": [{"hs_code": "3304"}, {"hs_code": "3304"}]}),
    (
        "bans",
        {
            "bans": [
                {
                    "id": "b",
                    "country": "JP",
                    "reason": "疫情",
                    "valid_from": "2026-11-01T00:00:00+08:00",
                }
            ]
        },
    ),
    (
        "sampling",
        {
            "base_rates": {"low": "1.5", "medium": "0.1", "high": "0.1"},
            "credit_factors": {"advanced": "1", "general": "1", "discredited": "1"},
        },
    ),
    (
        "sampling",
        {
            "base_rates": {"low": "0.1"},
            "credit_factors": {"advanced": "1", "general": "1", "discredited": "1"},
        },
    ),
]


def test_an_admin_puts_a_new_version_each_time(
    client: TestClient, admin: Headers, inspector: Headers
) -> None:
    for path, body in LISTS:
        default = client.get(f"{API}/{path}", headers=inspector)
        assert default.status_code == 200, default.text
        assert default.json()["version"] == 0
        first = client.put(f"{API}/{path}", json=body, headers=admin)
        assert first.status_code == 200, first.text
        assert first.json()["version"] == 1
        assert first.json()["created_by"] == "admin:bootstrap admin"
        second = client.put(f"{API}/{path}", json=body, headers=admin)
        assert second.json()["version"] == 2
        current = client.get(f"{API}/{path}", headers=inspector).json()
        assert current["version"] == 2
        assert current["body"] == second.json()["body"]


def test_only_admins_change_a_list(
    client: TestClient, inspector: Headers, register: Callable[..., Headers]
) -> None:
    ebc = register("4301990002", "ebc")
    for path, body in LISTS:
        for headers in (inspector, ebc):
            assert client.put(f"{API}/{path}", json=body, headers=headers).status_code == 403


def test_every_authenticated_caller_reads_the_public_lists(
    client: TestClient, register: Callable[..., Headers]
) -> None:
    ebc = register("4301990002", "ebc")
    for path in ("negative-list", "positive-list", "bans"):
        assert client.get(f"{API}/{path}", headers=ebc).status_code == 200
        assert client.get(f"{API}/{path}").status_code == 401


def test_sampling_rates_are_not_shown_to_enterprises(
    client: TestClient, register: Callable[..., Headers], customs_officer: Headers
) -> None:
    for headers in (register("4301990002", "ebc"), customs_officer):
        assert client.get(f"{API}/sampling", headers=headers).status_code == 403


def test_the_default_sampling_reproduces_the_2019_rates(
    client: TestClient, inspector: Headers
) -> None:
    body = client.get(f"{API}/sampling", headers=inspector).json()["body"]
    assert body["base_rates"]["medium"] == "0.0244"
    assert body["credit_factors"] == {
        "advanced": "0.2336",
        "general": "1",
        "discredited": "34.7377",
    }


def test_malformed_lists_are_refused(client: TestClient, admin: Headers) -> None:
    for path, body in MALFORMED:
        response = client.put(f"{API}/{path}", json=body, headers=admin)
        assert response.status_code == 422, (path, body, response.text)
        assert client.get(f"{API}/{path}", headers=admin).json()["version"] == 0
