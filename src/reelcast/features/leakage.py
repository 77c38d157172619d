"""What is known only after release, in one place: post-release columns and outcome-encoding keywords.

Columns such as votes, ratings and popularity leak the revenue and are refused unless the user allows
them. TMDB keywords are crowd tags and some were written after release, naming the film's own
reception ("box office flop", "cult film"), awards ("oscar winner") or its later history ("sleeper
hit"). Those tags are dropped from every film before any feature sees them; the list and patterns come
from the audit in docs/keyword_audit.md (benchmarks/keyword_audit.py).
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

# Built-in post-release names (all schemas), matched case-insensitively against source columns.
POST_RELEASE = (
    "votes",
    "rating",
    "metascore",
    "vote_count",
    "vote_average",
    "popularity",
    "gross",
    "num_voted_users",
    "num_user_for_reviews",
    "num_critic_for_reviews",
    "imdb_score",
)


class LeakageError(ValueError):
    """A post-release column was asked for without --allow-post-release."""


def check_leakage(columns: list[str], post_release: list[str], allow: bool) -> list[str]:
    """Raise on post-release columns unless allowed; return the ones used (for the report's warning)."""
    known = {p.lower() for p in (*POST_RELEASE, *post_release)}
    leaky = [c for c in columns if c.removeprefix("src:").lower() in known]
    if leaky and not allow:
        raise LeakageError(
            f"tabular columns {', '.join(leaky)} are only known after release and leak the revenue; "
            "pass --allow-post-release to use them anyway (the report will say so)"
        )
    if leaky:
        log.warning("LEAKAGE: post-release columns used as features: %s", ", ".join(leaky))
    return leaky


# Exact tags (lower case) that describe a film's reception or later life, not the film (audited on TMDB).
LEAKY_KEYWORDS = frozenset(
    {
        "cult film",
        "cult classic",
        "cult favorite",
        "cult figure",  # on the Star Wars prequels: their later fandom, not their plot
        "oscar award",
        "famous score",
        "classic",
        "masterpiece",
        "iconic",
        "controversial",
        "video nasty",  # the UK's 1983 list of prosecuted films: a verdict on the released film
        "horror movie remade",
    }
)
# The families of such tags: reception, box office, awards, cult status, later remakes and sequels.
LEAKY_KEYWORD_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"\bflop\b",
        r"\bbox[- ]office\b",
        r"\b(?:sleeper|surprise|smash|blockbuster|cult) hit\b",
        r"\b(?:commercial|critical|box office) (?:success|failure|disappointment|bomb)\b",
        r"\bcritically (?:acclaimed|panned)\b",
        r"\bcult (?:film|movie|classic|favou?rite|following|status)\b",
        r"\b(?:oscar|academy award|golden globe|bafta|razzie|palme d'or|golden (?:lion|bear))",
        r"\baward[- ]?(?:winner|winning|nominee|nominated)\b",
        r"\bremade\b",
        r"\b(?:spawned|followed by|got) (?:a )?(?:sequel|franchise|series|remake)s?\b",
        r"\b(?:highest|top)[- ]grossing\b",
    )
)


def is_leaky_keyword(keyword: str) -> bool:
    """True for a tag that encodes the film's outcome (reception, awards, later fame)."""
    k = keyword.strip().lower()
    return k in LEAKY_KEYWORDS or any(p.search(k) for p in LEAKY_KEYWORD_PATTERNS)


def refuse_leaky_keywords(keywords: list[str]) -> list[str]:
    """The film's keywords without the outcome-encoding ones."""
    return [k for k in keywords if not is_leaky_keyword(k)]
