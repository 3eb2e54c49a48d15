"""Customer lifetime value: historical and predictive CLV, acquisition cost and return, cohorts.

The heavy steps (order values, the per-account frequency/recency/T/monetary summary, monthly
contribution, cohort activity, marketing spend) are Ibis expressions, so they run on DuckDB or
Spark; only one row per account (or per account-month, cohort-month, channel-month) reaches
pandas. The models are :mod:`helpers.models.btyd` (BG/NBD, Pareto/NBD, Gamma-Gamma).
"""

from __future__ import annotations

from functools import partial

import ibis
import numpy as np
import pandas as pd

from helpers import metrics, present, validate
from helpers.data import measures, tables
from helpers.data.lifetime import (  # historical value is shared with the campaigns report
    MARGIN_BASES,
    REVENUE_BASIS,
    _basis,
    historical_clv,
    monthly_contribution,
    monthly_rate,
)
from helpers.data.rfm import account_owners, contacts_per_account
from helpers.models import btyd
from helpers.sections import Analysis, Section

UNIT_DAYS = {"days": 1.0, "weeks": 7.0}
DAYS_PER_MONTH = 365.25 / 12
#: The groups values are shown by: the size band (``accounts.size_band``, called "segment"
#: in the data layer's frame; not the segmentation report's RFM segment), industry, channel.
GROUP_COLUMNS = {"size_band": "size_band", "industry": "industry", "channel": "acquisition_channel"}
FREQUENCY_BUCKETS = [0, 1, 2, 3, 4, 5, 6, 7]  # the last bucket is "7 or more"
PURCHASE_MODELS = ("bgnbd", "pareto_nbd")
MODEL_NAMES = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}

#: The tables the report cannot run without (its ``requires:`` in reports.yml); ``accounts`` is
#: read when present and derived from the orders' account ids when not
#: (:func:`helpers.data.tables.open_tables`).
CORE = ("orders", "order_lines")
REQUIRED_TABLES = CORE
#: Tables used when the dataset has them, with what is left out without them (an Online Retail
#: or CDNOW import has orders but neither of these).
OPTIONAL_TABLES = {
    "marketing_spend": "no acquisition cost, so CAC, ROI, LTV:CAC and payback are left out",
    "service_tickets": "no cost to serve, so margins are gross margin (revenue − cost of goods)",
    "leads": "no lead owner in the list of high-value accounts at risk",
    "contacts": "no contacts in the list of high-value accounts at risk (it lists accounts only)",
}
SECTIONS = (
    Section("historical", "Historical CLV"),
    Section("models", "The models and their fit"),
    Section("holdout", "Validation on the holdout period"),
    Section("predicted", "Predicted CLV"),
    Section(
        "acquisition",
        "Acquisition cost and return",
        needs={
            "marketing_spend": ("date", "channel", "spend"),
            "accounts": ("account_id", "signup_date", "acquisition_channel"),
        },
    ),
    Section("cohorts", "Cohorts"),
    Section("at_risk", "High-value accounts at risk"),
)
#: The figures of the acquisition section, one value per paid channel: registry key -> column
#: of :func:`acquisition_return`.
ACQUISITION_FIGURES = {
    "ltv_with_forecast_per_account": "ltv_with_forecast",
    "ltv_cac_with_forecast": "ltv_cac_with_forecast",
    "acquisition_roi_discounted_with_forecast": "roi_on_discounted_ltv",
}
#: The list of high-value accounts at risk: ``present.todo_list(..., "clv", AT_RISK_LIST)``
#: writes it to ``<exports>/clv/at_risk.csv`` and ``.xlsx``.
AT_RISK_LIST = "at_risk"
#: Its columns (``lead_owner`` with a leads table, the contact columns with a contacts table).
AT_RISK_COLUMNS = [
    "account_id",
    "company_name",
    "lead_owner",
    "size_band",
    "industry",
    "channel",
    "historical_clv",
    "predicted_clv",
    "p_alive",
    "days_since_last_purchase",
]

# What notebooks and users may call: analyse() and the steps it is made of, each tested on its
# own so an analyst can re-run one with other settings.
__all__ = [
    "CORE",
    "DEFINITIONS",
    "MARGIN_BASES",
    "MODEL_NAMES",
    "OPTIONAL_TABLES",
    "SECTIONS",
    "account_values",
    "acquisition_return",
    "analyse",
    "at_risk",
    "at_risk_list",
    "by_group",
    "cac_by_month",
    "checks_narrative",
    "choose_model",
    "cohorts",
    "data_text",
    "error_table",
    "fit_checks",
    "fit_each",
    "fit_models",
    "fit_table",
    "historical_clv",
    "holdout_by_frequency",
    "holdout_errors",
    "holdout_predictions",
    "holdout_spend_by_frequency",
    "holdout_window",
    "key_findings",
    "margin_rate",
    "monthly_rate",
    "open_tables",
    "predictive_clv",
    "published_figures",
    "recent_margin",
    "same_day_combined",
    "spend_independence",
    "summary",
    "usable_margin_basis",
]


def _unit_days(time_unit: str) -> float:
    if time_unit not in UNIT_DAYS:
        raise ValueError(f"time_unit must be one of {sorted(UNIT_DAYS)}, got {time_unit!r}")
    return UNIT_DAYS[time_unit]


# ----------------------------------------------------------------------------- tables


def open_tables(data_dir=None, engine: str = "duckdb", **options):
    """The dataset with :data:`CORE`, ``accounts`` (derived from the orders when absent) and
    whichever of :data:`OPTIONAL_TABLES` it has (:func:`helpers.data.tables.open_tables`)."""
    return tables.open_tables(data_dir, (*CORE, "accounts"), OPTIONAL_TABLES, engine, **options)


def usable_margin_basis(ds, margin_basis: str) -> str:
    """``margin_basis``, except 'contribution' on a dataset without ``service_tickets``, where
    there is no cost to serve to subtract: 'gross_margin' then; and 'revenue' when an order
    line has no unit cost (:func:`helpers.data.measures.costs_known`): the margin is unknown,
    so values are discounted revenue, never a margin of 100 %."""
    basis = _basis(margin_basis)
    if not measures.costs_known(ds):
        return REVENUE_BASIS
    if basis == "contribution" and "service_tickets" not in ds:
        return "gross_margin"
    return basis


# ----------------------------------------------------------------------------- Ibis steps


