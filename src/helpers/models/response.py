"""Marketing response curves with diminishing returns, and the reallocation of a fixed budget.

Model (per channel ``i``, one row per campaign-day ``d``, the grain of ``marketing_spend``)::

    clicks_d ~ Poisson(a_i · spend_d ** b_i),   i.e.  log E[clicks_d] = log a_i + b_i · log spend_d

fitted as a Poisson GLM with log link (statsmodels ``GLM``; McCullagh & Nelder 1989, *Generalized
Linear Models*, ch. 6), with the quasi-Poisson scale (Pearson X²/df; Wedderburn 1974) so that the
standard errors widen if the counts are overdispersed. ``b < 1`` is diminishing returns. The
power ("log-log") response curve is the classic advertising-response form (Hanssens, Parsons &
Schultz 2001, *Market Response Models*, ch. 3).

Budget: scaling every campaign-day of channel ``i`` by ``k`` multiplies its expected clicks by
``k ** b_i``, so over the period the channel's curve in its total spend ``x`` is
``clicks_i(x) = C_i · (x / S_i) ** b_i`` with ``S_i`` today's spend and ``C_i = Σ_d a_i s_d^b_i``
the clicks the curve expects at today's spend. Conversions = CVR_i · clicks (CVR = conversions
per click, observed). The best split of the same total is found by :func:`optimal_allocation`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NO_SPEND = "n/a: no spend recorded"


def _require(df: pd.DataFrame, columns: set[str], name: str) -> None:
    missing = columns - set(df.columns)
    if missing:
        raise ValueError(f"table {name!r} is missing column(s) {sorted(missing)}")


def fit_response(rows: pd.DataFrame, alpha: float = 0.05, min_rows: int = 10) -> pd.DataFrame:
    """Fit ``E[clicks] = a · spend ** b`` per channel (Poisson GLM, log link, quasi-Poisson SEs).

    ``rows``: channel, spend, clicks, one row per campaign-day (``helpers.campaigns.
    response_inputs``). Rows with spend ≤ 0 cannot enter a log-log fit: they are dropped and
    counted in ``zero_spend_rows``. Returns one row per channel: rows (used), spend, clicks, a
    and b with their ``1 − alpha`` Wald intervals (a's from the interval of log a), log_a_se,
    b_se, cov_log_a_b, dispersion (Pearson X²/df, ≈ 1 for Poisson counts) and ``note``.

    A channel is n/a (NaN parameters, note saying why) with no spend recorded, fewer than
    ``min_rows`` rows with spend, no spread in spend (one spend level cannot show a curve), or
    no clicks. A fitted b ≥ 1 is kept but noted: no diminishing returns, so the curve cannot
    guide a reallocation.
    """
    import statsmodels.api as sm
    from scipy import stats

    _require(rows, {"channel", "spend", "clicks"}, "response rows")
    if rows.empty:
        raise ValueError("table 'response rows' is empty: no marketing spend to fit")
    if (rows.spend < 0).any() or (rows.clicks < 0).any():
        raise ValueError("response rows: spend and clicks must be >= 0")
    if not 0 < alpha < 1:
        raise ValueError(f"parameter alpha must be in (0, 1), got {alpha}")
    z = stats.norm.ppf(1 - alpha / 2)
    out = []
    for channel, g in rows.groupby("channel", sort=True):
        pos = g[g.spend > 0]
        rec = {
            "channel": channel,
            "rows": len(pos),
            "zero_spend_rows": int((g.spend <= 0).sum()),
            "spend": float(g.spend.sum()),
            "clicks": int(g.clicks.sum()),
        }
        nan = dict.fromkeys(
            ["a", "a_lo", "a_hi", "b", "b_lo", "b_hi", "log_a_se", "b_se", "cov_log_a_b"], np.nan
        )
        nan["dispersion"] = np.nan
        if pos.empty:
            out.append(rec | nan | {"note": NO_SPEND})
            continue
        if len(pos) < min_rows:
            out.append(rec | nan | {"note": f"n/a: fewer than {min_rows} days with spend"})
            continue
        if np.ptp(np.log(pos.spend.to_numpy(float))) == 0:
            out.append(rec | nan | {"note": "n/a: spend never varies, no curve to fit"})
            continue
        if pos.clicks.sum() == 0:
            out.append(rec | nan | {"note": "n/a: no clicks"})
            continue
        x = sm.add_constant(np.log(pos.spend.to_numpy(float)))
        res = sm.GLM(pos.clicks.to_numpy(float), x, family=sm.families.Poisson()).fit(scale="X2")
        (log_a, b), cov = res.params, res.cov_params()
        se_a, se_b = float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))
        rec |= {
            "a": float(np.exp(log_a)),
            "a_lo": float(np.exp(log_a - z * se_a)),
            "a_hi": float(np.exp(log_a + z * se_a)),
            "b": float(b),
            "b_lo": float(b - z * se_b),
            "b_hi": float(b + z * se_b),
            "log_a_se": se_a,
            "b_se": se_b,
            "cov_log_a_b": float(cov[0, 1]),
            "dispersion": float(res.scale),
            "note": "" if b < 1 else "no diminishing returns (b >= 1): not used for reallocation",
        }
        out.append(rec)
    return pd.DataFrame(out)


def _allocation_inputs(scale, b, current) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``optimal_allocation``'s arrays, checked: 1-d, same length, scale > 0, 0 < b < 1,
    current ≥ 0."""
    scale = np.asarray(scale, dtype=float)
    b = np.asarray(b, dtype=float)
    current = np.asarray(current, dtype=float)
    if not (scale.shape == b.shape == current.shape) or scale.ndim != 1 or len(scale) == 0:
        raise ValueError("optimal_allocation: scale, b and current must be 1-d, same length")
    if (scale <= 0).any() or not np.isfinite(scale).all():
        raise ValueError("optimal_allocation: every scale must be a positive number")
    if ((b <= 0) | (b >= 1)).any():
        raise ValueError("optimal_allocation: every b must lie in (0, 1) (diminishing returns)")
    if (current < 0).any():
        raise ValueError("optimal_allocation: current spend must be >= 0")
    return scale, b, current


def optimal_allocation(scale, b, current, total: float | None = None, bound: float | None = 0.5):
    """Spends ``x`` maximising ``Σ scale_i · x_i ** b_i`` with ``Σ x_i = total`` (default: today's
    total) and ``(1 − bound) · current_i ≤ x_i ≤ (1 + bound) · current_i`` (``bound=None``: only
    ``x_i ≥ 0``, which can extrapolate far beyond observed spend).

    Each term is concave for 0 < b_i < 1, so the KKT conditions give the optimum: with the
    multiplier λ, ``x_i(λ) = clip((scale_i · b_i / λ) ** (1 / (1 − b_i)), lo_i, hi_i)``, and λ
    solves ``Σ x_i(λ) = total`` (monotone; ``scipy.optimize.brentq`` on log λ). Unbounded and
    with one shared b this is ``x_i ∝ scale_i ** (1 / (1 − b))``. Written out rather than calling
    a general solver (``scipy.optimize.minimize``) because it is exact and never stops early.
    """
    from scipy.optimize import brentq

    scale, b, current = _allocation_inputs(scale, b, current)
    total = float(current.sum()) if total is None else float(total)
    if bound is None:
        lo, hi = np.zeros_like(current), np.full_like(current, np.inf)
    else:
        if not 0 <= bound:
            raise ValueError(f"parameter bound must be >= 0, got {bound}")
        lo, hi = np.maximum(0.0, (1 - bound) * current), (1 + bound) * current
    if total <= 0:
        raise ValueError(f"optimal_allocation: total budget must be > 0, got {total}")
    if total < lo.sum() - 1e-9 or total > hi.sum() + 1e-9:
        raise ValueError(
            f"total budget {total:,.2f} is outside what the bounds allow "
            f"({lo.sum():,.2f} to {hi.sum():,.2f}): widen parameter bound"
        )

    def spend(log_lam: float) -> np.ndarray:
        with np.errstate(over="ignore", divide="ignore"):
            x = np.exp((np.log(scale * b) - log_lam) / (1 - b))
        return np.clip(x, lo, hi)

    # x_i(λ) falls as λ rises: bracket log λ where the sum crosses the total
    anchor = float(np.mean(np.log(scale * b) - (1 - b) * np.log(max(total, 1e-12) / len(b))))
    lo_l, hi_l = anchor - 1.0, anchor + 1.0
    for _ in range(200):
        if spend(lo_l).sum() >= total:
            break
        lo_l -= 2 * (hi_l - lo_l)
    for _ in range(200):
        if spend(hi_l).sum() <= total:
            break
        hi_l += 2 * (hi_l - lo_l)
    f_lo, f_hi = spend(lo_l).sum() - total, spend(hi_l).sum() - total
    if f_lo == 0:
        return spend(lo_l)
    if f_hi == 0 or f_lo * f_hi > 0:
        return spend(hi_l)
    root = brentq(lambda ll: spend(ll).sum() - total, lo_l, hi_l, xtol=1e-12, rtol=1e-12)
    x = spend(root)
    return x * total / x.sum() if x.sum() > 0 else x


def usable_curves(fit: pd.DataFrame, conversions: pd.DataFrame | None = None) -> pd.Series:
    """Per row of :func:`fit_response`, "" when the channel's curve can guide a reallocation
    (fitted, 0 < b < 1 and, with ``conversions`` (channel, conversions, clicks), at least one
    conversion per click to value its clicks), else the reason it cannot. :func:`reallocate`
    needs at least two usable channels."""
    _require(fit, {"channel", "a", "b", "note"}, "fit")
    cvr = {}
    if conversions is not None:
        _require(conversions, {"channel", "conversions", "clicks"}, "conversions")
        cvr = conversions.set_index("channel")[["conversions", "clicks"]].to_dict("index")
    out = []
    for r in fit.itertuples(index=False):
        if not (pd.notna(r.a) and 0 < r.b < 1):
            out.append(r.note or "n/a: no fitted curve with diminishing returns")
            continue
        c = cvr.get(r.channel)
        if conversions is not None and (c is None or c["clicks"] <= 0 or c["conversions"] <= 0):
            out.append("n/a: no conversions per click to value clicks")
            continue
        out.append("")
    return pd.Series(out, index=fit.index, dtype=object)


def _expected_clicks(log_spend: np.ndarray, log_a, b) -> np.ndarray:
    """Σ_d a · s_d ** b for one value or a vector of (log a, b) draws."""
    log_a = np.atleast_1d(log_a)[:, None]
    b = np.atleast_1d(b)[:, None]
    return np.exp(log_a + b * log_spend[None, :]).sum(axis=1)


def _point_split(f, log_s, cvr, current, bound, worth=None):
    """The recommended spend per usable channel and the expected value (conversions, or
    clicks when ``cvr`` is None) today and at the recommendation: value_i(x) = scale_i · x **
    b_i with scale_i = V_i · CVR_i · clicks_i(today) / current_i ** b_i, V_i = ``worth`` of
    one conversion of channel i (1 without)."""
    rate = np.ones(len(f))
    if cvr is not None:
        rate = np.array([cvr[ch]["conversions"] / cvr[ch]["clicks"] for ch in f.channel])
    if worth is not None:
        rate = rate * np.array([worth[ch] for ch in f.channel])
    clicks_now = np.array(
        [_expected_clicks(log_s[r.channel], np.log(r.a), r.b)[0] for r in f.itertuples()]
    )
    b = f.b.to_numpy(float)
    scale = rate * clicks_now / current**b
    rec = optimal_allocation(scale, b, current, bound=bound)
    return rec, rate * clicks_now, scale * rec**b


def _gain_draws(
    f, log_s, cvr, ratio, n_draws: int, seed: int, worth=None
) -> tuple[np.ndarray, np.ndarray]:
    """Per draw, the gain Σ_i q_i · clicks_i · (ratio_i ** b_i − 1) and the base Σ_i q_i ·
    clicks_i, with (log a_i, b_i) from the fit's normal approximation and q_i from the Jeffreys
    Beta posterior of CVR_i (1 when ``cvr`` is None: clicks are the unit), times V_i =
    ``worth`` of a conversion (held fixed) when given."""
    rng = np.random.default_rng(seed)
    gains, base = np.zeros(n_draws), np.zeros(n_draws)
    for j, r in enumerate(f.itertuples()):
        cov = np.array([[r.log_a_se**2, r.cov_log_a_b], [r.cov_log_a_b, r.b_se**2]])
        draws = rng.multivariate_normal([np.log(r.a), r.b], cov, size=n_draws)
        clicks = _expected_clicks(log_s[r.channel], draws[:, 0], draws[:, 1])
        if cvr is not None:
            k, n = cvr[r.channel]["conversions"], cvr[r.channel]["clicks"]
            q = rng.beta(k + 0.5, n - k + 0.5, size=n_draws)
        else:
            q = np.ones(n_draws)
        if worth is not None:
            q = q * worth[r.channel]
        gains += q * clicks * (ratio[j] ** draws[:, 1] - 1)
        base += q * clicks
    return gains, base


def _gain_summary(unit, current, now_val, rec_val, gains, base, alpha: float) -> dict:
    """Totals of the split and the gain's point estimate, interval and P(gain > 0)."""
    lo, hi = np.quantile(gains, [alpha / 2, 1 - alpha / 2])
    return {
        "unit": unit,
        "total_spend": float(current.sum()),
        "current_expected": float(now_val.sum()),
        "recommended_expected": float(rec_val.sum()),
        "gain": float(rec_val.sum() - now_val.sum()),
        "gain_lo": float(lo),
        "gain_hi": float(hi),
        "gain_share": float((rec_val.sum() - now_val.sum()) / now_val.sum()),
        "gain_share_lo": float(np.quantile(gains / base, alpha / 2)),
        "gain_share_hi": float(np.quantile(gains / base, 1 - alpha / 2)),
        "prob_gain_positive": float((gains > 0).mean()),
    }


def _worth_of(fit: pd.DataFrame, worth: dict | None) -> tuple[dict | None, dict]:
    """``worth`` for every channel of ``fit`` (0 where absent) and, per channel without a
    positive finite worth, the note that keeps it out of the split."""
    if worth is None:
        return None, {}
    worth = {**dict.fromkeys(fit.channel, 0.0), **worth}
    bad = [ch for ch, v in worth.items() if not np.isfinite(v) or v <= 0]
    return worth, dict.fromkeys(bad, "n/a: no value per conversion")


def reallocate(
    rows: pd.DataFrame,
    fit: pd.DataFrame,
    conversions: pd.DataFrame | None = None,
    bound: float | None = 0.5,
    alpha: float = 0.05,
    n_draws: int = 2000,
    seed: int = 0,
    worth: dict | None = None,
    unit: str | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The split of today's total spend over the fitted channels that the curves say brings the
    most conversions (``conversions`` None: the most clicks), each channel within ± ``bound``
    of its spend today (a parameter: the curves are only known near observed spend).

    ``rows``: the campaign-day rows the curves were fitted on; ``fit``: :func:`fit_response`;
    ``conversions``: channel, conversions, clicks (CVR_i = conversions / clicks, e.g.
    ``helpers.campaigns.channel_economics``). Channels without a usable curve (n/a, b ≥ 1, or
    zero CVR) keep their spend and are left out of the split, with the reason in ``note``.

    Uncertainty: ``n_draws`` draws of (log a_i, b_i) from the GLM's normal approximation and of
    CVR_i from its Jeffreys Beta(k + ½, n − k + ½) posterior; the recommended split is fixed and
    the gain = expected conversions(recommended) − expected conversions(today) is recomputed for
    every draw; the interval is the draws' ``alpha/2`` and ``1 − alpha/2`` quantiles.

    ``worth`` (channel -> value of one of its conversions, e.g. the mean LTV to date of an
    account it acquired, with ``conversions`` = accounts acquired) makes the objective that
    value instead of the count; ``unit`` names it ("LTV to date of accounts acquired").

    Returns (table, summary). Table, one row per channel of ``fit``: current_spend,
    recommended_spend, change (recommended / current − 1), current_expected,
    recommended_expected, gain (point estimates, in conversions or clicks), note. Summary: unit,
    total_spend, current_expected, recommended_expected, gain, gain_lo, gain_hi, gain_share
    (gain / current_expected), prob_gain_positive, channels, n_draws, bound.
    """
    _require(rows, {"channel", "spend"}, "response rows")
    _require(fit, {"channel", "a", "b", "log_a_se", "b_se", "cov_log_a_b", "note"}, "fit")
    if n_draws < 100:
        raise ValueError(f"parameter n_draws must be at least 100, got {n_draws}")
    cvr = {}
    if conversions is not None:
        _require(conversions, {"channel", "conversions", "clicks"}, "conversions")
        cvr = conversions.set_index("channel")[["conversions", "clicks"]].to_dict("index")
    unit = unit or ("clicks" if conversions is None else "conversions")
    worth, notes_worth = _worth_of(fit, worth)
    table = fit[["channel", "spend"]].rename(columns={"spend": "current_spend"}).copy()
    notes = usable_curves(fit, conversions)
    notes = notes.where(notes != "", [notes_worth.get(ch, "") for ch in fit.channel])
    table["note"] = notes.to_numpy()
    usable = (notes == "").to_numpy()
    for col in ("recommended_spend", "change", "current_expected", "recommended_expected", "gain"):
        table[col] = np.nan
    idx = np.flatnonzero(usable)
    if len(idx) < 2:
        raise ValueError(
            "reallocation needs at least two channels with a fitted response curve "
            f"(usable: {', '.join(fit.channel.iloc[idx]) or 'none'})"
        )
    f = fit.iloc[idx].reset_index(drop=True)
    current = table.current_spend.iloc[idx].to_numpy(float)
    log_s = {ch: np.log(g.spend[g.spend > 0].to_numpy(float)) for ch, g in rows.groupby("channel")}
    rec, now_val, rec_val = _point_split(
        f, log_s, cvr if conversions is not None else None, current, bound, worth
    )
    rows_used = table.index[idx]
    table.loc[rows_used, ["recommended_spend", "change", "current_expected"]] = np.column_stack(
        [rec, rec / current - 1, now_val]
    )
    table.loc[rows_used, ["recommended_expected", "gain"]] = np.column_stack(
        [rec_val, rec_val - now_val]
    )
    keep = ~table.index.isin(rows_used)
    table.loc[keep, "recommended_spend"] = table.loc[keep, "current_spend"]

    gains, base = _gain_draws(
        f, log_s, cvr if conversions is not None else None, rec / current, n_draws, seed, worth
    )
    summary = _gain_summary(unit, current, now_val, rec_val, gains, base, alpha)
    summary.update(channels=list(f.channel), n_draws=int(n_draws), bound=bound)
    return table.reset_index(drop=True), summary


def curve_points(
    fit: pd.DataFrame, spend_max: dict, n: int = 60, alpha: float = 0.05, seed: int = 0
) -> pd.DataFrame:
    """Fitted curve a · s ** b per channel with a curve, on a grid from 0 to
    ``spend_max[channel]`` (for charts): channel, spend, clicks, and lo / hi, the pointwise
    ``alpha/2`` and ``1 − alpha/2`` quantiles over 1,000 draws of (log a, b) from the fit's
    normal approximation."""
    rng = np.random.default_rng(seed)
    out = []
    for r in fit[fit.a.notna()].itertuples():
        s = np.linspace(0, float(spend_max[r.channel]), n)
        cov = np.array([[r.log_a_se**2, r.cov_log_a_b], [r.cov_log_a_b, r.b_se**2]])
        d = rng.multivariate_normal([np.log(r.a), r.b], cov, size=1000)
        with np.errstate(divide="ignore"):
            log_s = np.log(s)
        draws = np.where(s[None, :] > 0, np.exp(d[:, [0]] + d[:, [1]] * log_s[None, :]), 0.0)
        lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], axis=0)
        out.append(
            pd.DataFrame(
                {"channel": r.channel, "spend": s, "clicks": r.a * s**r.b, "lo": lo, "hi": hi}
            )
        )
    if not out:
        raise ValueError("no channel has a fitted response curve")
    return pd.concat(out, ignore_index=True)


def spend_marks(rows: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Where today's and the recommended budget sit on each channel's curve, in the unit the
    curve is drawn in (spend per campaign-day): today = mean spend of the channel's
    campaign-days with spend; recommended = today × (1 + change) (:func:`reallocate` scales
    every campaign-day of a channel by the same factor). Returns channel, label, spend; only
    channels with a recommendation."""
    _require(rows, {"channel", "spend"}, "response rows")
    _require(table, {"channel", "change"}, "reallocation")
    mean = rows[rows.spend > 0].groupby("channel").spend.mean()
    out = []
    for r in table.dropna(subset=["change"]).itertuples(index=False):
        if r.channel not in mean.index:
            continue
        now = float(mean[r.channel])
        out.append({"channel": r.channel, "label": "today (mean per day)", "spend": now})
        out.append(
            {"channel": r.channel, "label": "recommended", "spend": now * (1 + float(r.change))}
        )
    return pd.DataFrame(out, columns=["channel", "label", "spend"])
