"""One look for every chart: the seaborn theme, and showing a figure with its alt text.

Every chart in a report has a title, axis labels with units, and alt text; ``show`` refuses a
figure without them so that a missing label is caught when the notebook runs, not by a reader.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

PALETTE = "colorblind"
CJK_FONTS = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "SimHei"]


def short_number(x: float) -> str:
    """1234567 -> '1.23M' (K, M, B suffixes): the one way large amounts are written."""
    sign = "-" if x < 0 else ""
    x = abs(float(x))
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if x >= size:
            return f"{sign}{x / size:.2f}{suffix}"
    return f"{sign}{x:,.0f}"


def set_theme() -> None:
    """Apply the project's seaborn theme (CJK-capable fonts first when installed)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    cjk = [f for f in CJK_FONTS if f in installed]
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=PALETTE,
        rc={
            "figure.figsize": (9, 4.2),
            "figure.dpi": 100,
            "axes.titleweight": "bold",
            "axes.titlesize": 13,
            "font.family": "sans-serif",
            "font.sans-serif": [*cjk, "DejaVu Sans"],
        },
    )


def figure(width: float = 9, height: float = 4.2, **kwargs):
    """A new figure and axes in the project's theme."""
    set_theme()
    return plt.subplots(figsize=(width, height), **kwargs)


def _check_labels(fig) -> None:
    for ax in fig.axes:
        if not ax.has_data() or not ax.get_visible():
            continue
        missing = [
            what
            for what, text in (
                ("title", ax.get_title() or fig._suptitle and fig._suptitle.get_text()),
                ("x label", ax.get_xlabel()),
                ("y label", ax.get_ylabel()),
            )
            if not text
        ]
        if missing:
            raise ValueError(f"chart is missing its {', '.join(missing)}")


def to_png(fig, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def show(fig, alt: str) -> None:
    """Display ``fig`` as an embedded PNG with ``alt`` as its alternative text, then close it.

    Raises if the alt text, a title or an axis label is missing.
    """
    from IPython.display import Image, display

    if not alt or not alt.strip():
        raise ValueError("every chart needs alt text describing what it shows")
    _check_labels(fig)
    display(Image(data=to_png(fig), format="png", metadata={"alt": alt}))


def line(
    df,
    x: str,
    y: str,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    hue: str | None = None,
    band: tuple[str, str] | None = None,
    percent: bool = False,
    money: bool = False,
):
    """A line chart of ``y`` over ``x`` (one line per ``hue``), with an optional shaded
    interval between the two columns named in ``band``; ``percent`` or ``money`` format the
    y axis as 12% or 1.5M. Returns the figure."""
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    fig, ax = figure()
    sns.lineplot(data=df, x=x, y=y, hue=hue, marker="o", ax=ax)
    if band is not None:
        ax.fill_between(df[x], df[band[0]], df[band[1]], alpha=0.2, label="95% interval")
        ax.legend(loc="best")
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if money:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.autofmt_xdate()
    return fig


def stacked_bars(wide, *, title: str, xlabel: str, ylabel: str, date_format: str = "%Y-%m"):
    """Stacked bars of a wide table: index on the x axis, one colour per column."""
    fig, ax = figure()
    labels = [i.strftime(date_format) if hasattr(i, "strftime") else str(i) for i in wide.index]
    bottom = None
    colours = sns.color_palette(PALETTE, len(wide.columns))
    for colour, column in zip(colours, wide.columns, strict=True):
        ax.bar(labels, wide[column], bottom=bottom, label=str(column), color=colour)
        bottom = wide[column] if bottom is None else bottom + wide[column]
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(title=wide.columns.name, ncols=2, fontsize="small")
    ax.tick_params(axis="x", rotation=90)
    return fig
