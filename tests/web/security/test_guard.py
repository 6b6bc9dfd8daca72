"""Host names as the Host header and ALLOWED_HOSTS give them, and which ones the allow-list takes."""

from __future__ import annotations

import pytest

from live_progress.web.security.guard import HostPatterns
from live_progress.web.settings import LOCAL_HOSTS, host_name


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("localhost", "localhost"),
        ("LocalHost:8000", "localhost"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("example.com.", "example.com"),
        ("example.com.:443", "example.com"),
        (" live.example.com ", "live.example.com"),
        ("[::1", ""),
        ("", ""),
    ],
)
def test_host_name_drops_port_brackets_and_case(raw: str, name: str) -> None:
    assert host_name(raw) == name


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost:8000", True),
        ("LOCALHOST", True),
        ("app.localhost:8000", True),
        ("127.0.0.1:8000", True),
        ("[::1]:8000", True),
        ("evil.example", False),
        ("evil.example:8000", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.nip.io", False),
        ("evillocalhost", False),
        ("0.0.0.0:8000", False),
        ("", False),
    ],
)
def test_the_default_list_takes_only_this_machines_names(host: str, allowed: bool) -> None:
    assert HostPatterns(LOCAL_HOSTS).allow(host) is allowed


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("live.example.com", True),
        ("a.b.example.com", True),
        ("example.com", False),
        ("notexample.com", False),
        ("localhost", False),
    ],
)
def test_a_wildcard_takes_subdomains_only(host: str, allowed: bool) -> None:
    assert HostPatterns(["*.example.com"]).allow(host) is allowed


def test_a_star_takes_any_host() -> None:
    assert HostPatterns(["*"]).allow("anything.example:1234")