def summary(
    transactions: ibis.Table,
    calibration_end,
    holdout_end=None,
    time_unit: str = "weeks",
    id_col: str = "account_id",
    date_col: str = "order_ts",
    value_col: str = "revenue",
    combine_same_day: bool = True,
) -> pd.DataFrame:
    """The per-account summary every BTYD model takes, computed in the engine.

    With ``combine_same_day`` (the default) one account's purchases on one day are one
    transaction, values summed (Fader, Hardie & Lee 2005, BTYD, lifetimes: the CDNOW sample
    then gives the published fits); without, each row is one. Over the calibration period
    (dates <= ``calibration_end``), for accounts whose first purchase falls in it:

    - frequency x = transactions − 1 (repeat purchases); recency t_x = (last day − first day)
      and T = (calibration_end − first day), in days / UNIT_DAYS[time_unit];
    - monetary_value = mean value of the repeat purchases (0 when x = 0); the first purchase is the
      earliest (ties: the smaller value);
    - with ``holdout_end``: frequency_holdout (purchases in (calibration_end, holdout_end]),
      value_holdout (their summed value) and duration_holdout (in time units).
    """
    unit = _unit_days(time_unit)
    cal_end = pd.Timestamp(calibration_end).date()
    tx = transactions
    for col in (id_col, date_col, value_col):
        if col not in tx.columns:
            raise ValueError(f"transactions have no column {col!r}")
    day = tx[date_col].cast("date")
    end = ibis.literal(cal_end)

    purchases = partial(_purchases, cols=(id_col, date_col, value_col), combine=combine_same_day)

    p = purchases(tx.filter(day <= end))
    p = p.mutate(rn=ibis.row_number().over(group_by=p.id, order_by=[p.day, p.value]))
    per = p.group_by("id").aggregate(
        first=p.day.min(),
        last=p.day.max(),
        n=p.count(),
        total=p.value.sum(),
        first_value=p.value.max(where=p.rn == 0),
    )
    out = per.select(
        "id",
        first_purchase=per.first,
        frequency=per.n - 1,
        recency_days=per.last.delta(per.first, unit="day"),
        T_days=end.delta(per.first, unit="day"),
        repeat_value=per.total - per.first_value,
    )
    if holdout_end is not None:
        ho_end = pd.Timestamp(holdout_end).date()
        if ho_end <= cal_end:
            raise ValueError("holdout_end must come after calibration_end")
        ho = purchases(tx.filter((day > end) & (day <= ibis.literal(ho_end))))
        hagg = ho.group_by("id").aggregate(
            frequency_holdout=ho.count(), value_holdout=ho.value.sum()
        )
        out = out.left_join(hagg, "id").select(
            out, frequency_holdout=hagg.frequency_holdout, value_holdout=hagg.value_holdout
        )
    df = out.to_pandas().rename(columns={"id": id_col})
    if df.empty:
        raise ValueError(f"no purchases on or before calibration_end {cal_end}")
    df["frequency"] = df.frequency.astype("int64")
    df["recency"] = df.pop("recency_days").astype(float) / unit
    df["T"] = df.pop("T_days").astype(float) / unit
    rv = df.pop("repeat_value").astype(float)
    df["monetary_value"] = np.where(
        df.frequency > 0, rv / df.frequency.where(df.frequency > 0, 1), 0.0
    )
    df["first_purchase"] = pd.to_datetime(df.first_purchase)
    if holdout_end is not None:
        df["frequency_holdout"] = df.frequency_holdout.fillna(0).astype("int64")
        df["value_holdout"] = df.value_holdout.fillna(0.0).astype(float)
        df["duration_holdout"] = (pd.Timestamp(holdout_end) - pd.Timestamp(cal_end)).days / unit
    return df.sort_values(id_col).reset_index(drop=True)


def _purchases(t, cols: tuple[str, str, str], combine: bool):
    """One row per purchase (id, day, value) from ``cols`` = (id, date, value) columns; one
    per (id, day), values summed, with ``combine``."""
    id_col, date_col, value_col = cols
    d = t[date_col].cast("date")
    if combine:
        return t.group_by(id=t[id_col], day=d).aggregate(value=t[value_col].sum())
    return t.select(id=t[id_col], day=d, value=t[value_col])


def by_group(df: pd.DataFrame, group: str, value: str = "clv") -> pd.DataFrame:
    """Accounts, total, mean and median of ``value`` per ``group``, with a 95 % bootstrap
    interval of the mean (helpers.stats has no bootstrap yet; 1,000 resamples, seed 0)."""
    if group not in df.columns:
        raise ValueError(f"no column {group!r} to group by")
    rng = np.random.default_rng(0)
    rows = []
    for key, g in df.groupby(group, sort=True):
        v = g[value].to_numpy(float)
        boots = v[rng.integers(0, len(v), size=(1000, len(v)))].mean(axis=1)
        rows.append(
            {
                group: key,
                "accounts": len(v),
                "total": v.sum(),
                "mean": v.mean(),
                "median": float(np.median(v)),
                "ci_low": float(np.quantile(boots, 0.025)),
                "ci_high": float(np.quantile(boots, 0.975)),
            }
        )
    return pd.DataFrame(rows).sort_values("mean", ascending=False).reset_index(drop=True)


# ----------------------------------------------------------------------------- predictive


def fit_models(summary_df: pd.DataFrame) -> dict[str, btyd.FitResult]:
    """BG/NBD, Pareto/NBD and Gamma-Gamma fitted on a ``summary`` frame (:func:`fit_each`),
    raising the first model's :class:`btyd.FitError` when one does not fit."""
    fits, failed = fit_each(summary_df)
    if failed:
        raise btyd.FitError(next(iter(failed.values())))
    return fits


def fit_each(summary_df: pd.DataFrame) -> tuple[dict[str, btyd.FitResult], dict[str, str]]:
    """Each of BG/NBD, Pareto/NBD and Gamma-Gamma fitted on its own: (the fits that passed
    their checks, {model: why it failed} for those that raised :class:`btyd.FitError` or
    refused the data with a ``ValueError``), so a
    report can use the models that fit and say why the others did not."""
    x, tx, T = summary_df.frequency, summary_df.recency, summary_df["T"]
    calls = {
        "bgnbd": lambda: btyd.fit_bgnbd(x, tx, T),
        "pareto_nbd": lambda: btyd.fit_pareto_nbd(x, tx, T),
        "gamma_gamma": lambda: btyd.fit_gamma_gamma(x, summary_df.monetary_value),
    }
    fits, failed = {}, {}
    for name, call in calls.items():
        try:
            fits[name] = call()
        except ValueError as e:  # btyd.FitError, or data no model can take (T = 0 for all)
            failed[name] = str(e)
    return fits, failed


def _conditional(model: str):
    return {
        "bgnbd": btyd.bgnbd_conditional_expected_purchases,
        "pareto_nbd": btyd.pareto_nbd_conditional_expected_purchases,
    }[model]


def _p_alive(model: str):
    return {"bgnbd": btyd.bgnbd_p_alive, "pareto_nbd": btyd.pareto_nbd_p_alive}[model]


def holdout_predictions(summary_df: pd.DataFrame, fits: dict) -> pd.DataFrame:
    """Per account: predicted repeat purchases in the holdout by each purchase model in
    ``fits`` (``pred_<model>`` = E[Y(t) | x, t_x, T], t = duration_holdout) and, when
    Gamma-Gamma is in ``fits``, predicted holdout spend (``pred_value_<model>`` = that × the
    Gamma-Gamma expected spend per purchase E[Z | x, m]), beside the actual ones. A model that
    did not fit (not in ``fits``) has no columns."""
    if "frequency_holdout" not in summary_df:
        raise ValueError("summary has no holdout columns: pass holdout_end to summary()")
    s = summary_df
    args = (s.frequency, s.recency, s["T"])
    out = s[["frequency", "frequency_holdout", "value_holdout"]].copy()
    spend = None
    if "gamma_gamma" in fits:
        spend = btyd.gamma_gamma_expected_spend(
            fits["gamma_gamma"].params, s.frequency, s.monetary_value
        )
        out["expected_spend"] = spend
    for model in PURCHASE_MODELS:
        if model not in fits:
            continue
        pred = _conditional(model)(fits[model].params, s.duration_holdout.iloc[0], *args)
        out[f"pred_{model}"] = pred
        if spend is not None:
            out[f"pred_value_{model}"] = pred * spend
    return out


def _models_in(pred: pd.DataFrame, prefix: str) -> list[str]:
    return [m for m in PURCHASE_MODELS if f"{prefix}{m}" in pred.columns]


def _by_bucket(pred: pd.DataFrame, actual: str, prefix: str) -> pd.DataFrame:
    top = FREQUENCY_BUCKETS[-1]
    g = pred.assign(bucket=pred.frequency.clip(upper=top)).groupby("bucket")
    columns = {m: (f"{prefix}{m}", "mean") for m in _models_in(pred, prefix)}
    out = g.agg(accounts=("frequency", "size"), actual=(actual, "mean"), **columns).reset_index()
    out["label"] = out.bucket.map(lambda b: f"{b}+" if b == top else str(b))
    return out


