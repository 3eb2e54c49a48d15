"""B2B sales pipeline: the pipeline report's helpers, built from the CRM's leads alone.

A lead moves lead -> qualified -> opportunity -> quote -> won (or lost); each stage's time is a
column of ``leads`` (``created_at``, ``qualified_at``, ``opportunity_at``, ``quote_at``,
``closed_at``). The aggregations are Ibis expressions (DuckDB or Spark); one row per stage,
source or owner reaches pandas. The report's entry point is :func:`analyse`::

    from helpers import pipeline
    ds = pipeline.open_tables("data/raw/crm")
    result = pipeline.analyse(ds, stage_window_quantile=0.9)
    result.figures["lead_win_rate"]   # won / (won + lost)

``leads.account_id`` may be null (a CRM holds many leads not yet matched to an account): such
leads count everywhere; the breakdowns by an account's industry and size band (a section that
needs the accounts table) put them in the group ``UNMATCHED``.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

from helpers import validate
from helpers.data import tables
from helpers.sections import Analysis, Section
from helpers.stats import wilson_interval

__all__ = [
    "CORE",
    "LEAD_STAGES",
    "SECTIONS",
    "UNMATCHED",
    "analyse",
    "definitions",
    "leads_with_accounts",
    "monthly_win_rate",
    "open_pipeline",
    "open_tables",
    "pipeline_stages",
    "pipeline_velocity",
    "sales_cycle",
    "stuck_leads",
    "typical_stage_days",
    "win_rate",
]

#: The report's core table (``requires:`` in reports.yml).
CORE = ("leads",)
#: The account attributes the pipeline is broken down by when the accounts table is there.
ACCOUNT_COLUMNS = ("industry", "size_band")
SECTIONS = (
    Section("stages", "Stage-to-stage conversion"),
    Section("wins", "Win rate and sales cycle"),
    Section("velocity", "Pipeline velocity"),
    Section("open_pipeline", "Open pipeline"),
    Section("stuck", "Leads stuck longest"),
    Section(
        "by_account",
        "By industry and company size",
        needs={"accounts": ("account_id", *ACCOUNT_COLUMNS)},
    ),
)
#: The group of leads without an account (null ``account_id``) in the account breakdowns.
UNMATCHED = "(no account)"


def _as_table(leads, name: str = "leads"):
    """An Ibis table from an Ibis table or a pandas DataFrame (in-process DuckDB memtable)."""
    if isinstance(leads, ibis.Table):
        return leads
    if isinstance(leads, pd.DataFrame):
        return ibis.memtable(leads)
    raise ValueError(f"{name} must be an Ibis table or a pandas DataFrame, got {type(leads)}")


def open_tables(data_dir=None, engine: str = "duckdb", **options):
    """The dataset with ``leads`` and, when the folder has it, ``accounts``
    (:func:`helpers.data.tables.open_tables`). No accounts table is derived: one made from the
    ids seen has no industry or size band to break the pipeline down by."""
    optional = {t for s in SECTIONS for t in s.tables}
    return tables.open_tables(data_dir, CORE, optional, engine, derive=False, **options)


LEAD_STAGES = ("lead", "qualified", "opportunity", "quote", "won")
_STAGE_TS = {
    "lead": "created_at",
    "qualified": "qualified_at",
    "opportunity": "opportunity_at",
    "quote": "quote_at",
    "won": "closed_at",
}


def _days(later, earlier):
    return later.delta(earlier, unit="second").cast("float64") / 86400.0


def _reached(leads, stage: str):
    if stage == "won":
        return leads.outcome == "won"
    return leads[_STAGE_TS[stage]].notnull()


def _check_leads(leads, extra: Sequence[str] = ()):
    leads = _as_table(leads, "leads")
    need = [*_STAGE_TS.values(), "lead_id", "account_id", "source", "outcome", "amount", *extra]
    missing = [c for c in need if c not in leads.columns]
    if missing:
        raise ValueError(f"leads table has no column(s) {missing}")
    return leads


def _leads_as_of(leads, as_of):
    """``as_of`` as a timestamp, by default the latest timestamp in the leads table."""
    if as_of is not None:
        return pd.Timestamp(as_of)
    m = leads.aggregate(m=ibis.greatest(*[leads[c].max() for c in _STAGE_TS.values()]))
    return pd.Timestamp(m.to_pandas().m.iloc[0])


def _stage_windows(window) -> dict[str, float | None]:
    stages = LEAD_STAGES[1:]
    if window is None:
        return dict.fromkeys(stages)
    if isinstance(window, dict):
        unknown = [s for s in window if s not in stages]
        if unknown:
            raise ValueError(f"window keys {unknown} are not pipeline stages {stages}")
        out = {s: window.get(s) for s in stages}
    else:
        out = dict.fromkeys(stages, window)
    for s, w in out.items():
        if w is not None and (isinstance(w, bool) or not np.isfinite(float(w)) or float(w) <= 0):
            raise ValueError(f"window for stage '{s}' must be a positive number of days, got {w!r}")
    return {s: None if w is None else float(w) for s, w in out.items()}


def typical_stage_days(leads, quantile: float = 0.9) -> dict[str, float]:
    """The ``quantile`` of the days from the stage before to each stage, among leads that
    reached it (exact, in the engine): ``{stage: days}``, a "typical cycle" window for
    :func:`pipeline_stages`."""
    validate.fraction("quantile", quantile, open_ends=True)
    leads = _check_leads(leads)
    metrics = {}
    for prev, stage in zip(LEAD_STAGES, LEAD_STAGES[1:], strict=False):
        d = _days(leads[_STAGE_TS[stage]], leads[_STAGE_TS[prev]])
        metrics[stage] = d.quantile(quantile, where=_reached(leads, stage))
    row = leads.aggregate(**metrics).to_pandas().iloc[0]
    return {s: float(row[s]) for s in LEAD_STAGES[1:]}


def pipeline_stages(leads, by: str | None = None, *, window=None, as_of=None) -> pd.DataFrame:
    """Stage-to-stage conversion of CRM leads: lead -> qualified -> opportunity -> quote -> won.

    A lead reached a stage when its timestamp is set (won: ``outcome == "won"``, at
    ``closed_at``). Which leads decide a stage k depends on ``window``:

    - ``window=None``: every lead that reached k-1 and then either reached k or was closed;
      an open lead still at k-1 may yet move on, so it is left out (``still_open``).
    - ``window`` = days (one number, or ``{stage: days}``, e.g. from
      :func:`typical_stage_days`): the web funnel's rule (issue #12). A lead that reached
      k-1 converts when it reached k within ``window`` days of it; leads that reached k-1
      less than ``window`` days before ``as_of`` (default: the latest timestamp in the
      table) are *still open*, counted apart and not as lost; the others are decided. The
      whole young cohort is set apart, closed or not: keeping its quick wins and dropping
      only its open leads would flatter the rate. The window closes at its bound: a lead
      whose window ends exactly at ``as_of`` is decided.

    conversion_k = reached_k / decided_k, with a 95 % Wilson interval. conversion_from_lead
    = reached / leads without a window, the product of the stage conversions with one.
    ``median_days`` is the median time from stage k-1 to stage k among leads that reached k.
    One row per stage (and ``by`` group); the "lead" row holds the number of leads.
    """
    leads = _check_leads(leads, [by] if by else [])
    windows = _stage_windows(window)
    windowed = any(w is not None for w in windows.values())
    as_of = _leads_as_of(leads, as_of) if windowed else None
    metrics = {"n_lead": leads.count()}
    for prev, stage in zip(LEAD_STAGES, LEAD_STAGES[1:], strict=False):
        r, rp = _reached(leads, stage), _reached(leads, prev)
        t, tp = leads[_STAGE_TS[stage]], leads[_STAGE_TS[prev]]
        d = _days(t, tp)
        w = windows[stage]
        if w is None:
            decided = rp & (r | (leads.outcome != "open"))
            still = rp & ~r & (leads.outcome == "open")
            conv = rp & r  # a lead that skipped the stage before (a CRM may) is not counted
        else:
            young = tp + ibis.interval(seconds=int(round(w * 86400))) > ibis.literal(as_of)
            still = rp & young
            decided = rp & ~young
            conv = decided & r & (d <= w)
        metrics |= {
            f"n_{stage}": conv.sum(),
            f"dec_{stage}": decided.sum(),
            f"open_{stage}": still.sum(),
            f"med_{stage}": d.quantile(0.5, where=r),
        }
    agg = leads.group_by(by).aggregate(**metrics) if by else leads.aggregate(**metrics)
    wide = agg.to_pandas()
    if wide.empty or int(wide.n_lead.sum()) == 0:
        raise ValueError("the leads table is empty")
    rows = []
    for _, w in wide.iterrows():
        from_lead = 1.0
        for stage in LEAD_STAGES:
            row = {by: w[by]} if by else {}
            n = int(w[f"n_{stage}"])
            dec = int(w[f"dec_{stage}"]) if stage != "lead" else n
            conv = n / dec if dec else np.nan
            if stage != "lead":
                from_lead = from_lead * conv if windowed else n / int(w.n_lead)
            row |= {
                "stage": stage,
                "reached": n,
                "decided": dec,
                "still_open": int(w[f"open_{stage}"]) if stage != "lead" else 0,
                "conversion": conv,
                "conversion_from_lead": from_lead,
                "median_days": float(w[f"med_{stage}"]) if stage != "lead" else np.nan,
                "window_days": windows.get(stage, np.nan) if stage != "lead" else np.nan,
            }
            rows.append(row)
    out = pd.DataFrame(rows)
    out["window_days"] = out.window_days.astype("float64")
    out["ci_low"], out["ci_high"] = wilson_interval(out.reached, out.decided)
    return out


def win_rate(leads, by: str | None = None) -> pd.DataFrame:
    """Win rate = won / (won + lost) over closed leads, with a 95 % Wilson interval."""
    leads = _check_leads(leads, [by] if by else [])
    metrics = {
        "won": (leads.outcome == "won").sum(),
        "closed": (leads.outcome != "open").sum(),
        "open": (leads.outcome == "open").sum(),
    }
    agg = leads.group_by(by).aggregate(**metrics) if by else leads.aggregate(**metrics)
    out = agg.to_pandas()
    out["win_rate"] = out.won / out.closed.where(out.closed > 0)
    out["ci_low"], out["ci_high"] = wilson_interval(out.won, out.closed)
    return out.sort_values("win_rate", ascending=False).reset_index(drop=True)


def monthly_win_rate(leads, as_of=None) -> pd.DataFrame:
    """Win rate by the month leads closed: won / (won + lost) among the leads whose
    ``closed_at`` falls in the month, with a 95 % Wilson interval. ``complete`` is true for a
    month that ended by ``as_of`` (default: the latest timestamp in the table). Columns:
    month (first day), won, closed, win_rate, ci_low, ci_high, complete."""
    leads = _check_leads(leads)
    as_of = _leads_as_of(leads, as_of)
    closed = leads.filter(leads.outcome != "open", leads.closed_at.notnull())
    out = (
        closed.group_by(month=closed.closed_at.truncate("M"))
        .aggregate(won=(closed.outcome == "won").sum(), closed=closed.count())
        .to_pandas()
        .sort_values("month")
        .reset_index(drop=True)
    )
    out["month"] = pd.to_datetime(out.month)
    out["win_rate"] = out.won / out.closed
    out["ci_low"], out["ci_high"] = wilson_interval(out.won, out.closed)
    next_month = out.month + pd.offsets.MonthBegin(1)
    out["complete"] = next_month <= pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    return out


def leads_with_accounts(ds, columns: Sequence[str] = ("size_band", "industry", "region")):
    """``ds.leads`` with the account's ``columns`` attached (a left join: every lead stays).
    A lead without an account id, or whose id the accounts table lacks, gets ``UNMATCHED``."""
    acc = ds.accounts.select("account_id", *columns).rename(_acc="account_id")
    leads = ds.leads
    j = leads.left_join(acc, leads.account_id == acc._acc).drop("_acc")
    return j.mutate(**{c: ibis.coalesce(j[c].cast("string"), UNMATCHED) for c in columns})


def sales_cycle(leads, by: str = "source") -> pd.DataFrame:
    """Sales-cycle length of won leads, days from ``created_at`` to ``closed_at``, per ``by``:
    won, median_days, mean_days, p90_days (exact quantiles, computed in the engine)."""
    leads = _check_leads(leads, [by])
    won = leads.filter(leads.outcome == "won")
    d = _days(won.closed_at, won.created_at)
    out = won.group_by(by).aggregate(
        won=won.count(), median_days=d.quantile(0.5), mean_days=d.mean(), p90_days=d.quantile(0.9)
    )
    return out.to_pandas().sort_values("median_days").reset_index(drop=True)


def pipeline_velocity(leads, by: str = "source") -> pd.DataFrame:
    """Pipeline velocity per ``by``: open opportunities × win rate × average deal / cycle days.

    open_opportunities = open leads that reached the opportunity stage;
    opportunity_win_rate = won / closed among leads that reached it (not the win rate of all
    closed leads, :func:`win_rate`: leads lost before the opportunity stage are left out);
    average_deal = mean ``amount`` of won leads; cycle_days = mean days from created to
    closed of won leads. velocity is the expected
    won value per day from the open pipeline (the usual sales-velocity formula).
    """
    leads = _check_leads(leads, [by])
    opp = leads.opportunity_at.notnull()
    won = leads.outcome == "won"
    out = (
        leads.group_by(by)
        .aggregate(
            open_opportunities=(opp & (leads.outcome == "open")).sum(),
            won=(opp & won).sum(),
            closed_opportunities=(opp & (leads.outcome != "open")).sum(),
            average_deal=leads.amount.mean(where=won),
            cycle_days=_days(leads.closed_at, leads.created_at).mean(where=won),
        )
        .to_pandas()
    )
    closed = out.closed_opportunities.where(out.closed_opportunities > 0)
    out["opportunity_win_rate"] = out.won / closed
    out["velocity_per_day"] = (
        out.open_opportunities * out.opportunity_win_rate * out.average_deal / out.cycle_days
    )
    return out.sort_values("velocity_per_day", ascending=False).reset_index(drop=True)


def _current_stage(leads):
    stage = ibis.cases(
        (leads.quote_at.notnull(), "quote"),
        (leads.opportunity_at.notnull(), "opportunity"),
        (leads.qualified_at.notnull(), "qualified"),
        else_="lead",
    )
    since = ibis.coalesce(
        leads.quote_at, leads.opportunity_at, leads.qualified_at, leads.created_at
    )
    return stage, since


def open_pipeline(leads) -> pd.DataFrame:
    """Open leads by the stage they are at, with their value weighted by the chance to win.

    P(win | stage) = won / closed among closed leads that reached the stage (history);
    weighted_value = Σ amount × P(win | stage) over open leads of the stage with an amount
    (the CRM sets ``amount`` from the opportunity stage on: earlier leads count, unvalued).
    """
    leads = _check_leads(leads)
    stage, _ = _current_stage(leads)
    open_ = leads.filter(leads.outcome == "open").mutate(stage=stage)
    now = (
        open_.group_by("stage")
        .aggregate(open_leads=open_.count(), valued=open_.amount.count(), amount=open_.amount.sum())
        .to_pandas()
    )
    closed = leads.filter(leads.outcome != "open")
    hist = (
        closed.aggregate(
            **{f"c_{s}": _reached(closed, s).sum() for s in LEAD_STAGES[:-1]},
            **{
                f"w_{s}": (_reached(closed, s) & (closed.outcome == "won")).sum()
                for s in LEAD_STAGES[:-1]
            },
        )
        .to_pandas()
        .iloc[0]
    )
    now["p_win"] = [
        hist[f"w_{s}"] / hist[f"c_{s}"] if hist[f"c_{s}"] else np.nan for s in now.stage
    ]
    now["amount"] = now.amount.fillna(0.0)
    now["weighted_value"] = now.amount * now.p_win
    now["stage"] = pd.Categorical(now.stage, LEAD_STAGES[:-1], ordered=True)
    return now.sort_values("stage").reset_index(drop=True)


def stuck_leads(leads, as_of=None, top: int | None = 5) -> pd.DataFrame:
    """The ``top`` open leads that have waited longest at each stage (ranked in the engine;
    ``top=None``: every open lead).

    days_in_stage = (as_of − time the lead entered its current stage) in days; ``as_of``
    defaults to the latest timestamp in the leads table. Columns: stage, rank, lead_id,
    account_id, source, owner (when the table has it), amount, days_in_stage.
    """
    leads = _check_leads(leads)
    if top is not None:
        validate.at_least("top", top, 1)
    as_of = _leads_as_of(leads, as_of)
    stage, since = _current_stage(leads)
    open_ = leads.filter(leads.outcome == "open").mutate(stage=stage, since=since)
    open_ = open_.mutate(days_in_stage=_days(ibis.literal(pd.Timestamp(as_of)), open_.since))
    w = ibis.window(group_by="stage", order_by=[ibis.desc("days_in_stage"), "lead_id"])
    ranked = open_.mutate(rank=ibis.row_number().over(w) + 1)
    owner = ["owner"] if "owner" in leads.columns else []
    keep = ranked if top is None else ranked.filter(ranked["rank"] <= top)
    cols = ["stage", "rank", "lead_id", "account_id", "source", *owner, "amount", "days_in_stage"]
    out = keep.select(*cols).to_pandas()
    out["stage"] = pd.Categorical(out.stage, LEAD_STAGES[:-1], ordered=True)
    out["account_id"] = out.account_id.astype("Int64")  # null: not matched to an account
    return out.sort_values(["stage", "rank"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- the report


def _read_tables(ds) -> list[str]:
    """The tables of ``ds`` read from the data (an accounts table derived from the ids seen,
    which has no attributes, does not count)."""
    read = getattr(ds, "table_quality", None)
    return [t for t in ds if read is None or t in read]


def _lead_counts(leads) -> dict[str, int]:
    """Leads in all; ``unmatched`` (null ``account_id``); won, lost, open; ``staged`` (leads
    with a qualified, opportunity or quote time) and ``opportunities`` (opportunity time set)."""
    leads = _check_leads(leads)
    row = (
        leads.aggregate(
            leads=leads.count(),
            unmatched=leads.account_id.isnull().sum(),
            won=(leads.outcome == "won").sum(),
            lost=(leads.outcome == "lost").sum(),
            open=(leads.outcome == "open").sum(),
            staged=(
                leads.qualified_at.notnull()
                | leads.opportunity_at.notnull()
                | leads.quote_at.notnull()
            ).sum(),
            opportunities=leads.opportunity_at.notnull().sum(),
        )
        .to_pandas()
        .iloc[0]
    )
    return {k: int(0 if pd.isna(v) else v) for k, v in row.items()}


def _stage_window(leads, stage_window_days=None, quantile: float = 0.9) -> dict | float:
    """The window each stage has (days): ``stage_window_days`` when given, else each stage's
    typical time (:func:`typical_stage_days` at ``quantile``); a stage no lead has reached has
    no typical time and gets no window (None: the rule without a window)."""
    if stage_window_days is not None:
        return stage_window_days
    typical = typical_stage_days(leads, quantile)
    return {s: (d if np.isfinite(d) and d > 0 else None) for s, d in typical.items()}


def _stages_section(result: Analysis, leads, counts, window_days, quantile) -> None:
    if not result.built("stages"):
        return
    if counts["staged"] == 0:
        result.skip(
            "stages",
            "No lead has a qualified, opportunity or quote time (qualified_at, opportunity_at, "
            "quote_at are empty): stage conversion needs them; the win rate uses the outcome.",
        )
        return
    stages = pipeline_stages(leads, window=_stage_window(leads, window_days, quantile))
    rest = stages.iloc[1:]
    weakest = rest.loc[rest[rest.decided > 0].conversion.idxmin()]
    result.tables["stages"] = stages
    result.facts |= {"weakest": weakest, "window_from": "parameter" if window_days else "typical"}
    result.figures |= {
        "stage_win_rate_from_lead": float(stages.conversion_from_lead.iloc[-1]),
        "weakest_stage": str(weakest.stage),
        "weakest_stage_conversion": float(weakest.conversion),
    }


def _wins_section(result: Analysis, leads, counts) -> None:
    if not result.built("wins"):
        return
    if counts["won"] + counts["lost"] == 0:
        result.skip(
            "wins",
            "No lead is closed yet (every outcome is open): a win rate needs won or lost leads.",
        )
        return
    overall = win_rate(leads).iloc[0]
    result.tables |= {
        "wins_source": win_rate(leads, "source"),
        "wins_owner": win_rate(leads, "owner"),
        "cycle_source": sales_cycle(leads, "source"),
    }
    monthly = monthly_win_rate(leads)
    done = monthly[monthly.complete]
    result.facts |= {
        "win_all": overall,
        "series": {"lead_win_rate": {"freq": "month", "values": {
            f"{m:%Y-%m}": float(r) for m, r in zip(done.month, done.win_rate, strict=True)}}},
    }  # fmt: skip
    result.figures |= {
        "lead_win_rate": float(overall.win_rate),
        "lead_win_rate_ci_low": float(overall.ci_low),
        "lead_win_rate_ci_high": float(overall.ci_high),
        "closed_leads": int(overall.closed),
    }


def _open_sections(result: Analysis, ds, leads, counts) -> None:
    if counts["open"] == 0:
        for key in ("velocity", "open_pipeline", "stuck"):
            result.skip(key, "No lead is open: every lead is won or lost.")
    if result.built("velocity") and counts["opportunities"] == 0:
        result.skip(
            "velocity",
            "No lead reached the opportunity stage (opportunity_at is empty): velocity counts "
            "open opportunities.",
        )
    if result.built("velocity"):
        result.tables["velocity"] = pipeline_velocity(leads, "source")
        opp = result.tables["velocity"]
        closed = opp.closed_opportunities.sum()
        result.figures["opportunity_win_rate"] = float(opp.won.sum() / closed) if closed else None
    if result.built("open_pipeline"):
        pipe = open_pipeline(leads)
        result.tables["open_pipeline"] = pipe
        result.figures |= {
            "open_leads": int(pipe.open_leads.sum()),
            "weighted_open_pipeline": float(pipe.weighted_value.sum()),
        }
    if result.built("stuck"):
        result.tables["stuck"] = _stuck_list(ds, leads)


def _stuck_list(ds, leads) -> pd.DataFrame:
    """Every open lead, longest waiting in its stage first, with its owner and, when the
    accounts table has it, the company's name (business data, shown): the to-do list."""
    out = stuck_leads(leads, top=None)
    if "accounts" in _read_tables(ds) and "company_name" in ds.accounts.columns:
        names = ds.accounts.select("account_id", "company_name").to_pandas()
        names["account_id"] = names.account_id.astype("Int64")
        out = out.merge(names, on="account_id", how="left")
        at = out.columns.get_loc("account_id") + 1
        out.insert(at, "company_name", out.pop("company_name"))
    out = out.sort_values(["days_in_stage", "lead_id"], ascending=[False, True])
    return out.drop(columns="rank").reset_index(drop=True)


