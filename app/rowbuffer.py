"""Rows written once per transaction: receipts, audit entries, outbox events, new lists.

Every status change appends a receipt, an audit entry and an event. Added as ORM objects,
each would cost a unit-of-work pass and an ``INSERT … RETURNING id`` that psycopg re-parses,
a large share of the window's CPU (bench/README.md, "Window intake"). Nothing reads these ids
back in the transaction that writes them (a new list's id is reserved before it is built), so
they are kept as plain rows and sent just before COMMIT: on PostgreSQL the rows of all tables
as one statement, elsewhere one executemany per table (psycopg pipelines it: one small,
prepared statement).

Semantics stay those of ``session.add``:
- a query of the same session that names a buffered model, or no model at all, writes the
  buffer first, so a transaction always reads its own rows;
- rows appended inside a savepoint that rolls back are dropped with it (the outbox relay runs
  each handler in a savepoint);
- ``added`` still lists the rows of the current transaction after they were written, so the
  window answers from memory instead of reading its receipts back.

One difference: the session's objects flush before the buffer (a buffered row may refer to
an object: a receipt to its source message), so an object must not refer to a buffered row
of the same transaction; its flush would come before the row it names exists.
"""

import functools
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, TextClause, event, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, ORMExecuteState, Session, SessionTransaction

_ROWS = "rowbuffer.rows"
_POSTGRESQL = postgresql.dialect()  # type: ignore[no-untyped-call]
Model = type[DeclarativeBase]


@dataclass
class _Row:
    model: Model
    values: dict[str, Any]
    transaction: SessionTransaction
    written_in: SessionTransaction | None = None


def add(session: Session, model: Model, values: dict[str, Any]) -> None:
    """Append a row of ``model`` to the session's transaction; it is inserted before commit.

    ``values`` names every column the database does not generate, the same for every row of
    ``model`` (one executemany needs one shape).
    """
    session.info.setdefault(_ROWS, []).append(_Row(model, values, _innermost(session)))


def added(session: Session, model: Model) -> list[dict[str, Any]]:
    """The rows of ``model`` this transaction appended so far, written or not, in order."""
    return [row.values for row in session.info.get(_ROWS, ()) if row.model is model]


def write(session: Session, models: frozenset[Model] | None = None) -> None:
    """Insert the buffered rows (of ``models``, or all), one executemany per table."""
    current = _innermost(session)
    pending: dict[Model, list[dict[str, Any]]] = defaultdict(list)
    for row in session.info.get(_ROWS, ()):
        if row.written_in is None and (models is None or row.model in models):
            pending[row.model].append(row.values)
            row.written_in = current
    if not pending:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(pending) > 1:
        tables = tuple(
            (cast(Table, model.__table__), tuple(rows[0])) for model, rows in pending.items()
        )
        connection.execute(
            _combined_insert(tables),
            {f"rows_{i}": _json_rows(rows) for i, rows in enumerate(pending.values())},
        )
        return
    for model, rows in pending.items():
        # The table, not the mapped class, on the session's connection: a Core executemany
        # without the ORM's execution layer; inline: no RETURNING of the id of a lone row.
        connection.execute(insert(cast(Table, model.__table__)).inline(), rows)


@functools.cache
def _combined_insert(tables: tuple[tuple[Table, tuple[str, ...]], ...]) -> TextClause:
    """One statement for the rows of several tables (PostgreSQL): each table's rows arrive as
    one JSON array and go in through a data-modifying CTE, in the array's order.

    A status change appends a receipt, an audit entry and an event: three statements, each a
    round trip and a pass through the driver, were a visible share of a single-list message.
    """
    quote = _POSTGRESQL.identifier_preparer.quote
    inserts = []
    for i, (table, names) in enumerate(tables):
        columns = ", ".join(map(quote, names))
        typed = ", ".join(
            f"{quote(name)} {table.c[name].type.compile(dialect=_POSTGRESQL)}" for name in names
        )
        # Names from our own table metadata; the rows are the one bound parameter.
        inserts.append(
            f"INSERT INTO {quote(table.name)} ({columns}) SELECT {columns} "  # noqa: S608
            f"FROM jsonb_to_recordset(CAST(:rows_{i} AS jsonb)) AS row_({typed})"
        )
    *first, last = inserts
    ctes = ", ".join(f"insert_{i} AS ({statement})" for i, statement in enumerate(first))
    return text(f"WITH {ctes} {last}")


def _json_rows(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, default=_json_value, ensure_ascii=False)


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: the database stores UTC only")
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value of a buffered row")


def _pending_models(session: Session) -> frozenset[Model]:
    return frozenset(row.model for row in session.info.get(_ROWS, ()) if row.written_in is None)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # Objects first: a buffered row may name one (a receipt its source message).
    session.flush()
    write(session)


@event.listens_for(Session, "do_orm_execute")
def _before_query(state: ORMExecuteState) -> None:
    pending = _pending_models(state.session)
    if not pending:
        return
    mappers = state.all_mappers
    if not mappers:
        # A statement that names no entity (text, select_from a table) may read anything.
        write(state.session)
        return
    touched = pending.intersection(mapper.class_ for mapper in mappers)
    if touched:
        write(state.session, touched)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    rows: list[_Row] = session.info.get(_ROWS, [])
    rows[:] = [row for row in rows if not _within(row.transaction, previous_transaction)]
    for row in rows:
        # Written inside the savepoint on behalf of an outer transaction: the database undid
        # the insert, the outer transaction still wants the row.
        if _within(row.written_in, previous_transaction):
            row.written_in = None


@event.listens_for(Session, "after_transaction_end")
def _after_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_ROWS, None)


def _innermost(session: Session) -> SessionTransaction:
    transaction = session.get_nested_transaction() or session.get_transaction()
    return transaction if transaction is not None else session.begin()


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False