def holdout_by_frequency(pred: pd.DataFrame) -> pd.DataFrame:
    """Per calibration-frequency bucket (repeat purchases 0 .. 7+): accounts, mean actual
    holdout purchases per account (``actual``) and the mean predicted by each purchase model
    (``bgnbd``, ``pareto_nbd``: those in ``pred``), and a ``label``."""
    return _by_bucket(pred, "frequency_holdout", "pred_")


def holdout_spend_by_frequency(pred: pd.DataFrame) -> pd.DataFrame:
    """The same for spend: per calibration-frequency bucket (0 .. 7+), accounts, mean actual
    holdout spend per account (``actual``, Σ order value in the holdout) and the mean predicted
    by each purchase model with Gamma-Gamma (``bgnbd``, ``pareto_nbd`` = mean of predicted
    purchases × E[Z | x, m]), and a ``label``."""
    return _by_bucket(pred, "value_holdout", "pred_value_")


def _relative(predicted: float, actual: float) -> float:
    return float((predicted - actual) / actual) if actual else float("nan")


def holdout_errors(pred: pd.DataFrame) -> dict[str, float]:
    """Holdout fit of each model in ``pred``: per-account MAE and RMSE of purchases, the
    relative error of the total (Σ predicted − Σ actual) / Σ actual (NaN when Σ actual = 0),
    and, with Gamma-Gamma, the same for spend: per-account spend MAE and the relative error of
    total spend; plus the actual totals."""
    out: dict[str, float] = {}
    actual, value = pred.frequency_holdout.to_numpy(float), pred.value_holdout.to_numpy(float)
    for model in _models_in(pred, "pred_"):
        p = pred[f"pred_{model}"].to_numpy(float)
        out[f"{model}_mae"] = float(np.mean(np.abs(p - actual)))
        out[f"{model}_rmse"] = float(np.sqrt(np.mean((p - actual) ** 2)))
        out[f"{model}_total_error"] = _relative(p.sum(), actual.sum())
        if f"pred_value_{model}" in pred:
            pv = pred[f"pred_value_{model}"].to_numpy(float)
            out[f"{model}_spend_mae"] = float(np.mean(np.abs(pv - value)))
            out[f"{model}_spend_error"] = _relative(pv.sum(), value.sum())
    out["actual_purchases"] = float(actual.sum())
    out["actual_value"] = float(value.sum())
    return out


def error_table(errors: dict[str, float]) -> pd.DataFrame:
    """The holdout errors of :func:`holdout_errors` as one row per purchase model: MAE and RMSE
    of purchases per account, relative error of total purchases, and (with Gamma-Gamma) spend
    MAE per account and relative error of total spend."""
    fields = {
        "mae": "purchases MAE",
        "rmse": "purchases RMSE",
        "total_error": "total purchases error",
        "spend_mae": "spend MAE",
        "spend_error": "total spend error",
    }
    rows = [
        {"model": MODEL_NAMES[m]} | {t: errors.get(f"{m}_{k}", np.nan) for k, t in fields.items()}
        for m in PURCHASE_MODELS
        if f"{m}_mae" in errors
    ]
    return pd.DataFrame(rows, columns=["model", *fields.values()])


def choose_model(errors: dict[str, float], fits: dict | None = None) -> str | None:
    """'bgnbd' or 'pareto_nbd': the lower per-account purchase MAE in the holdout (ties:
    BG/NBD) among the models validated there and, when ``fits`` is given, also fitted on all
    the data; None when no model qualifies."""
    candidates = [
        m for m in PURCHASE_MODELS if f"{m}_mae" in errors and (fits is None or m in fits)
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (errors[f"{m}_mae"], PURCHASE_MODELS.index(m)))


def spend_independence(summary_df: pd.DataFrame) -> dict[str, float]:
    """The Gamma-Gamma assumption check: Pearson correlation between frequency and mean repeat
    spend among repeat buyers (near 0 supports the model), with its p-value and count."""
    from scipy.stats import pearsonr

    rep = summary_df[summary_df.frequency > 0]
    if len(rep) < 3:
        raise ValueError("fewer than 3 repeat buyers: cannot check spend independence")
    res = pearsonr(rep.frequency, rep.monetary_value)
    return {"correlation": float(res.statistic), "p_value": float(res.pvalue), "n": len(rep)}


def predictive_clv(
    summary_df: pd.DataFrame,
    fits: dict,
    model: str,
    margin_rate: float,
    horizon_months: float,
    annual_discount_rate: float,
    time_unit: str = "weeks",
    n_draws: int = 200,
) -> pd.DataFrame:
    """Per account: P(alive), expected purchases over the horizon, expected spend per purchase,
    and discounted expected CLV with a 90 % interval from the fits' covariances.

    CLV = Σ_{k=1..H} margin · E[Z | x, m] · (E[Y(k)] − E[Y(k−1)]) / (1 + d_m)^k, monthly steps,
    E[Y] from the chosen purchase model, E[Z | x, m] from Gamma-Gamma, margin = ``margin_rate``
    (contribution / revenue), d_m the monthly discount rate.
    """
    unit = _unit_days(time_unit)
    s = summary_df
    args = (s.frequency.to_numpy(float), s.recency.to_numpy(float), s["T"].to_numpy(float))
    step = DAYS_PER_MONTH / unit
    horizon = horizon_months * step
    clv, lo, hi = btyd.clv_interval(
        fits[model],
        fits["gamma_gamma"],
        *args,
        s.monetary_value.to_numpy(float),
        margin=margin_rate,
        horizon=horizon,
        step=step,
        rate_per_step=monthly_rate(annual_discount_rate),
        n_draws=n_draws,
    )
    out = s[["account_id", "frequency", "recency", "T", "monetary_value"]].copy()
    out["p_alive"] = _p_alive(model)(fits[model].params, *args)
    out["expected_purchases"] = _conditional(model)(fits[model].params, horizon, *args)
    out["expected_spend"] = btyd.gamma_gamma_expected_spend(
        fits["gamma_gamma"].params, s.frequency, s.monetary_value
    )
    out["clv"], out["clv_low"], out["clv_high"] = clv, lo, hi
    return out


def recent_margin(ds, margin_basis: str, end, months: float = 12) -> dict[str, float]:
    """What the predicted CLV is read against: the margin (contribution on ``margin_basis``,
    undiscounted) of the last ``months`` whole calendar months up to ``end``'s month
    (``margin``), and the part of it from accounts whose first order fell in those months
    (``new_accounts_margin``, with their count ``new_accounts``): a forecast for the accounts
    acquired to date has no such newcomers, so it is lower than the past year's margin even
    when nothing changes. Also ``first_month`` and ``last_month`` (YYYY-MM)."""
    n = max(int(round(months)), 1)
    last = pd.Timestamp(end).to_period("M")
    first = last - (n - 1)
    mc = monthly_contribution(ds, margin_basis)
    ov = measures.order_values(ds)
    firsts = ov.group_by("account_id").aggregate(first_month=ov.order_ts.date().truncate("M").min())
    lo = ibis.literal(first.to_timestamp().date())
    hi = ibis.literal(last.to_timestamp().date())
    window = mc.filter((mc.month >= lo) & (mc.month <= hi))
    j = window.left_join(firsts, "account_id")
    new = j.first_month >= lo
    agg = j.aggregate(
        margin=j.contribution.sum(),
        new_accounts_margin=j.contribution.sum(where=new),
        new_accounts=j.account_id.nunique(where=new),
    ).to_pandas()
    row = agg.iloc[0].fillna(0)  # a sum over no rows is null
    return {
        "margin": float(row.margin),
        "new_accounts_margin": float(row.new_accounts_margin),
        "new_accounts": int(row.new_accounts),
        "first_month": f"{first}",
        "last_month": f"{last}",
    }


