"""Trailer downloads for the server: a bounded pool of their own, a bounded cache, the fetch policy.

Request handlers never download. They hand the trailer to `TrailerFetcher`, whose few threads do the
downloads while the event loop (and so /health) and the request threads stay free. At most
`max_pending_fetches` downloads run or wait at once; a request beyond that gets a text-only answer
that says the server is busy, instead of queueing without limit. Requests for the same trailer share
one download. Finished files live in the server's own download folder, which is trimmed (oldest
first) to `download_cache_mb` after every download; a file a request is still reading is never
removed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import dataclasses
import logging
import threading
from pathlib import Path
from urllib.parse import urlsplit

from reelcast.config import MediaConfig
from reelcast.media.download import MEDIA_EXTS, FetchResult, fetch_trailer, policy_for
from reelcast.media.refs import TrailerRef
from reelcast.media.safe_fetch import FetchPolicy
from reelcast.serving.settings import ServeSettings

log = logging.getLogger(__name__)

BUSY = "busy"
REFUSED = "refused"


class DownloadCache:
    """A download folder kept under a byte budget; files in use are leased and never evicted."""

    def __init__(self, folder: Path, max_bytes: int):
        self.folder = Path(folder)
        self.max_bytes = int(max_bytes)
        self.lock = threading.Lock()
        self.leases: dict[Path, int] = {}

    def lease(self, path: Path) -> bool:
        """Mark a file in use; False when it is already gone (evicted)."""
        with self.lock:
            if not path.is_file():
                return False
            self.leases[path] = self.leases.get(path, 0) + 1
            return True

    def release(self, path: Path) -> None:
        """A request is done with a file."""
        with self.lock:
            n = self.leases.get(path, 0) - 1
            if n <= 0:
                self.leases.pop(path, None)
            else:
                self.leases[path] = n

    def files(self) -> list[Path]:
        """Finished downloads in the folder."""
        if not self.folder.is_dir():
            return []
        return [p for p in self.folder.iterdir() if p.is_file() and p.suffix[1:].lower() in MEDIA_EXTS]

    def size(self) -> int:
        """Bytes the finished downloads take."""
        return sum(p.stat().st_size for p in self.files())

    def trim(self, keep: Path | None = None) -> list[Path]:
        """Delete the least recently used files until the folder fits the budget; the removed files."""
        removed = []
        with self.lock:
            entries = []
            for p in self.files():
                with contextlib.suppress(FileNotFoundError):
                    st = p.stat()
                    entries.append((max(st.st_atime, st.st_mtime), st.st_size, p))
            total = sum(size for _, size, _ in entries)
            for _, size, p in sorted(entries, key=lambda e: e[0]):
                if total <= self.max_bytes:
                    break
                if p == keep or p in self.leases:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    removed.append(p)
                total -= size
        if removed:
            log.info("download cache over %d bytes: removed %d old trailer(s)", self.max_bytes, len(removed))
        return removed


class TrailerFetcher:
    """Downloads trailers for requests, in a bounded pool separate from request handling."""

    def __init__(self, media: MediaConfig, settings: ServeSettings, download_dir: Path):
        self.settings = settings
        # The server's own limits replace the training run's: no retries (the overall deadline is what a
        # waiting client feels), its byte cap and deadline, and its allowlist and resolver.
        self.media = dataclasses.replace(
            media,
            retries=settings.fetch_retries,
            offline=False,
            download_workers=1,
            max_download_mb=settings.fetch_max_mb,
            download_deadline=settings.fetch_deadline,
            timeout=min(media.timeout, settings.fetch_deadline),
        )
        base = policy_for(self.media)
        self.policy = FetchPolicy(
            allow_private=False,
            allowed_networks=tuple(settings.fetch_allowed_networks),
            allowed_hosts=tuple(settings.trailer_hosts) if settings.trailer_hosts is not None else None,
            max_bytes=base.max_bytes,
            deadline=base.deadline,
            read_timeout=base.read_timeout,
            resolver=settings.resolver or base.resolver,
        )
        self.cache = DownloadCache(download_dir, int(settings.download_cache_mb * 2**20))
        self.pool = cf.ThreadPoolExecutor(
            max_workers=settings.fetch_workers, thread_name_prefix="reelcast-fetch"
        )
        self._lock = threading.Lock()
        self._inflight: dict[str, cf.Future] = {}

    def allowed(self, ref: TrailerRef) -> str | None:
        """Why this server will not fetch a reference at all, or None."""
        if ref.kind == "youtube" and not self.settings.allow_youtube:
            return "this server does not download YouTube trailers"
        if ref.kind not in ("youtube", "url"):
            return "only remote trailers are downloaded"
        if ref.kind == "url":
            # Checked here too (no lookup needed), so a cached copy from before a narrower list is not served.
            try:
                host = urlsplit(ref.value).hostname or ""
            except ValueError:
                host = ""
            if not self.policy.host_allowed(host):
                return "the URL's host is not on this server's list of allowed hosts"
        return None

    def _download(self, ref: TrailerRef) -> FetchResult:
        res = fetch_trailer(ref, self.media, self.cache.folder, policy=self.policy)
        if res.status == "ok" and res.path is not None:
            self.cache.trim(keep=res.path)
        return res

    async def fetch(self, ref: TrailerRef) -> FetchResult:
        """The trailer's local file (leased: call `release` when done), or a failed result saying why."""
        why = self.allowed(ref)
        if why:
            return FetchResult(REFUSED, None, why, 0)
        key = ref.cache_key
        new = False
        with self._lock:
            fut = self._inflight.get(key)
            if fut is None:
                if len(self._inflight) >= self.settings.max_pending_fetches:
                    return FetchResult(BUSY, None, "the server is busy downloading other trailers", 0)
                fut = self.pool.submit(self._download, ref)
                self._inflight[key] = fut
                new = True
        if new:  # outside the lock: a future already done runs its callback at once, in this thread
            fut.add_done_callback(lambda _f, k=key: self._done(k))
        wait = self.settings.fetch_deadline + 5.0  # the download enforces its deadline; this is a backstop
        try:
            res = await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), wait)
        except TimeoutError:
            return FetchResult("timeout", None, f"no trailer within {self.settings.fetch_deadline:g} s", 0)
        except Exception as e:  # a bug in a download must not fail the request
            log.exception("trailer download failed")
            return FetchResult("network_error", None, f"download failed ({type(e).__name__})", 0)
        if res.status == "ok" and res.path is not None and not self.cache.lease(res.path):
            return FetchResult(BUSY, None, "the server's download cache is full; try again", res.attempts)
        return res

    def _done(self, key: str) -> None:
        with self._lock:
            self._inflight.pop(key, None)

    def release(self, res: FetchResult) -> None:
        """The request is done with a file `fetch` returned."""
        if res.status == "ok" and res.path is not None:
            self.cache.release(res.path)

    def pending(self) -> int:
        """Downloads running or waiting now."""
        with self._lock:
            return len(self._inflight)

    def close(self) -> None:
        """Stop taking downloads; running ones end at their deadline (their threads are not waited for)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