def _account_section(result: Analysis, ds, counts) -> None:
    if not result.built("by_account"):
        return
    leads = leads_with_accounts(ds, ACCOUNT_COLUMNS)
    for column in ACCOUNT_COLUMNS:
        result.tables[f"wins_{column}"] = win_rate(leads, column)
    result.tables["cycle_size_band"] = sales_cycle(leads, "size_band")


def analyse(ds, *, stage_window_days=None, stage_window_quantile: float = 0.9) -> Analysis:
    """The pipeline report from ``ds`` (``leads``; ``accounts`` for the breakdowns by industry
    and size band): every section's tables, figures and facts, or why it was skipped.

    ``stage_window_days``: the days a lead has to pass each stage (a number or ``{stage:
    days}``); None: each stage's typical time, the ``stage_window_quantile`` of the days the
    leads that passed it took (:func:`_stage_window`). Figures: ``leads``,
    ``unmatched_leads`` (null account id), ``lead_win_rate`` = won / (won + lost) with its
    Wilson interval, ``stage_win_rate_from_lead`` (won / all leads), ``opportunity_win_rate``
    (won / closed opportunities), ``weakest_stage`` (lowest stage conversion),
    ``weighted_open_pipeline`` (Σ amount × P(win | stage) over open leads). ``facts["series"]``:
    the win rate of closed leads by the month they closed (complete months).
    """
    result = Analysis.start("pipeline", SECTIONS, _read_tables(ds))
    leads = ds.leads
    counts = _lead_counts(leads)
    if counts["leads"] == 0:
        raise ValueError("the leads table is empty: the pipeline report needs leads")
    result.facts["counts"] = counts
    result.figures |= {"leads": counts["leads"], "unmatched_leads": counts["unmatched"]}
    if counts["unmatched"]:
        result.notes.append(
            f"{counts['unmatched']:,} of {counts['leads']:,} leads "
            f"({counts['unmatched'] / counts['leads']:.1%}) are not matched to an account "
            "(no account_id): they count in every section, and form the group "
            f"'{UNMATCHED}' in the breakdowns by industry and company size."
        )
    _stages_section(result, leads, counts, stage_window_days, stage_window_quantile)
    _wins_section(result, leads, counts)
    _open_sections(result, ds, leads, counts)
    _account_section(result, ds, counts)
    return result


