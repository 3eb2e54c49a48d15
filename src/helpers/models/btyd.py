"""Buy-till-you-die models: BG/NBD, Pareto/NBD and Gamma-Gamma, fitted by maximum likelihood.

Pure numpy/scipy on plain arrays (no data access): ``frequency`` x = number of repeat purchases
(purchase occasions after the first), ``recency`` t_x = time from the first to the last
purchase, ``T`` = time from the first purchase to the end of the observation period, all in one
time unit (days or weeks; the rates are per that unit), and ``monetary_value`` = mean value of
the x repeat purchases.

Written here rather than taken from a library: lifetimes (Davidson-Pilon, the classic) has been
unmaintained since 2020, its ``calibration_and_holdout_data`` fails on pandas 3.1, and its fits
overflow or stop short on many customers with high frequencies and long histories (its issues
#405, #332, #396), so it is a dev-only reference in the tests and benchmarks; PyMC-Marketing is
a heavy install whose default priors move the estimates. The likelihoods are the published
ones, in log space (``gammaln``, ``logaddexp``, log-sum-exp), so nothing overflows:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way: an alternative to
  the Pareto/NBD model", Marketing Science 24(2), 275-284, eq. 6 (likelihood), 9-10 (expected
  purchases), and Fader, Hardie & Lee (2008) note "Computing P(alive) using the BG/NBD model".
- Pareto/NBD: Schmittlein, Morrison & Colombo (1987), Management Science 33(1); likelihood as in
  Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions",
  eq. 17-22, whose A0 (a difference of two Gauss hypergeometric terms) is the integral
  (r+s+x) ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ (the death-at-τ term of the note's
  derivation before the hypergeometric closed form). It is evaluated here by Gauss-Legendre
  quadrature after the change of variable τ = t_x + L (e^η − 1), L the integrand's e-folding
  length at t_x, which makes the integrand smooth in η whatever the frequency (32 nodes:
  log error < 1e-6 over a wide grid of parameters, 64 nodes: < 1e-12, checked against
  adaptive quadrature in the tests). scipy's ``hyp2f1`` is both slow (about 1 µs a call) and
  wrong for some heavy buyers (it returned values off by e^30 on a test grid), so it is not used.
- Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer
  base analysis", JMR 42(4), 415-430; Fader & Hardie (2013) note "The Gamma-Gamma model of
  monetary value", eq. 1-5.

Fitting (one routine, :func:`_fit`, for the three models):

1. Rows with identical inputs, (x, t_x, T) or (x, m), are collapsed into one row with their
   count as a weight; the terms that depend on x alone (log-gamma, digamma) are computed once
   per distinct x. The cost grows with the number of distinct rows, not of customers.
2. Starting values from moments (see each fit's docstring).
3. L-BFGS-B on the logs of the parameters (bounded to e^±15, so they stay positive and finite)
   with analytic gradients: closed forms for BG/NBD and Gamma-Gamma, and for Pareto/NBD the
   derivatives of the integrand at the same quadrature nodes (one pass gives value and
   gradient).
4. A check: the Hessian of the log-likelihood (central differences of the analytic gradient)
   must be positive definite and the remaining Newton step small (under 1 % of a standard
   error in every parameter; a few Newton steps polish the optimum when it is not), and the
   likelihood must really fall off as that Hessian says: two standard errors along the least
   certain direction it must drop by at least 0.25 (a quadratic peak drops by 2), which
   catches a flat ridge whose finite-difference Hessian looks curved. The
   gradient norm, the smallest Hessian eigenvalue and the Newton step are kept on the
   :class:`FitResult`.
5. Standard errors from the inverse Hessian in log-parameter space, mapped to the natural scale
   by the delta method (se(θ) = θ se(log θ)); 95 % intervals exp(log θ ± 1.96 se(log θ)).

A fit that fails the check raises :class:`FitError` (a ValueError) saying why and what to do:
too few repeat buyers, no sign of dropout, frequency and spend too correlated for
Gamma-Gamma... never NaN estimates. The fits and predictions emit no RuntimeWarning: the
arithmetic is arranged so that no overflow, 0·inf or log(0) occurs on valid input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1

__all__ = [
    "FitError",
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
    "simulate_bgnbd",
    "simulate_pareto_nbd",
    "simulate_gamma_gamma",
    "simulate_shape",
    "HARD_SHAPES",
]

LOG_BOUND = 15.0  # |log parameter| bound for the optimiser: 3e-7 .. 3e6
FIT_NODES = 32  # Gauss-Legendre nodes of the Pareto/NBD integral while fitting
EXACT_NODES = 64  # ... for predictions and the public log-likelihood
CHUNK = 8192  # rows per block in the Pareto/NBD quadrature (fits in cache)
NEWTON_TOL = 0.01  # a fit is converged when the Newton step is < 1 % of a standard error
Z95 = 1.959963984540054


class FitError(ValueError):
    """A model could not be fitted; the message says why and what to do."""


@dataclass
class FitResult:
    """A fitted model: ``params`` and ``stderr`` map the papers' parameter names to floats.

    ``loglik`` is the maximised log-likelihood (summed over customers); ``n`` the customers and
    ``rows`` the distinct input rows actually evaluated; ``grad_norm`` the norm of the gradient
    of the mean log-likelihood at the optimum (in log parameters); ``min_eigenvalue`` the
    smallest eigenvalue of the Hessian of the mean negative log-likelihood (> 0: positive
    definite, ``hessian_pd``); ``newton_step`` the largest remaining Newton step in standard
    errors; ``converged`` = Hessian positive definite, Newton step < 0.01 and no parameter at
    its bound (a fit that is not converged raises instead of being returned); ``log_cov`` the
    covariance of the log-parameters (for intervals and parameter draws).
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
    rows: int = 0
    hessian_pd: bool = True
    min_eigenvalue: float = float("nan")
    newton_step: float = 0.0

    @property
    def se(self) -> dict[str, float]:
        """Alias of ``stderr``."""
        return self.stderr

    @property
    def log_se(self) -> dict[str, float]:
        """Standard errors of the log-parameters, sqrt(diag(log_cov))."""
        diag = np.diag(self.log_cov)
        return {k: float(np.sqrt(v)) for k, v in zip(self.params, diag, strict=True)}

    @property
    def aic(self) -> float:
        return 2 * len(self.params) - 2 * self.loglik

    def interval(self, level: float = 0.95) -> dict[str, tuple[float, float]]:
        """Wald intervals on the log scale, mapped back: exp(log θ ± z se(log θ)); they stay
        positive, as the parameters must."""
        from scipy.stats import norm

        z = float(norm.ppf(0.5 + level / 2))
        return {
            k: (float(v * np.exp(-z * s)), float(v * np.exp(z * s)))
            for (k, v), s in zip(self.params.items(), self.log_se.values(), strict=True)
        }

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
    return x, np.minimum(tx, t), t


