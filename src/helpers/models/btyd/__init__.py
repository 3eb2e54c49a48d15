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
ones, in log space (``gammaln``, ``logaddexp``, log-sum-exp), so nothing overflows.

One module per idea (import from here; the modules' underscored names are internal):

- :mod:`~helpers.models.btyd.fit`: the fit engine shared by the three models (input checks,
  L-BFGS-B on log-parameters, the Hessian and ridge checks, standard errors),
  :class:`FitResult` and :class:`FitError`.
- :mod:`~helpers.models.btyd.bgnbd`, :mod:`~helpers.models.btyd.pareto_nbd`,
  :mod:`~helpers.models.btyd.gamma_gamma`: one model each (likelihood and its gradient, fit,
  simulator, predictions), with the papers they follow;
  :mod:`~helpers.models.btyd.purchase` what the two purchase models share.
- :mod:`~helpers.models.btyd.lifetime_value`: discounted CLV and its interval.

A fit that fails its check raises :class:`FitError` (a ValueError) saying why and what to do:
too few repeat buyers, no sign of dropout, frequency and spend too correlated for
Gamma-Gamma... never NaN estimates. The fits and predictions emit no RuntimeWarning: the
arithmetic is arranged so that no overflow, 0·inf or log(0) occurs on valid input.

The simulated hard shapes the tests and benchmarks fit (heavy buyers, tiny dropout...) are
test fixtures, in tests/btyd_shapes.py.
"""

from __future__ import annotations

from helpers.models.btyd.bgnbd import (
    bgnbd_conditional_expected_purchases,
    bgnbd_expected_purchases,
    bgnbd_loglik,
    bgnbd_p_alive,
    fit_bgnbd,
    simulate_bgnbd,
)
from helpers.models.btyd.fit import NEWTON_TOL, FitError, FitResult
from helpers.models.btyd.gamma_gamma import (
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    gamma_gamma_loglik,
    gamma_gamma_mean_spend,
    simulate_gamma_gamma,
)
from helpers.models.btyd.lifetime_value import clv_interval, discounted_clv
from helpers.models.btyd.pareto_nbd import (
    fit_pareto_nbd,
    pareto_nbd_conditional_expected_purchases,
    pareto_nbd_expected_purchases,
    pareto_nbd_loglik,
    pareto_nbd_p_alive,
    simulate_pareto_nbd,
)

__all__ = [
    "FitError",
    "FitResult",
    "NEWTON_TOL",
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
]
