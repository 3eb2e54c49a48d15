"""Chinese and English text in charts: no missing-glyph boxes, no font warnings.

The CJK font is the Noto Sans CJK SC file shipped by the ``mplfonts`` dependency, registered by
``helpers.plots.set_theme()``; it must work in a fresh matplotlib config (empty font cache), as
on a machine where the project was just installed.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

import pytest
from matplotlib import font_manager

from helpers import plots

COMPANY = "华东精密机械有限公司"


def _draw_chinese_chart() -> bytes:
    fig, ax = plots.figure()
    ax.bar([COMPANY, "北京宏达贸易", "Acme GmbH"], [120_000, 80_000, 45_000])
    ax.set_title(f"收入 by company — {COMPANY}")
    ax.set_xlabel("公司 (company)")
    ax.set_ylabel("收入, EUR")
    return plots.to_png(fig)


def test_chinese_labels_render_without_warning(caplog):
    """Neither a warning (missing glyph) nor a logged message (matplotlib logs "findfont:
    Failed to find font weight bold" when a bold title has no bold face) ends in a report."""
    caplog.set_level(logging.INFO, logger="matplotlib")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = _draw_chinese_chart()
    assert png.startswith(b"\x89PNG")
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "missing from font" in m or "findfont" in m], messages
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not logged, logged


def test_fonts_are_noto_for_chinese_and_dejavu_for_latin():
    plots.set_theme()
    assert plots.register_cjk_font() == "Noto Sans CJK SC"
    import matplotlib

    assert matplotlib.rcParams["font.family"] == ["DejaVu Sans", "Noto Sans CJK SC"]
    noto = font_manager.findfont("Noto Sans CJK SC", fallback_to_default=False)
    assert noto.endswith("mplfonts/fonts/NotoSansCJKsc-Regular.otf"), noto
    latin = font_manager.findfont("DejaVu Sans", fallback_to_default=False)
    assert "DejaVuSans" in latin


@pytest.mark.parametrize("text", [COMPANY, "上海 Shanghai − 12%", "ÄÖÜ é € ≥ ±"])
def test_every_glyph_is_in_one_of_the_theme_fonts(text):
    """The glyph-by-glyph fallback along font.family covers Chinese, Latin and symbols."""
    from matplotlib.ft2font import FT2Font

    plots.set_theme()
    fonts = [
        FT2Font(font_manager.findfont(f, fallback_to_default=False))
        for f in ("DejaVu Sans", "Noto Sans CJK SC")
    ]
    missing = [ch for ch in text if ch != " " and not any(f.get_char_index(ord(ch)) for f in fonts)]
    assert not missing


def test_fresh_font_cache_needs_no_rebuild(tmp_path):
    """A new MPLCONFIGDIR (no font cache yet): the chart still renders without a warning."""
    code = (
        "import warnings; warnings.simplefilter('error');"
        "from helpers import plots;"
        "fig, ax = plots.figure(); ax.bar(['华东精密机械有限公司'], [1]);"
        "ax.set_title('收入'); ax.set_xlabel('公司'); ax.set_ylabel('EUR');"
        "plots.to_png(fig); print('ok')"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"MPLCONFIGDIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().endswith("ok")
    assert "findfont" not in run.stderr, run.stderr[-2000:]
