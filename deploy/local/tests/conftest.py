from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from rapport_local.procs import Proc, free_port, start_bao_dev


@pytest.fixture(scope="module")
def bao_dev() -> Iterator[tuple[Proc, str]]:
    token = secrets.token_hex(16)
    with start_bao_dev(free_port(), token) as proc:
        yield proc, token
