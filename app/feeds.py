"""Feeds read by cursor: rows get a position in commit order, and readers page by it.

An id is taken at INSERT but seen at COMMIT, and writers commit in any order, so a reader
past id 101 would never see a 100 that was still committing. A feed's rows therefore get a
``position`` once committed (publication), and readers page by position. Positions are given
by one transaction at a time, which holds the feed's lock until it commits, so they become
visible in increasing order. A caller that does not get the lock (another is publishing)
publishes nothing and reads what is published: a little behind, never past a gap; ``wait``
waits for the lock instead. Within a batch, id order keeps rows in the order they were
written.

On PostgreSQL positions are drawn from the id's own sequence, so a position is greater than
every id handed out before it: ids given out as cursors before a feed had positions stay
valid cursors (its migration makes the old ids positions). The sequence must keep CACHE 1
(the default): with a cache per connection, numbers drawn later by another connection could
be smaller, and positions would no longer rise with time. SQLite has one writer at a time
(BEGIN IMMEDIATE): its ids are already in commit order, and they are the positions.
"""

from sqlalchemy import Index, Sequence, SQLColumnExpression, Table, Update, select, text, update
from sqlalchemy.orm import Session

# Bounds the rows one publication updates, so the transaction holding the lock stays short.
PUBLISH_BATCH = 1000
_UNPUBLISHED = "position IS NULL"


def unpublished_index(name: str) -> Index:
    """The partial index a feed's publication reads: its rows still without a position."""
    return Index(name, "id", postgresql_where=text(_UNPUBLISHED), sqlite_where=text(_UNPUBLISHED))


def _publication(table: Table, position: SQLColumnExpression[int]) -> Update:
    # nextval runs after the ORDER BY and LIMIT (PostgreSQL evaluates volatile output
    # expressions after sorting), so positions rise with ids within the batch.
    batch = (
        select(table.c.id, position.label("position"))
        .where(table.c.position.is_(None))
        .order_by(table.c.id)
        .limit(PUBLISH_BATCH)
        .cte("batch")
    )
    return update(table).where(table.c.id == batch.c.id).values(position=batch.c.position)


class Feed:
    """A table with ``id`` and a nullable ``position``, its id sequence, and its lock key."""

    def __init__(self, table: Table, numbers: Sequence, *, lock_key: int) -> None:
        # Built once, as Core statements: every read publishes (building them and the ORM
        # bulk-update path took 0.8 ms a call where the database needs 0.2 ms).
        self._publish = {
            "postgresql": _publication(table, numbers.next_value()),
            "sqlite": _publication(table, table.c.id),
        }
        self._try_lock = text("SELECT pg_try_advisory_xact_lock(:k)").bindparams(k=lock_key)
        self._wait_lock = text("SELECT pg_advisory_xact_lock(:k)").bindparams(k=lock_key)

    def publish(self, session: Session, *, wait: bool = False) -> int:
        """Give committed rows without a position the next positions, in id order.

        Returns how many rows got one (at most ``PUBLISH_BATCH``); 0 when another
        transaction is publishing and ``wait`` is false.
        """
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql" and not self._lock(session, wait=wait):
            return 0
        return int(session.execute(self._publish[dialect]).rowcount)  # type: ignore[attr-defined]

    def _lock(self, session: Session, *, wait: bool) -> bool:
        # In READ COMMITTED the UPDATE that follows takes its snapshot once the lock is
        # granted, so it sees the positions of the previous holder, which committed before
        # releasing it. (Hence two statements: a lock taken inside the UPDATE would come
        # after its snapshot.)
        if wait:
            session.execute(self._wait_lock)
            return True
        return bool(session.scalar(self._try_lock))

    def publish_all(self, session: Session) -> None:
        """Publish, waiting for the lock, to the end of the backlog: every row committed
        before this call has a position afterwards."""
        while self.publish(session, wait=True) == PUBLISH_BATCH:
            pass
