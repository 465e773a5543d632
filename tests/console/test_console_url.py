"""The address `tradefsm console` prints opens in a browser: IPv6 literals in brackets."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fsm.commands.console import console_url


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("::1", "http://[::1]:8080/"),
        ("127.0.0.1", "http://127.0.0.1:8080/"),
        ("localhost", "http://localhost:8080/"),
        ("fe80::1%eth0", "http://[fe80::1%25eth0]:8080/"),
    ],
)
def test_ipv6_literals_are_bracketed(host: str, url: str) -> None:
    assert console_url(host, 8080) == url


@given(st.ip_addresses(), st.integers(min_value=1, max_value=65535))
def test_any_address_reads_back_from_the_url(address: object, port: int) -> None:
    parts = urlsplit(console_url(str(address), port))
    assert (parts.hostname, parts.port, parts.path) == (str(address), port, "/")
