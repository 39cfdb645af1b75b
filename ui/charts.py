"""The Altair charts the app draws; pure functions of numbers, easy to test.

User text only ever reaches the page as chart data (drawn as SVG text), never as HTML or markdown.
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np

from core.text import visible

ROW = 40  # characters per row of a heat strip
# Words the charts' tooltips use; the lab passes them in the page's language (ui/i18n.py).
WORDS = {"character": "character", "position": "position", "series": "model"}


def spec(chart: alt.TopLevelMixin) -> dict:
    """A chart's Vega-Lite spec for st.vega_lite_chart, without Altair's JSON-schema check on every draw, which
    is most of a chart's cost (a heat strip: 86 ms with it, 54 ms without). The charts are
    fixed code; tests/test_lab.py checks every spec the lab draws against the Vega-Lite schema instead."""
    return chart.to_dict(validate=False)


def top_k_bars(rows: list[dict], title: str = "", x_title: str = "probability") -> alt.Chart:
    """rows: {"char": visible token, "p": probability}, most likely first."""
    data = alt.Data(values=rows)
    order = [r["char"] for r in rows]
    base = alt.Chart(data, title=title).encode(
        y=alt.Y(
            "char:N", sort=order, title=None, axis=alt.Axis(labelFontSize=16, labelFont="monospace", labelOverlap=False)
        ),
        x=alt.X("p:Q", title=x_title, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
    )
    bars = base.mark_bar(color="#4C78A8").encode(
        tooltip=[alt.Tooltip("char:N", title="next"), alt.Tooltip("p:Q", format=".1%")]
    )
    labels = base.mark_text(align="left", dx=3).encode(text=alt.Text("p:Q", format=".0%"))
    return bars + labels


def value_colors(label: str, domain: tuple[float, float], scheme: str) -> alt.Color:
    """Field v coloured on a fixed scale, so charts of different texts compare; a legend underneath."""
    legend = alt.Legend(orient="bottom", direction="horizontal", gradientLength=200)
    return alt.Color("v:Q", title=label, scale=alt.Scale(domain=list(domain), scheme=scheme, clamp=True), legend=legend)


def heat_strip(
    text: str,
    values: np.ndarray,
    label: str,
    domain: tuple[float, float],
    scheme: str = "orangered",
    words: dict[str, str] = WORDS,
) -> alt.Chart:
    """The text drawn character by character, each cell coloured by its value (NaN cells left grey)."""
    rows = [
        {
            "i": i,
            "col": i % ROW,
            "row": i // ROW,
            "char": visible(ch),
            "v": None if not math.isfinite(float(v)) else round(float(v), 3),
        }
        for i, (ch, v) in enumerate(zip(text, values, strict=True))
    ]
    base = alt.Chart(alt.Data(values=rows)).encode(x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None))
    cells = base.mark_rect(stroke="white").encode(
        color=value_colors(label, domain, scheme),
        tooltip=[
            alt.Tooltip("char:N", title=words["character"]),
            alt.Tooltip("i:Q", title=words["position"]),
            alt.Tooltip("v:Q", title=label, format=".2f"),
        ],
    )
    ink = alt.condition(
        f"datum.v > {domain[0] + 0.65 * (domain[1] - domain[0])}", alt.value("white"), alt.value("black")
    )
    chars = base.mark_text(fontSize=14, font="monospace").encode(text="char:N", color=ink)
    return (cells + chars).properties(width=alt.Step(22), height=alt.Step(26))


def lines(
    rows: list[dict],
    x: str,
    y: str,
    color: str,
    x_title: str,
    y_title: str,
    log_x: bool = False,
    log_y: bool = False,
    rule: float | None = None,
    height: int = 280,
    words: dict[str, str] = WORDS,
    points: bool | None = None,
) -> alt.Chart:
    """One line per `color` value; optional log axes and a horizontal reference rule at `rule`; points on the
    line when asked, or by default while there are fewer than 120 rows."""
    scale = lambda log: alt.Scale(type="log") if log else alt.Scale(zero=False)  # noqa: E731
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(point=len(rows) < 120 if points is None else points)
        .encode(
            x=alt.X(f"{x}:Q", title=x_title, scale=scale(log_x)),
            y=alt.Y(f"{y}:Q", title=y_title, scale=scale(log_y)),
            color=alt.Color(f"{color}:N", title=None, legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip(f"{color}:N", title=words["series"]),
                alt.Tooltip(f"{x}:Q", title=x_title),
                alt.Tooltip(f"{y}:Q", title=y_title, format=".3g"),
            ],
        )
    )
    if rule is not None:
        chart += alt.Chart(alt.Data(values=[{"r": rule}])).mark_rule(strokeDash=[4, 4], color="gray").encode(y="r:Q")
    return chart.properties(height=height)


def matrix(
    text: str,
    values: np.ndarray,
    row_labels: list[str],
    label: str,
    domain: tuple[float, float],
    scheme: str,
    words: dict[str, str] = WORDS,
) -> alt.Chart:
    """values (R, T) as R coloured rows under the characters of `text` (T of them)."""
    cells = [
        {"i": i, "row": row_labels[r], "v": round(float(values[r, i]), 3), "char": visible(text[i])}
        for r in range(len(row_labels))
        for i in range(len(text))
    ]
    heat = (
        alt.Chart(alt.Data(values=cells))
        .mark_rect()
        .encode(
            x=alt.X("i:O", axis=None),
            y=alt.Y("row:N", sort=row_labels, title=None),
            color=value_colors(label, domain, scheme),
            tooltip=[
                alt.Tooltip("char:N", title=words["character"]),
                alt.Tooltip("i:Q", title=words["position"]),
                "row:N",
                alt.Tooltip("v:Q", title=label, format=".2f"),
            ],
        )
    )
    letters = (
        alt.Chart(alt.Data(values=[{"i": i, "char": visible(c)} for i, c in enumerate(text)]))
        .mark_text(font="monospace", fontSize=13)
        .encode(x=alt.X("i:O", axis=None), text="char:N")
    )
    return alt.vconcat(
        letters.properties(width=alt.Step(16), height=18),
        heat.properties(width=alt.Step(16), height=alt.Step(18)),
        spacing=2,
    )
