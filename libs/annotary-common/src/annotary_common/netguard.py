"""Fetching ``https://`` media without server-side request forgery.

Before every hop (the URL and each redirect) the host is resolved and every address it resolves to is checked:
loopback, private, link-local, carrier-grade NAT, multicast, reserved and unspecified addresses (IPv4 and IPv6,
including IPv4 addresses inside IPv6: mapped, 6to4, Teredo, NAT64) are refused unless the allow-list
(``ANNOTARY_FETCH_ALLOW``: host names and CIDR networks, comma-separated) permits them. The connection then goes to
the address that was checked (TLS still verifies the certificate for the host name), so a DNS answer that changes
between the check and the connect (DNS rebinding) cannot redirect it. Redirects are followed by hand, at most
``MAX_REDIRECTS``, each one checked the same way; a body over ``max_bytes`` is refused while it streams.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 5
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


class FetchRefused(ValueError):
    """A URL the guard will not fetch (its scheme, or an address it resolves to)."""


class FetchFailed(OSError):
    """The fetch was allowed but did not succeed (HTTP status, network error, too large)."""


class FetchNotFound(FetchFailed):
    pass


@dataclass(frozen=True)
class NetPolicy:
    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    max_bytes: int = 1 << 30
    timeout_s: float = 30.0
    ca_bundle: str | None = None
    schemes: tuple[str, ...] = ("https",)

    @classmethod
    def parse(cls, allow: str, **kwargs: Any) -> NetPolicy:
        """``allow``: comma-separated host names and CIDR networks (``10.0.0.0/8``, ``::1/128``, ``127.0.0.1``)."""
        hosts, networks = set(), []
        for raw in (part.strip() for part in allow.split(",")):
            if not raw:
                continue
            try:
                networks.append(ipaddress.ip_network(raw, strict=False))
            except ValueError:
                hosts.add(raw.lower().rstrip("."))
        return cls(allow_hosts=frozenset(hosts), allow_networks=tuple(networks), **kwargs)


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv6 one (mapped, 6to4, Teredo client, NAT64), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public unicast address (None when it is one)."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = forbidden_reason(inner)
        return f"{reason} (inside {ip})" if reason else None
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("carrier-grade NAT", isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{ip} is a {name} address"
    return None


def check_addresses(host: str, addresses: Iterable[IPAddress], policy: NetPolicy) -> IPAddress:
    """The first address to connect to; FetchRefused if any address of ``host`` is forbidden and not allowed
    (all are checked: a host that also resolves to an internal address is refused)."""
    addresses = list(addresses)
    if not addresses:
        raise FetchRefused(f"{host} does not resolve to any address")
    host_allowed = host.lower().rstrip(".") in policy.allow_hosts
    for ip in addresses:
        reason = forbidden_reason(ip)
        if reason and not host_allowed and not any(ip in net for net in policy.allow_networks
                                                   if net.version == ip.version):
            raise FetchRefused(f"{host}: {reason}; fetching it is refused (allow it with ANNOTARY_FETCH_ALLOW)")
    return addresses[0]


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchFailed(f"cannot resolve {host}: {exc}") from exc
    seen: dict[str, IPAddress] = {}
    for *_, sockaddr in infos:
        seen.setdefault(str(sockaddr[0]), ipaddress.ip_address(sockaddr[0]))
    return list(seen.values())


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to the checked address whatever host name the request carries (TLS still uses the name)."""

    def __init__(self, address: IPAddress) -> None:
        self._address = str(address)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        return await self._inner.connect_tcp(self._address, port, timeout=timeout, local_address=local_address,
                                             socket_options=socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> httpcore.AsyncNetworkStream:
        raise FetchRefused("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _ssl_context(policy: NetPolicy) -> ssl.SSLContext:
    if policy.ca_bundle:
        return ssl.create_default_context(cafile=policy.ca_bundle)
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()


async def _hop(url: str, policy: NetPolicy) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    if parts.scheme not in policy.schemes:
        raise FetchRefused(f"{url}: only {', '.join(s + '://' for s in policy.schemes)} URLs are fetched")
    if not parts.hostname:
        raise FetchRefused(f"{url}: no host")
    if parts.username or parts.password:
        raise FetchRefused(f"{url}: credentials in the URL are not allowed")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = check_addresses(parts.hostname, await resolve(parts.hostname, port), policy)
    async with httpcore.AsyncConnectionPool(ssl_context=_ssl_context(policy), network_backend=_PinnedBackend(address),
                                            max_connections=1, retries=0) as pool:
        timeouts = {"connect": policy.timeout_s, "read": policy.timeout_s, "write": policy.timeout_s,
                    "pool": policy.timeout_s}
        async with pool.stream("GET", url, headers=[(b"user-agent", b"annotary-ingest"), (b"accept", b"*/*")],
                               extensions={"timeout": timeouts}) as response:
            location = None
            for name, value in response.headers:
                if name.lower() == b"location":
                    location = value.decode("latin-1")
            if 300 <= response.status < 400:
                return response.status, location, b""
            if response.status != 200:
                return response.status, None, b""
            chunks, size = [], 0
            async for chunk in response.aiter_stream():
                size += len(chunk)
                if size > policy.max_bytes:
                    raise FetchFailed(f"{url} is larger than the limit of {policy.max_bytes} bytes")
                chunks.append(chunk)
            return 200, None, b"".join(chunks)


async def fetch(url: str, policy: NetPolicy) -> bytes:
    """The body of ``url`` (status 200), every hop checked; FetchRefused, FetchNotFound (404/410) or FetchFailed."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            status, location, body = await _hop(current, policy)
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError, ssl.SSLError) as exc:
            raise FetchFailed(f"cannot fetch {current}: {exc!r}") from exc
        if status == 200:
            return body
        if status in (301, 302, 303, 307, 308) and location:
            current = urljoin(current, location)
            continue
        if status in (404, 410):
            raise FetchNotFound(f"{current}: HTTP {status}")
        raise FetchFailed(f"{current}: HTTP {status}")
    raise FetchFailed(f"{url}: more than {MAX_REDIRECTS} redirects")
