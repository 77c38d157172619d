"""Outbound HTTP(S) downloads that cannot be turned against the machine's own network.

A trailer URL comes from a table or, on a server, from anyone who can reach the API. Fetching it
naively lets the caller make this process talk to loopback, the private network or a cloud metadata
address (server-side request forgery), hold a thread forever with a slow drip, or fill the disk.
`fetch_to_file` therefore:

* accepts http and https only, and no `user:password@` part (it would be looked up as a host);
* resolves the host once (through an injectable resolver), refuses the URL if any address is
  loopback, private, link-local, multicast, reserved, unspecified or otherwise not global (IPv4 and
  IPv6, including IPv4 mapped into IPv6), and then connects to exactly the address it checked, so a
  second DNS answer cannot point the connection elsewhere (DNS rebinding); TLS still verifies the
  certificate against the host name;
* follows redirects itself, checking every hop the same way;
* stops at a byte cap (declared Content-Length or counted bytes) and at an overall deadline that
  covers connecting, headers and body: a watchdog shuts the socket when it passes, so a server that
  drips one byte a second cannot outlast it.

Refusals happen before any connection is made, so neither timing nor messages tell a caller which
internal ports are open. Messages never repeat the URL.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from reelcast.files import atomic_write

log = logging.getLogger(__name__)

# Statuses (the same words as reelcast.media.download's, which re-exports the two new ones).
REFUSED = "refused"  # the URL or one of its addresses is not allowed
TOO_LARGE = "too_large"  # over the byte cap
TIMEOUT = "timeout"
NETWORK_ERROR = "network_error"
NOT_FOUND = "not_found"
UNAVAILABLE = "unavailable"
INVALID = "invalid"
RATE_LIMITED = "rate_limited"  # HTTP 429: download.py backs off (Retry-After when given)

REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 1 << 16
# Host names a numeric form could hide an address in ("2130706433", "0x7f.1", "127.1").
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")
# IPv6 prefixes that carry an IPv4 address inside: NAT64 (RFC 6052).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (IPv4 and IPv6), in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0])
        if addr not in out:
            out.append(addr)
    return out


class FetchError(Exception):
    """A download that failed or was refused, with a status word and a message without the URL."""

    def __init__(self, status: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after  # seconds an HTTP 429 asked for


@dataclass(frozen=True)
class FetchPolicy:
    """What an outbound fetch may reach and how much it may take."""

    # Private, loopback and other non-global addresses are refused unless this is set (a trusted
    # table on an intranet) or the address is inside one of `allowed_networks` (a named media host).
    allow_private: bool = False
    allowed_networks: tuple[str, ...] = ()
    # None = any public host. Otherwise a URL's host must equal an entry, or end with it when the
    # entry starts with "." or "*." (".example.org" allows cdn.example.org and example.org).
    allowed_hosts: tuple[str, ...] | None = None
    max_bytes: int = 2 << 30
    deadline: float = 600.0  # seconds for the whole download, redirects included
    read_timeout: float = 60.0  # seconds one connect or read may wait
    max_redirects: int = 5
    resolver: Resolver = field(default=system_resolver, compare=False)
    user_agent: str = "reelcast (trailer download)"

    def __post_init__(self) -> None:
        if self.max_bytes <= 0 or self.deadline <= 0 or self.read_timeout <= 0:
            raise ValueError("max_bytes, deadline and read_timeout must be positive")
        for net in self.allowed_networks:
            ipaddress.ip_network(net, strict=False)  # a typo fails here, not on the first fetch

    def host_allowed(self, host: str) -> bool:
        """Whether the allowlist (if any) admits this host name."""
        if self.allowed_hosts is None:
            return True
        host = host.lower().rstrip(".")
        for entry in self.allowed_hosts:
            entry = entry.lower().strip()
            if entry.startswith("*."):
                entry = entry[1:]
            if entry.startswith("."):
                if host == entry[1:] or host.endswith(entry):
                    return True
            elif host == entry:
                return True
        return False


def address_problem(address: str) -> str | None:
    """Why an IP address may not be fetched from ("loopback", "private", ...), or None when it is public."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            why = address_problem(str(inner))
            if why:
                return why
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    )
    for name, bad in checks:
        if bad:
            return name
    return None if ip.is_global else "not globally routable"


