"""Wiring only: settings -> telemetry -> FastAPI app -> uvicorn."""

from __future__ import annotations

import uvicorn
from rapport_platform.settings import load_settings
from rapport_platform.telemetry import setup_telemetry

from rapport_gateway.app import create_app
from rapport_gateway.settings import GatewaySettings

NAME = "gateway"


def main() -> None:
    settings = load_settings(GatewaySettings)
    setup_telemetry(NAME, settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # keep the JSON logging set up above
        access_log=False,  # access lines would carry paths and addresses; spans cover requests
        timeout_graceful_shutdown=int(settings.drain_seconds),
    )


if __name__ == "__main__":
    main()
