"""Prometheus metrics shared by the API and the workers."""

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "sw_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram("sw_http_request_seconds", "HTTP request latency", ["method", "route"])
OUTBOX_EVENTS = Counter("sw_outbox_events_total", "Outbox events run by relays", ["outcome"])
