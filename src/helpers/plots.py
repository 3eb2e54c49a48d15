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

from helpers.i18n import compact  # noqa: E402

PALETTE = "colorblind"
# Chinese company names and labels: the Noto Sans CJK SC file shipped by the ``mplfonts``
# package (a dependency; the font is under the SIL Open Font License) is registered by path, so
# it works on any machine without a system font or a rebuild of matplotlib's font cache. Fonts
# installed system-wide (Debian's fonts-wqy-microhei...) are used when mplfonts is missing.
CJK_FONT_FILE = "fonts/NotoSansCJKsc-Regular.otf"  # inside the mplfonts package
CJK_FONTS = ["Noto Sans CJK SC", "WenQuanYi Micro Hei", "Noto Sans SC", "Source Han Sans SC"]
LATIN_FONT = "DejaVu Sans"  # matplotlib's own font: the Latin look of every chart
_cjk_family: list[str | None] = []  # the CJK family found, once looked up


def register_cjk_font() -> str | None:
    """Register mplfonts' Noto Sans CJK SC with matplotlib (once) and return the name of the
    CJK family charts fall back to, or None when no CJK font is available.

    ``matplotlib.font_manager.fontManager.addfont(path)`` adds one font file to the running
    font manager; no font-cache rebuild is needed (a system font installed after matplotlib
    built its cache is invisible until the cache is rebuilt, which is why a file is shipped).
    The CJK fonts at hand come in one (regular) weight; bold titles would make matplotlib log
    "findfont: Failed to find font weight bold ... now using 400" into the report, so the
    regular file is also registered as the family's bold face: bold Chinese text is drawn in
    the regular weight, said once here instead of in every report.
    """
    if _cjk_family:
        return _cjk_family[0]
    import dataclasses
    import importlib.util
    from pathlib import Path

    from matplotlib import font_manager

    manager = font_manager.fontManager
    spec = importlib.util.find_spec("mplfonts")
    for folder in (spec and spec.submodule_search_locations) or []:
        path = Path(folder) / CJK_FONT_FILE
        if path.is_file():
            manager.addfont(str(path))
            break
    installed = {f.name for f in manager.ttflist}
    family = next((f for f in CJK_FONTS if f in installed), None)
    if family:
        faces = [f for f in manager.ttflist if f.name == family and f.style == "normal"]
        if faces and not any(f.weight in ("bold", 700) for f in faces):
            manager.ttflist.append(dataclasses.replace(faces[0], weight=700))
            manager._findfont_cached.cache_clear()  # as addfont does after adding a face
    _cjk_family.append(family)
    return family


def short_number(x: float) -> str:
    """1234567 -> '1.23M' (K, M, B suffixes; 万 and 亿 in a Chinese report): the one way large
    amounts are written (:func:`helpers.i18n.compact`)."""
    return compact(x)


def set_theme() -> None:
    """Apply the project's seaborn theme.

    Fonts: ``font.family`` is the list [DejaVu Sans, Noto Sans CJK SC]; matplotlib (3.6+)
    falls back glyph by glyph along that list, so Latin text keeps DejaVu Sans and Chinese
    characters come from the CJK font, with no "Glyph ... missing from font" warning. (A
    generic ``"sans-serif"`` family would not fall back: matplotlib takes only the first
    installed font of ``font.sans-serif``.)
    """
    cjk = register_cjk_font()
    families = [LATIN_FONT, *([cjk] if cjk else [])]
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette=PALETTE,
        rc={
            "figure.figsize": (9, 4.2),
            "figure.dpi": 100,
            "axes.titleweight": "bold",
            "axes.titlesize": 13,
            "font.family": families,
            "font.sans-serif": families,
        },
    )


def figure(width: float = 9, height: float = 4.2, **kwargs):
    """A new figure and axes in the project's theme."""
    set_theme()
    return plt.subplots(figsize=(width, height), **kwargs)


def _check_labels(fig) -> None:
    for ax in fig.axes:
        if not ax.has_data() or not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue  # a colour bar is labelled through its title or the chart's title
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


