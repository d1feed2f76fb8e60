"""List-valued settings read from one variable, and values the settings source cannot decode."""

from __future__ import annotations

import importlib

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict
from rapport_platform.settings import BaseServiceSettings, CommaSeparatedInts, load_settings


class Demo(BaseServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RAPPORT_DEMO_", frozen=True)

    leads: CommaSeparatedInts = (5,)
    labels: dict[str, int] = {}  # a JSON-only value: the source itself fails on bad input


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("1440,60", (1440, 60)), (" 30 , 5 ", (30, 5)), ("[1, 2]", (1, 2)), ("7", (7,))],
)
def test_comma_separated_and_json_lists(monkeypatch, raw, parsed):
    monkeypatch.setenv("RAPPORT_DEMO_LEADS", raw)
    assert load_settings(Demo).leads == parsed


def test_an_undecodable_value_exits_2_naming_the_variable(monkeypatch, capsys):
    monkeypatch.setenv("RAPPORT_DEMO_LABELS", "a=1")
    with pytest.raises(SystemExit) as exit_:
        load_settings(Demo)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "invalid configuration for Demo:",
        "  RAPPORT_DEMO_LABELS: cannot be read",
    ]


@pytest.mark.parametrize(
    ("cls", "env", "default"),
    [
        ("rapport_notes_vault.settings.NotesVaultSettings", "RAPPORT_NOTES_VAULT_", "notes-vault"),
        (
            "rapport_session_relay.settings.SessionRelaySettings",
            "RAPPORT_SESSION_RELAY_",
            "session-relay",
        ),
    ],
)
def test_consumer_prefix_is_a_durable_name_part(cls, env, default):
    """One constrained type for every consumer service: a JetStream durable name may not hold
    spaces, dots or wildcards; each service keeps its own default."""
    module, _, name = cls.rpartition(".")
    settings_cls = getattr(importlib.import_module(module), name)
    assert settings_cls.model_fields["consumer_prefix"].default == default
    for bad in ("a.b", "a b", "a*", "", "x" * 65):
        with pytest.raises(ValidationError) as refused:
            settings_cls(consumer_prefix=bad)
        assert ("consumer_prefix",) in [e["loc"] for e in refused.value.errors()]