def _collapse(*columns: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the columns and how many times each occurs (the likelihood weights):
    a lexicographic sort, then run lengths (much faster than ``np.unique(axis=0)``)."""
    order = np.lexsort(columns[::-1])
    cols = [c[order] for c in columns]
    change = np.zeros(len(order), dtype=bool)
    change[0] = True
    for c in cols:
        change[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, len(order)))
    return [c[starts] for c in cols], counts.astype(float)


def _levels(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct frequencies and each row's index into them: the terms that depend on x alone
    (log-gamma, digamma) are computed once per distinct x (a few hundred), not per row."""
    levels, index = np.unique(x, return_inverse=True)
    return levels, index.ravel()


# ----------------------------------------------------------------------------- BG/NBD


def bgnbd_loglik(params, x, tx, T) -> np.ndarray:
    """BG/NBD log-likelihood per customer (FHL 2005, eq. 6).

    L = B(a, b+x)/B(a, b) * Γ(r+x) α^r / Γ(r) *
        [ (α+T)^-(r+x) + 1{x>0} a/(b+x-1) (α+t_x)^-(r+x) ]
    """
    x, tx, T = np.asarray(x, float), np.asarray(tx, float), np.asarray(T, float)
    return _bgnbd_score(tuple(params), x, tx, T, *_levels(x), grad=False)[0]


def _bgnbd_score(params, x, tx, T, levels, index, grad=True):
    """BG/NBD log-likelihood per row and its derivatives in (r, α, a, b), from eq. 6:
    with L = log(e^A3 + e^A4), w3 = e^(A3-L), w4 = e^(A4-L),
    d/dr = ψ(r+x) − ψ(r) + log α − w3 log(α+T) − w4 log(α+t_x);
    d/dα = r/α − (r+x) (w3/(α+T) + w4/(α+t_x));
    d/da = ψ(a+b) − ψ(a+b+x) + w4/a;  d/db = ψ(b+x) − ψ(b) + ψ(a+b) − ψ(a+b+x) − w4/(b+x−1)."""
    r, alpha, a, b = params
    pos = levels > 0
    bx1 = np.where(pos, b + levels - 1, 1.0)
    per_x = gammaln(r + levels) - gammaln(r) + betaln(a, b + levels) - betaln(a, b)
    # x = 0 has no A4 term: log a/(b+x-1) = -inf there, and e^-inf = 0 (no log(0) is taken)
    log_death = np.full(len(levels), -np.inf)
    log_death[pos] = np.log(a) - np.log(bx1[pos])
    la_t, la_tx = np.log(alpha + T), np.log(alpha + tx)
    rx = r + x
    a3 = -rx * la_t
    a4 = log_death[index] - rx * la_tx
    top = np.maximum(a3, a4)
    lse = top + np.log1p(np.exp(-np.abs(a3 - a4)))  # log(e^A3 + e^A4), without overflow
    ll = per_x[index] + r * np.log(alpha) + lse
    if not grad:
        return ll, None
    w4 = np.exp(a4 - lse)
    w3 = 1.0 - w4
    d_r = (digamma(r + levels) - digamma(r))[index] + np.log(alpha) - w3 * la_t - w4 * la_tx
    d_alpha = r / alpha - rx * (w3 / (alpha + T) + w4 / (alpha + tx))
    dab = digamma(a + b) - digamma(a + b + levels)
    d_a = dab[index] + w4 / a
    d_b = (digamma(b + levels) - digamma(b) + dab)[index] - w4 / bx1[index]
    return ll, np.vstack([d_r, d_alpha, d_a, d_b])


# ----------------------------------------------------------------------------- Pareto/NBD


def _pareto_log_integral(params, x, tx, T, nodes: int, grad: bool):
    """log I and d log I / d(r, α, s, β), I = ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ.

    Gauss-Legendre on η ∈ [0, log(1 + (T−t_x)/L)] after τ = t_x + L (e^η − 1), with
    L = 1 / ((r+x)/(α+t_x) + (s+1)/(β+t_x)) the e-folding length of the integrand at t_x:
    the integrand h(τ) τ'(η) is then smooth whether it falls steeply (heavy buyers) or slowly
    (a power-law tail). Summed in log space. The gradient is the integral of ∂ log h / ∂θ
    weighted by h, at the same nodes. Rows with t_x = T have I = 0 (log I = −inf).
    """
    r, alpha, s, beta = params
    xi, wi = np.polynomial.legendre.leggauss(nodes)
    n = len(x)
    log_i = np.full(n, -np.inf)
    d = np.zeros((4, n)) if grad else None
    for lo in range(0, n, CHUNK):
        sl = slice(lo, min(lo + CHUNK, n))
        xs, txs, ts = x[sl], tx[sl], T[sl]
        width = ts - txs
        live = np.flatnonzero(width > 0)
        if live.size == 0:
            continue
        xs, txs, width = xs[live], txs[live], width[live]
        k1 = r + xs
        k2 = s + 1.0
        el = 1.0 / (k1 / (alpha + txs) + k2 / (beta + txs))
        emax = np.log1p(width / el)
        eta = (xi[:, None] + 1.0) * (emax / 2.0)
        tau = txs + el * np.expm1(eta)
        apa, bpb = alpha + tau, beta + tau
        la, lb = np.log(apa), np.log(bpb)
        # log of h(τ) τ'(η) w: τ'(η) = L e^η, so log τ' = log L + η (no third log per node)
        logh = eta - k1 * la - k2 * lb + np.log(wi)[:, None]
        top = logh.max(axis=0)
        e = np.exp(logh - top)
        tot = e.sum(axis=0)
        idx = np.arange(sl.start, sl.stop)[live]
        log_i[idx] = top + np.log(tot) + np.log(el * emax / 2.0)
        if grad:
            q = e / tot
            d[0, idx] = -np.einsum("ij,ij->j", q, la)
            d[1, idx] = -k1 * np.einsum("ij,ij->j", q, 1.0 / apa)
            d[2, idx] = -np.einsum("ij,ij->j", q, lb)
            d[3, idx] = -k2 * np.einsum("ij,ij->j", q, 1.0 / bpb)
    return log_i, d


def _pareto_log_a0(params, x, tx, T, nodes: int = EXACT_NODES) -> np.ndarray:
    """log A0 of Fader & Hardie (2005) eq. 19-20: log(r+s+x) + log I (see
    :func:`_pareto_log_integral`); −inf where t_x = T."""
    r, _, s, _ = params
    x, tx, T = (np.asarray(v, float).ravel() for v in (x, tx, T))
    return np.log(r + s + x) + _pareto_log_integral(params, x, tx, T, nodes, grad=False)[0]


def pareto_nbd_loglik(params, x, tx, T) -> np.ndarray:
    """Pareto/NBD log-likelihood per customer (Fader & Hardie 2005 note, eq. 22).

    L = Γ(r+x) α^r β^s / Γ(r) * [ 1 / ((α+T)^(r+x) (β+T)^s) + s/(r+s+x) A0 ]
      = Γ(r+x) α^r β^s / Γ(r) *
        [ (α+T)^-(r+x) (β+T)^-s + s ∫_{t_x}^{T} (α+τ)^-(r+x) (β+τ)^-(s+1) dτ ]
    """
    x, tx, T = (np.asarray(v, float).ravel() for v in (x, tx, T))
    return _pareto_score(tuple(params), x, tx, T, *_levels(x), grad=False, nodes=EXACT_NODES)[0]


def _pareto_score(params, x, tx, T, levels, index, grad=True, nodes=FIT_NODES):
    """Pareto/NBD log-likelihood per row and its derivatives in (r, α, s, β): with
    F = −(r+x) log(α+T) − s log(β+T), D = log s + log I, L = log(e^F + e^D), wF, wD their
    shares, d/dr = ψ(r+x) − ψ(r) + log α − wF log(α+T) + wD ∂log I/∂r;
    d/dα = r/α − wF (r+x)/(α+T) + wD ∂log I/∂α; d/ds = log β − wF log(β+T) + wD (1/s +
    ∂log I/∂s); d/dβ = s/β − wF s/(β+T) + wD ∂log I/∂β."""
    r, alpha, s, beta = params
    log_i, di = _pareto_log_integral(params, x, tx, T, nodes, grad)
    lat, lbt = np.log(alpha + T), np.log(beta + T)
    first = -(r + x) * lat - s * lbt
    has = np.isfinite(log_i)
    second = np.log(s) + np.where(has, log_i, 0.0)
    lse = np.where(has, np.logaddexp(first, second), first)
    ll = (gammaln(r + levels) - gammaln(r))[index] + r * np.log(alpha) + s * np.log(beta) + lse
    if not grad:
        return ll, None
    wd = np.where(has, np.exp(np.minimum(second - lse, 0.0)), 0.0)
    wf = 1.0 - wd
    d_r = (digamma(r + levels) - digamma(r))[index] + np.log(alpha) - wf * lat + wd * di[0]
    d_alpha = r / alpha - wf * (r + x) / (alpha + T) + wd * di[1]
    d_s = np.log(beta) - wf * lbt + wd * (1.0 / s + di[2])
    d_beta = s / beta - wf * s / (beta + T) + wd * di[3]
    return ll, np.vstack([d_r, d_alpha, d_s, d_beta])


# ----------------------------------------------------------------------------- Gamma-Gamma


def gamma_gamma_loglik(params, x, m) -> np.ndarray:
    """Gamma-Gamma log-likelihood of a customer's mean repeat value m over x > 0 purchases
    (Fader & Hardie 2013 note, eq. 3, without the terms free of the parameters):

    log L = log Γ(px+q) - log Γ(px) - log Γ(q) + q log γ + (px-1) log m + px log x
            - (px+q) log(γ + m x)
    """
    x, m = np.asarray(x, float), np.asarray(m, float)
    return _gamma_gamma_score(tuple(params), x, m, grad=False)[0]


def _gamma_gamma_score(params, x, m, grad=True):
    """Gamma-Gamma log-likelihood per row and its derivatives:
    d/dp = x [ψ(px+q) − ψ(px) + log m + log x − log(γ+mx)];
    d/dq = ψ(px+q) − ψ(q) + log γ − log(γ+mx);  d/dγ = q/γ − (px+q)/(γ+mx)."""
    p, q, gamma = params
    px = p * x
    lm, lx, lg = np.log(m), np.log(x), np.log(gamma + m * x)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * lm
        + px * lx
        - (px + q) * lg
    )
    if not grad:
        return ll, None
    dpq = digamma(px + q)
    d_p = x * (dpq - digamma(px) + lm + lx - lg)
    d_q = dpq - digamma(q) + np.log(gamma) - lg
    d_g = q / gamma - (px + q) / (gamma + m * x)
    return ll, np.vstack([d_p, d_q, d_g])


