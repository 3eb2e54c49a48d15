"""Buy-till-you-die models: BG/NBD, Pareto/NBD and Gamma-Gamma, fitted by maximum likelihood.

Pure numpy/scipy on plain arrays (no data access): ``frequency`` x = number of repeat purchases
(purchase occasions after the first), ``recency`` t_x = time from the first to the last
purchase, ``T`` = time from the first purchase to the end of the observation period, all in one
time unit (days or weeks; the rates are per that unit), and ``monetary_value`` = mean value of
the x repeat purchases.

Written here rather than taken from a library: lifetimes (Davidson-Pilon, the classic) has been
unmaintained since 2020 and its ``calibration_and_holdout_data`` fails on pandas 3.1, so it is a
dev-only reference in the tests; PyMC-Marketing is a heavy install whose default priors move the
estimates. The likelihoods below are the published ones, in log space:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
  the Pareto/NBD model", Marketing Science 24(2), 275-284, eq. 6 (likelihood), 9-10 (expected
  purchases), and Fader, Hardie & Lee (2008) note "Computing P(alive) using the BG/NBD model".
- Pareto/NBD: Schmittlein, Morrison & Colombo (1987), Management Science 33(1); likelihood and
  conditional expectations as in Fader & Hardie (2005), "A note on deriving the Pareto/NBD model
  and related expressions", eq. 17-22.
- Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer
  base analysis", JMR 42(4), 415-430; Fader & Hardie (2013) note "The Gamma-Gamma model of
  monetary value", eq. 1-5.

Fitting: L-BFGS-B on the logs of the parameters (so they stay positive) from moment-based
starting values; rows with identical inputs are collapsed to one weighted row first, and the
terms that depend on the frequency alone (log-gamma, log-beta) are computed once per distinct
frequency, so the cost grows with the number of distinct (x, t_x, T) triples, not with the
number of customers. BG/NBD has an analytic gradient (one likelihood pass per step); the
Pareto/NBD gradient is by finite differences and its two Gauss hypergeometric calls per row
dominate its cost (the slow one at scale). Standard errors come from the Hessian of the
log-likelihood in log-parameter space (differences of the analytic gradient, or second
differences of the likelihood), mapped to the natural scale by the delta method
(se(theta) = theta * se(log theta)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

__all__ = [
    "FitResult",
    "fit_bgnbd",
    "fit_pareto_nbd",
    "fit_gamma_gamma",
    "bgnbd_loglik",
    "pareto_nbd_loglik",
    "gamma_gamma_loglik",
    "bgnbd_expected_purchases",
    "bgnbd_conditional_expected_purchases",
    "bgnbd_p_alive",
    "pareto_nbd_expected_purchases",
    "pareto_nbd_conditional_expected_purchases",
    "pareto_nbd_p_alive",
    "gamma_gamma_expected_spend",
    "gamma_gamma_mean_spend",
    "discounted_clv",
    "clv_interval",
]

LOG_BOUND = 15.0  # |log parameter| bound for the optimiser: 3e-7 .. 3e6


@dataclass
class FitResult:
    """A fitted model: ``params`` and ``stderr`` map the papers' parameter names to floats.

    ``loglik`` is the maximised log-likelihood (summed over customers), ``converged`` says the
    optimiser stopped on its tolerance with no parameter at a bound and a finite Hessian,
    ``grad_norm`` is the norm of the gradient of the mean log-likelihood at the optimum (log
    scale), ``log_cov`` the covariance of the log-parameters (for drawing parameters).
    """

    model: str
    params: dict[str, float]
    stderr: dict[str, float]
    loglik: float
    converged: bool
    grad_norm: float
    n: int
    iterations: int
    message: str
    log_cov: np.ndarray = field(repr=False)

    @property
    def se(self) -> dict[str, float]:
        """Alias of ``stderr``."""
        return self.stderr

    @property
    def aic(self) -> float:
        return 2 * len(self.params) - 2 * self.loglik

    def draws(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` parameter vectors from the asymptotic normal of the log-parameters, exp'd."""
        rng = np.random.default_rng(seed)
        mean = np.log(list(self.params.values()))
        return np.exp(rng.multivariate_normal(mean, self.log_cov, size=n, method="eigh"))


# ----------------------------------------------------------------------------- input checks


def _as_array(name: str, values) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty: no customers to fit")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    if np.any(arr < 0):
        raise ValueError(f"{name} holds negative values")
    return arr


