"""The one thread a server process runs its models on.

torch's OpenMP runtime (libgomp) gives every thread that starts a parallel region a team of threads of
its own. Once the teams together hold more threads than the machine has cores, libgomp stops spinning
between regions and idle threads sleep instead, and a forward pass of many small operations runs no
faster on two threads than on one (benchmarks/threads.py). A server that loads its models on the main
thread and scores them in asyncio.to_thread's pool, whichever worker is free, has such teams within
a few requests. So every model call of the server (loading, warm-up, scoring, trailers, what-if, for
every arm) runs on this one thread, one call at a time, as the models need anyway (ModelService.lock).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

NAME = "reelcast-model"
_here = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _mark() -> None:
    _here.model_thread = True


def _forget_in_child() -> None:
    # A forked child (gunicorn --preload, multiprocessing) has the executor but not its thread: calls
    # would queue forever. It starts a thread of its own on its first call.
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_in_child)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=NAME, initializer=_mark)
        return _pool


def on_model_thread() -> bool:
    """Whether the caller is the model thread."""
    return getattr(_here, "model_thread", False)


def call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs) on the model thread, waited for (from the model thread: run in place)."""
    if on_model_thread():
        return fn(*args, **kwargs)
    return _executor().submit(fn, *args, **kwargs).result()


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs) on the model thread, awaited from the event loop (context variables kept,
    as asyncio.to_thread keeps them)."""
    ctx = contextvars.copy_context()
    job = functools.partial(ctx.run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_executor(), job)
