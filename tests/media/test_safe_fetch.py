"""Outbound fetches: only http(s), never the machine's own network, every redirect re-checked, bounded.

Names are never resolved for real: each test injects a resolver. The only traffic goes to a server on
127.0.0.1 that the tests start, reached through `allowed_networks` the way an operator would allow one
intranet media host.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from helpers.loopback_http import LoopbackHTTP

from reelcast.config import MediaConfig
from reelcast.media import download as dl
from reelcast.media.refs import TrailerRef
from reelcast.media.safe_fetch import FetchError, FetchPolicy, address_problem, check_url, fetch_to_file

BODY = b"\x00\x00\x00\x18ftypmp42" + b"v" * 5000


def no_dns(host: str, port: int) -> list[str]:
    raise AssertionError(f"the resolver must not be asked about {host!r}")


class Resolver:
    """A fake DNS: a fixed answer per name, and a log of every question."""

    def __init__(self, answers: dict[str, list[str]]):
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]


# media.test is the one intranet host these tests allow; it lives on 127.0.0.1.
LOCAL = Resolver({"media.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
ALLOWED = FetchPolicy(allowed_networks=("127.0.0.1/32",), resolver=LOCAL, deadline=5.0, read_timeout=2.0)
STRICT = FetchPolicy(resolver=no_dns, deadline=5.0, read_timeout=2.0)


@pytest.fixture(scope="module")
def srv():
    with LoopbackHTTP(files={"/t.mp4": BODY}) as s:
        yield s


def refused(url: str, policy: FetchPolicy = STRICT) -> FetchError:
    with pytest.raises(FetchError) as e:
        check_url(url, policy)
    return e.value


# ---- what is refused before any connection ----------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.org/t.mp4", "gopher://example.org/", "dict://127.0.0.1:11211/"],
)
def test_only_http_and_https(url):
    e = refused(url)
    assert e.status == "refused" and "only http and https" in e.message


def test_credentials_in_url_are_refused_without_a_lookup():
    e = refused("http://user:pass@example.org/t.mp4", replace(STRICT, resolver=no_dns))
    assert e.status == "refused" and "user name or password" in e.message
    assert "pass" not in e.message.replace("password", "")  # the secret is never repeated


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("[::1]", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4 mapped into IPv6
        ("[64:ff9b::a00:1]", "private"),  # NAT64 of 10.0.0.1
        ("[fd00::1]", "private"),
        ("[fe80::1]", "link-local"),
        ("[ff02::1]", "multicast"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("2130706433", "loopback"),  # 127.0.0.1 as one decimal number
        ("0x7f.1", "loopback"),  # and in hex shorthand
    ],
)
def test_internal_address_literals_are_refused(host, why):
    e = refused(f"http://{host}:8080/t.mp4")
    assert e.status == "refused" and f"({why})" in e.message
    assert host.strip("[]") not in e.message  # the caller learns the rule, not an echo of the URL


def test_a_name_resolving_inside_is_refused():
    dns = Resolver({"intranet.example.org": ["10.0.0.7"]})
    e = refused("https://intranet.example.org/t.mp4", replace(STRICT, resolver=dns))
    assert e.status == "refused" and "private" in e.message and dns.asked == ["intranet.example.org"]


def test_one_internal_record_among_public_ones_refuses_the_host():
    dns = Resolver({"mixed.example.org": ["93.184.216.34", "127.0.0.1"]})
    assert refused("http://mixed.example.org/", replace(STRICT, resolver=dns)).status == "refused"


def test_public_host_passes_and_keeps_the_checked_address():
    dns = Resolver({"cdn.example.org": ["93.184.216.34", "2606:2800:220:1::1"]})
    c = check_url("https://cdn.example.org/a/t.mp4?x=1", replace(STRICT, resolver=dns))
    assert (c.host, c.port, c.target) == ("cdn.example.org", 443, "/a/t.mp4?x=1")
    assert c.addresses == ("93.184.216.34", "2606:2800:220:1::1")


def test_unresolvable_host_is_a_network_error():
    e = refused("http://nowhere.invalid/t.mp4", replace(STRICT, resolver=Resolver({})))
    assert e.status == "network_error" and "could not be resolved" in e.message


def test_url_without_host_is_invalid():
    assert refused("http:///t.mp4").status == "invalid"


def test_host_allowlist():
    dns = Resolver({"cdn.example.org": ["93.184.216.34"], "evil.example.com": ["93.184.216.35"]})
    policy = replace(STRICT, resolver=dns, allowed_hosts=(".example.org",))
    assert check_url("http://cdn.example.org/t.mp4", policy).host == "cdn.example.org"
    e = refused("http://evil.example.com/t.mp4", policy)
    assert e.status == "refused" and "allowed hosts" in e.message and dns.asked == ["cdn.example.org"]
    assert policy.host_allowed("example.org") and not policy.host_allowed("notexample.org")


def test_public_address_checks():
    assert address_problem("93.184.216.34") is None and address_problem("2606:2800:220:1::1") is None


# ---- fetching from the allowed loopback host ----------------------------------------------------------
def test_fetch_connects_to_the_checked_address_once(srv, tmp_path):
    dns = Resolver({"media.test": ["127.0.0.1"]})
    n = fetch_to_file(srv.url("/t.mp4", "media.test"), tmp_path / "t.mp4", replace(ALLOWED, resolver=dns))
    assert n == len(BODY) and (tmp_path / "t.mp4").read_bytes() == BODY
    # One lookup (no second answer can redirect the connection) and the name kept as the Host header.
    assert dns.asked == ["media.test"] and srv.hosts[-1] == f"media.test:{srv.port}"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://10.0.0.5/t.mp4", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("file:///etc/passwd", "only http and https"),
    ],
)
def test_every_redirect_is_checked(srv, tmp_path, target, message):
    with pytest.raises(FetchError) as e:
        fetch_to_file(srv.url(f"/redirect?to={target}", "media.test"), tmp_path / "t.mp4", ALLOWED)
    assert e.value.status == "refused" and message in e.value.message
    assert list(tmp_path.iterdir()) == []


def test_redirect_off_the_allowlist_is_refused(srv, tmp_path):
    policy = replace(ALLOWED, allowed_hosts=("media.test",))
    to = srv.url("/t.mp4", "other.test")
    before = srv.hits["/t.mp4"]
    with pytest.raises(FetchError) as e:
        fetch_to_file(srv.url(f"/redirect?to={to}", "media.test"), tmp_path / "t.mp4", policy)
    assert e.value.status == "refused" and "allowed hosts" in e.value.message
    assert srv.hits["/t.mp4"] == before


def test_allowed_redirect_is_followed(srv, tmp_path):
    to = srv.url("/t.mp4", "media.test")
    fetch_to_file(srv.url(f"/redirect?to={to}", "media.test"), tmp_path / "t.mp4", ALLOWED)
    assert (tmp_path / "t.mp4").read_bytes() == BODY


def test_redirect_loop_stops(srv, tmp_path):
    with pytest.raises(FetchError) as e:
        fetch_to_file(srv.url("/redirect-loop", "media.test"), tmp_path / "t.mp4", ALLOWED)
    assert e.value.status == "unavailable" and "more than 5 redirects" in e.value.message


def test_declared_size_over_the_cap_is_refused_before_the_body(srv, tmp_path):
    with pytest.raises(FetchError) as e:
        fetch_to_file(
            srv.url("/big?mb=600", "media.test"), tmp_path / "t.mp4", replace(ALLOWED, max_bytes=2**20)
        )
    assert e.value.status == "too_large" and list(tmp_path.iterdir()) == []


def test_undeclared_flood_stops_at_the_cap(srv, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(FetchError) as e:
        fetch_to_file(
            srv.url("/flood?mb=64", "media.test"), tmp_path / "t.mp4", replace(ALLOWED, max_bytes=2**20)
        )
    assert e.value.status == "too_large" and list(tmp_path.iterdir()) == []
    assert time.monotonic() - t0 < 5


def test_a_drip_is_cut_at_the_overall_deadline(srv, tmp_path):
    # One byte every 0.1 s never trips a per-read timeout; the overall deadline of 1 s does.
    policy = replace(ALLOWED, deadline=1.0, read_timeout=2.0)
    t0 = time.monotonic()
    with pytest.raises(FetchError) as e:
        fetch_to_file(srv.url("/drip?bytes=1000&every=0.1", "media.test"), tmp_path / "t.mp4", policy)
    assert e.value.status == "timeout" and time.monotonic() - t0 < 2.5
    assert list(tmp_path.iterdir()) == []


def test_a_server_that_never_answers_times_out(srv, tmp_path):
    policy = replace(ALLOWED, deadline=0.8, read_timeout=5.0)
    t0 = time.monotonic()
    with pytest.raises(FetchError) as e:
        fetch_to_file(srv.url("/stall?seconds=5", "media.test"), tmp_path / "t.mp4", policy)
    assert e.value.status == "timeout" and time.monotonic() - t0 < 2.5


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/status/404", "not_found", "HTTP 404"),
        ("/status/410", "not_found", "HTTP 410"),
        ("/status/500", "network_error", "HTTP 500"),
        ("/status/429", "rate_limited", "HTTP 429"),
        ("/status/403", "unavailable", "HTTP 403"),
        ("/page", "invalid", "web page"),
        ("/short", "network_error", "cut short"),
        ("/empty", "invalid", "empty body"),
    ],
)
def test_http_failures(srv, tmp_path, path, status, message):
    with pytest.raises(FetchError) as e:
        fetch_to_file(srv.url(path, "media.test"), tmp_path / "t.mp4", ALLOWED)
    assert e.value.status == status and message in e.value.message
    assert "media.test" not in e.value.message and list(tmp_path.iterdir()) == []


def test_closed_port_is_a_network_error(tmp_path):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago and is closed now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FetchError) as e:
        fetch_to_file(f"http://media.test:{port}/t.mp4", tmp_path / "t.mp4", ALLOWED)
    assert e.value.status == "network_error" and "could not connect" in e.value.message


# ---- through fetch_trailer (what extract and the server call) -------------------------------------------
def test_fetch_trailer_refuses_loopback_by_default_and_does_not_retry(srv, tmp_path):
    cfg = MediaConfig(retries=3, timeout=2.0)
    r = dl.fetch_trailer(TrailerRef("url", srv.url("/t.mp4")), cfg, tmp_path, sleep=lambda s: None)
    assert (r.status, r.attempts, r.path) == ("refused", 1, None) and "loopback" in r.message
    assert srv.url("/t.mp4") not in r.message


def test_fetch_trailer_obeys_the_config_limits(srv, tmp_path):
    cfg = MediaConfig(retries=0, timeout=2.0, allow_private_hosts=True, max_download_mb=1.0)
    r = dl.fetch_trailer(TrailerRef("url", srv.url("/flood?mb=8")), cfg, tmp_path)
    assert r.status == "too_large" and "limit" in r.message
    ok = dl.fetch_trailer(TrailerRef("url", srv.url("/t.mp4")), cfg, tmp_path)
    assert ok.status == "ok" and ok.path.read_bytes() == BODY


def test_ytdlp_gets_the_byte_cap_and_deadline():
    opts = dl._ytdlp_limits(FetchPolicy(max_bytes=1000, deadline=60.0))
    assert opts["max_filesize"] == 1000
    guard = opts["progress_hooks"][0]
    guard({"downloaded_bytes": 999})
    with pytest.raises(dl._Failure) as e:
        guard({"downloaded_bytes": 1001})
    assert e.value.status == "too_large"
    late = dl._ytdlp_limits(FetchPolicy(deadline=1e-9))["progress_hooks"][0]
    time.sleep(0.01)
    with pytest.raises(dl._Failure) as e:
        late({"downloaded_bytes": 1})
    assert e.value.status == "timeout"


# ---- https: the connection is pinned to the checked address, the certificate still names the host ------
@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl program to make a test certificate")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=media.test",
         "-addext", "subjectAltName=DNS:media.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with LoopbackHTTP(files={"/t.mp4": BODY}, tls=(str(cert), str(key))) as s:
        yield s, cert


def test_https_verifies_the_certificate_by_default(tls_server, tmp_path):
    srv, _ = tls_server
    with pytest.raises(FetchError) as e:  # self-signed: not trusted by the system's authorities
        fetch_to_file(srv.url("/t.mp4", "media.test"), tmp_path / "t.mp4", ALLOWED)
    assert e.value.status == "network_error" and "TLS failed" in e.value.message


def test_https_to_a_pinned_address_checks_the_host_name(tls_server, tmp_path, monkeypatch):
    import ssl

    from reelcast.media import safe_fetch

    srv, cert = tls_server
    trusting = ssl.create_default_context(cafile=str(cert))  # trusts the test certificate, checks host names
    monkeypatch.setattr(safe_fetch.ssl, "create_default_context", lambda: trusting)
    assert fetch_to_file(srv.url("/t.mp4", "media.test"), tmp_path / "t.mp4", ALLOWED) == len(BODY)
    with pytest.raises(FetchError) as e:  # same address, but the certificate is not other.test's
        fetch_to_file(srv.url("/t.mp4", "other.test"), tmp_path / "u.mp4", ALLOWED)
    assert e.value.status == "network_error" and "TLS failed" in e.value.message