def _check_rft(frequency, recency, T) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, tx, t = (
        _as_array(n, v) for n, v in (("frequency", frequency), ("recency", recency), ("T", T))
    )
    if not (len(x) == len(tx) == len(t)):
        raise ValueError("frequency, recency and T must have the same length")
    if np.any(x != np.round(x)):
        raise ValueError("frequency must hold whole numbers of repeat purchases")
    if np.any(tx > t + 1e-9):
        raise ValueError("recency is larger than T for some customers")
    if np.any((x == 0) & (tx > 0)):
        raise ValueError("recency must be 0 for customers with no repeat purchase")
    if not np.any(t > 0):
        raise ValueError("T is 0 for every customer: no observation time to fit on")
    return x, tx, t


def _collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the columns and how many times each occurs (the likelihood weights)."""
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


# ----------------------------------------------------------------------------- likelihoods


def _levels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct frequencies and each row's index into them: the terms that depend on x alone
    (log-gamma, log-beta) are computed once per distinct x (a few hundred), not per row."""
    levels, index = np.unique(x, return_inverse=True)
    return levels, index.ravel()


def bgnbd_loglik(params, x, tx, T) -> np.ndarray:
    """BG/NBD log-likelihood per customer (FHL 2005, eq. 6).

    L = B(a, b+x)/B(a, b) * Γ(r+x) α^r / Γ(r) *
        [ (α+T)^-(r+x) + 1{x>0} a/(b+x-1) (α+t_x)^-(r+x) ]
    """
    x, tx, T = np.asarray(x, float), np.asarray(tx, float), np.asarray(T, float)
    return _bgnbd_ll(params, x, tx, T, *_levels(x))


def _bgnbd_ll(params, x, tx, T, levels, index) -> np.ndarray:
    r, alpha, a, b = params
    per_x = gammaln(r + levels) - gammaln(r) + betaln(a, b + levels) - betaln(a, b)
    pos = levels > 0
    log_death = np.where(pos, np.log(a) - np.log(np.where(pos, b + levels - 1, 1.0)), -np.inf)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = log_death[index] - (r + x) * np.log(alpha + tx)
    return per_x[index] + r * np.log(alpha) + np.logaddexp(a3, a4)


def _pareto_log_a0(params, x, tx, T) -> np.ndarray:
    """log A0 of Fader & Hardie (2005) eq. 19-20, both branches, via the Pfaff transform
    2F1(c-1, b; c; z) = (1-z)^-b 2F1(1, b; c; z/(z-1)), which stays in (0, 1] and so cannot
    overflow for frequencies in the hundreds."""
    r, alpha, s, beta = params
    rsx = r + s + x
    if alpha >= beta:
        big, second = alpha, s + 1.0
    else:
        big, second = beta, r + x
    diff = abs(alpha - beta)

    def log_term(t):
        z = diff / (big + t)
        w = z / (z - 1.0)
        log_f = -second * np.log1p(-z) + np.log(hyp2f1(1.0, second, rsx + 1.0, w))
        return log_f - rsx * np.log(big + t)

    lt_tx, lt_T = log_term(tx), log_term(T)
    # log(exp(lt_tx) - exp(lt_T)); lt_tx >= lt_T since tx <= T. At tx == T the difference is 0.
    with np.errstate(divide="ignore"):
        return lt_tx + np.log(-np.expm1(np.minimum(lt_T - lt_tx, 0.0)))


def _bgnbd_score(params, x, tx, T, levels, index) -> tuple[np.ndarray, np.ndarray]:
    """BG/NBD log-likelihood per row and its derivatives in (r, α, a, b), from eq. 6:
    with L = log(e^A3 + e^A4), w3 = e^(A3-L), w4 = e^(A4-L),
    d/dr = ψ(r+x) − ψ(r) + log α − w3 log(α+T) − w4 log(α+t_x);
    d/dα = r/α − (r+x) (w3/(α+T) + w4/(α+t_x));
    d/da = ψ(a+b) − ψ(a+b+x) + w4/a;  d/db = ψ(b+x) − ψ(b) + ψ(a+b) − ψ(a+b+x) − w4/(b+x−1)."""
    r, alpha, a, b = params
    pos = levels > 0
    bx1 = np.where(pos, b + levels - 1, 1.0)
    log_death = np.where(pos, np.log(a) - np.log(bx1), -np.inf)
    per_x = gammaln(r + levels) - gammaln(r) + betaln(a, b + levels) - betaln(a, b)
    la_t, la_tx = np.log(alpha + T), np.log(alpha + tx)
    a3 = -(r + x) * la_t
    a4 = log_death[index] - (r + x) * la_tx
    lse = np.logaddexp(a3, a4)
    w3, w4 = np.exp(a3 - lse), np.exp(a4 - lse)
    d_r = (digamma(r + levels) - digamma(r))[index] + np.log(alpha) - w3 * la_t - w4 * la_tx
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + T) + w4 / (alpha + tx))
    dab = digamma(a + b) - digamma(a + b + levels)
    d_a = dab[index] + w4 / a
    d_b = (digamma(b + levels) - digamma(b) + dab)[index] - w4 / bx1[index]
    ll = per_x[index] + r * np.log(alpha) + lse
    return ll, np.vstack([d_r, d_alpha, d_a, d_b])


