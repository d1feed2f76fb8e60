"""Vault calls run on threads of their own. When other blocking work fills the event loop's
default executor, a Vault call still completes; and a frozen Vault never fills that executor,
where PyMongo's monitor resolves the database's address to reconnect after an outage."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from rapport_platform.settings import VaultSettings
from rapport_platform.vault import Vault


async def test_a_vault_call_needs_no_thread_of_the_default_executor(deps):
    settings = VaultSettings(vault_addr=deps.vault_addr, vault_token=deps.vault_tokens["identity"])

    async def with_the_default_executor_full() -> None:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(1))
        release = threading.Event()
        blocker = loop.run_in_executor(None, release.wait)  # its one thread, held
        vault = Vault(settings)
        try:
            # The bound turns a wait for the held thread into a failure, not a hang.
            async with asyncio.timeout(60):
                await vault.check()
        finally:
            release.set()
            await blocker
            await vault.close()

    # Its own event loop in a thread of ours: the test's loop and its executor stay untouched.
    await asyncio.to_thread(asyncio.run, with_the_default_executor_full())
