"""The gateway drains like every service: on SIGTERM (or SIGINT) `/readyz` fails for
RAPPORT_GATEWAY_DRAIN_SECONDS while every route still answers, so load balancers and endpoints
move traffic away first; then uvicorn stops listening and gives in-flight requests as long
again. A second signal skips what is left of the drain, a third stops at once. Exits 0."""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, drain_seconds: float, state: Any) -> None:
        """state: the app's `app.state`, where `/readyz` reads `draining`."""
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.state = state
        self.state.draining = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a signal handler: hand over to the loop. Not recorded as captured, so uvicorn
        # does not raise the signal again after a clean shutdown (the process exits 0).
        if self._loop is None or self._loop.is_closed():
            self.should_exit = True
            return
        self._loop.call_soon_threadsafe(self._on_signal)

    def _on_signal(self) -> None:
        if not self.state.draining:
            self.state.draining = True
            log.info("signal received: draining for %.1fs", self.drain_seconds)
            assert self._loop is not None
            self._loop.call_later(self.drain_seconds, self._stop_listening)
        elif not self.should_exit:
            self._stop_listening()
        else:
            self.force_exit = True

    def _stop_listening(self) -> None:
        # uvicorn's shutdown: close the listeners, then wait for in-flight requests up to
        # timeout_graceful_shutdown (the drain again).
        self.should_exit = True
