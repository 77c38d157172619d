"""Scoring many served films at once, and collecting concurrent requests into such batches.

`BatchScorer.score` answers what `RevenuePredictor.predict_film` answers for each film (to float
rounding), but for a whole batch: one featurize call (one text-encoder pass over the new plots), then
the network and every tree model over the films and their modality-masked copies together, from which
the contributions come, in passes of a fixed row count. `MicroBatcher` gathers requests that overlap
on the event loop, for a short window or up to a size, and hands them to one call on the model thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from reelcast.data.cells import text as cell_text
from reelcast.data.table import canonical_frame
from reelcast.training.loop import torch_threads_for

if TYPE_CHECKING:
    import pandas as pd

    from reelcast.features.featurize import FilmInputs
    from reelcast.predictor import RevenuePredictor


@dataclass(frozen=True)
class FilmQuery:
    """One film as a request gives it (trailer: a local file or None)."""

    description: str
    title: str = ""
    trailer: str | None = None
    metadata: dict[str, Any] | None = None


def masked_copies(inputs: FilmInputs) -> FilmInputs:
    """The films, then the films with each modality masked in turn: (M + 1) * N rows in one input."""
    m = len(inputs.modalities)
    masks = [inputs.mask] + [inputs.mask & (np.arange(m) != j) for j in range(m)]
    return type(inputs).stack([dataclasses.replace(inputs, mask=mask) for mask in masks])


# Rows per pass of the network: a fixed count makes a film's answer independent of its batch, bit for
# bit (training.loop.row_passes). The trees and the rest are row by row already.
PASS_ROWS = 16


class BatchScorer:
    """`predict_film` for a batch of films, with what does not depend on the request prepared once."""

    def __init__(self, predictor: RevenuePredictor):
        self.predictor = predictor
        self.reads_text = "text" in predictor.spec_.modalities
        fz = predictor.featurizer
        # The text vectors' store id hashes the text model's files: once here rather than per request.
        self.text_id = None if predictor.config.text.finetune else fz.text_encoder_id()
        self._threads = None  # set after the first pass, once the tree library is loaded
        enc = fz.text_encoder if self.reads_text else None
        self.lone_plot_one_thread = enc is not None and enc.device.type == "cpu" and enc.bf16
        predictor.network.pass_rows = PASS_ROWS

    def _one_thread(self):
        # The network and trees see a few rows per request: splitting them over OpenMP threads costs more
        # in waking and waiting for the other thread than the work itself (3-10x slower on a busy machine).
        return self._threads.limit(limits=1) if self._threads is not None else contextlib.nullcontext()

    def frame(self, films: list[FilmQuery]) -> pd.DataFrame:
        """The films' canonical frame, each row as it is when its film is scored alone."""
        # Alone, a film is line 1 of its table, and an untitled one is "film1": that id seeds simulated
        # trailer features and keys external features, so it must not become "film<row>" in a batch.
        return canonical_frame(
            [
                {
                    "title": f.title,
                    "text": f.description,
                    "trailer": f.trailer or "",
                    "film_id": cell_text(f.title) or "film1",
                    "line": 1,
                    **(f.metadata or {}),
                }
                for f in films
            ]
        )

    def warm_up(self) -> None:
        """Score one film, so the first request does not build the tree models' boosters and buffers."""
        self.score([FilmQuery("A film to warm the model up.", metadata={"genres": ["Drama"]})])

    def score(self, films: list[FilmQuery]) -> list[dict[str, Any]]:
        """Per film, the dict `predict_film` returns (class, probabilities, contributions, warnings)."""
        p = self.predictor
        df = self.frame(films)
        # The text encoder pass over several new plots is worth every core (benchmarks/text.py, MiniLM on
        # two cores: 8 plots 1.8x faster in fp32 and in bf16), and so is one plot in fp32: served on the
        # model thread, MiniLM's pass over a 39-token plot took 9.3 ms on two threads against 11.5-13.1
        # on one. Not in bf16, whose matrix products over one plot are too short to split: 5.5-6.6 ms on
        # one thread against 7.1-7.9 on two (TMDB models, 150 requests per server, two servers taking
        # turns). The passes after it are a few rows each, and run on one thread (torch_threads_for).
        lone = len(films) == 1 and self.lone_plot_one_thread
        with torch_threads_for(1, p.config.train) if lone else contextlib.nullcontext():
            features = p.featurizer.build(df, text_id=self.text_id)
        with torch_threads_for(len(films), p.config.train):
            return self._answers(films, df, features)

    def _answers(
        self, films: list[FilmQuery], df: pd.DataFrame, features: FilmInputs
    ) -> list[dict[str, Any]]:
        p = self.predictor
        inputs = p.shape_inputs(features, df)
        n, rows = len(inputs), np.arange(len(inputs))
        with self._one_thread():
            every = p.proba(masked_copies(inputs))
        if self._threads is None:
            from threadpoolctl import ThreadpoolController

            self._threads = ThreadpoolController()  # now it sees LightGBM's OpenMP too
        probs = every[:n]
        pred = p.decide(probs)
        chosen = probs[rows, pred]
        contrib = np.stack(
            [
                np.where(inputs.mask[:, j], chosen - every[(j + 1) * n + rows, pred], 0.0)
                for j in range(len(inputs.modalities))
            ],
            axis=1,
        )
        from reelcast.models.intervals import films_revenue  # with the model: torch is loaded by now

        warnings = self._token_warnings(films)
        with self._one_thread():
            revenue = films_revenue(p.intervals_, p.components_, inputs)
        return [
            p.film_answer(
                inputs.subset(np.array([i])),
                probs[i],
                int(pred[i]),
                contrib[i],
                warnings[i],
                revenue[i],
                films[i].title,
            )
            for i in rows
        ]

    def _token_warnings(self, films: list[FilmQuery]) -> list[list[str]]:
        if not self.reads_text:
            return [[] for _ in films]
        encoder = self.predictor.featurizer.text_encoder
        return encoder.truncation_warnings([f.description for f in films])