def whale_curve(
    curve,
    *,
    title: str,
    xlabel: str = "Accounts, most to least profitable (% of accounts)",
    ylabel: str = "Cumulative contribution (currency units)",
):
    """The whale curve (Kaplan & Narayanan 2001): cumulative contribution against the share of
    accounts sorted from most to least profitable, from a frame with ``account_share``,
    ``cumulative_contribution`` and ``contribution``. Marks the peak (where value-destroying
    accounts start) and the total (where the curve ends)."""
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    fig, ax = figure()
    x = [0.0, *curve["account_share"]]
    y = [0.0, *curve["cumulative_contribution"]]
    ax.plot(x, y, color=sns.color_palette(PALETTE)[0], label="Cumulative contribution")
    total = float(curve["contribution"].sum())
    ax.axhline(total, color="grey", linestyle="--", linewidth=1, label="Total contribution")
    pos = curve[curve["contribution"] >= 0]
    if len(pos) and len(pos) < len(curve):
        px = float(pos["account_share"].iloc[-1])
        py = float(pos["cumulative_contribution"].iloc[-1])
        ax.axvline(px, color=sns.color_palette(PALETTE)[3], linestyle=":", linewidth=1)
        ax.plot([px], [py], "o", color=sns.color_palette(PALETTE)[3],
                label=f"Peak: value destroyed beyond {px:.0%} of accounts")  # fmt: skip
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="lower center", fontsize="small")
    return fig


