"""Prometheus metrics shared by the API and the workers."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "sw_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram("sw_http_request_seconds", "HTTP request latency", ["method", "route"])
OUTBOX_EVENTS = Counter("sw_outbox_events_total", "Outbox events run by relays", ["outcome"])
OUTBOX_PENDING = Gauge("sw_outbox_pending", "Outbox events waiting to run (whole database)")
OUTBOX_PARKED = Gauge("sw_outbox_parked", "Outbox events that failed for good (whole database)")
SLA_LISTS = Gauge(
    "sw_sla_lists",
    "Lists whose 24 h clock runs (running); of them at risk and breached, per customs code",
    ["customs_code", "state"],
)
SLA_CLEARANCE = Histogram(
    "sw_sla_clearance_seconds",
    "Clock start to release of released lists",
    ["customs_code"],
    buckets=[h * 3600 for h in (0.25, 0.5, 1, 2, 4, 8, 12, 16, 20, 24, 36, 48, 72)],
)