def definitions() -> dict[str, str]:
    """The report's metrics and how each is computed (its closing section)."""
    return {
        "Stage window": (
            "the days a lead has to pass a stage after reaching the one before: by default the "
            "stage's typical time, a quantile of the days taken by the leads that passed it."
        ),
        "Stage conversion": (
            "leads that passed the stage within its window ÷ decided leads (those that reached "
            "the stage before at least a window before the data end, whatever their outcome); "
            "younger ones are still open."
        ),
        "Win rate of closed leads": (
            "won ÷ closed (won + lost) leads, with a 95% Wilson interval; by month, the leads "
            "closed in that month."
        ),
        "Win rate from lead": (
            "won ÷ all leads, open ones included (the stage table's won row, conversion from "
            "lead): lower than the win rate of closed leads while leads are open."
        ),
        "Win rate of closed opportunities": (
            "won ÷ closed leads that reached the opportunity stage (the velocity table)."
        ),
        "Wilson interval": "a 95% score interval for a proportion (Wilson 1927).",
        "Stuck leads": (
            "every open lead with the days since it entered its current stage, longest first; "
            "the full list is exported (CSV and Excel)."
        ),
        "Sales cycle": "days from a won lead's creation to its close.",
        "Pipeline velocity": (
            "the value the open pipeline is expected to win per day: open opportunities × win "
            "rate of closed opportunities × average won amount ÷ average sales cycle (days)."
        ),
        "Weighted pipeline": (
            "Σ amount of open leads × historical chance to win from their current stage (leads "
            "get an amount at the opportunity stage)."
        ),
        "Unmatched lead": (
            f"a lead without an account id (not yet matched to a company in the CRM): counted "
            f"everywhere, the group '{UNMATCHED}' by industry and size band."
        ),
    }
