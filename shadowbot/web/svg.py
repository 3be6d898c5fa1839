"""Small SVG pictures drawn on the server: a rule's trend and its badge.

No script, no ``style`` attribute (the Content-Security-Policy allows neither): the
trend's colours come from the page's stylesheet by class, the badge's from presentation
attributes. Every text in them is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

TREND_WIDTH, TREND_HEIGHT, _PAD = 120, 32, 2
#: Badge colours (white text on each has a contrast ratio of at least 4.5:1).
BADGE_COLOURS = {"promoted": "#1b6b2e", "shadow": "#24598f", "disabled": "#a32020"}
_LABEL_COLOUR = "#4a4a4a"
#: Verdana 11px averages about 6.5 px per character: shields.io's measure too.
_CHAR_WIDTH = 6.5


def trend(points: Sequence[Mapping[str, Any]], label: str) -> Markup:
    """Wins and losses so far over time (``points`` as :func:`board.trend_points` gives
    them), two step lines on one scale; ``label`` names the rule for screen readers.

    Drawn once per rule and trend: a leaderboard shows a hundred of them, and a new
    ledger entry changes one."""
    return _trend(tuple((str(p["at"]), int(p["wins"]), int(p["losses"])) for p in points), label)


@lru_cache(maxsize=1024)
def _trend(points: tuple[tuple[str, int, int], ...], label: str) -> Markup:
    if not points:
        return Markup(
            '<svg class="trend trend-empty" viewBox="0 0 {w} {h}" width="{w}" height="{h}"'
            ' role="img"><title>{label}: no win or loss yet</title>'
            '<line class="trend-axis" x1="{p}" y1="{y}" x2="{x}" y2="{y}"/></svg>'
        ).format(
            w=TREND_WIDTH,
            h=TREND_HEIGHT,
            p=_PAD,
            x=TREND_WIDTH - _PAD,
            y=TREND_HEIGHT - _PAD,
            label=label,
        )
    times = [datetime.fromisoformat(at).timestamp() for at, _, _ in points]
    top = max(max(wins, losses) for _, wins, losses in points)
    xs = _spread(times)
    last_at, last_wins, last_losses = points[-1]
    title = (
        f"{label}: {last_wins} wins and {last_losses} losses"
        f" from {points[0][0][:10]} to {last_at[:10]}"
    )
    wins = [p[1] for p in points]
    losses = [p[2] for p in points]
    lines = [
        Markup('<polyline class="trend-{kind}" points="{points}"/>').format(
            kind=kind, points=_steps(xs, counts, top)
        )
        for kind, counts in (("wins", wins), ("losses", losses))
    ]
    return Markup(
        '<svg class="trend" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img">'
        "<title>{title}</title>{lines}</svg>"
    ).format(w=TREND_WIDTH, h=TREND_HEIGHT, title=title, lines=Markup("").join(lines))


def _spread(times: Sequence[float]) -> list[float]:
    """x of each point: by time, or evenly when every result has the same time."""
    first, span = times[0], times[-1] - times[0]
    width = TREND_WIDTH - 2 * _PAD
    if span <= 0:
        count = max(len(times) - 1, 1)
        return [_PAD + width * i / count for i in range(len(times))]
    return [_PAD + width * (t - first) / span for t in times]


def _steps(xs: Sequence[float], counts: Sequence[int], top: int) -> str:
    height = TREND_HEIGHT - 2 * _PAD

    def y(count: int) -> float:
        return TREND_HEIGHT - _PAD - height * count / max(top, 1)

    points = [(xs[0], y(0))]
    before = 0
    for x, count in zip(xs, counts, strict=True):
        points += [(x, y(before)), (x, y(count))]
        before = count
    points.append((TREND_WIDTH - _PAD, y(before)))
    return " ".join(f"{x:.1f},{v:.1f}" for x, v in points)


def badge(label: str, message: str, state: str | None) -> str:
    """A flat badge, ``label | message``, coloured by ``state`` (grey when unknown)."""
    colour = BADGE_COLOURS.get(state or "", "#6e6e6e")
    left = round(len(label) * _CHAR_WIDTH) + 12
    right = round(len(message) * _CHAR_WIDTH) + 12
    width = left + right
    text = escape(f"{label}: {message}")
    return str(
        Markup(
            '<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20"'
            ' role="img" aria-label="{text}"><title>{text}</title>'
            '<rect width="{left}" height="20" fill="{grey}"/>'
            '<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
            '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif"'
            ' font-size="11"><text x="{lx}" y="14">{label}</text>'
            '<text x="{rx}" y="14">{message}</text></g></svg>'
        ).format(
            width=width,
            text=text,
            left=left,
            right=right,
            grey=_LABEL_COLOUR,
            colour=colour,
            lx=left / 2,
            rx=left + right / 2,
            label=label,
            message=message,
        )
    )
