"""One server of benchmarks/serve_batching.py, in a process of its own as `reelcast serve` runs:

    python serve_server.py MODEL PORT '<ServeSettings fields as JSON>' LOG_DB [DEVICE]

serves MODEL on 127.0.0.1:PORT under `reelcast serve`'s uvicorn configuration, with the SQLite
prediction log at LOG_DB, plus GET /bench/stats (the micro-batcher's counts), a route only this benchmark
adds. It stops on SIGINT.
"""

from __future__ import annotations

import contextlib
import json
import sys


def main() -> None:
    """Serve until terminated."""
    import uvicorn

    from reelcast.serving.app import create_app
    from reelcast.serving.arms import ABSettings
    from reelcast.serving.server import server_config
    from reelcast.serving.settings import ServeSettings

    model, port, fields, log_db = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    device = sys.argv[5] if len(sys.argv) > 5 else None
    settings = ServeSettings(**fields, device=device, host="127.0.0.1")
    # Loaded by create_app, on the model thread, as `reelcast serve` loads it (serving.model_thread).
    app = create_app(run_dir=model, settings=settings, ab=ABSettings(log_db=log_db))

    @app.get("/bench/stats")
    def stats() -> dict:
        """Batches run, films scored, largest batch (zeros with batching off); whether it reads metadata."""
        svc = app.state.service
        b = svc.batcher.stats if svc.batcher is not None else None
        return {
            "batches": b.batches if b else 0,
            "films": b.films if b else 0,
            "largest": b.largest if b else 0,
            "metadata": svc.predictor.tabular_ is not None,
        }

    # The configuration `reelcast serve` runs (its protocol, keep-alive and shutdown bounds). uvicorn
    # re-raises the SIGINT that stopped it once it has shut down: that is the normal end here.
    with contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(server_config(app, settings, port=port, log_level="warning", access_log=False)).run()


if __name__ == "__main__":
    main()