def margin_rate(ds, margin_basis: str = "gross_margin", end=None) -> float:
    """Σ contribution / Σ revenue over all accounts and months (up to ``end``)."""
    mc = monthly_contribution(ds, margin_basis)
    if end is not None:
        mc = mc.filter(mc.month <= ibis.literal(pd.Timestamp(end).date()))
    tot = mc.aggregate(revenue=mc.revenue.sum(), contribution=mc.contribution.sum()).to_pandas()
    rev = float(tot.revenue.iloc[0] or 0)
    if rev <= 0:
        raise ValueError("orders: no revenue in the selected period")
    return float(tot.contribution.iloc[0]) / rev


def at_risk(pred: pd.DataFrame, value_quantile: float = 0.75, p_alive_below: float = 0.5):
    """High-value accounts that are probably lost: historical value (``value`` column) in the
    top (1 − value_quantile) of accounts and P(alive) < ``p_alive_below``, highest value first."""
    if "value" not in pred:
        raise ValueError("at_risk needs a 'value' column (historical CLV) per account")
    threshold = pred.value.quantile(value_quantile)
    sel = pred[(pred.value >= threshold) & (pred.p_alive < p_alive_below)]
    return sel.sort_values("value", ascending=False).reset_index(drop=True)


# ----------------------------------------------------------------------------- acquisition


def cac_by_month(ds, end=None) -> pd.DataFrame:
    """CAC per acquisition channel and signup month = marketing spend / new accounts.

    Spend is summed from ``marketing_spend`` by channel and month, new accounts from
    ``accounts`` by acquisition_channel and signup month; CAC is NaN where a channel has no new
    account (or no spend recorded: organic, direct, referral... are not bought).
    """
    ms = ds.marketing_spend
    spend = ms.group_by(channel=ms.channel, month=ms.date.truncate("M")).aggregate(
        spend=ms.spend.sum()
    )
    a = ds.accounts
    new = a.group_by(channel=a.acquisition_channel, month=a.signup_date.truncate("M")).aggregate(
        new_accounts=a.count()
    )
    df = spend.to_pandas().merge(new.to_pandas(), on=["channel", "month"], how="outer")
    df["month"] = pd.to_datetime(df.month)
    if end is not None:
        df = df[df.month <= pd.Timestamp(end)]
    df["spend"] = df.spend.fillna(0.0)
    df["new_accounts"] = df.new_accounts.fillna(0).astype("int64")
    df["cac"] = df.spend / df.new_accounts.where(df.new_accounts > 0)
    return df.sort_values(["channel", "month"]).reset_index(drop=True)


def acquisition_return(
    accounts: pd.DataFrame, cac_month: pd.DataFrame, by: list[str] | str = "channel"
) -> pd.DataFrame:
    """CAC, LTV, LTV:CAC, ROI and CAC payback per ``by`` group (channel, and size band).

    ``accounts`` has one row per account with channel, ``ltv_with_forecast`` (historical
    discounted contribution to date plus predicted discounted CLV over the horizon) and
    ``monthly_contribution`` (its contribution per month of tenure). Each account carries its
    channel's overall CAC (channel spend / the channel's new accounts over the whole period);
    then per group: CAC = mean account CAC; ``ltv_with_forecast`` = mean LTV to date plus
    forecast; ``ltv_cac_with_forecast`` = that / CAC; ``roi_on_discounted_ltv`` = (Σ LTV − Σ
    cost) / Σ cost, a share of the cost (discounted LTV with forecast: not the campaigns
    report's undiscounted channel ROI); payback months = CAC / mean monthly contribution.
    Groups without spend have NaN CAC. Flags: ``below_1`` (LTV:CAC < 1, loses money) and
    ``below_3`` (< 3:1, the usual target).
    """
    by = [by] if isinstance(by, str) else list(by)
    per_channel = cac_month.groupby("channel").agg(
        spend=("spend", "sum"), new=("new_accounts", "sum")
    )
    channel_cac = (per_channel.spend / per_channel.new.where(per_channel.new > 0)).where(
        per_channel.spend > 0
    )
    df = accounts.assign(cost=accounts.channel.map(channel_cac))
    g = df.groupby(by)
    out = g.agg(
        accounts=("account_id", "size"),
        cost=("cost", lambda c: c.sum(min_count=1)),
        ltv_total=("ltv_with_forecast", "sum"),
        ltv_with_forecast=("ltv_with_forecast", "mean"),
        monthly_contribution=("monthly_contribution", "mean"),
    ).reset_index()
    out["cac"] = out.cost / out.accounts
    ratio = out.ltv_with_forecast / out.cac
    out["ltv_cac_with_forecast"] = ratio
    out["roi_on_discounted_ltv"] = (out.ltv_total - out.cost) / out.cost
    out["payback_months"] = out.cac / out.monthly_contribution.where(out.monthly_contribution > 0)
    unknown = ratio.isna()  # no spend: no flag either way
    out["below_1"] = (ratio < 1).astype("boolean").mask(unknown)
    out["below_3"] = (ratio < 3).astype("boolean").mask(unknown)
    return out


# ----------------------------------------------------------------------------- cohorts


def cohorts(ds, end=None) -> pd.DataFrame:
    """Monthly acquisition cohorts (month of the first order) × months since acquisition:
    cohort size, active accounts (with an order in that month), retention = active / size, and
    cumulative revenue per cohort account. Long format."""
    ov = measures.order_values(ds)
    ov = ov.mutate(order_date=ov.order_ts.date())
    if end is not None:
        ov = ov.filter(ov.order_date <= ibis.literal(pd.Timestamp(end).date()))
    ov = ov.mutate(month=ov.order_date.truncate("M"))
    first = ov.group_by("account_id").aggregate(cohort=ov.month.min())
    j = ov.join(first, "account_id")
    act = j.group_by([j.cohort, j.month]).aggregate(
        active=j.account_id.nunique(), revenue=j.revenue.sum()
    )
    size = first.group_by("cohort").aggregate(size=first.count())
    df = act.to_pandas().merge(size.to_pandas(), on="cohort")
    if df.empty:
        raise ValueError("orders: no orders to build cohorts from")
    df["cohort"], df["month"] = pd.to_datetime(df.cohort), pd.to_datetime(df.month)
    df["age"] = (df.month.dt.to_period("M") - df.cohort.dt.to_period("M")).map(lambda o: o.n)
    df = df.sort_values(["cohort", "age"]).reset_index(drop=True)
    df["retention"] = df.active / df["size"]
    df["cum_revenue_per_account"] = df.groupby("cohort").revenue.cumsum() / df["size"]
    return df


# ----------------------------------------------------------------------------- report glue


def account_values(hist: pd.DataFrame, pred: pd.DataFrame | None, last_month) -> pd.DataFrame:
    """One row per account: size_band (the data layer's ``segment``), industry, channel,
    historical CLV (``value``), predicted CLV and P(alive) (0 and NaN for accounts with no
    order, and for all when ``pred`` is None: no model could predict), ``ltv_with_forecast`` =
    historical + predicted, and ``monthly_contribution`` = contribution / months since signup
    (through ``last_month``)."""
    if pred is None:
        cols = ["account_id", "p_alive", "expected_purchases", "clv", "clv_low", "clv_high"]
        pred = pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
        pred["account_id"] = pred.account_id.astype(hist.account_id.dtype)
    out = hist.merge(
        pred[["account_id", "p_alive", "expected_purchases", "clv", "clv_low", "clv_high"]].rename(
            columns={"clv": "predicted_clv"}
        ),
        on="account_id",
        how="left",
    )
    out = out.rename(columns={"clv": "value", "segment": "size_band"})
    for c in ("predicted_clv", "clv_low", "clv_high", "expected_purchases"):
        out[c] = out[c].fillna(0.0)
    out["ltv_with_forecast"] = out.value + out.predicted_clv
    out["monthly_contribution"] = out.contribution / out.months
    return out


