"""Wiring only: settings -> telemetry -> FastAPI app -> uvicorn."""

from __future__ import annotations

import math

import uvicorn
from rapport_platform.settings import load_settings
from rapport_platform.telemetry import setup_telemetry

from rapport_gateway.app import create_app
from rapport_gateway.drain import DrainingServer
from rapport_gateway.limits import server_limits
from rapport_gateway.settings import GatewaySettings

NAME = "gateway"


def main() -> None:
    settings = load_settings(GatewaySettings)
    setup_telemetry(NAME, settings.log_level)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep the JSON logging set up above
        # Access lines would carry paths and addresses; spans cover requests.
        access_log=False,
        **server_limits(settings),
        # In-flight requests get the drain again once the listeners close (see drain.py).
        timeout_graceful_shutdown=math.ceil(settings.drain_seconds),
    )
    DrainingServer(config, drain_seconds=settings.drain_seconds, state=app.state).run()


if __name__ == "__main__":
    main()
