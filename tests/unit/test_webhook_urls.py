"""Receiver-URL rules per stage and the SSRF guard (no network: the resolver is injected or monkeypatched)."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Any

import pytest
from meterhub.webhooks.rules import urls
from meterhub.webhooks.rules.urls import UnsafeReceiver, check_receiver, is_blocked_address

PUBLIC = "93.184.216.34"


def resolves_to(*addresses: str) -> urls.Resolver:
    def resolve(_host: str, _port: int) -> Sequence[str]:
        return addresses

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "127.0.0.1",
        "127.8.9.10",
        "0.0.0.0",  # noqa: S104 - an address under test, nothing binds to it
        "100.64.0.1",
        "100.127.255.254",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "224.0.0.1",
        "240.0.0.1",
    ],
)
def test_private_loopback_link_local_and_metadata_addresses_are_blocked(address: str) -> None:
    assert is_blocked_address(address)


@pytest.mark.parametrize("address", [PUBLIC, "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_blocked_address(address)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "192.168.0.10", "fe80::1"])
def test_a_hostname_resolving_to_a_private_address_is_refused_outside_local(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    # Given a public-looking name that DNS points at an internal address (via the real system resolver path)
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    # Then the subscription is refused in every deployed stage
    for stage in ("dev", "staging", "prod"):
        with pytest.raises(UnsafeReceiver, match="private, loopback, link-local or metadata"):
            check_receiver("https://hooks.partner.example/in", stage)


def test_one_bad_address_among_several_is_enough_to_refuse() -> None:
    with pytest.raises(UnsafeReceiver):
        check_receiver("https://hooks.partner.example/", "prod", resolves_to(PUBLIC, "10.0.0.5"))


@pytest.mark.parametrize("port", [443, 8443, 8843])
def test_https_on_the_allowed_ports_is_accepted_in_production(port: int) -> None:
    receiver = check_receiver(f"https://hooks.partner.example:{port}/in", "prod", resolves_to(PUBLIC))
    assert (receiver.host, receiver.port, receiver.addresses) == ("hooks.partner.example", port, (PUBLIC,))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.partner.example/in", "must use https"),
        ("http://127.0.0.1:8080/in", "must use https"),
        ("https://hooks.partner.example:8080/in", "port must be 443, 8443 or 8843"),
        ("https://hooks.partner.example:80/in", "port must be 443, 8443 or 8843"),
        ("ftp://hooks.partner.example/in", "absolute https URL"),
        ("hooks.partner.example/in", "absolute https URL"),
        ("https://user:pw@hooks.partner.example/in", "credentials"),
        ("https://hooks.partner.example/in#x", "fragment"),
        ("https://hooks.partner.example/in put", "whitespace"),
        ("https://hooks.partner.example:99999/", "not a valid URL"),
    ],
)
@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_url_rules_outside_local(url: str, reason: str, stage: str) -> None:
    with pytest.raises(UnsafeReceiver, match=reason):
        check_receiver(url, stage, resolves_to(PUBLIC))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost:9000/", "http://[::1]:8000/x"])
def test_local_stage_allows_plain_http_to_loopback(url: str) -> None:
    assert check_receiver(url, "local", resolves_to("127.0.0.1")).scheme == "http"


def test_local_stage_still_refuses_plain_http_elsewhere() -> None:
    with pytest.raises(UnsafeReceiver, match="must use https"):
        check_receiver("http://hooks.partner.example/", "local", resolves_to(PUBLIC))


def test_a_name_that_does_not_resolve_is_refused() -> None:
    def fail(_host: str, _port: int) -> Sequence[str]:
        raise socket.gaierror("no such host")

    with pytest.raises(UnsafeReceiver, match="does not resolve"):
        check_receiver("https://nowhere.partner.example/", "prod", fail)
