"""The unit suite is offline: every test here runs under `no_network` (tests/conftest.py), so a connection
attempt, even to 127.0.0.1, fails the test. Tests that need a socket, a moto server or a subprocess live in
tests/integration."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _offline(no_network: None) -> None:
    """Applies `no_network` to every unit test."""