def pareto_nbd_loglik(params, x, tx, T) -> np.ndarray:
    """Pareto/NBD log-likelihood per customer (Fader & Hardie 2005 note, eq. 22).

    L = Γ(r+x) α^r β^s / Γ(r) * [ 1 / ((α+T)^(r+x) (β+T)^s) + s/(r+s+x) A0 ],
    A0 the difference of two Gauss hypergeometric terms (eq. 19-20).
    """
    x, tx, T = np.asarray(x, float), np.asarray(tx, float), np.asarray(T, float)
    return _pareto_ll(params, x, tx, T, *_levels(x))


def _pareto_ll(params, x, tx, T, levels, index) -> np.ndarray:
    r, alpha, s, beta = params
    a1 = (gammaln(r + levels) - gammaln(r))[index] + r * np.log(alpha) + s * np.log(beta)
    first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    second = np.log(s) - np.log(r + s + levels)[index] + _pareto_log_a0(params, x, tx, T)
    return a1 + np.logaddexp(first, second)


def gamma_gamma_loglik(params, x, m) -> np.ndarray:
    """Gamma-Gamma log-likelihood of a customer's mean repeat value m over x > 0 purchases
    (Fader & Hardie 2013 note, eq. 3, without the terms free of the parameters):

    log L = log Γ(px+q) - log Γ(px) - log Γ(q) + q log γ + (px-1) log m + px log x
            - (px+q) log(γ + m x)
    """
    p, q, gamma = params
    x, m = np.asarray(x, float), np.asarray(m, float)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(gamma + m * x)
    )


# ----------------------------------------------------------------------------- fitting


