"""Pure statistics with no data access: numpy/scipy in, numpy/pandas out.

- :mod:`helpers.models.btyd`: BG/NBD, Pareto/NBD and Gamma-Gamma fits and predictions.
"""
