"""The synthetic-data generator, one module per simulated process (run by
:mod:`helpers.data.generate`).

Each process module holds its planted constants beside the code that uses them, writes its
tables and returns its part of ``truth.json``. The order of the random draws within a stream is
part of the output: a refactor that reorders draws changes the sample (the tests compare).
"""
