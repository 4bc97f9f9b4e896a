"""The service as operators and integrators see it: health, metrics, errors, races."""

import threading

import anyio
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "sw_http_requests_total" in response.text


def test_requests_are_counted_by_route_template_and_status(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.get("/api/v1/enterprises/NOSUCHCODE0", headers=admin)
    client.get("/no/such/path")
    text = client.get("/metrics").text
    assert 'sw_http_requests_total{method="GET",route="/enterprises/{code}",status="404"}' in text
    assert 'sw_http_requests_total{method="GET",route="unmatched",status="404"}' in text
    assert 'sw_http_request_seconds_count{method="GET",route="/enterprises/{code}"}' in text


def test_openapi_documents_the_error_shape(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    responses = spec["paths"]["/api/v1/enterprises"]["post"]["responses"]
    assert responses["409"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorBody")


def test_unreachable_database_is_503_with_retry_after() -> None:
    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        admin_key="k" * 40,  # type: ignore[arg-type]
    )
    settings.outbox.in_process = False
    with TestClient(create_app(settings)) as down:
        health = down.get("/healthz")
        assert health.status_code == 503 and health.headers["Retry-After"]
        api = down.get("/api/v1/enterprises", headers={"Authorization": "Bearer " + "k" * 40})
        assert api.status_code == 503
        assert api.json()["error"] == "Unavailable"


@pytest.mark.postgres_only
def test_racing_registrations_give_one_201_and_one_409(settings: Settings) -> None:
    """A unique violation found at flush or commit must reach the client as 409, never 200."""
    body = {"code": "4301990002", "name": "x", "roles": ["ebc"]}
    headers = {"Authorization": f"Bearer {settings.admin_key.get_secret_value()}"}  # type: ignore[union-attr]
    statuses: list[int] = []
    barrier = threading.Barrier(8)
    with TestClient(create_app(settings)) as client:

        def register() -> None:
            barrier.wait()
            statuses.append(
                client.post("/api/v1/enterprises", json=body, headers=headers).status_code
            )

        threads = [threading.Thread(target=register) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(statuses) == [201] + [409] * 7


def test_an_exhausted_connection_pool_is_503_not_500(client: TestClient) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    class Exhausted:
        def begin(self) -> None:
            raise PoolTimeout("QueuePool limit of size 10 overflow 10 reached")

    working = client.app.state.sessionmaker
    client.app.state.sessionmaker = Exhausted()
    try:
        response = client.get("/api/v1/enterprises", headers={"Authorization": "Bearer x"})
    finally:
        client.app.state.sessionmaker = working
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_a_client_that_hangs_up_mid_body_is_let_go_quietly(
    client: TestClient, admin: dict[str, str]
) -> None:
    """No "Exception in ASGI application": the request ends with an answer nobody reads."""
    sent: list[dict[str, object]] = []
    chunks = iter(
        [
            {"type": "http.request", "body": b"<ceb:CEB303Message", "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict[str, object]:
        return next(chunks)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/messages",
        "raw_path": b"/api/v1/messages",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/xml"),
            (b"authorization", admin["Authorization"].encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    anyio.run(client.app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 400