def _hessian(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function (numdifftools would do; one less dep)."""
    k = len(theta)
    hess = np.empty((k, k))
    f0 = f(theta)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h
        hess[i, i] = (f(theta + ei) - 2 * f0 + f(theta - ei)) / h**2
        for j in range(i + 1, k):
            ej = np.zeros(k)
            ej[j] = h
            v = (
                f(theta + ei + ej) - f(theta + ei - ej) - f(theta - ei + ej) + f(theta - ei - ej)
            ) / (4 * h**2)
            hess[i, j] = hess[j, i] = v
    return hess


def _gradient(f: Callable[[np.ndarray], float], theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.empty(len(theta))
    for i in range(len(theta)):
        e = np.zeros(len(theta))
        e[i] = h
        grad[i] = (f(theta + e) - f(theta - e)) / (2 * h)
    return grad


def _fit(model: str, names: list[str], loglik, data, weights, start, score=None) -> FitResult:
    """Maximise Σ w·loglik over log-parameters. ``score(params, *data)`` -> (loglik rows,
    d loglik / d params as a k x rows array), when given, supplies an analytic gradient (one
    likelihood pass per L-BFGS-B step instead of k+1) and a Hessian from differences of it."""
    n = float(weights.sum())

    def mean_nll(log_theta: np.ndarray) -> float:
        with np.errstate(all="ignore"):
            ll = loglik(np.exp(log_theta), *data)
        value = -float(np.dot(weights, ll)) / n
        return value if np.isfinite(value) else 1e10

    def nll_and_grad(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(log_theta)
        with np.errstate(all="ignore"):
            ll, d = score(theta, *data)
        value = -float(np.dot(weights, ll)) / n
        grad = -(d @ weights) * theta / n  # chain rule: d/d log(theta) = theta d/d theta
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return 1e10, np.zeros_like(log_theta)
        return value, grad

    x0 = np.log(np.clip(np.asarray(start, float), 1e-4, 1e4))
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)
    res = minimize(
        mean_nll if score is None else nll_and_grad,
        x0,
        method="L-BFGS-B",
        jac=score is not None,
        bounds=bounds,
        options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9, "maxcor": 20},
    )
    theta = res.x
    if not (np.all(np.isfinite(theta)) and np.isfinite(res.fun) and res.fun < 1e10):
        raise ValueError(f"{model}: the likelihood could not be maximised ({res.message})")
    if score is None:
        grad = _gradient(mean_nll, theta)
        hess = _hessian(mean_nll, theta) * n  # of the summed negative log-likelihood
    else:
        grad = nll_and_grad(theta)[1]
        h = 1e-5
        cols = []
        for i in range(len(theta)):
            e = np.zeros(len(theta))
            e[i] = h
            cols.append((nll_and_grad(theta + e)[1] - nll_and_grad(theta - e)[1]) / (2 * h))
        hess = np.array(cols)
        hess = (hess + hess.T) / 2 * n
    try:
        log_cov = np.linalg.inv(hess)
        ok_cov = bool(np.all(np.isfinite(log_cov)) and np.all(np.diag(log_cov) > 0))
    except np.linalg.LinAlgError:
        log_cov, ok_cov = np.full((len(names), len(names)), np.nan), False
    values = np.exp(theta)
    se = values * np.sqrt(np.where(np.diag(log_cov) > 0, np.diag(log_cov), np.nan))
    at_bound = bool(np.any(np.abs(theta) > LOG_BOUND - 1e-6))
    return FitResult(
        model=model,
        params={k: float(v) for k, v in zip(names, values, strict=True)},
        stderr={k: float(v) for k, v in zip(names, se, strict=True)},
        loglik=-res.fun * n,
        converged=bool(res.success) and ok_cov and not at_bound,
        grad_norm=float(np.linalg.norm(grad)),
        n=int(n),
        iterations=int(res.nit),
        message=str(res.message),
        log_cov=log_cov,
    )


def _rate_start(x: np.ndarray, T: np.ndarray) -> tuple[float, float]:
    """Gamma(r, α) moments of the purchase rate x/T: mean m = r/α; the between-customer
    variance v is var(x/T) less the Poisson part mean(m/T); r = m²/v, α = m/v."""
    seen = T > 0
    rate, T = x[seen] / T[seen], T[seen]
    m = max(rate.mean(), 1e-6)
    v = max(rate.var() - np.mean(m / T), 0.1 * m**2)
    return m * m / v, m / v


def _needs_repeaters(x: np.ndarray, who: str) -> None:
    if x.size < 3:
        raise ValueError(f"{who}: need at least 3 customers to fit, got {x.size}")
    if not np.any(x > 0):
        raise ValueError(
            f"{who}: no customer made a repeat purchase; the data cannot support a fit"
        )
    if np.all(x > 0):
        return
    if np.count_nonzero(x > 0) < 2:
        raise ValueError(f"{who}: only one customer made a repeat purchase; too few to fit")


def fit_bgnbd(frequency, recency, T) -> FitResult:
    """Fit the BG/NBD model (FHL 2005) by maximum likelihood: params ``r, alpha, a, b``.

    λ ~ Gamma(shape r, rate α) purchases per time unit while alive; after each repeat purchase
    the customer drops out with probability p ~ Beta(a, b). Starting values: r, α from the
    moments of x/T; a = 1, b = 3 (a dropout probability of a quarter).
    """
    x, tx, t = _check_rft(frequency, recency, T)
    _needs_repeaters(x, "fit_bgnbd")
    (ux, utx, ut), w = _collapse(x, tx, t)
    r0, a0 = _rate_start(x, t)
    return _fit(
        "bgnbd",
        ["r", "alpha", "a", "b"],
        _bgnbd_ll,
        (ux, utx, ut, *_levels(ux)),
        w,
        [r0, a0, 1.0, 3.0],
        score=_bgnbd_score,
    )


def fit_pareto_nbd(frequency, recency, T) -> FitResult:
    """Fit the Pareto/NBD model (SMC 1987) by maximum likelihood: params ``r, alpha, s, beta``.

    λ ~ Gamma(r, rate α) while alive; lifetime ~ Exponential(μ), μ ~ Gamma(s, rate β).
    Starting values: r, α from the moments of x/T; s = 1, β = median T (a median lifetime of
    about the observation period).
    """
    x, tx, t = _check_rft(frequency, recency, T)
    _needs_repeaters(x, "fit_pareto_nbd")
    (ux, utx, ut), w = _collapse(x, tx, t)
    r0, a0 = _rate_start(x, t)
    return _fit(
        "pareto_nbd",
        ["r", "alpha", "s", "beta"],
        _pareto_ll,
        (ux, utx, ut, *_levels(ux)),
        w,
        [r0, a0, 1.0, float(np.median(t))],
    )


def fit_gamma_gamma(frequency, monetary_value) -> FitResult:
    """Fit the Gamma-Gamma spend model (FHL 2005 JMR) on customers with frequency > 0:
    params ``p, q, gamma``. Customers with no repeat purchase carry no spend information and
    are left out (as in the paper). Needs monetary values > 0.

    Starting values from moments of the mean spends m: across customers E[m] = pγ/(q-1) and
    CV² of the customer means ≈ 1/(q-2), so q0 = 2 + mean²/var, p0 = 2, γ0 = mean (q0-1)/p0.
    """
    x = _as_array("frequency", frequency)
    m = _as_array("monetary_value", monetary_value)
    if len(x) != len(m):
        raise ValueError("frequency and monetary_value must have the same length")
    keep = x > 0
    x, m = x[keep], m[keep]
    if x.size < 3:
        raise ValueError(
            f"fit_gamma_gamma: need at least 3 customers with a repeat purchase, got {x.size}"
        )
    if np.any(m <= 0):
        raise ValueError("fit_gamma_gamma: monetary_value must be > 0 where frequency > 0")
    if np.ptp(m) == 0:
        raise ValueError("fit_gamma_gamma: every customer has the same mean spend; cannot fit")
    (ux, um), w = _collapse(x, m)
    mean, var = m.mean(), m.var()
    q0 = float(np.clip(2 + mean**2 / var, 2.1, 50))
    p0 = 2.0
    g0 = mean * (q0 - 1) / p0
    return _fit("gamma_gamma", ["p", "q", "gamma"], gamma_gamma_loglik, (ux, um), w, [p0, q0, g0])


# ----------------------------------------------------------------------------- predictions


def _p(params, names):
    if isinstance(params, FitResult):
        params = params.params
    if isinstance(params, dict):
        return tuple(float(params[k]) for k in names)
    return tuple(float(v) for v in params)


def bgnbd_expected_purchases(params, t) -> np.ndarray:
    """E[X(t)] for a new customer (FHL 2005 eq. 9):
    (a+b-1)/(a-1) [1 - (α/(α+t))^r 2F1(r, b; a+b-1; t/(α+t))]."""
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    t = np.asarray(t, float)
    hyp = hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


def bgnbd_p_alive(params, frequency, recency, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x)) (FHL 2008)."""
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
    pos = x > 0
    log_ratio = (
        np.log(a)
        - np.log(np.where(pos, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
    )
    return np.where(pos, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


def bgnbd_conditional_expected_purchases(params, t, frequency, recency, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T], the expected purchases in the next t (FHL 2005 eq. 10):

    (a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))] /
    (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x))
    """
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
    t = np.asarray(t, float)
    z = t / (alpha + T + t)
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1)
    body = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
    return head * body * bgnbd_p_alive((r, alpha, a, b), x, tx, T)


def pareto_nbd_p_alive(params, frequency, recency, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (α+T)^(r+x) (β+T)^s A0) (F&H 2005, eq. 18)."""
    r, alpha, s, beta = _p(params, ["r", "alpha", "s", "beta"])
    x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
    log_a0 = _pareto_log_a0((r, alpha, s, beta), x, tx, T)
    log_ratio = (
        np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0
    )
    return 1.0 / (1.0 + np.exp(log_ratio))


def pareto_nbd_expected_purchases(params, t) -> np.ndarray:
    """E[X(t)] = r β / (α (s-1)) [1 - (β/(β+t))^(s-1)] (SMC 1987)."""
    r, alpha, s, beta = _p(params, ["r", "alpha", "s", "beta"])
    t = np.asarray(t, float)
    return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))


