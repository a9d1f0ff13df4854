"""The /status chart: a PNG with the seat pools (accepted against seats) and the balance (share against target).

Drawn with Pillow (``ImageDraw``) on a white 900-pixel canvas: bars, the target lines and one text per bar,
in DejaVu Sans, which ships with matplotlib and has every Vietnamese glyph. That takes a few milliseconds,
where matplotlib took about 60 (most of it laying out texts), so /status can draw it while the organiser
waits. :func:`chart_data` turns a :class:`ConferenceStatus` into the few numbers and translated labels the
picture shows; :func:`draw` draws them, and :func:`render` keeps the last pictures drawn by those figures
(:func:`kept`, :func:`keep`), so asking again for an unchanged status does not draw again, and a changed
figure is never shown from an old picture. ``handlers.status`` draws in a process of its own, off the event
loop and away from its GIL; fonts are kept per thread.

Both parts share one axis from 0 to 100%: a pool's bar is its fill rate (accepted / seats, the black line
at 100% is the seats), a balance bar is the share among the accepted delegates (the black line is the
target).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont

from rules.i18n import N_
from rules.status import BalanceLine, ConferenceStatus, PoolStatus, Translate, YouthBand, dimension_label

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MET, SHORT, OVER, FILLING, REPORT, SEATS = "#2e7d32", "#ef6c00", "#c62828", "#1565c0", "#78909c", "#cfd8dc"
RENDERED_KEPT = 16
SCALE_END = 1.2  # the axis runs to 120%: an overfilled pool shows past its seats


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


WIDTH, ROW, MARGIN_Y = 900, 32, 50  # pixels: the picture's width, one row of bars, above and below the bars
LEFT = 18  # the title's and headings' left margin
AXES_LEFT, AXES_RIGHT = 468, 864  # the bars' axis from 0% to SCALE_END
BAR_HEIGHT, LIMIT_HEIGHT = 0.62, 0.8  # in rows
TITLE_SIZE, HEADING_SIZE, LABEL_SIZE, TICK_SIZE = 17, 14, 13, 11  # pixels (12, 10, 9 and 8 points at 100 dpi)
PALETTE = 64
INK, GRID = "#212121", "#eceff1"
_fonts = threading.local()


def _font(size: int, *, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (it ships with matplotlib and covers Vietnamese), one set per thread: a FreeType face must
    not be used by two threads at once."""
    cache: dict[tuple[int, bool], ImageFont.FreeTypeFont] = _fonts.__dict__.setdefault("cache", {})
    key = (size, bold)
    if key not in cache:
        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        cache[key] = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)
    return cache[key]


@dataclass(frozen=True)
class _Canvas:
    """Where a value (0 … SCALE_END) and a row (from -0.6 at the top to ``bottom`` + 0.7) fall, in pixels."""

    draw: ImageDraw.ImageDraw
    height: int
    bottom: float

    def x(self, value: float) -> float:
        return AXES_LEFT + min(max(value, 0.0), SCALE_END) / SCALE_END * (AXES_RIGHT - AXES_LEFT)

    def y(self, row: float) -> float:
        span = self.bottom + 0.7 + 0.6
        return MARGIN_Y + (row + 0.6) / span * (self.height - 2 * MARGIN_Y)

    def lines(self, at: tuple[float, float], text: str, font: ImageFont.FreeTypeFont, anchor: str) -> None:
        """``text``'s lines centred on ``at``'s height, one under the other (``anchor``: "lm" or "rm")."""
        lines = text.split("\n")
        step = font.size * 1.2
        top = at[1] - step * (len(lines) - 1) / 2
        for index, line in enumerate(lines):
            self.draw.text((at[0], top + index * step), line, font=font, fill=INK, anchor=anchor)


def _bars(canvas: _Canvas, bars: Sequence[Bar], rows: Sequence[float]) -> None:
    font = _font(LABEL_SIZE)
    half_bar = BAR_HEIGHT / 2 * ROW
    for bar, row in zip(bars, rows, strict=True):
        middle = canvas.y(row)
        if bar.value > 0:
            canvas.draw.rectangle(
                (canvas.x(0), middle - half_bar, canvas.x(bar.value), middle + half_bar), fill=bar.colour
            )
        if bar.limit is not None:
            half_limit = LIMIT_HEIGHT / 2 * ROW
            x = canvas.x(bar.limit)
            canvas.draw.line((x, middle - half_limit, x, middle + half_limit), fill=INK, width=2)
        canvas.lines((AXES_LEFT - 4, middle), f"{_wrap(bar.label)}  {bar.note}", font, "rm")