@dataclass
class _LoopQueue:
    pending: deque = field(default_factory=deque)  # (arrival time, item, future)
    free_since: float = 0.0  # when the last batch finished
    crowded: bool = False  # the last batch had company: several films, or more waiting when it ended
    full: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


@dataclass
class BatchStats:
    """What the batcher has done: batches run, films scored, the largest batch."""

    batches: int = 0
    films: int = 0
    largest: int = 0

    def add(self, size: int) -> None:
        """Count one batch."""
        self.batches += 1
        self.films += size
        self.largest = max(self.largest, size)


class MicroBatcher:
    """Runs waiting requests together in one awaited call of `run` (off the event loop: a result or an
    exception per item): at most `max_size`, collected for up to `window_s` while requests overlap.

    `gate` gives the event loop's lock for the model, shared with requests scored one at a time.
    """

    def __init__(
        self,
        run: Callable[[list[Any]], Awaitable[list[Any]]],
        window_s: float,
        max_size: int,
        gate: Callable[[], asyncio.Lock],
    ):
        if window_s <= 0 or max_size < 1:
            raise ValueError(f"a batch needs a positive window and size, got {window_s} s and {max_size}")
        self.run, self.window_s, self.max_size, self.gate = run, window_s, max_size, gate
        self.stats = BatchStats()
        # The queue belongs to one event loop (test clients may run several loops, one after another).
        self._queue: _LoopQueue | None = None
        self._queue_loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: Any) -> Any:
        """The item's result once its batch has run (its exception raised here)."""
        loop = asyncio.get_running_loop()
        if self._queue is None or self._queue_loop is not loop:
            self._queue, self._queue_loop = _LoopQueue(), loop
        q = self._queue
        fut = loop.create_future()
        q.pending.append((time.monotonic(), item, fut))
        if len(q.pending) >= self.max_size:
            q.full.set()
        if q.task is None or q.task.done():
            q.task = loop.create_task(self._drain(q))
        return await fut

    async def _drain(self, q: _LoopQueue) -> None:
        while q.pending:
            # A lone request is never held: the window is for requests that overlap. It opens when the
            # first one arrives or when the model frees up, so the clients the last batch answered come
            # back within it and join the waiting ones: a steady load settles into full batches instead
            # of alternating half-size ones.
            wait = max(q.pending[0][0], q.free_since) + self.window_s - time.monotonic()
            if q.crowded and wait > 0 and len(q.pending) < self.max_size:
                q.full.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(q.full.wait(), wait)
            batch = [q.pending.popleft() for _ in range(min(self.max_size, len(q.pending)))]
            batch = [(item, fut) for _, item, fut in batch if not fut.done()]  # callers that gave up
            if not batch:
                continue
            try:
                async with self.gate():
                    results = await self.run([item for item, _ in batch])
            except BaseException as e:  # cancelled at shutdown, or a bug in `run`: no caller waits forever
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(e if isinstance(e, Exception) else RuntimeError("server stopping"))
                if not isinstance(e, Exception):
                    raise
                continue
            finally:
                q.free_since, q.crowded = time.monotonic(), len(batch) > 1 or bool(q.pending)
            self.stats.add(len(batch))
            for (_, fut), res in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)
