"""The /status chart: a PNG with the seat pools (accepted against seats) and the balance (share against target).

Drawn with matplotlib's Agg backend (no display) through the object-oriented API only: ``Figure`` objects
are not shared, and pyplot's global state is never touched. Labels use DejaVu Sans, which ships with
matplotlib and has every Vietnamese glyph. :func:`chart_data` turns a :class:`ConferenceStatus` into the
few numbers and translated labels the picture shows; :func:`render` draws them, and remembers the last
pictures it drew, so asking twice for an unchanged status does not draw twice.

Both parts share one axis from 0 to 100%: a pool's bar is its fill rate (accepted / seats, the black line
at 100% is the seats), a balance bar is the share among the accepted delegates (the black line is the
target). /status waits for the picture, so it is drawn with few texts (one per bar, its label and its
figure) and no matplotlib ticks: laying out a Vietnamese text costs about a millisecond.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rules.i18n import N_
from rules.status import BalanceLine, ConferenceStatus, PoolStatus, Translate, YouthBand, dimension_label

FONT = "DejaVu Sans"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MET, SHORT, OVER, FILLING, REPORT, SEATS = "#2e7d32", "#ef6c00", "#c62828", "#1565c0", "#78909c", "#cfd8dc"
RENDERED_KEPT = 16
SCALE_END = 1.2  # the axis runs to 120%: an overfilled pool shows past its seats
MARGIN, AXES_LEFT, AXES_WIDTH = 0.02, 0.52, 0.44  # figure fractions: labels left of the axes, bars in them


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # a share of the scale: fill rate or share among the accepted (may exceed 1)
    limit: float | None  # the black line: 1.0 for seats, the target share, or None
    colour: str
    note: str  # the figure written after the label ("150/210", "27%")


@dataclass(frozen=True)
class ChartData:
    title: str
    pools_title: str
    pools: tuple[Bar, ...]
    balance_title: str
    balance: tuple[Bar, ...]
    empty_note: str


def _pool_bar(pool: PoolStatus, locale: str) -> Bar:
    if pool.seats is None or pool.fill_rate is None:
        # No seat count: the pool's share of those who accepted, against the plan's share.
        share = pool.share_of_accepted or 0.0
        colour = REPORT if pool.share is None else (SHORT if pool.share_gap else MET)
        return Bar(pool.title_in(locale), share, pool.share, colour, f"{round(share * 100)}%")
    colour = OVER if pool.over else (FILLING if pool.gap else MET)
    return Bar(pool.title_in(locale), pool.fill_rate, 1.0, colour, f"{pool.accepted}/{pool.seats}")


def _balance_bar(line: BalanceLine, t: Translate, youth: YouthBand) -> Bar:
    share = line.share or 0.0
    colours = {None: REPORT, True: MET, False: SHORT}
    return Bar(dimension_label(t, line, youth), share, line.target_share, colours[line.met], f"{round(share * 100)}%")


def chart_data(status: ConferenceStatus, t: Translate) -> ChartData:
    """What the chart of ``status`` shows, with labels in the reader's language."""
    by_seats = all(pool.seats is not None for pool in status.pools)
    return ChartData(
        title=status.title_in(t.locale),
        pools_title=t(N_("Seats: accepted out of the seats of each pool"))
        if by_seats
        else t(N_("Share of the accepted delegates by pool (line: the plan's share)")),
        pools=tuple(_pool_bar(pool, t.locale) for pool in status.pools),
        balance_title=t(
            N_("Balance among the {count} delegates who accepted (line: the target)"), count=status.accepted
        ),
        balance=tuple(_balance_bar(line, t, status.youth) for line in status.balance if not line.is_spread),
        empty_note=t(N_("No balance targets are set for this conference.")),
    )


def _wrap(text: str, width: int = 48) -> str:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    return "\n".join(lines[:2])


def _bars(ax: Axes, bars: Sequence[Bar], rows: Sequence[float]) -> None:
    ax.barh(rows, [min(bar.value, SCALE_END) for bar in bars], color=[bar.colour for bar in bars], height=0.62)
    limits = [(bar.limit, row) for bar, row in zip(bars, rows, strict=True) if bar.limit is not None]
    if limits:
        ax.vlines(
            [limit for limit, _ in limits],
            [row - 0.4 for _, row in limits],
            [row + 0.4 for _, row in limits],
            colors="#212121",
            linewidth=2,
        )
    labels = ax.get_yaxis_transform()  # x in axes fractions, y in data
    for bar, row in zip(bars, rows, strict=True):
        ax.text(-0.01, row, f"{_wrap(bar.label)}  {bar.note}", transform=labels, ha="right", va="center", fontsize=9)


def _heading(ax: Axes, row: float, text: str) -> None:
    # From the figure's left margin (in axes fractions: the axes start at AXES_LEFT of the width).
    left = (MARGIN - AXES_LEFT) / AXES_WIDTH
    ax.text(left, row, text, transform=ax.get_yaxis_transform(), ha="left", va="center", fontsize=10, weight="bold")


@functools.lru_cache(maxsize=RENDERED_KEPT)
def render(data: ChartData) -> bytes:
    """The PNG of ``data``: 900 pixels wide, about 30 pixels high per bar."""
    # Rows from the top: the pools' heading and bars, a gap, the balance heading and bars.
    pool_rows = [float(index + 1) for index in range(len(data.pools))]
    balance_heading = len(data.pools) + 2.0
    balance_rows = [balance_heading + 1 + index for index in range(len(data.balance))]
    bottom = balance_rows[-1] if balance_rows else balance_heading + 1
    height = 1.0 + 0.32 * (bottom + 1)  # inches: 0.5 above and below the bars, 0.32 a row
    figure = Figure(figsize=(9, height), dpi=100)
    ax = figure.add_axes((AXES_LEFT, 0.5 / height, AXES_WIDTH, 1 - 1.0 / height))
    figure.text(MARGIN, 1 - 0.1 / height, _wrap(data.title, 90), fontsize=12, weight="bold", va="top")
    ax.set_xlim(0, SCALE_END)
    ax.set_ylim(bottom + 0.7, -0.6)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    for value in (0.5, 1.0):
        ax.axvline(value, color="#eceff1", linewidth=0.8, zorder=0)
    for value in (0.0, 0.5, 1.0):
        ax.text(
            value,
            -0.01,
            f"{round(value * 100)}%",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
        )
    _heading(ax, 0.0, data.pools_title)
    _bars(ax, data.pools, pool_rows)
    _heading(ax, balance_heading, data.balance_title)
    if data.balance:
        _bars(ax, data.balance, balance_rows)
    else:
        ax.text(0.0, balance_heading + 1, data.empty_note, fontsize=9, va="center")
    buffer = io.BytesIO()
    # Unhinted glyphs draw a quarter faster and look the same at this size; light compression, same reason.
    with matplotlib.rc_context({"text.hinting": "none"}):
        figure.savefig(buffer, format="png", facecolor="white", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def status_chart(status: ConferenceStatus, t: Translate) -> bytes:
    """The PNG for ``status``, labelled in the reader's language."""
    return render(chart_data(status, t))
