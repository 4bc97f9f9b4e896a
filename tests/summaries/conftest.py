"""Fixtures of the summary tests: the hand-checked month and a list maker."""

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.customs.models import Inventory
from tests.summaries.factories import DISTRACTORS, MONTH, ListSpec, make_list


@pytest.fixture
def month(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """The hand-checked month and its distractors; invtNo → inventory id."""
    with session_factory.begin() as session:
        made = [make_list(session, spec) for spec in [*MONTH, *DISTRACTORS.values()]]
        return {inventory.invt_no or "": inventory.id for inventory in made}


@pytest.fixture
def make(session_factory: sessionmaker[Session]) -> Callable[..., Inventory]:
    def _make(spec: ListSpec) -> Inventory:
        with session_factory.begin() as session:
            return make_list(session, spec)

    return _make
