"""What validating a film table found: rows dropped and warned about (with their lines), duplicates."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# How many example rows each problem lists in the log and the report.
EXAMPLES = 5


@dataclass
class TableReport:
    """What validation found: rows dropped (by reason), warnings, duplicates."""

    source: str
    schema: str
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    warnings: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    duplicates: list[tuple[int, int, str]] = field(default_factory=list)  # (line, first line, key)
    trailer_map: dict[str, Any] | None = None
    people: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary with counts and a few example line numbers per reason."""
        return {
            "source": self.source,
            "schema": self.schema,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "dropped": {k: {"count": len(v), "lines": v[:EXAMPLES]} for k, v in self.dropped.items()},
            "warnings": {k: {"count": len(v), "lines": v[:EXAMPLES]} for k, v in self.warnings.items()},
            "trailer_map": self.trailer_map,
            "people": self.people,
            "duplicates": {
                "count": len(self.duplicates),
                "examples": [
                    {"line": a, "duplicate_of_line": b, "key": k} for a, b, k in self.duplicates[:EXAMPLES]
                ],
            },
        }

    def log(self) -> None:
        """Write the summary to the log, one line per reason."""
        log.info(
            "%s: %d rows read, %d films kept (schema %s)",
            self.source,
            self.rows_read,
            self.rows_kept,
            self.schema,
        )
        for reason, lines in self.dropped.items():
            log.warning(
                "%s: dropped %d rows: %s (lines %s)", self.source, len(lines), reason, line_list(lines)
            )
        for reason, lines in self.warnings.items():
            log.warning("%s: %d rows: %s (lines %s)", self.source, len(lines), reason, line_list(lines))
        if self.duplicates:
            ex = "; ".join(f"line {a} repeats line {b} ({k})" for a, b, k in self.duplicates[:EXAMPLES])
            log.warning(
                "%s: dropped %d duplicate films, kept the first of each: %s",
                self.source,
                len(self.duplicates),
                ex,
            )


def line_list(lines: list[int]) -> str:
    """'2, 5, 9, ... (+3)': the first example lines of a problem."""
    more = f", ... (+{len(lines) - EXAMPLES})" if len(lines) > EXAMPLES else ""
    return ", ".join(map(str, lines[:EXAMPLES])) + more
