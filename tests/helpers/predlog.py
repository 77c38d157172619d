"""Rows of a prediction log, written by hand for the A/B report and log tests."""

from __future__ import annotations

import json


def probs(k: int, p: float) -> list[float]:
    return [p if i == k else (1 - p) / 7 for i in range(8)]


def entry(arm, role, film_id, title, k, p, t, **kw) -> dict:
    row = {
        "logged_at": t,
        "request_id": f"req-{film_id}-{t}",
        "arm": arm,
        "role": role,
        "model_id": f"model{arm}",
        "film_id": film_id,
        "title": title,
        "assignment_key": f"id:{film_id}",
        "description_sha256": "0" * 64,
        "trailer_sha256": None,
        "metadata_sha256": None,
        "inputs_sha256": "1" * 64,
        "predicted_class": k,
        "confidence": p,
        "probabilities": json.dumps(probs(k, p)),
        "modalities_used": json.dumps({"text": True}),
        "description_chars": 120,
        "budget_musd": 10.0,
        "metadata": None,
        "latency_ms": 1.0,
    }
    row.update(kw)
    return row