def interval_bars(
    df,
    label: str,
    value: str,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    low: str | None = None,
    high: str | None = None,
    percent: bool = False,
    money: bool = False,
    reference: float | None = None,
):
    """Horizontal bars of ``value`` per ``label`` (in the frame's order), with optional error
    bars from the ``low``/``high`` columns and a dashed vertical ``reference`` line; negative
    values are drawn in a second colour."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    fig, ax = figure(height=max(2.5, 0.45 * len(df) + 1.2))
    labels = [str(v) for v in df[label]]
    vals = np.asarray(df[value], dtype=float)
    colours = [sns.color_palette(PALETTE)[3 if v < 0 else 0] for v in vals]
    err = None
    if low is not None and high is not None:
        err = np.vstack([vals - np.asarray(df[low], float), np.asarray(df[high], float) - vals])
        err = np.where(np.isfinite(err), np.clip(err, 0, None), 0)
    ax.barh(labels, vals, xerr=err, color=colours, capsize=3)
    if reference is not None:
        ax.axvline(reference, color="grey", linestyle="--", linewidth=1)
    if percent:
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    if money:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))
    ax.invert_yaxis()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig


def log_histogram(
    df,
    low: str,
    high: str,
    share: str,
    *,
    hue: str,
    title: str,
    xlabel: str,
    ylabel: str,
    target: float | None = None,
):
    """Pre-binned shares on a log x axis, one step line per ``hue`` group (bins from the
    ``low``/``high`` columns), with an optional dashed vertical ``target`` line."""
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    fig, ax = figure()
    for colour, (name, g) in zip(sns.color_palette(PALETTE), df.groupby(hue), strict=False):
        g = g.sort_values(low)
        xs = [*g[low], g[high].iloc[-1]]
        ys = [*g[share], g[share].iloc[-1]]
        ax.step(xs, ys, where="post", color=colour, label=str(name))
    if target is not None:
        ax.axvline(
            target, color="black", linestyle="--", linewidth=1, label=f"Target ({target:g} h)"
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(title=hue, fontsize="small")
    return fig


def heatmap(
    matrix,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    fmt: str = "d",
    center: float | None = None,
    cmap: str = "Blues",
    width: float = 10,
    height: float = 6,
    fontsize: float | None = None,
):
    """A seaborn heat map of a (small) wide table with every cell annotated with its value
    (so no colour bar is needed; the unit goes in the title); ``center`` (e.g. 0 for
    standardised values) switches to a diverging palette; ``fontsize`` sizes the cell labels."""
    fig, ax = figure(width, height)
    sns.heatmap(
        matrix,
        annot=True,
        fmt=fmt,
        cmap="vlag" if center is not None else cmap,
        center=center,
        cbar=False,
        linewidths=0.5,
        annot_kws={"fontsize": fontsize} if fontsize else None,
        ax=ax,
    )
    ax.grid(False)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.tick_params(axis="x", rotation=45)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    return fig


def paired_hbars(df, label: str, columns: dict, *, title: str, xlabel: str, ylabel: str):
    """Horizontal bars, one group per row of ``df`` (labelled by column ``label``) and one bar
    per entry of ``columns`` ({column: legend text}); values are shares shown in percent."""
    from matplotlib.ticker import PercentFormatter

    fig, ax = figure(9, 0.45 * len(df) + 1.5)
    height = 0.8 / len(columns)
    colours = sns.color_palette(PALETTE, len(columns))
    for i, ((column, text), colour) in enumerate(zip(columns.items(), colours, strict=True)):
        y = [row + i * height for row in range(len(df))]
        ax.barh(y, df[column], height=height, label=text, color=colour)
    middle = height * (len(columns) - 1) / 2
    ax.set_yticks([row + middle for row in range(len(df))], df[label])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="lower right")
    return fig


def scatter(df, x: str, y: str, hue: str, *, title: str, xlabel: str, ylabel: str):
    """A scatter plot of ``y`` against ``x`` coloured by ``hue`` (categorical)."""
    fig, ax = figure(8, 6)
    sns.scatterplot(data=df, x=x, y=y, hue=hue, palette=PALETTE, s=18, alpha=0.7, ax=ax)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(title=hue, loc="best", fontsize="small")
    return fig


def grouped_bars(df, label: str, columns: dict, *, title: str, xlabel: str, ylabel: str):
    """Vertical bars side by side, one group per row of ``df`` (x labels from ``label``) and
    one bar per entry of ``columns`` ({column: legend text}); plain values."""
    import numpy as np

    fig, ax = figure()
    width = 0.8 / len(columns)
    colours = sns.color_palette(PALETTE, len(columns))
    x = np.arange(len(df))
    for i, ((column, text), colour) in enumerate(zip(columns.items(), colours, strict=True)):
        ax.bar(x + (i - (len(columns) - 1) / 2) * width, df[column], width, label=text,
               color=colour)  # fmt: skip
    ax.set_xticks(x, [str(v) for v in df[label]])
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.legend(loc="best")
    return fig


def money_axis(fig, axis: str = "y") -> None:
    """Write the ``axis`` ("x" or "y") tick labels of every axes of ``fig`` as 1.5M / 300K."""
    from matplotlib.ticker import FuncFormatter

    for ax in fig.axes:
        target = ax.yaxis if axis == "y" else ax.xaxis
        target.set_major_formatter(FuncFormatter(lambda v, _: short_number(v)))


def funnel_chart(df, *, title: str, xlabel: str, ylabel: str, step: str = "step"):
    """A funnel: one horizontal bar per step (top to bottom) of ``entrants``, each labelled
    with its count, its share of the first step and its conversion from the step before
    (columns of ``helpers.funnel.funnel_conversion``)."""
    fig, ax = figure(height=max(2.5, 0.5 * len(df) + 1.2))
    labels = [str(s).replace("_", " ") for s in df[step]]
    ax.barh(labels, df["entrants"], color=sns.color_palette(PALETTE)[0])
    top = float(df["entrants"].max()) or 1.0
    cols = df[["entrants", "conversion_from_first", "conversion_from_previous"]]
    for i, (n, first, prev) in enumerate(cols.itertuples(index=False)):
        text = f"{int(n):,}  ({first:.1%} of first" + (f", {prev:.1%} of previous)" if i else ")")
        ax.text(n + top * 0.01, i, text, va="center", fontsize="small")
    ax.set_xlim(0, top * 1.45)
    ax.invert_yaxis()
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig


def response_curves(
    points, curves, marks=None, *, title: str, xlabel: str, ylabel: str, facet: str = "channel"
):
    """One panel per ``facet`` value: observed points (columns spend, clicks) as a light
    scatter, the fitted curve (``curves``: spend, clicks, optional lo/hi band) as a line, and
    optional vertical lines from ``marks`` (facet, label, spend) such as today's and the
    recommended spend. Returns the figure."""
    groups = list(dict.fromkeys(curves[facet]))
    if not groups:
        raise ValueError("response_curves: no curve to draw")
    fig, axes = figure(width=4.6 * len(groups), height=4.2, ncols=len(groups), squeeze=False)
    colours = sns.color_palette(PALETTE)
    for ax, g in zip(axes[0], groups, strict=True):
        p = points[points[facet] == g]
        c = curves[curves[facet] == g]
        ax.scatter(p["spend"], p["clicks"], s=6, alpha=0.25, color=colours[0], label="observed")
        ax.plot(c["spend"], c["clicks"], color=colours[1], lw=2, label="fitted curve")
        if {"lo", "hi"} <= set(c.columns):
            ax.fill_between(c["spend"], c["lo"], c["hi"], color=colours[1], alpha=0.2)
        if marks is not None:
            for i, m in enumerate(marks[marks[facet] == g].itertuples()):
                ax.axvline(m.spend, ls="--", color=colours[2 + i], label=m.label)
        ax.set(title=str(g).replace("_", " "), xlabel=xlabel, ylabel=ylabel)
        ax.legend(loc="upper left", fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def partial_line(
    df,
    x: str,
    y: str,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    complete: str = "complete",
    hue: str | None = None,
    label: str | None = None,
    band: tuple[str, str] | None = None,
    percent: bool = False,
    log: bool = False,
    partial_label: str = "Partial: entrants still in\ntheir window are left out",
):
    """A line chart of ``y`` over ``x`` (one line per ``hue``, or one named ``label``) that
    marks its partial points: where the boolean column ``complete`` is false the marker is
    hollow and the segments to it are dashed, with a legend entry (``partial_label``) saying
    what that means. ``band``: two columns of a shaded interval; ``percent`` formats the y
    axis as 12%; ``log`` puts it on a log scale. Returns the figure."""
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, PercentFormatter

    if complete not in df.columns:
        raise ValueError(f"partial_line needs a boolean '{complete}' column")
    fig, ax = figure()
    groups = [(label, df)] if hue is None else list(df.groupby(hue, sort=False, observed=True))
    colours = sns.color_palette(PALETTE, max(len(groups), 1))
    handles, partial = [], False
    for colour, (name, g) in zip(colours, groups, strict=False):
        g = g.sort_values(x)
        xs, ys = g[x].to_numpy(), g[y].to_numpy(dtype=float)
        done = g[complete].to_numpy(dtype=bool)
        if band is not None:
            low, high = g[band[0]].to_numpy(dtype=float), g[band[1]].to_numpy(dtype=float)
            ax.fill_between(xs, low, high, color=colour, alpha=0.15, linewidth=0)
        ax.plot(xs, np.where(done, ys, np.nan), color=colour, marker="o", markersize=4)
        for i in range(len(xs) - 1):
            if not (done[i] and done[i + 1]):
                ax.plot(xs[i : i + 2], ys[i : i + 2], color=colour, linestyle="--")
        if (~done).any():
            partial = True
            ax.plot(xs[~done], ys[~done], linestyle="none", marker="o", markersize=6,
                    markerfacecolor="white", markeredgecolor=colour)  # fmt: skip
        if name is not None:
            handles.append(Line2D([], [], color=colour, marker="o", markersize=4, label=str(name)))
    if band is not None:
        handles.append(Patch(color="grey", alpha=0.25, label="95% interval"))
    if partial:
        handles.append(Line2D([], [], color="grey", linestyle="--", marker="o",
                              markerfacecolor="white", label=partial_label))  # fmt: skip
    if log:  # ticks at 1, 2 and 5 of each decade, written plainly (0.05, 2, 100)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    if percent:
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    if handles:  # beside the chart: a long series leaves no empty corner for it
        ax.legend(handles=handles, title=hue, loc="upper left", bbox_to_anchor=(1.01, 1),
                  fontsize="small")  # fmt: skip
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    fig.autofmt_xdate()
    return fig