CHECK_COLUMNS = ("grad_norm", "hessian_pd", "min_eigenvalue", "newton_step", "converged")


def fit_table(fits: dict) -> pd.DataFrame:
    """One row per model and parameter: estimate, standard error, 95 % interval
    (:meth:`btyd.FitResult.interval`: exp(log θ ± 1.96 se(log θ))), log-likelihood,
    convergence and customers."""
    rows = []
    for name, f in fits.items():
        ci = f.interval(0.95)
        for k, v in f.params.items():
            rows.append(
                {
                    "model": MODEL_NAMES.get(name, name),
                    "parameter": k,
                    "estimate": v,
                    "std_error": f.stderr[k],
                    "ci_low": ci[k][0],
                    "ci_high": ci[k][1],
                    "log_likelihood": f.loglik,
                    "converged": f.converged,
                    "customers": f.n,
                }
            )
    return pd.DataFrame(rows)


def fit_checks(fits: dict) -> pd.DataFrame:
    """One row per fitted model: customers, log-likelihood and the checks of the optimum kept
    on :class:`btyd.FitResult`: ``grad_norm`` (norm of the gradient of the mean
    log-likelihood in log-parameters, ≈ 0 at a maximum), ``hessian_pd`` and ``min_eigenvalue``
    (the Hessian of the mean negative log-likelihood is positive definite: smallest eigenvalue
    > 0, so the maximum is a peak and every parameter is identified), ``newton_step`` (largest
    remaining Newton step in standard errors; < 0.01 passes) and ``converged``."""
    rows = [
        {
            "model": MODEL_NAMES.get(name, name),
            "customers": f.n,
            "log_likelihood": f.loglik,
            **{c: getattr(f, c) for c in CHECK_COLUMNS},
        }
        for name, f in fits.items()
    ]
    columns = ["model", "customers", "log_likelihood", *CHECK_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def checks_narrative(fits: dict, failed: dict[str, str] | None = None) -> str:
    """One or two sentences on the fit checks, computed from ``fits`` (and ``failed``: model ->
    why it did not fit): "All three fits passed their checks: gradient norm at most ...,
    Hessian positive definite (smallest eigenvalue at least ...), remaining Newton step at most
    ... standard errors." and, per failed model, its reason."""
    failed = failed or {}
    checks = fit_checks(fits)
    passed = checks[checks.converged & checks.hessian_pd]
    parts = []
    if len(passed):
        names = ", ".join(passed.model)
        who = (
            f"All {_word(len(passed))} fits"
            if len(passed) == len(fits) and not failed and len(passed) > 1
            else f"The {names} fit" + ("s" if len(passed) > 1 else "")
        )
        parts.append(
            f"{who} passed {'their' if len(passed) > 1 else 'its'} checks: gradient norm at most "
            f"{passed.grad_norm.max():.1e} (zero at an exact maximum), Hessian positive definite "
            f"(smallest eigenvalue at least {passed.min_eigenvalue.min():.3g}), remaining Newton "
            f"step at most {passed.newton_step.max():.2g} standard errors (the bar is "
            f"{btyd.NEWTON_TOL:g})."
        )
    for name, why in failed.items():
        parts.append(f"{MODEL_NAMES.get(name, name)} could not be fitted: {why}")
    if not parts:
        return "No model was fitted."
    return " ".join(parts)


def _word(n: int) -> str:
    return {2: "two", 3: "three"}.get(n, str(n))


def _fit_figures(fits: dict) -> dict[str, dict]:
    """Per fitted model, one group of figures: its parameters with standard errors and 95 %
    intervals (``{r, r_se, r_ci_low, r_ci_high, alpha, ...}``), log-likelihood (``loglik``)
    and the fit checks (``grad_norm``, ``hessian_pd``, ``min_eigenvalue``, ``newton_step``,
    ``converged``)."""
    out: dict[str, dict] = {}
    for name, f in fits.items():
        ci = f.interval(0.95)
        group: dict = {}
        for p, v in f.params.items():
            group |= {
                p: v,
                f"{p}_se": f.stderr[p],
                f"{p}_ci_low": ci[p][0],
                f"{p}_ci_high": ci[p][1],
            }
        group |= {"loglik": f.loglik} | {c: getattr(f, c) for c in CHECK_COLUMNS}
        out[name] = group
    return out


def published_figures(
    fits: dict, errors: dict, chosen: str | None, failed: dict[str, str] | None = None
) -> dict:
    """Figures for ``publish``: per fitted model its parameters with standard errors and 95 %
    intervals (``bgnbd: {r, r_se, r_ci_low, r_ci_high, alpha, ...}``), log-likelihood and the
    fit checks (``grad_norm``, ``hessian_pd``, ``min_eigenvalue``, ``newton_step``,
    ``converged``); the holdout errors (``holdout: {...}``); the chosen model (``model_chosen``,
    'none' when no purchase model could be used); ``checks_passed`` (every model fitted and
    passed its checks) and, when some did not fit, ``fit_failures: {model: why}``."""
    failed = failed or {}
    out: dict = {"model_chosen": chosen or "none"} | _fit_figures(fits)
    out["holdout"] = dict(errors)
    out["checks_passed"] = bool(
        not failed and all(f.converged and f.hessian_pd for f in fits.values())
    )
    if failed:
        out["fit_failures"] = dict(failed)
    return out


# ----------------------------------------------------------------------------- analyse


def holdout_window(
    first_order, data_end, calibration_end=None, holdout_weeks: float = 26
) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """(calibration_end, holdout_end, reason) for the holdout check.

    calibration_end = the one given, else data_end − holdout_weeks; holdout_end =
    min(calibration_end + holdout_weeks, data_end). ``reason`` is '' when the window fits the
    orders' span, else one sentence naming the parameter and the span: the calibration period
    must end after the first order day, and the holdout must start before the last.
    """
    validate.positive("holdout_weeks", holdout_weeks)
    first, end = pd.Timestamp(first_order).normalize(), pd.Timestamp(data_end).normalize()
    given = calibration_end is not None and calibration_end != ""
    cal = (
        pd.Timestamp(calibration_end).normalize()
        if given
        else end - pd.Timedelta(weeks=holdout_weeks)
    )
    holdout_end = min(cal + pd.Timedelta(weeks=holdout_weeks), end)
    weeks = (end - first).days / 7
    span = f"the orders span {weeks:.1f} weeks ({first:%Y-%m-%d} to {end:%Y-%m-%d})"
    reason = ""
    if given and cal <= first:
        reason = f"calibration_end {cal:%Y-%m-%d} is not after the first order day: {span}."
    elif given and cal >= end:
        reason = f"calibration_end {cal:%Y-%m-%d} leaves no holdout period: {span}."
    elif cal <= first:
        fits = int(weeks // 2)
        hint = (
            f"a holdout_weeks of at most {fits} would leave as long a calibration period"
            if fits >= 1
            else "too short a history to hold any week out"
        )
        reason = (
            f"holdout_weeks = {holdout_weeks:g} leaves no calibration period before the "
            f"holdout: {span}; {hint}."
        )
    return cal, holdout_end, reason


def same_day_combined(transactions: ibis.Table, date_col: str = "order_ts") -> int:
    """Orders beyond the first of an account on one day: Σ orders − Σ distinct
    (account, day) pairs, the transactions ``summary(combine_same_day=True)`` merges."""
    t = transactions
    days = t.select("account_id", day=t[date_col].cast("date")).distinct().count()
    return int(t.count().to_pandas()) - int(days.to_pandas())


def analyse(
    ds,
    calibration_end=None,
    holdout_weeks: float = 26,
    horizon_months: float = 12,
    annual_discount_rate: float = 0.10,
    margin_basis: str = "gross_margin",
    time_unit: str = "weeks",
    value_quantile: float = 0.75,
    p_alive_below: float = 0.5,
    combine_same_day: bool = True,
    n_draws: int = 200,
) -> Analysis:
    """The CLV report on ``ds`` (:func:`open_tables`), guests left out: historical value, BTYD
    fits, their check on the holdout (:func:`holdout_window`; skipped, with predicted and
    at-risk, when it does not fit the history), predicted CLV by the model with the lower
    holdout MAE (:func:`choose_model`) refitted on all orders with Gamma-Gamma, acquisition
    return, cohorts, and valuable accounts at risk (``at_risk_list``, which the notebook files
    with ``present.todo_list`` as ``<exports>/clv/at_risk.csv`` and ``.xlsx``). Without unit
    costs values are discounted revenue, labelled so."""
    _unit_days(time_unit)
    parameters = dict(locals())
    parameters.pop("ds")
    res = Analysis.start("clv", SECTIONS, ds)
    customers, n_guests = tables.customers_only(ds)
    basis = usable_margin_basis(customers, margin_basis)
    first_order, last_order = customers.period("orders")
    data_end = last_order.normalize()
    cal_end, holdout_end, window_problem = holdout_window(
        first_order, data_end, calibration_end, holdout_weeks
    )
    transactions = measures.order_values(customers)
    f = res.facts
    f |= {
        "basis": basis,
        "margin_basis_asked": margin_basis,
        "basis_text": _basis_text(basis),
        "value_label": "CLV" if basis != REVENUE_BASIS else "revenue value",
        "n_guests": n_guests,
        "missing": tables.missing_optional(ds, OPTIONAL_TABLES),
        "data_end": data_end,
        "first_order": first_order.normalize(),
        "same_day_combined": same_day_combined(transactions) if combine_same_day else 0,
    } | parameters
    if basis == REVENUE_BASIS:
        res.notes.append(REVENUE_NOTE)
    margin = margin_rate(customers, basis)
    opts = {"time_unit": time_unit, "combine_same_day": combine_same_day}
    full = summary(transactions, data_end, **opts)
    fits, failed = fit_each(full)
    f |= {"full": full, "fits": fits, "failed": failed, "margin": margin}
    f["recent"] = recent_margin(customers, basis, data_end, horizon_months)
    errors = {}
    if window_problem:
        f["no_prediction"] = window_problem.rstrip(".")
        for key in ("holdout", "predicted", "at_risk"):
            res.skip(key, f"Not checked on a holdout, so no prediction: {window_problem}")
    else:
        errors = _validate(res, transactions, cal_end, holdout_end, opts)
    chosen = choose_model(errors, fits)
    pred = _predict(res, full, chosen, margin, horizon_months, annual_discount_rate, n_draws)
    hist = historical_clv(customers, annual_discount_rate, basis)
    values = account_values(hist, pred, data_end)
    res.tables |= {"values": values, "cohorts": cohorts(customers)}
    _history_and_models(res, values, errors, chosen)
    if res.built("acquisition"):
        _acquisition(res, customers, values)
    if res.built("at_risk"):
        _at_risk(res, customers, values, value_quantile, p_alive_below)
    res.figures |= {
        "valued_accounts": len(values),
        "guest_accounts_left_out": n_guests,
        "margin_rate": margin if basis != REVENUE_BASIS else None,
        "margin_basis": basis,
        "costs_known": basis != REVENUE_BASIS,
        "combine_same_day": combine_same_day,
        "same_day_orders_combined": f["same_day_combined"],
        "acquisition_shown": res.built("acquisition"),
    }
    return res


REVENUE_NOTE = (
    "The order lines carry no unit cost, so margins are unknown: every value below is "
    "discounted revenue, not contribution, and acquisition return is left out."
)


def _total_key(res: Analysis, which: str) -> str:
    """``historical_clv_total`` / ``predicted_clv_total``, or ``..._revenue_value_total`` on the
    revenue basis (costs unknown): a figure named CLV is never revenue."""
    kind = "revenue_value" if res.facts["basis"] == REVENUE_BASIS else "clv"
    return f"{which}_{kind}_total"


def _basis_text(basis: str) -> str:
    if basis == REVENUE_BASIS:
        return "revenue (the order lines have no unit cost, so the margin is unknown)"
    return basis.replace("_", " ")


def _validate(res: Analysis, transactions, cal_end, holdout_end, opts) -> dict[str, float]:
    """The holdout section: fit on the calibration period, predict the holdout; the errors
    (empty when no purchase model fitted on the calibration period)."""
    calib = summary(transactions, cal_end, holdout_end=holdout_end, **opts)
    calib_fits, calib_failed = fit_each(calib)
    holdout = holdout_predictions(calib, calib_fits)
    errors = holdout_errors(holdout)
    validated = [m for m in PURCHASE_MODELS if f"{m}_mae" in errors]
    res.facts |= {
        "cal_end": cal_end,
        "holdout_end": holdout_end,
        "calib_fits": calib_fits,
        "calib_failed": calib_failed,
        "validated": validated,
        "errors": errors,
    }
    res.figures |= {
        "calibration_end": cal_end,
        "holdout_end": holdout_end,
        "calibration_fit": _fit_figures(calib_fits),
        "holdout": dict(errors),
    }
    if not validated:
        why = " ".join(f"{MODEL_NAMES[m]}: {w}" for m, w in calib_failed.items())
        res.skip(
            "holdout",
            "No purchase model could be fitted on the calibration period, so none is checked "
            f"on the holdout: {why}",
        )
        for key in ("calibration_end", "holdout_end", "calibration_fit", "holdout"):
            res.figures.pop(key)
        return errors
    res.tables |= {
        "holdout_buckets": holdout_by_frequency(holdout),
        "holdout_spend_buckets": holdout_spend_by_frequency(holdout),
        "error_table": error_table(errors),
    }
    return errors


def _predict(res: Analysis, full, chosen, margin, horizon_months, rate, n_draws):
    """The predicted section's per-account CLV (None, with the sections skipped, when no model
    was both validated and fitted on all the data, or Gamma-Gamma did not fit)."""
    fits = res.facts["fits"]
    if not res.built("predicted"):
        res.facts.setdefault("no_prediction", res.reason("predicted").rstrip("."))
        return None
    if chosen is None or "gamma_gamma" not in fits:
        why = (
            "no purchase model could be both checked on the holdout and fitted on all the data"
            if chosen is None
            else "the Gamma-Gamma spend model could not be fitted"
        )
        res.facts["no_prediction"] = why
        for key in ("predicted", "at_risk"):
            res.skip(key, f"Not shown: {why} (the reasons are under *The models and their fit*).")
        return None
    pred = predictive_clv(
        full, fits, chosen, margin, horizon_months, rate, res.facts["time_unit"], n_draws
    )
    res.facts["pred"] = pred
    res.figures[_total_key(res, "predicted")] = pred.clv.sum()
    return pred


def _history_and_models(res: Analysis, values, errors, chosen) -> None:
    """Tables and facts of the historical, models, holdout and predicted sections."""
    f = res.facts
    fits, failed = f["fits"], f["failed"]
    other = next((m for m in f.get("validated", []) if m != chosen), None)
    band_hist = by_group(values, "size_band", "value")
    f |= {
        "chosen": chosen,
        "other": other,
        "historical_total": float(values.value.sum()),
        "top_size_band": band_hist.size_band.iloc[0],
        "top_size_band_mean": float(band_hist["mean"].iloc[0]),
        "checks_text": checks_narrative(fits, failed),
        "independence": _independence(f["full"], fits),
        "buyers": len(f["full"]),
        "repeat_buyers": int((f["full"].frequency > 0).sum()),
    }
    res.tables |= {
        "hist_by": {c: by_group(values, c, "value") for c in GROUP_COLUMNS},
        "fit_table": fit_table(fits),
        "fit_checks": fit_checks(fits),
    }
    res.figures |= {_total_key(res, "historical"): f["historical_total"]}
    res.figures |= published_figures(fits, errors, chosen, failed)
    if not res.built("holdout"):
        res.figures.pop("holdout", None)
    if res.built("predicted"):
        pred = f["pred"]
        res.tables["pred_by_size_band"] = by_group(
            values[values.expected_purchases > 0], "size_band", "predicted_clv"
        )
        res.tables["top_predicted"] = values.sort_values("predicted_clv", ascending=False).head(15)[
            [
                "account_id",
                "size_band",
                "channel",
                "value",
                "p_alive",
                "predicted_clv",
                "clv_low",
                "clv_high",
            ]
        ]
        f |= {
            "predicted_total": float(pred.clv.sum()),
            "predicted_low": float(pred.clv_low.sum()),
            "predicted_high": float(pred.clv_high.sum()),
            "mean_expected_purchases": float(pred.expected_purchases.mean()),
            "share_alive": float((pred.p_alive >= f["p_alive_below"]).mean()),
            "predicted_accounts": len(pred),
        }
    _cohort_facts(res)


def _independence(full, fits) -> dict | None:
    if "gamma_gamma" not in fits:
        return None
    try:
        return spend_independence(full)
    except ValueError:
        return None


def _cohort_facts(res: Analysis) -> None:
    cohort = res.tables["cohorts"]
    shown = cohort[cohort.age <= 12]
    month1 = cohort[cohort.age == 1]
    retention = shown.pivot(index="cohort", columns="age", values="retention")
    cumrev = shown.pivot(index="cohort", columns="age", values="cum_revenue_per_account") / 1000
    retention.index = retention.index.strftime("%Y-%m")
    cumrev.index = cumrev.index.strftime("%Y-%m")
    res.tables |= {"retention": retention, "cum_revenue": cumrev}
    res.facts |= {
        "cohort_count": int(cohort.cohort.nunique()),
        "month1_active": int(month1.active.sum()),
        "month1_size": int(month1["size"].sum()),
    }


def _acquisition(res: Analysis, customers, values) -> None:
    """The acquisition section: CAC per channel and month, return per channel and per paid
    channel and size band; per paid channel the figures ltv_with_forecast_per_account,
    ltv_cac_with_forecast and acquisition_roi_discounted_with_forecast; skipped when no
    account's channel is known, no acquisition channel has spend, or costs are unknown
    (LTV:CAC on revenue would overstate the return)."""
    if res.facts["basis"] == REVENUE_BASIS:
        res.skip(
            "acquisition",
            "Not shown: order_lines.unit_cost is empty, so contribution, LTV:CAC, ROI and "
            "payback are unknown (a return measured on revenue would overstate them).",
        )
        return
    if (values.channel.fillna(tables.UNKNOWN) == tables.UNKNOWN).all():
        res.skip(
            "acquisition",
            "Not shown: no account has a known acquisition_channel (accounts table, "
            "acquisition_channel column), so spend cannot be set against the accounts it won.",
        )
        return
    cac_month = cac_by_month(customers)
    by_channel = acquisition_return(values, cac_month, "channel")
    paid_channels = by_channel[by_channel.cac.notna()].sort_values("ltv_cac_with_forecast")
    if paid_channels.empty:
        spent = ", ".join(sorted(cac_month.channel[cac_month.spend > 0].unique()))
        res.skip(
            "acquisition",
            "Not shown: no acquisition_channel of the accounts has spend in marketing_spend "
            f"(channels with spend: {spent or 'none'}).",
        )
        return
    paid = values[values.channel.isin(paid_channels.channel)]
    paid_month = cac_month[cac_month.channel.isin(paid_channels.channel)]
    res.tables |= {
        "cac_month": paid_month[paid_month.new_accounts > 0],
        "by_channel": by_channel,
        "by_channel_size_band": acquisition_return(paid, cac_month, ["channel", "size_band"]),
        "paid_channels": paid_channels,
    }
    per = paid_channels.set_index("channel")
    res.figures |= {
        key: {str(c): float(v) for c, v in per[column].items()}
        for key, column in ACQUISITION_FIGURES.items()
    }


def _at_risk(res: Analysis, customers, values, value_quantile, p_alive_below) -> None:
    """The at-risk section: high-value accounts with P(alive) under the bar (table ``risk``),
    by size band (``risk_by_size_band``), and the list people act on (``at_risk_list``,
    :func:`at_risk_list`; the notebook files it with ``present.todo_list``)."""
    risk = at_risk(values, value_quantile, p_alive_below)
    res.tables["risk"] = risk
    res.tables["at_risk_list"] = at_risk_list(customers, risk, res.facts["full"], res.facts)
    res.tables["risk_by_size_band"] = (
        risk.groupby("size_band")
        .agg(accounts=("account_id", "size"), historical_value=("value", "sum"))
        .reset_index()
    )
    res.facts |= {
        "at_risk_count": len(risk),
        "at_risk_value": float(risk.value.sum()),
        "value_threshold": float(values.value.quantile(value_quantile)),
        "with_owner": "leads" in customers,
        "with_contacts": "contacts" in customers,
    }
    res.figures["high_value_at_risk_accounts"] = len(risk)


def at_risk_list(ds, risk: pd.DataFrame, summary_df: pd.DataFrame, facts: dict) -> pd.DataFrame:
    """The high-value accounts at risk as a list people act on, highest historical CLV first:
    :data:`AT_RISK_COLUMNS` (company name from ``accounts``; lead_owner = the owner of the
    account's latest lead, :func:`helpers.data.rfm.account_owners`, when ``ds`` has leads;
    days_since_last_purchase = (T − recency) × days per time unit from ``summary_df``) and,
    when ``ds`` has contacts, the consenting contacts (:func:`helpers.data.rfm.
    contacts_per_account`: personal data, for the files only). ``facts`` gives time_unit."""
    unit = _unit_days(facts["time_unit"])
    names = ds.accounts.select("account_id", "company_name").to_pandas()
    since = summary_df.assign(
        days_since_last_purchase=((summary_df["T"] - summary_df.recency) * unit).round()
    )[["account_id", "days_since_last_purchase"]]
    out = risk.rename(columns={"value": "historical_clv"}).merge(names, on="account_id", how="left")
    out = out.merge(since, on="account_id", how="left")
    columns = [c for c in AT_RISK_COLUMNS if c != "lead_owner" or "leads" in ds]
    if "leads" in ds:
        out = out.merge(account_owners(ds), on="account_id", how="left")
    if "contacts" in ds:
        out = out.merge(contacts_per_account(ds), on="account_id", how="left")
        out["contacts_with_consent"] = out.contacts_with_consent.fillna(0).astype("int64")
        columns += ["contacts_with_consent", "name", "email", "phone"]
    out = out.sort_values(["historical_clv", "account_id"], ascending=[False, True])
    return out[columns].reset_index(drop=True)


# ----------------------------------------------------------------------------- narrative


def key_findings(res: Analysis) -> list[str]:
    """The report's key findings, computed from ``res.facts`` and ``res.tables``; the LTV and
    at-risk measures are named by their registry labels (:mod:`helpers.metrics`), which say
    how they differ from the campaigns and segmentation reports' measures of like name."""

    f, t = res.facts, res.tables
    out = [
        f"Historical {f['value_label']} (discounted {f['basis_text']}) totals "
        f"**{present.money(f['historical_total'])}** over {present.count(len(t['values']))} "
        f"accounts; the **{f['top_size_band']}** size band is worth most per account "
        f"({present.money(f['top_size_band_mean'])} on average)."
    ]
    if res.built("predicted"):
        out += _prediction_findings(f)
    else:
        out.append(f"No predicted value: {f['no_prediction']}; the report shows historical value.")
    if res.built("acquisition"):
        paid = t["paid_channels"]
        under = ", ".join(paid[paid.below_3.fillna(False).astype(bool)].channel)
        out.append(
            f"Paid channels, {metrics.label('ltv_cac_with_forecast')}: "
            + ", ".join(
                f"**{r.channel}** {r.ltv_cac_with_forecast:.1f}:1 (CAC {present.money(r.cac)}, "
                f"{present.count(r.accounts)} accounts; ROI on discounted LTV "
                f"{r.roi_on_discounted_ltv:+.0%} of the cost)"
                for r in paid.itertuples()
            )
            + (f"; under 3:1: {under}." if under else "; all at or above 3:1.")
        )
    else:
        out.append(f"No acquisition cost or return: {res.reason('acquisition')}")
    if res.built("at_risk"):
        out.append(
            f"**{present.count(f['at_risk_count'])}** high-value accounts at risk: the top "
            f"{present.pct(1 - f['value_quantile'], 0)} "
            f"by historical value with P(alive) under {present.pct(f['p_alive_below'], 0)}; "
            f"together they contributed {present.money(f['at_risk_value'])}. Not the RFM segment "
            "At risk of the segmentation report, which counts recency and frequency alone."
        )
    return out


def _prediction_findings(f: dict) -> list[str]:
    """The predicted-CLV findings: the total and whom it covers (the accounts acquired to date,
    against the last months' margin of all accounts and the newcomers' part of it), and why the
    model was chosen."""
    names, chosen, other, e, r = MODEL_NAMES, f["chosen"], f["other"], f["errors"], f["recent"]
    versus = (
        f" against {e[other + '_mae']:.3f} for {names[other]}"
        if other
        else " (the other purchase model could not be fitted)"
    )
    months = f"{f['horizon_months']:g}"
    return [
        f"Predicted {f['value_label']} over the next {months} months: "
        f"**{present.money(f['predicted_total'])}** from the {names[chosen]} and Gamma-Gamma "
        f"models (90% parameter interval {present.money(f['predicted_low'])} to "
        f"{present.money(f['predicted_high'])}, summed per account). It covers only the "
        f"{present.count(f['predicted_accounts'])} accounts acquired (with an order) by "
        f"{f['data_end']:%Y-%m-%d}, discounted, so it is not a forecast of total margin: the "
        f"last {months} months' undiscounted margin of all accounts ({r['first_month']} to "
        f"{r['last_month']}) was {present.money(r['margin'])}, of which "
        f"{present.money(r['new_accounts_margin'])} came from the "
        f"{present.count(r['new_accounts'])} accounts whose first order fell in those months, "
        "newcomers the forecast cannot include.",
        f"{names[chosen]} is used because it predicted holdout purchases better: mean "
        f"absolute error {e[chosen + '_mae']:.3f} per account{versus}; its total was off by "
        f"{present.pct(e[chosen + '_total_error'])}, total spend by "
        f"{present.pct(e.get(chosen + '_spend_error', float('nan')))}.",
    ]


def data_text(res: Analysis) -> str:
    """The data-quality paragraph of the report: the periods the models learn from and are
    checked on, accounts with orders, guests left out, tables absent, the value basis."""

    f = res.facts
    if res.built("holdout"):
        text = (
            f"The models learn from orders up to **{f['cal_end']:%Y-%m-%d}** (calibration) and "
            f"are checked on **{f['cal_end'] + pd.Timedelta(days=1):%Y-%m-%d}** to "
            f"**{f['holdout_end']:%Y-%m-%d}** (holdout); the final fit uses every order up to "
            f"{f['data_end']:%Y-%m-%d}."
        )
    else:
        text = f"The models are not checked on a holdout: {res.reason('holdout')}"
    text += (
        f" {present.count(f['buyers'])} accounts have at least one order; "
        f"{present.count(f['repeat_buyers'])} of them bought again."
    )
    if f["combine_same_day"]:
        text += (
            f" One account's orders on one day count as one purchase "
            f"({present.count(f['same_day_combined'])} same-day orders combined)."
        )
    if f["n_guests"]:
        text += (
            f" {present.count(f['n_guests'])} guest account(s) (sales without a customer, which "
            "the import keeps for revenue totals) are left out: lifetime value is about customers."
        )
    text += "".join(f" The dataset has no `{t}` table: {w}." for t, w in f["missing"].items())
    if f["basis"] != f["margin_basis_asked"]:
        asked = f["margin_basis_asked"].replace("_", " ")
        text += f" Margin basis {asked} was asked for; {f['basis_text']} is used."
    return text


DEFINITIONS = {
    "Contribution M_t": "revenue − cost of goods in month t (gross margin); with the "
    "contribution basis, also minus the cost of service tickets opened that month; with the "
    "revenue basis (no unit costs in the data), revenue itself, so values are not margins.",
    "Historical CLV": "Σ_t M_t / (1 + d)^t, t = months since the signup month, d the monthly "
    "rate from the annual discount rate.",
    "Frequency, recency, T": "repeat purchases (purchase days after the first: one account's "
    "orders on one day count once); time from the first to the last purchase; time from the "
    "first purchase to the end of the period, in the chosen time unit.",
    "BG/NBD": "purchases Poisson at rate λ ~ Gamma(r, α) while active; after each repeat "
    "purchase the account drops out with probability p ~ Beta(a, b) (Fader, Hardie and Lee "
    "2005).",
    "Pareto/NBD": "the same purchase process with an exponential lifetime of rate μ ~ Gamma(s, "
    "β) (Schmittlein, Morrison and Colombo 1987).",
    "Gamma-Gamma": "order value ~ Gamma(p, ν), ν ~ Gamma(q, γ); expected spend = (γ + m x) p / "
    "(p x + q − 1) (Fader, Hardie and Lee 2005).",
    "P(alive)": "the probability, given an account's frequency, recency and T, that it has not "
    "dropped out.",
    "Predicted CLV": "Σ_k margin × expected spend × expected purchases in month k / (1 + d)^k "
    "over the horizon; the interval redraws the parameters from their estimated covariance.",
    "Holdout errors": "MAE and RMSE of predicted vs actual holdout purchases per account; total "
    "error = (Σ predicted − Σ actual) / Σ actual; the same for spend, with predicted spend = "
    "predicted purchases × Gamma-Gamma expected spend per purchase.",
    "Fit checks": "at the maximum-likelihood estimate the gradient is near zero, the Hessian of "
    "the negative log-likelihood is positive definite (smallest eigenvalue above 0: a peak, "
    "every parameter identified) and a further Newton step would move no parameter by 0.01 "
    "standard errors; 95% intervals are exp(log θ ± 1.96 se(log θ)).",
    "CAC": "marketing spend / new accounts, per channel (and month); channels without recorded "
    "spend have none.",
    "LTV, to date plus 12-month forecast": "historical CLV to date + predicted CLV over the "
    "horizon (default 12 months), both discounted, per acquired account; not the campaigns "
    "report's LTV to date, which has no forecast.",
    "LTV (to date plus forecast) to CAC": "mean LTV, to date plus forecast / CAC.",
    "ROI on discounted LTV": "(Σ LTV to date plus forecast − Σ acquisition cost) / Σ "
    "acquisition cost, shown as a % of the cost; not the campaigns report's channel ROI, a "
    "ratio on undiscounted margin.",
    "CAC payback": "CAC / mean monthly contribution per account of the group, in months.",
    "Size band": "the company-size band of the account (accounts.size_band); not the RFM "
    "segment of the segmentation report.",
    "High-value accounts at risk": "accounts in the top (1 − value_quantile) by historical CLV "
    "with P(alive) under p_alive_below; not the RFM segment At risk (recency and frequency "
    "alone).",
    "Lead owner": "the owner of the account's most recent lead in the CRM.",
    "Cohort": "accounts by the month of their first order; retention = accounts ordering in a "
    "month / cohort size.",
}
