"""The metrics dashboard's charts, drawn on the server: the geometry of each bar chart here, the
SVG in templates/_chart.html. No script and no inline style (the CSP allows neither): each bar
carries its value in a <title>, and the table under the charts has every number."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from api.pages.words import money
from mobile_contract import metrics as wire

WIDTH, HEIGHT = 320, 140
LEFT, RIGHT, TOP, BASELINE = 44.0, 316.0, 10.0, 118.0


def figure_text(name: str, value: float | None) -> str:
    """A figure as the owner reads it: rates in percent, money in the currency's units."""
    if value is None:
        return "—"
    if name.endswith("_rate"):
        return f"{value * 100:.1f} %"
    if name.endswith("_cents"):
        return money(round(value))
    if name == "purchase_frequency":
        return f"{value:.2f}"
    if name == "lifespan_days":
        return f"{value:.0f} days"
    return f"{value:,.0f}"


def interval_name(start: date, interval: wire.Interval) -> str:
    if interval == "week":
        return f"week of {start.isoformat()}"
    if interval == "month":
        return start.strftime("%Y-%m")
    return start.isoformat()


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    tip: str
    known: bool


@dataclass(frozen=True, slots=True)
class Chart:
    name: str
    label: str
    bars: list[Bar]
    top: str  # the value at the top of the scale
    first: str  # the first and last intervals, under the axis
    last: str
    unknown: int  # intervals whose figure cannot be known (shown as a dot on the axis)


def bar_chart(name: str, label: str, series: Sequence[wire.Figures], interval: wire.Interval) -> Chart:
    """One figure over the intervals, as bars scaled to the largest known value."""
    values: list[float | None] = [getattr(f, name) for f in series]
    known = [v for v in values if v is not None]
    top = max([*known, 0.0])
    scale = top or 1.0
    step = (RIGHT - LEFT) / max(len(values), 1)
    width = max(step * 0.8, 0.5)
    bars = []
    for i, (figures, value) in enumerate(zip(series, values, strict=True)):
        x = LEFT + i * step + (step - width) / 2
        tip = f"{interval_name(figures.start, interval)}: {figure_text(name, value)}"
        if value is None:
            bars.append(Bar(x=x, y=BASELINE - 1.5, width=width, height=1.5, tip=tip, known=False))
            continue
        height = (BASELINE - TOP) * value / scale
        bars.append(Bar(x=x, y=BASELINE - height, width=width, height=height, tip=tip, known=True))
    return Chart(
        name=name,
        label=label,
        bars=bars,
        top=figure_text(name, top),
        first=interval_name(series[0].start, interval) if series else "",
        last=interval_name(series[-1].start, interval) if series else "",
        unknown=len(values) - len(known),
    )


def heat(share: float) -> int:
    """A cohort cell's shade, 0 (none came back) to 10 (all did): a CSS class, not a style."""
    return max(0, min(10, round(share * 10)))
