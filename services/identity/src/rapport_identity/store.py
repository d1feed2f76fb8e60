"""Identity's repository: users in its own database."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from rapport_platform.store import Session, Store

from rapport_identity.domain import User

USERS = "users"
INDEXES = {USERS: [IndexModel([("email", ASCENDING)], unique=True)]}


def _to_doc(user: User, password_hash: str) -> dict[str, Any]:
    return {
        "_id": user.user_id,
        "email": user.email,
        "password_hash": password_hash,
        "role": user.role,
        "display_name": user.display_name,
        "jurisdiction": user.jurisdiction,
        "clinic_id": user.clinic_id,
        "created_at": user.created_at,
    }


def _to_user(doc: dict[str, Any]) -> User:
    return User(
        user_id=doc["_id"],
        email=doc["email"],
        role=doc["role"],
        display_name=doc["display_name"],
        jurisdiction=doc.get("jurisdiction", ""),
        clinic_id=doc.get("clinic_id", ""),
        created_at=doc["created_at"],
    )


class Users:
    def __init__(self, store: Store) -> None:
        self._col = store.db[USERS]

    async def add(self, session: Session, user: User, password_hash: str) -> None:
        await self._col.insert_one(_to_doc(user, password_hash), session=session)

    async def by_id(self, user_id: str) -> User | None:
        doc = await self._col.find_one({"_id": user_id})
        return _to_user(doc) if doc else None

    async def credentials(self, email: str) -> tuple[User, str] | None:
        doc = await self._col.find_one({"email": email})
        return (_to_user(doc), doc["password_hash"]) if doc else None
