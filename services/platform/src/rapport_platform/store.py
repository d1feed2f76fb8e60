"""Store: PyMongo's async API (AsyncMongoClient), a bounded transaction helper, indexes at start.

Motor reached end of life on 2026-05-14; PyMongo's async API is its successor with the same shape.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import pymongo
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

T = TypeVar("T")
Session = AsyncClientSession
log = logging.getLogger(__name__)

# Below the health probe's 2 s bound, so the driver ends a ping itself rather than being
# cancelled from outside in the middle of server selection.
PING_TIMEOUT_S = 1.5
CLOSE_TIMEOUT_S = 5.0


class Store:
    """One service's own database."""

    def __init__(self, uri: str, db_name: str, *, timeout_ms: int = 3000) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            tz_aware=True,
            uuidRepresentation="standard",
        )
        self.db: AsyncDatabase[dict[str, Any]] = self.client[db_name]

    async def ping(self) -> None:
        with pymongo.timeout(PING_TIMEOUT_S):
            await self.client.admin.command("ping")

    async def ensure_indexes(
        self,
        indexes: Mapping[str, Sequence[IndexModel]],
        retired: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        """Create each collection's indexes (idempotent), at service start. Indexes a newer
        version no longer wants (`retired`, by name) are dropped first: they cost every write,
        and one may hold the key pattern of its replacement."""
        for collection, names in (retired or {}).items():
            present = {i["name"] async for i in await self.db[collection].list_indexes()}
            for name in set(names) & present:
                await self.db[collection].drop_index(name)
        for collection, models in indexes.items():
            if models:
                await self.db[collection].create_indexes(list(models))

    async def transaction(self, fn: Callable[[Session], Awaitable[T]], *, attempts: int = 10) -> T:
        """Run fn inside one transaction; retry the whole of it on TransientTransactionError
        (write conflicts, elections) and the commit on UnknownTransactionCommitResult, a bounded
        number of times. fn must do all its writes through the session it is given."""
        for attempt in range(1, attempts + 1):
            async with self.client.start_session() as session:
                try:
                    await session.start_transaction(
                        read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
                    )
                    result = await fn(session)
                    await _commit(session, attempts)
                    return result
                except PyMongoError as exc:
                    if session.in_transaction:
                        await session.abort_transaction()
                    # Conflicts are worth many retries; an unreachable server is not (the caller
                    # gets UNAVAILABLE at once rather than after its deadline).
                    limit = 2 if isinstance(exc, ConnectionFailure) else attempts
                    if attempt < limit and exc.has_error_label("TransientTransactionError"):
                        await asyncio.sleep(random.uniform(0, 0.005 * 2 ** min(attempt, 7)))
                        continue
                    raise
                except BaseException:
                    if session.in_transaction:
                        await session.abort_transaction()
                    raise
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Bounded: closing ends the server-side sessions, which needs the server; a stop must
        not hang on a database that is gone."""
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self.client.close()
        except TimeoutError:
            log.warning("store close took over %.0f s; connections dropped", CLOSE_TIMEOUT_S)


async def _commit(session: Session, attempts: int) -> None:
    for attempt in range(1, attempts + 1):
        try:
            await session.commit_transaction()
            return
        except PyMongoError as exc:
            if attempt < attempts and exc.has_error_label("UnknownTransactionCommitResult"):
                continue
            raise


def to_document(record: Any, *, id_field: str, **extra: Any) -> dict[str, Any]:
    """A domain dataclass as a document: its id field becomes `_id`; `extra` adds or replaces
    fields (values stored in another form, or that the domain object does not carry)."""
    doc = dataclasses.asdict(record)
    doc["_id"] = doc.pop(id_field)
    doc.update(extra)
    return doc


def from_document(cls: type[T], doc: Mapping[str, Any], *, id_field: str, **overrides: Any) -> T:
    """The dataclass back from its document. Fields the document lacks take the dataclass's
    defaults; fields it has that the dataclass does not know are ignored; `overrides` win."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in doc.items() if k in names}
    values[id_field] = doc["_id"]
    values.update(overrides)
    return cls(**values)