# ----------------------------------------------------------------------------- fitting


def _objective(score, data, weights, k):
    """The mean negative log-likelihood and its gradient in log-parameters, for L-BFGS-B;
    (1e10, 0) where a trial step leaves the numerically safe region (an overflow)."""
    n = float(weights.sum())

    def nll_and_grad(log_theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.exp(log_theta)
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                ll, d = score(tuple(theta), *data, grad=True)
                value = -float(np.dot(weights, ll)) / n
                grad = -(d @ weights) * theta / n  # d/d log θ = θ d/dθ
        except FloatingPointError:
            return 1e10, np.zeros(k)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return 1e10, np.zeros(k)
        return value, grad

    def hessian(log_theta: np.ndarray, g0: np.ndarray, h: float = 1e-6) -> np.ndarray:
        """Forward differences of the analytic gradient around ``g0`` = gradient at
        ``log_theta`` (k passes; error O(h), far below the sampling error), symmetrised."""
        cols = []
        for i in range(k):
            e = np.zeros(k)
            e[i] = h
            cols.append((nll_and_grad(log_theta + e)[1] - g0) / h)
        hm = np.array(cols)
        return (hm + hm.T) / 2

    return nll_and_grad, hessian


def _lbfgsb(fun, x0, k):
    return minimize(
        fun,
        x0,
        method="L-BFGS-B",
        jac=True,
        bounds=[(-LOG_BOUND, LOG_BOUND)] * k,
        options={"maxiter": 1000, "ftol": 1e-14, "gtol": 1e-10, "maxcor": 20},
    )


def _newton(fun, theta, value, grad, hess, n, tol, steps):
    """Newton steps in log-parameters with a fixed Hessian ``hess`` (of the mean negative
    log-likelihood) and step halving; stops when the step is under ``tol`` standard errors.
    Returns theta, value, grad and the last step size in standard errors (inf: no PD Hessian)."""
    eig = np.linalg.eigvalsh(hess)
    if not (np.all(np.isfinite(eig)) and eig.min() > 0):
        return theta, value, grad, np.inf
    se = np.sqrt(np.diag(np.linalg.inv(hess)) / n)
    step_se = np.inf
    for _ in range(steps):
        step = -np.linalg.solve(hess, grad)
        step_se = float(np.max(np.abs(step) / se))
        if step_se < tol:
            break
        t = 1.0
        for _ in range(30):
            cand = np.clip(theta + t * step, -LOG_BOUND, LOG_BOUND)
            v, g = fun(cand)
            if v <= value:
                theta, value, grad = cand, v, g
                break
            t /= 2
        else:
            break
    return theta, value, grad, step_se


SUBSAMPLE_ROWS = 40_000  # above this many distinct rows, first fit a random subsample of them


def _fit(model: str, names: list[str], score, data, weights, start, diagnose) -> FitResult:
    """Maximise Σ w·loglik over log-parameters, then check and polish (module docstring).

    ``score(params, *data, grad=True)`` -> (loglik rows, d loglik / d params, k x rows);
    ``diagnose(problem, values)`` -> the FitError message for a failed check. With more than
    SUBSAMPLE_ROWS distinct rows, L-BFGS-B first runs on a random subsample of them (their
    weighted mean log-likelihood has the same optimum up to sampling noise), and the full data
    then only take Newton steps with the subsample's Hessian (about 1 pass each) before the
    final full-data Hessian: a handful of full passes instead of dozens.
    """
    n = float(weights.sum())
    k = len(names)
    nll_and_grad, hessian = _objective(score, data, weights, k)
    x0 = np.clip(np.log(np.clip(np.asarray(start, float), 1e-4, 1e4)), -LOG_BOUND, LOG_BOUND)
    rows = len(weights)
    res = None
    if rows > SUBSAMPLE_ROWS:
        pick = np.sort(np.random.default_rng(0).choice(rows, SUBSAMPLE_ROWS // 2, replace=False))
        sub_data = tuple(v[pick] if np.ndim(v) and len(v) == rows else v for v in data)
        if len(data) == 5:  # (x, t_x, T, levels, index): the subsample gets its own levels
            sub_data = (*sub_data[:3], *_levels(sub_data[0]))
        sub_fun, sub_hess = _objective(score, sub_data, weights[pick], k)
        sub = _lbfgsb(sub_fun, x0, k)
        value, grad = nll_and_grad(sub.x)
        if value < 1e10:
            theta, value, grad, step_se = _newton(
                nll_and_grad,
                sub.x,
                value,
                grad,
                sub_hess(sub.x, sub_fun(sub.x)[1]),
                n,
                NEWTON_TOL / 10,
                20,
            )
            if np.isfinite(step_se) and step_se < NEWTON_TOL:
                res = sub
                res.x, res.fun = theta, value
        if res is None:
            x0 = sub.x
    if res is None:
        res = _lbfgsb(nll_and_grad, x0, k)
    theta, value = res.x, float(res.fun)
    if not (np.all(np.isfinite(theta)) and np.isfinite(value) and value < 1e10):
        raise FitError(diagnose(f"the likelihood could not be evaluated ({res.message})"))

    # check, and polish with Newton steps (fresh Hessian each round) while the step is large
    grad = nll_and_grad(theta)[1]
    hess = hessian(theta, grad)
    for _ in range(3):
        theta, value, grad, step_se = _newton(nll_and_grad, theta, value, grad, hess, n, 0, 1)
        if not np.isfinite(step_se) or step_se < NEWTON_TOL:
            break
        hess = hessian(theta, grad)
    eig = np.linalg.eigvalsh(hess)
    min_eig = float(eig.min()) if np.all(np.isfinite(eig)) else float("nan")
    pd = bool(np.isfinite(min_eig) and min_eig > 0)
    at_bound = [nm for nm, v in zip(names, theta, strict=True) if abs(v) > LOG_BOUND - 1e-3]
    if pd:
        log_cov = np.linalg.inv(hess) / n
        step = -np.linalg.solve(hess, grad)
        step_se = float(np.max(np.abs(step) / np.sqrt(np.diag(log_cov))))
    else:
        log_cov = np.full((k, k), np.nan)
    values = np.exp(theta)
    problem = None
    if at_bound:
        problem = "parameter " + ", ".join(at_bound) + " ran to the edge of its range (e^±15)"
    elif not pd:
        problem = (
            "the likelihood is flat or saddle-shaped at the optimum (Hessian not positive "
            "definite), so some parameters are not identified by the data"
        )
    elif step_se >= NEWTON_TOL:
        problem = f"the optimiser stopped {step_se:.2g} standard errors short of the optimum"
    else:
        drop = _ridge_drop(nll_and_grad, theta, value, log_cov, n)
        if drop < RIDGE_MIN_DROP:
            problem = (
                "the likelihood is flat along a ridge: moving the parameters two standard "
                f"errors along their least certain direction changes the log-likelihood by "
                f"{drop:.2g}, where a peak of the reported width would lower it by 2, so some "
                "parameters are not identified by the data and their standard errors would be "
                "wrong"
            )
    if problem is not None:
        raise FitError(diagnose(problem, dict(zip(names, values, strict=True))))
    se = values * np.sqrt(np.diag(log_cov))
    return FitResult(
        model=model,
        params={nm: float(v) for nm, v in zip(names, values, strict=True)},
        stderr={nm: float(v) for nm, v in zip(names, se, strict=True)},
        loglik=-value * n,
        converged=True,
        grad_norm=float(np.linalg.norm(grad)),
        n=int(n),
        iterations=int(res.nit),
        message=str(res.message),
        log_cov=log_cov,
        rows=int(len(weights)),
        hessian_pd=pd,
        min_eigenvalue=min_eig,
        newton_step=step_se,
    )


RIDGE_MIN_DROP = 0.25  # a quadratic peak loses 2 log-likelihood units at 2 se; 0.25 = 1/8 of it


def _ridge_drop(nll_and_grad, theta, value, log_cov, n) -> float:
    """The smaller log-likelihood drop from the optimum at ±2 standard errors along the
    covariance's longest axis (its top eigenvector, in log-parameters). Where the likelihood is
    the peak its Hessian describes, each side drops by about 2 (½·2²); on a flat ridge (BG/NBD
    with a and b both running off together: dropout the same for everyone) the finite
    difference Hessian can report curvature that is not there, and the drop is ~0."""
    w, v = np.linalg.eigh(log_cov)
    step = 2.0 * np.sqrt(max(w[-1], 0.0)) * v[:, -1]
    drops = []
    for sign in (1.0, -1.0):
        trial = np.clip(theta + sign * step, -LOG_BOUND, LOG_BOUND)
        drops.append((nll_and_grad(trial)[0] - value) * n)
    return float(min(drops))


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
        raise FitError(f"{who}: need at least 3 customers to fit, got {x.size}")
    if not np.any(x > 0):
        raise FitError(
            f"{who}: no customer made a repeat purchase; the data cannot support a fit "
            "(check that frequency counts repeat purchases, or use a longer history)"
        )
    if np.count_nonzero(x > 0) < 2:
        raise FitError(f"{who}: only one customer made a repeat purchase; too few to fit")


def _purchase_diagnosis(who: str, x: np.ndarray, tx: np.ndarray, T: np.ndarray):
    """The FitError message of a purchase model: what failed, the data's shape, what to do."""
    rep = int(np.count_nonzero(x > 0))
    share = rep / x.size

    def message(problem: str, values: dict | None = None) -> str:
        at = ""
        if values:
            at = " (stopped at " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()) + ")"
        hints = []
        if rep < 100 or share < 0.02:
            hints.append(
                f"only {rep:,} of {x.size:,} customers ({share:.1%}) made a repeat purchase: "
                "too few repeat buyers to estimate the purchase and dropout rates; use a longer "
                "calibration period or more customers"
            )
        recent = np.mean((T - tx)[x > 0] <= 0.05 * T[x > 0]) if rep else 0.0
        if recent > 0.9:
            hints.append(
                f"{recent:.0%} of the repeat buyers bought near the end of the period: the data "
                "show no sign of dropout, so the dropout parameters cannot be estimated; use "
                "the Pareto/NBD or a plain purchase-rate model, or a longer history"
            )
        v = values or {}
        pair = ("a", "b") if "a" in v else ("s", "beta")
        if all(v.get(k, 0) > 100 for k in pair):
            hints.append(
                f"{pair[0]} and {pair[1]} both ran large together: dropout looks the same for "
                "every customer, so how it varies between customers cannot be estimated; a "
                "longer history, or a model with one dropout rate for all, is what these data "
                "support"
            )
        if not hints:
            hints.append(
                "check the time unit (recency and T in one unit, the rates are per that unit) "
                "and that frequency counts repeat purchases only; a coarser time unit helps "
                "when T spans thousands of units"
            )
        return f"{who} did not converge: {problem}{at}. " + "; ".join(hints) + "."

    return message


def fit_bgnbd(frequency, recency, T) -> FitResult:
    """Fit the BG/NBD model (FHL 2005) by maximum likelihood: params ``r, alpha, a, b``.

    λ ~ Gamma(shape r, rate α) purchases per time unit while alive; after each repeat purchase
    the customer drops out with probability p ~ Beta(a, b). Identical (x, t_x, T) rows are
    collapsed into one weighted row before fitting. Starting values: r, α from the moments of
    x/T; a = 1 and b from the share of repeat buyers whose last purchase is in the first half
    of their window (a rough dropout probability). Raises :class:`FitError` when the check
    fails (see the module docstring).
    """
    x, tx, t = _check_rft(frequency, recency, T)
    _needs_repeaters(x, "fit_bgnbd")
    (ux, utx, ut), w = _collapse(x, tx, t)
    r0, a0 = _rate_start(x, t)
    rep = x > 0
    gone = float(np.clip(np.mean(tx[rep] < 0.5 * t[rep]), 0.05, 0.9))
    p0 = float(np.clip(gone / max(np.mean(x[rep]), 1.0), 0.01, 0.5))
    return _fit(
        "bgnbd",
        ["r", "alpha", "a", "b"],
        _bgnbd_score,
        (ux, utx, ut, *_levels(ux)),
        w,
        [r0, a0, 1.0, (1 - p0) / p0],
        _purchase_diagnosis("fit_bgnbd", x, tx, t),
    )


def fit_pareto_nbd(frequency, recency, T) -> FitResult:
    """Fit the Pareto/NBD model (SMC 1987) by maximum likelihood: params ``r, alpha, s, beta``.

    λ ~ Gamma(r, rate α) while alive; lifetime ~ Exponential(μ), μ ~ Gamma(s, rate β).
    Identical (x, t_x, T) rows are collapsed into one weighted row before fitting. Starting
    values: r, α from the moments of x/T; s = 1, β = median T (a median lifetime of about the
    observation period). Raises :class:`FitError` when the check fails.
    """
    x, tx, t = _check_rft(frequency, recency, T)
    _needs_repeaters(x, "fit_pareto_nbd")
    (ux, utx, ut), w = _collapse(x, tx, t)
    r0, a0 = _rate_start(x, t)
    return _fit(
        "pareto_nbd",
        ["r", "alpha", "s", "beta"],
        _pareto_score,
        (ux, utx, ut, *_levels(ux)),
        w,
        [r0, a0, 1.0, float(np.median(t))],
        _purchase_diagnosis("fit_pareto_nbd", x, tx, t),
    )


MAX_SPEND_CORRELATION = 0.5  # |corr(x, m)| above which Gamma-Gamma is refused


def fit_gamma_gamma(frequency, monetary_value) -> FitResult:
    """Fit the Gamma-Gamma spend model (FHL 2005 JMR) on customers with frequency > 0:
    params ``p, q, gamma``. Customers with no repeat purchase carry no spend information and
    are left out (as in the paper); identical (x, m) rows are collapsed into one weighted row.
    Needs monetary values > 0.

    The model assumes a customer's spend per purchase is independent of how often they buy: a
    Pearson correlation between x and m above 0.5 in absolute value (significant at 1 %)
    raises :class:`FitError`, as does a fit with q <= 1 (infinite mean spend).

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
        raise FitError(
            f"fit_gamma_gamma: need at least 3 customers with a repeat purchase, got {x.size}"
        )
    if np.any(m <= 0):
        raise ValueError("fit_gamma_gamma: monetary_value must be > 0 where frequency > 0")
    if np.ptp(m) == 0:
        raise FitError("fit_gamma_gamma: every customer has the same mean spend; cannot fit")
    corr = 0.0
    if np.ptp(x) > 0:
        corr = float(np.corrcoef(x, m)[0, 1])
        z = np.arctanh(min(abs(corr), 0.999999)) * np.sqrt(max(x.size - 3, 1))
        if abs(corr) > MAX_SPEND_CORRELATION and z > 2.576:
            raise FitError(
                f"fit_gamma_gamma: frequency and mean spend are correlated (Pearson "
                f"{corr:+.2f} over {x.size:,} repeat buyers); the Gamma-Gamma model assumes "
                "they are independent, so its spend predictions would be biased. Fit it "
                "within groups where the correlation is weak (e.g. by segment or frequency "
                "band), or use each customer's own mean spend."
            )
    (ux, um), w = _collapse(x, m)
    mean, var = m.mean(), m.var()
    q0 = float(np.clip(2 + mean**2 / var, 2.1, 50))
    p0 = 2.0
    g0 = mean * (q0 - 1) / p0

    def diagnose(problem: str, values: dict | None = None) -> str:
        at = ""
        if values:
            at = " (stopped at " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()) + ")"
        return (
            f"fit_gamma_gamma did not converge: {problem}{at}. {x.size:,} repeat buyers, "
            f"frequency-spend correlation {corr:+.2f}; check for extreme or zero spends and "
            "that monetary_value is the mean of the repeat purchases."
        )

    fit = _fit(
        "gamma_gamma",
        ["p", "q", "gamma"],
        _gamma_gamma_score,
        (ux, um),
        w,
        [p0, q0, g0],
        diagnose,
    )
    if fit.params["q"] <= 1:
        raise FitError(
            f"fit_gamma_gamma: q = {fit.params['q']:.3g} <= 1, so the expected spend per "
            "purchase is infinite under the fitted model (a very heavy tail of mean spends): "
            "cap extreme spends or fit spend by segment."
        )
    return fit


# ----------------------------------------------------------------------------- simulation


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def simulate_bgnbd(params, T, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Draw (frequency, recency) for customers observed for ``T`` under BG/NBD ``params``.

    Vectorised: λ ~ Gamma(r, rate α), p ~ Beta(a, b); K ~ Poisson(λT) purchases would happen in
    (0, T]; the customer drops out right after repeat purchase N ~ Geometric(p), so
    x = min(K, N); given K, the purchase times are K uniform order statistics, so the x-th is
    t_x = T · Beta(x, K − x + 1).
    """
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    rng = _rng(seed)
    T = np.asarray(T, float)
    lam = rng.gamma(r, 1.0 / alpha, T.shape)
    p = rng.beta(a, b, T.shape)
    k = rng.poisson(lam * T)
    dies = rng.geometric(np.clip(p, 1e-12, 1.0))
    x = np.minimum(k, dies)
    u = rng.beta(np.maximum(x, 1), np.maximum(k - x + 1, 1))
    return x.astype(float), np.where(x > 0, T * u, 0.0)


def simulate_pareto_nbd(params, T, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Draw (frequency, recency) for customers observed for ``T`` under Pareto/NBD ``params``.

    Vectorised: λ ~ Gamma(r, rate α), μ ~ Gamma(s, rate β), lifetime τ ~ Exponential(μ); over
    the observed window w = min(τ, T), x ~ Poisson(λ w) and the last of x uniform purchase
    times is t_x = w · U^(1/x).
    """
    r, alpha, s, beta = _p(params, ["r", "alpha", "s", "beta"])
    rng = _rng(seed)
    T = np.asarray(T, float)
    lam = rng.gamma(r, 1.0 / alpha, T.shape)
    mu = rng.gamma(s, 1.0 / beta, T.shape)
    life = rng.exponential(1.0, T.shape) / np.maximum(mu, 1e-300)
    window = np.minimum(life, T)
    x = rng.poisson(lam * window)
    u = rng.uniform(size=T.shape)
    return x.astype(float), np.where(x > 0, window * u ** (1.0 / np.maximum(x, 1)), 0.0)


def simulate_gamma_gamma(params, frequency, seed=0) -> np.ndarray:
    """Draw the mean repeat spend of customers with ``frequency`` repeat purchases under
    Gamma-Gamma ``params``: ν ~ Gamma(q, rate γ), each spend ~ Gamma(p, rate ν), so the sum of
    x spends is Gamma(p x, rate ν) and m = sum / x (0 where x = 0)."""
    p, q, gamma = _p(params, ["p", "q", "gamma"])
    rng = _rng(seed)
    x = np.asarray(frequency, float)
    nu = rng.gamma(q, 1.0 / gamma, x.shape)
    total = rng.gamma(np.maximum(p * x, 1e-12), 1.0, x.shape) / nu
    return np.where(x > 0, total / np.maximum(x, 1), 0.0)


# ----------------------------------------------------------------------------- predictions


def _expit(v) -> np.ndarray:
    """1 / (1 + e^-v) without overflow (scipy.special.expit; -inf gives 0, +inf 1)."""
    from scipy.special import expit

    return expit(v)


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
    z = t / (alpha + t)
    # Euler: (1-z)^r 2F1(r, b; c; z) = (1-z)^(a-1) 2F1(c-r, a-1; c; z), c = a+b-1, which
    # stays finite as z -> 1 (the left side is inf * 0 there)
    c = a + b - 1
    body = 1 - np.exp((a - 1) * np.log1p(-z)) * hyp2f1(c - r, a - 1, c, z)
    return c / (a - 1) * body


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
    # 1 / (1 + e^l) as a logistic of -l: no overflow when l is large
    return np.where(pos, _expit(-log_ratio), 1.0)


def bgnbd_conditional_expected_purchases(params, t, frequency, recency, T) -> np.ndarray:
    """E[Y(t) | x, t_x, T], the expected purchases in the next t (FHL 2005 eq. 10):

    (a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))] /
    (1 + 1{x>0} a/(b+x-1) ((α+T)/(α+t_x))^(r+x))
    """
    r, alpha, a, b = _p(params, ["r", "alpha", "a", "b"])
    x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
    t = np.asarray(t, float)
    z = t / (alpha + T + t)
    c = a + b + x - 1
    # Euler transform as in bgnbd_expected_purchases: ((α+T)/(α+T+t))^(r+x) = (1-z)^(r+x), and
    # (1-z)^(r+x) 2F1(r+x, b+x; c; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z): no overflow for
    # frequencies in the hundreds
    body = 1 - np.exp((a - 1) * np.log1p(-z)) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    return c / (a - 1) * body * bgnbd_p_alive((r, alpha, a, b), x, tx, T)


def pareto_nbd_p_alive(params, frequency, recency, T) -> np.ndarray:
    """P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (α+T)^(r+x) (β+T)^s A0) (F&H 2005, eq. 18)."""
    r, alpha, s, beta = _p(params, ["r", "alpha", "s", "beta"])
    x, tx, T = (np.asarray(v, float) for v in (frequency, recency, T))
    log_a0 = _pareto_log_a0((r, alpha, s, beta), x, tx, T)
    log_ratio = (
        np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T) + s * np.log(beta + T) + log_a0
    )
    return _expit(-log_ratio)


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


# Simulation shapes where lifetimes' users report fits that fail (its issues #405: 289k
# customers with mean frequency 177; #332: 2.5M customers; #396, #258, #419): the grid the
# tests recover parameters on and the benchmark (benchmarks/clv_shapes.py) compares against
# lifetimes. T ~ Uniform(T_low, T_high) in the shape's time unit.
HARD_SHAPES: dict[str, dict] = {
    "heavy buyers": {
        "unit": "weeks",
        "T": (52.0, 156.0),
        "bgnbd": {"r": 4.0, "alpha": 2.0, "a": 0.3, "b": 60.0},
        "pareto_nbd": {"r": 4.0, "alpha": 2.0, "s": 0.5, "beta": 200.0},
        "gamma_gamma": {"p": 6.0, "q": 4.0, "gamma": 15.0},
    },
    "tiny dropout": {
        "unit": "weeks",
        "T": (26.0, 104.0),
        "bgnbd": {"r": 1.0, "alpha": 8.0, "a": 0.2, "b": 40.0},
        "pareto_nbd": {"r": 1.0, "alpha": 8.0, "s": 0.3, "beta": 150.0},
        "gamma_gamma": {"p": 2.0, "q": 8.0, "gamma": 300.0},
    },
    "long T in days": {
        "unit": "days",
        "T": (365.0, 2555.0),
        "bgnbd": {"r": 0.6, "alpha": 20.0, "a": 0.5, "b": 8.0},
        "pareto_nbd": {"r": 0.6, "alpha": 20.0, "s": 0.8, "beta": 600.0},
        "gamma_gamma": {"p": 3.0, "q": 3.0, "gamma": 50.0},
    },
    "CDNOW-like, 1M accounts": {
        "unit": "weeks",
        "T": (27.0, 39.0),
        "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        "pareto_nbd": {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67},
        "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
    },
}


def simulate_shape(shape: str, model: str, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Simulate ``n`` customers of ``HARD_SHAPES[shape]`` under ``model`` ('bgnbd' or
    'pareto_nbd'), with Gamma-Gamma mean spends: a dict of frequency, recency, T and
    monetary_value arrays."""
    spec = HARD_SHAPES[shape]
    rng = np.random.default_rng(seed)
    T = rng.uniform(*spec["T"], size=n)
    sim = {"bgnbd": simulate_bgnbd, "pareto_nbd": simulate_pareto_nbd}[model]
    x, tx = sim(spec[model], T, rng)
    m = simulate_gamma_gamma(spec["gamma_gamma"], x, rng)
    return {"frequency": x, "recency": tx, "T": T, "monetary_value": m}
