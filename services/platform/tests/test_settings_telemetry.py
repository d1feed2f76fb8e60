from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry import trace
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import GrpcServiceSettings, VaultSettings, load_settings
from rapport_platform.telemetry import setup_logging


class DemoSettings(GrpcServiceSettings, VaultSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_DEMO_")
    mongo_db: str = "demo"


def test_bad_config_fails_fast_naming_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("RAPPORT_DEMO_GRPC_PORT", "not-a-port")
    monkeypatch.setenv("RAPPORT_DEMO_VAULT_TOKEN", "t")
    with pytest.raises(SystemExit) as info:
        load_settings(DemoSettings)
    assert info.value.code == 2
    assert "RAPPORT_DEMO_GRPC_PORT" in capsys.readouterr().err


def test_missing_vault_credentials_fail_fast(monkeypatch, capsys):
    monkeypatch.setenv("RAPPORT_DEMO_GRPC_PORT", "5000")
    with pytest.raises(SystemExit):
        load_settings(DemoSettings)
    assert "vault_token is required" in capsys.readouterr().err


def test_good_config_loads(monkeypatch):
    monkeypatch.setenv("RAPPORT_DEMO_GRPC_PORT", "5000")
    monkeypatch.setenv("RAPPORT_DEMO_VAULT_TOKEN", "t")
    s = load_settings(DemoSettings)
    assert s.grpc_port == 5000 and s.mongo_db == "demo" and s.vault_token == "t"
    assert "t" not in repr(s).split("vault_token")[-1][:5]  # the token is not in the repr


def test_json_logs_carry_trace_and_span_ids(telemetry):
    setup_logging("demo")
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)
    with trace.get_tracer("t").start_as_current_span("work") as span:
        logging.getLogger("demo").warning("hello %s", "world")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    ctx = span.get_span_context()
    assert line["message"] == "hello world" and line["service"] == "demo"
    assert line["trace_id"] == format(ctx.trace_id, "032x")
    assert line["span_id"] == format(ctx.span_id, "016x")
