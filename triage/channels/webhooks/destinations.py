"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses, unless the
deployment allows loopback, private or link-local networks by setting. The request then goes to the address
that was checked (no second lookup a DNS answer could change in between)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from triage.errors import InvalidQuery

__all__ = ("Destination", "check_url", "network_of", "resolve")

MAX_URL = 2000


@dataclass(frozen=True)
class Destination:
    """A checked address to connect to, and the host name the request names (``Host``, TLS SNI)."""

    scheme: str
    host: str
    address: str
    port: int
    target: str  # path and query

    @property
    def url(self) -> str:
        """The URL with the checked address in place of the host name."""
        address = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{address}:{self.port}{self.target}"


def network_of(address: str) -> str | None:
    """``loopback``, ``link-local`` or ``private`` for a non-public address (unspecified, multicast and
    reserved addresses count as private), None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private or ip.is_unspecified or ip.is_multicast or ip.is_reserved or not ip.is_global:
        return "private"
    return None


def check_url(url: str, allow: tuple[str, ...] = (), *, field: str = "url") -> tuple[str, str, int, str]:
    """``(scheme, host, port, target)`` of a webhook URL; raise :class:`InvalidQuery` naming ``field`` when
    it is not an absolute http(s) URL, or its host is an address of a network not in ``allow``."""
    if len(url) > MAX_URL:
        raise InvalidQuery(f"the URL is longer than {MAX_URL} characters", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidQuery(f"not a URL: {error}", field=field) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidQuery("a webhook URL is an absolute http:// or https:// URL", field=field)
    if parts.fragment:
        raise InvalidQuery("a webhook URL has no #fragment", field=field)
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        literal = network_of(host)
    except ValueError:  # a name, not an address: checked when it is resolved
        literal = "loopback" if host == "localhost" or host.endswith(".localhost") else None
    if literal and literal not in allow:
        raise InvalidQuery(
            f"{host} is a {literal} address; webhooks go there only when HELPDESK_WEBHOOK_ALLOW_NETWORKS "
            f"includes {literal}",
            field=field,
        )
    return parts.scheme, host, port, target


def resolve(url: str, allow: tuple[str, ...] = ()) -> Destination:
    """Check ``url`` and resolve its host; every address it resolves to must be allowed (raise
    :class:`InvalidQuery` otherwise, or when it does not resolve)."""
    scheme, host, port, target = check_url(url, allow)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise InvalidQuery(f"cannot resolve {host}: {error}", field="url") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        network = network_of(address)
        if network and network not in allow:
            raise InvalidQuery(
                f"{host} resolves to {address}, a {network} address, which HELPDESK_WEBHOOK_ALLOW_NETWORKS "
                "does not allow",
                field="url",
            )
    return Destination(scheme, host, addresses[0], port, target)