def warm_up() -> None:
    """Load the fonts (a worker process calls this before its first chart)."""
    for size in (TITLE_SIZE, HEADING_SIZE):
        _font(size, bold=True)
    for size in (LABEL_SIZE, TICK_SIZE):
        _font(size)


def draw(data: ChartData) -> bytes:
    """The PNG of ``data``, drawn now: 900 pixels wide, 32 pixels a row. A plain function of plain data, so
    it can run in another thread or process (``handlers.status`` draws it in a process of its own)."""
    # Rows from the top: the pools' heading and bars, a gap, the balance heading and bars.
    pool_rows = [float(index + 1) for index in range(len(data.pools))]
    balance_heading = len(data.pools) + 2.0
    balance_rows = [balance_heading + 1 + index for index in range(len(data.balance))]
    bottom = balance_rows[-1] if balance_rows else balance_heading + 1
    height = round(2 * MARGIN_Y + ROW * (bottom + 1))
    image = Image.new("RGB", (WIDTH, height), "white")
    canvas = _Canvas(ImageDraw.Draw(image), height, bottom)
    draw = canvas.draw
    axis_top, axis_bottom = canvas.y(-0.6), canvas.y(bottom + 0.7)
    for value in (0.5, 1.0):
        draw.line((canvas.x(value), axis_top, canvas.x(value), axis_bottom), fill=GRID, width=1)
    draw.line((canvas.x(0), axis_bottom, canvas.x(SCALE_END), axis_bottom), fill=INK, width=1)
    for value in (0.0, 0.5, 1.0):
        draw.text(
            (canvas.x(value), axis_bottom + 3), f"{round(value * 100)}%", font=_font(TICK_SIZE), fill=INK, anchor="ma"
        )
    title = _wrap(data.title, 90).split("\n")
    for index, line in enumerate(title):
        draw.text((LEFT, 10 + index * TITLE_SIZE * 1.2), line, font=_font(TITLE_SIZE, bold=True), fill=INK, anchor="la")
    heading = _font(HEADING_SIZE, bold=True)
    canvas.lines((LEFT, canvas.y(0.0)), data.pools_title, heading, "lm")
    _bars(canvas, data.pools, pool_rows)
    canvas.lines((LEFT, canvas.y(balance_heading)), data.balance_title, heading, "lm")
    if data.balance:
        _bars(canvas, data.balance, balance_rows)
    else:
        canvas.lines((canvas.x(0), canvas.y(balance_heading + 1)), data.empty_note, _font(LABEL_SIZE), "lm")
    buffer = io.BytesIO()
    # 64 colours are plenty for flat bars and anti-aliased text: a third of the bytes to upload, no slower.
    picture = image.quantize(PALETTE, method=Image.Quantize.FASTOCTREE)
    picture.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class _Kept:
    """The last pictures drawn, by the figures and labels they show (``ChartData`` itself is the key, so a
    picture is never shown for figures it does not show). Safe to use from several threads."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pictures: OrderedDict[ChartData, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, data: ChartData) -> bytes | None:
        with self._lock:
            picture = self._pictures.get(data)
            if picture is not None:
                self._pictures.move_to_end(data)
            return picture

    def put(self, data: ChartData, picture: bytes) -> None:
        with self._lock:
            self._pictures[data] = picture
            self._pictures.move_to_end(data)
            while len(self._pictures) > self.size:
                self._pictures.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._pictures.clear()


KEPT = _Kept(RENDERED_KEPT)


def kept(data: ChartData) -> bytes | None:
    """The picture of ``data`` if it was drawn lately, else None."""
    return KEPT.get(data)


def keep(data: ChartData, picture: bytes) -> None:
    KEPT.put(data, picture)


def forget() -> None:
    """Forget every picture kept (the benchmark draws every chart again)."""
    KEPT.clear()


def render(data: ChartData) -> bytes:
    """The PNG of ``data``: the one kept if it was drawn lately, else drawn now (and kept)."""
    picture = kept(data)
    if picture is None:
        picture = draw(data)
        keep(data, picture)
    return picture


def status_chart(status: ConferenceStatus, t: Translate) -> bytes:
    """The PNG for ``status``, labelled in the reader's language."""
    return render(chart_data(status, t))
