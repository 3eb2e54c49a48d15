"""The fit engine shared by the three BTYD models: input checks, maximum likelihood, the
checks on the optimum, standard errors, :class:`FitResult` and :class:`FitError`.

A model module supplies ``score(params, *data, grad=True)`` -> (log-likelihood per row, its
derivatives in the parameters, k x rows), its parameter names, starting values and a
``diagnose(problem, values)`` that words the :class:`FitError`; :func:`_fit` does the rest:

1. Rows with identical inputs, (x, t_x, T) or (x, m), are collapsed into one row with their
   count as a weight (:func:`_collapse`); the terms that depend on x alone (log-gamma,
   digamma) are computed once per distinct x (:func:`_levels`). The cost grows with the
   number of distinct rows, not of customers.
2. Starting values from moments (see each fit's docstring).
3. L-BFGS-B on the logs of the parameters (bounded to e^±15, so they stay positive and finite)
   with analytic gradients: closed forms for BG/NBD and Gamma-Gamma, and for Pareto/NBD the
   derivatives of the integrand at the same quadrature nodes (one pass gives value and
   gradient). With more than ``SUBSAMPLE_ROWS`` distinct rows it first runs on a subsample.
4. A check: the Hessian of the log-likelihood (central differences of the analytic gradient)
   must be positive definite and the remaining Newton step small (under 1 % of a standard
   error in every parameter; a few Newton steps polish the optimum when it is not), and the
   likelihood must really fall off as that Hessian says: two standard errors along the least
   certain direction it must drop by at least 0.25 (a quadratic peak drops by 2), which
   catches a flat ridge whose finite-difference Hessian looks curved. The gradient norm, the
   smallest Hessian eigenvalue and the Newton step are kept on the :class:`FitResult`.
5. Standard errors from the inverse Hessian in log-parameter space, mapped to the natural scale
   by the delta method (se(θ) = θ se(log θ)); 95 % intervals exp(log θ ± 1.96 se(log θ)).

A fit that fails the check raises :class:`FitError` (a ValueError) saying why and what to do,
never NaN estimates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize
from scipy.special import ndtri

__all__ = ["FitError", "FitResult", "LOG_BOUND", "NEWTON_TOL"]

LOG_BOUND = 15.0  # |log parameter| bound for the optimiser: 3e-7 .. 3e6
NEWTON_TOL = 0.01  # a fit is converged when the Newton step is < 1 % of a standard error
SUBSAMPLE_ROWS = 40_000  # above this many distinct rows, first fit a random subsample of them
RIDGE_MIN_DROP = 0.25  # a quadratic peak loses 2 log-likelihood units at 2 se; 0.25 = 1/8 of it


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
        z = float(ndtri(0.5 + level / 2))  # the standard normal quantile, Φ⁻¹
        return {
            k: (float(v * np.exp(-z * s)), float(v * np.exp(z * s)))
            for (k, v), s in zip(self.params.items(), self.log_se.values(), strict=True)
        }

    def draws(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` parameter vectors from the asymptotic normal of the log-parameters, exp'd."""
        rng = np.random.default_rng(seed)
        mean = np.log(list(self.params.values()))
        return np.exp(rng.multivariate_normal(mean, self.log_cov, size=n, method="eigh"))


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


def _p(params, names):
    """The parameter values in the order of ``names``, from a FitResult, a dict or a sequence."""
    if isinstance(params, FitResult):
        params = params.params
    if isinstance(params, dict):
        return tuple(float(params[k]) for k in names)
    return tuple(float(v) for v in params)


