"""Receiver-URL rules and the SSRF guard, applied at subscription time and again at every delivery.

Outside the local runner a receiver must be `https` on port 443, 8443 or 8843 (Leap's rule) and every address
its host resolves to must be a public unicast address: no private (10/8, 172.16/12, 192.168/16, fc00::/7),
loopback (127/8, ::1), link-local (169.254/16 incl. the 169.254.169.254 metadata service, fe80::/10), shared
(100.64/10), unspecified (0.0.0.0, ::), multicast or reserved address, IPv4-mapped IPv6 included.
With STAGE=local, plain http is allowed to loopback only (a receiver on the developer's machine) and the
address check is skipped.

`check_receiver` returns the addresses it checked so the caller can connect to exactly those (no second DNS
lookup between the check and the connection, which would let a rebinding name slip through).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from meterhub.platform.errors import InvalidInput

ALLOWED_HTTPS_PORTS = frozenset({443, 8443, 8843})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
MAX_URL_LENGTH = 2048

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]

# Named explicitly (beyond `is_global`) so the rule reads the same in code review as in the docs.
BLOCKED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


class UnsafeReceiver(InvalidInput):
    """The receiver_url breaks a rule; the message says which (safe to show the partner)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"receiver_url: {message}", {"receiver_url": message})
        self.reason = message


@dataclass(frozen=True)
class Receiver:
    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


def is_blocked_address(address: str | IpAddress) -> bool:
    """True for any address a webhook must never reach outside the local runner."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_blocked_address(mapped)
    if any(ip.version == net.version and ip in net for net in BLOCKED_NETWORKS):
        return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _is_loopback_host(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(url: str) -> tuple[SplitResult, str, int]:
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeReceiver(f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise UnsafeReceiver("must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeReceiver("is not a valid URL") from error
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise UnsafeReceiver("must be an absolute https URL")
    if parts.username is not None or parts.password is not None:
        raise UnsafeReceiver("must not contain credentials")
    if parts.fragment:
        raise UnsafeReceiver("must not contain a fragment")
    host = parts.hostname.rstrip(".").lower()
    return parts, host, port if port is not None else (443 if parts.scheme == "https" else 80)


def check_receiver(url: str, stage: str, resolve: Resolver = system_resolver) -> Receiver:
    """Validate a receiver URL for `stage`; raises UnsafeReceiver naming the broken rule."""
    parts, host, port = _split(url)
    local = stage == "local"
    if parts.scheme == "http":
        if not (local and _is_loopback_host(host)):
            raise UnsafeReceiver("must use https (plain http is allowed only to loopback in the local runner)")
    elif not local and port not in ALLOWED_HTTPS_PORTS:
        raise UnsafeReceiver("port must be 443, 8443 or 8843")
    try:
        addresses = tuple(resolve(host, port))
    except (OSError, UnicodeError) as error:
        raise UnsafeReceiver("host does not resolve") from error
    if not addresses:
        raise UnsafeReceiver("host does not resolve")
    if not local and any(is_blocked_address(a) for a in addresses):
        raise UnsafeReceiver("must not resolve to a private, loopback, link-local or metadata address")
    return Receiver(url=url, scheme=parts.scheme, host=host, port=port, addresses=addresses)