def pareto_nbd_conditional_expected_purchases(params, t, frequency, recency, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T] = (r+x)(β+T) / ((α+T)(s-1)) [1 - ((β+T)/(β+T+t))^(s-1)] P(alive)
    (F&H 2005, eq. 21)."""
    r, alpha, s, beta = _p(params, ["r", "alpha", "s", "beta"])
    x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
    t = np.asarray(t, float)
    head = (r + x) * (beta + T) / ((alpha + T) * (s - 1))
    body = 1 - ((beta + T) / (beta + T + t)) ** (s - 1)
    return head * body * pareto_nbd_p_alive((r, alpha, s, beta), x, tx, T)


def gamma_gamma_mean_spend(params) -> float:
    """E[Z] = p γ / (q - 1), the population mean spend per purchase (needs q > 1)."""
    p, q, gamma = _p(params, ["p", "q", "gamma"])
    if q <= 1:
        raise ValueError(f"Gamma-Gamma mean spend needs q > 1, got q={q:.3g}")
    return p * gamma / (q - 1)


def gamma_gamma_expected_spend(params, frequency, monetary_value) -> np.ndarray:
    """E[Z | x, m] = (γ + m x) p / (p x + q - 1) (F&H 2013 eq. 5): a weighted average of the
    population mean pγ/(q-1) and the customer's mean m. For x = 0 it is the population mean."""
    p, q, gamma = _p(params, ["p", "q", "gamma"])
    if q <= 1:
        raise ValueError(f"Gamma-Gamma expected spend needs q > 1, got q={q:.3g}")
    x = np.asarray(frequency, float)
    m = np.where(x > 0, np.asarray(monetary_value, float), 0.0)
    return (gamma + m * x) * p / (p * x + q - 1)