def _literal_address(host: str) -> str | None:
    """The address a host name spells directly (dotted, IPv6, or a numeric form inet_aton accepts)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the policy, with the addresses it may be fetched from."""

    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]


def check_url(url: str, policy: FetchPolicy) -> CheckedURL:
    """Parse, allowlist and resolve one URL; FetchError(refused/invalid) when it may not be fetched."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise FetchError(INVALID, f"the URL cannot be parsed ({e})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(REFUSED, "only http and https URLs are fetched")
    if "@" in parts.netloc:
        raise FetchError(REFUSED, "URLs with a user name or password are not fetched")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise FetchError(INVALID, "the URL has no host")
    if not policy.host_allowed(host):
        raise FetchError(REFUSED, "the URL's host is not on this server's list of allowed hosts")
    port = port or (443 if scheme == "https" else 80)
    literal = _literal_address(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = list(policy.resolver(host, port))
        except (OSError, UnicodeError) as e:
            raise FetchError(
                NETWORK_ERROR, f"the host name could not be resolved ({type(e).__name__})"
            ) from None
        if not addresses:
            raise FetchError(NETWORK_ERROR, "the host name has no addresses")
    allowed_nets = [ipaddress.ip_network(n, strict=False) for n in policy.allowed_networks]
    for addr in addresses:
        try:
            why = address_problem(addr)
        except ValueError:
            raise FetchError(REFUSED, "the host resolved to something that is not an IP address") from None
        ip = ipaddress.ip_address(addr.split("%")[0])
        if why and not policy.allow_private and not any(ip in n for n in allowed_nets):
            # Any bad address refuses the URL: a host with one public and one internal record is a trap.
            raise FetchError(REFUSED, f"the URL's host is not a public address ({why}); it is not fetched")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return CheckedURL(scheme, host, port, target, tuple(addresses))


class _Watchdog:
    """Shuts the current socket when the deadline passes, so no blocking read outlives it."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.fired = False
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._sock = sock
            if self.fired and sock is not None:
                self._shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._sock is not None:
                self._shut(self._sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def cancel(self) -> None:
        self._timer.cancel()


def _open(checked: CheckedURL, policy: FetchPolicy, dog: _Watchdog) -> http.client.HTTPConnection:
    """A connection to the checked address itself (never a second lookup of the host name)."""
    last: Exception | None = None
    for addr in checked.addresses:
        timeout = min(policy.read_timeout, max(0.05, dog.remaining()))
        if checked.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                checked.host, checked.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(checked.host, checked.port, timeout=timeout)

        def pinned(_address, timeout=None, source_address=None, _addr=addr):
            return socket.create_connection((_addr, checked.port), timeout, source_address)

        # http.client connects through this attribute; TLS then wraps the socket with the host name
        # as SNI and certificate name, so pinning the address keeps certificate checks intact.
        conn._create_connection = pinned  # type: ignore[attr-defined]
        try:
            conn.connect()
        except (OSError, ssl.SSLError) as e:
            conn.close()
            last = e
            if dog.fired:
                break
            continue
        dog.watch(conn.sock)
        return conn
    if dog.fired:
        raise FetchError(TIMEOUT, "the download deadline passed while connecting")
    if isinstance(last, TimeoutError | socket.timeout):
        raise FetchError(TIMEOUT, "connecting timed out")
    if isinstance(last, ssl.SSLError):
        raise FetchError(NETWORK_ERROR, f"TLS failed ({type(last).__name__})")
    raise FetchError(NETWORK_ERROR, f"could not connect ({type(last).__name__ if last else 'no address'})")


def _status_error(code: int, reason: str, retry_after: str | None = None) -> FetchError:
    if code in (404, 410):
        return FetchError(NOT_FOUND, f"HTTP {code}: the file does not exist")
    if code == 429:
        wait = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
        return FetchError(RATE_LIMITED, f"HTTP 429 {reason}", wait)
    if code == 408 or code >= 500:
        return FetchError(NETWORK_ERROR, f"HTTP {code} {reason}")
    return FetchError(UNAVAILABLE, f"HTTP {code} {reason}")


def fetch_to_file(url: str, dest: Path, policy: FetchPolicy | None = None) -> int:
    """Download url to dest (atomically) under the policy; the byte count, or FetchError."""
    policy = policy or FetchPolicy()
    dog = _Watchdog(time.monotonic() + policy.deadline)
    try:
        return _fetch(url, Path(dest), policy, dog)
    except FetchError:
        raise
    except (OSError, http.client.HTTPException, ssl.SSLError) as e:
        if dog.fired or isinstance(e, TimeoutError | socket.timeout):
            raise FetchError(TIMEOUT, f"no answer within {policy.deadline:g} s") from None
        raise FetchError(NETWORK_ERROR, f"network error ({type(e).__name__})") from None
    finally:
        dog.cancel()


def _fetch(url: str, dest: Path, policy: FetchPolicy, dog: _Watchdog) -> int:
    for _hop in range(policy.max_redirects + 1):
        checked = check_url(url, policy)
        conn = _open(checked, policy, dog)
        try:
            conn.request("GET", checked.target, headers={"User-Agent": policy.user_agent, "Accept": "*/*"})
            resp = conn.getresponse()
            if resp.status in REDIRECT_CODES:
                location = resp.getheader("Location")
                if not location:
                    raise FetchError(UNAVAILABLE, f"HTTP {resp.status} redirect without a Location")
                url = urljoin(url, location.strip())
                continue  # the next hop is checked like the first
            if resp.status != 200:
                raise _status_error(resp.status, resp.reason, resp.getheader("Retry-After"))
            ctype = (resp.getheader("Content-Type") or "").split(";")[0].strip().lower()
            if ctype.startswith("text/"):
                raise FetchError(INVALID, f"the URL is a web page ({ctype}), not a media file")
            declared = resp.getheader("Content-Length")
            expected = int(declared) if declared and declared.strip().isdigit() else None
            if expected is not None and expected > policy.max_bytes:
                raise FetchError(
                    TOO_LARGE, f"the file is {expected} bytes, over the {policy.max_bytes}-byte limit"
                )
            return _save_body(resp, conn, dest, expected, policy, dog)
        finally:
            dog.watch(None)
            conn.close()
    raise FetchError(UNAVAILABLE, f"more than {policy.max_redirects} redirects")


def _save_body(resp, conn, dest: Path, expected: int | None, policy: FetchPolicy, dog: _Watchdog) -> int:
    n = 0

    def write(tmp: Path) -> None:
        nonlocal n
        with tmp.open("wb") as f:
            while True:
                if dog.remaining() <= 0:
                    raise FetchError(TIMEOUT, f"the download took longer than {policy.deadline:g} s")
                if conn.sock is not None:
                    conn.sock.settimeout(min(policy.read_timeout, max(0.05, dog.remaining())))
                # read1: one recv at most, so the deadline is checked between small reads.
                block = resp.read1(_CHUNK)
                if not block:
                    break
                n += len(block)
                if n > policy.max_bytes:
                    raise FetchError(TOO_LARGE, f"the file is over the {policy.max_bytes}-byte limit")
                f.write(block)
        if dog.fired:
            raise FetchError(TIMEOUT, f"the download took longer than {policy.deadline:g} s")
        if expected is not None and n != expected:
            raise FetchError(NETWORK_ERROR, f"download cut short: {n} of {expected} bytes")
        if n == 0:
            raise FetchError(INVALID, "the URL returned an empty body")

    atomic_write(dest, write)
    return n
