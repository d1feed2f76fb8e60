"""Administration commands, run beside the service with its settings (its own database):

    python -m rapport_identity operator grant <user_id>
    python -m rapport_identity operator revoke <user_id>
    python -m rapport_identity operator list

Operator rights are a flag on the account, set only here: a deliberate act by whoever may run
commands in identity's environment, never something an account can obtain through the API (an
email address proves nothing; it is never verified). The flag takes effect at the account's next
sign-in or refresh (a flagged client account becomes the marketplace clinic's admin; a revoked
one goes back to being a client); operator-only calls check it on every request.

Output names accounts by id only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from rapport_platform.errors import DomainError
from rapport_platform.settings import load_settings
from rapport_platform.store import Store

from rapport_identity import domain
from rapport_identity.settings import IdentitySettings
from rapport_identity.store import Users


class NoSuchAccount(LookupError):
    pass


async def grant(store: Store, user_id: str) -> domain.User:
    """Flag an account as a platform operator (what `operator grant` does)."""
    users = Users(store)
    user = await users.by_id(user_id)
    if user is None:
        raise NoSuchAccount(user_id)
    domain.may_become_operator(user)
    await users.set_operator(user_id, True)
    return user


async def revoke(store: Store, user_id: str) -> domain.User:
    """Remove the flag (what `operator revoke` does)."""
    users = Users(store)
    user = await users.by_id(user_id)
    if user is None:
        raise NoSuchAccount(user_id)
    await users.set_operator(user_id, False)
    return user


async def operators(store: Store) -> list[domain.User]:
    return await Users(store).operators()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m rapport_identity",
        description="Without arguments: serve. With a command: administer identity's database "
        "(RAPPORT_IDENTITY_* settings, as the service reads them).",
    )
    commands = p.add_subparsers(dest="command", required=True)
    op = commands.add_parser("operator", help="grant, revoke or list platform operators")
    actions = op.add_subparsers(dest="action", required=True)
    for action, text in (
        ("grant", "make an account a platform operator"),
        ("revoke", "take operator rights away"),
    ):
        actions.add_parser(action, help=text).add_argument("user_id")
    actions.add_parser("list", help="the accounts that are operators")
    return p


async def run(args: argparse.Namespace, settings: IdentitySettings) -> int:
    store = Store(settings.mongo_uri, settings.mongo_db)
    try:
        if args.action == "list":
            for user in await operators(store):
                print(f"{user.user_id}\t{user.role}\t{user.clinic_id or '-'}")
            return 0
        action = grant if args.action == "grant" else revoke
        try:
            user = await action(store, args.user_id)
        except NoSuchAccount:
            print(f"no account with id {args.user_id}", file=sys.stderr)
            return 1
        except DomainError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        done = "is now an operator" if args.action == "grant" else "is no longer an operator"
        print(f"{user.user_id} {done}; it takes effect at the account's next sign-in or refresh")
        return 0
    finally:
        await store.close()


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(run(args, load_settings(IdentitySettings)))