def discounted_clv(
    expected_purchases: Callable[[np.ndarray], np.ndarray],
    value_per_purchase,
    horizon: float,
    step: float,
    rate_per_step: float,
) -> np.ndarray:
    """Discounted expected value over the next ``horizon`` time units, in steps of ``step``:

    CLV = Σ_{k=1..K} v · (E[Y(k·step)] − E[Y((k−1)·step)]) / (1 + d)^k,  K = ceil(horizon/step),

    with ``expected_purchases(t)`` the customer's E[Y(t)] (an array over customers), v the
    expected value (margin) per purchase and d the discount rate per step; the same sum as
    lifetimes' ``customer_lifetime_value``.
    """
    if horizon <= 0 or step <= 0:
        raise ValueError("horizon and step must be > 0")
    if rate_per_step <= -1:
        raise ValueError("the discount rate must be > -100%")
    k_max = int(np.ceil(horizon / step - 1e-9))
    total, before = 0.0, 0.0
    for k in range(1, k_max + 1):  # a loop over periods, never over customers
        now = expected_purchases(min(k * step, horizon))
        total = total + (now - before) / (1 + rate_per_step) ** k
        before = now
    return np.asarray(value_per_purchase, float) * total


def clv_interval(
    fit_purchases: FitResult,
    fit_spend: FitResult,
    frequency,
    recency,
    T,
    monetary_value,
    *,
    margin: float,
    horizon: float,
    step: float,
    rate_per_step: float,
    n_draws: int = 200,
    level: float = 0.9,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point CLV and a ``level`` interval per customer, from the fits' covariances.

    Draws ``n_draws`` parameter vectors of each model from the asymptotic normal of its
    log-parameters and recomputes the discounted CLV (``discounted_clv`` with the BG/NBD or
    Pareto/NBD conditional expectation × margin × Gamma-Gamma expected spend); the interval is
    the draws' percentiles. It reflects parameter uncertainty, not the customer's own
    Poisson noise. Returns (clv, low, high).
    """
    cond = {
        "bgnbd": bgnbd_conditional_expected_purchases,
        "pareto_nbd": pareto_nbd_conditional_expected_purchases,
    }[fit_purchases.model]
    x, tx, T_ = (np.asarray(v, float) for v in (frequency, recency, T))

    def one(pp, sp):
        spend = gamma_gamma_expected_spend(sp, x, monetary_value) * margin
        return discounted_clv(lambda t: cond(pp, t, x, tx, T_), spend, horizon, step, rate_per_step)

    point = one(fit_purchases.params, fit_spend.params)
    dp, ds = fit_purchases.draws(n_draws, seed), fit_spend.draws(n_draws, seed + 1)
    ok_spend = ds[:, 1] > 1
    sims = np.array([one(p, s) for p, s in zip(dp[ok_spend], ds[ok_spend], strict=True)])
    tail = (1 - level) / 2
    lo, hi = np.quantile(sims, [tail, 1 - tail], axis=0)
    return point, lo, hi