def _rng(seed) -> np.random.Generator:
    """``seed`` itself when it is a Generator (so one stream feeds several draws), else a new
    Generator seeded with it."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


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


def _minimise(nll_and_grad, score, data, weights, x0, n, k):
    """L-BFGS-B on the mean negative log-likelihood from ``x0`` (log-parameters).

    With more than SUBSAMPLE_ROWS distinct rows, L-BFGS-B first runs on a random subsample of
    them (their weighted mean log-likelihood has the same optimum up to sampling noise), and
    the full data then only take Newton steps with the subsample's Hessian (about 1 pass each):
    a handful of full passes instead of dozens. When those steps do not converge, the full
    L-BFGS-B starts from the subsample's optimum. Returns scipy's OptimizeResult.
    """
    rows = len(weights)
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
                sub.x, sub.fun = theta, value
                return sub
        x0 = sub.x
    return _lbfgsb(nll_and_grad, x0, k)


def _polish(nll_and_grad, hessian, theta, value, n):
    """Up to 3 Newton steps, with a fresh Hessian each round, while the remaining step is
    NEWTON_TOL standard errors or more. Returns theta, value, gradient and Hessian."""
    grad = nll_and_grad(theta)[1]
    hess = hessian(theta, grad)
    for _ in range(3):
        theta, value, grad, step_se = _newton(nll_and_grad, theta, value, grad, hess, n, 0, 1)
        if not np.isfinite(step_se) or step_se < NEWTON_TOL:
            break
        hess = hessian(theta, grad)
    return theta, value, grad, hess


@dataclass
class _Curvature:
    """What the Hessian says at the optimum: ``pd`` positive definite, ``min_eig`` its smallest
    eigenvalue (NaN if not finite), ``log_cov`` = H⁻¹ / n (NaN if not PD) and ``step_se`` the
    remaining Newton step -H⁻¹g in standard errors (inf if not PD)."""

    pd: bool
    min_eig: float
    log_cov: np.ndarray
    step_se: float


def _curvature(hess: np.ndarray, grad: np.ndarray, n: float, k: int) -> _Curvature:
    eig = np.linalg.eigvalsh(hess)
    min_eig = float(eig.min()) if np.all(np.isfinite(eig)) else float("nan")
    pd = bool(np.isfinite(min_eig) and min_eig > 0)
    if not pd:
        return _Curvature(False, min_eig, np.full((k, k), np.nan), np.inf)
    log_cov = np.linalg.inv(hess) / n
    step = -np.linalg.solve(hess, grad)
    step_se = float(np.max(np.abs(step) / np.sqrt(np.diag(log_cov))))
    return _Curvature(True, min_eig, log_cov, step_se)


def _problem(names, theta, value, curv: _Curvature, nll_and_grad, n) -> str | None:
    """Why the optimum fails the check (module docstring, step 4), or None when it passes: a
    parameter at its bound, a Hessian that is not positive definite, a Newton step of
    NEWTON_TOL standard errors or more, or a flat ridge (:func:`_ridge_drop`)."""
    at_bound = [nm for nm, v in zip(names, theta, strict=True) if abs(v) > LOG_BOUND - 1e-3]
    if at_bound:
        return "parameter " + ", ".join(at_bound) + " ran to the edge of its range (e^±15)"
    if not curv.pd:
        return (
            "the likelihood is flat or saddle-shaped at the optimum (Hessian not positive "
            "definite), so some parameters are not identified by the data"
        )
    if curv.step_se >= NEWTON_TOL:
        return f"the optimiser stopped {curv.step_se:.2g} standard errors short of the optimum"
    drop = _ridge_drop(nll_and_grad, theta, value, curv.log_cov, n)
    if drop < RIDGE_MIN_DROP:
        return (
            "the likelihood is flat along a ridge: moving the parameters two standard "
            f"errors along their least certain direction changes the log-likelihood by "
            f"{drop:.2g}, where a peak of the reported width would lower it by 2, so some "
            "parameters are not identified by the data and their standard errors would be "
            "wrong"
        )
    return None


def _fit(model: str, names: list[str], score, data, weights, start, diagnose) -> FitResult:
    """Maximise Σ w·loglik over log-parameters, then polish and check (module docstring).

    ``score(params, *data, grad=True)`` -> (loglik rows, d loglik / d params, k x rows);
    ``diagnose(problem, values)`` -> the FitError message for a failed check; ``start`` the
    starting values on the natural scale (clipped to 1e-4 .. 1e4).
    """
    n = float(weights.sum())
    k = len(names)
    nll_and_grad, hessian = _objective(score, data, weights, k)
    x0 = np.clip(np.log(np.clip(np.asarray(start, float), 1e-4, 1e4)), -LOG_BOUND, LOG_BOUND)
    res = _minimise(nll_and_grad, score, data, weights, x0, n, k)
    theta, value = res.x, float(res.fun)
    if not (np.all(np.isfinite(theta)) and np.isfinite(value) and value < 1e10):
        raise FitError(diagnose(f"the likelihood could not be evaluated ({res.message})"))
    theta, value, grad, hess = _polish(nll_and_grad, hessian, theta, value, n)
    curv = _curvature(hess, grad, n, k)
    values = np.exp(theta)
    problem = _problem(names, theta, value, curv, nll_and_grad, n)
    if problem is not None:
        raise FitError(diagnose(problem, dict(zip(names, values, strict=True))))
    se = values * np.sqrt(np.diag(curv.log_cov))
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
        log_cov=curv.log_cov,
        rows=int(len(weights)),
        hessian_pd=curv.pd,
        min_eigenvalue=curv.min_eig,
        newton_step=curv.step_se,
    )


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
