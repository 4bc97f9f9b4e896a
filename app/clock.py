"""The one source of "now" for business time, so tests can move time without sleeping."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from app.db import utcnow

_source: Callable[[], datetime] = utcnow


def now() -> datetime:
    return _source()


@contextmanager
def using(source: Callable[[], datetime]) -> Iterator[None]:
    """Within the block, business time comes from ``source`` (tests only)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
