"""Helpers behind the B2B e-commerce operations analytics notebooks.

Notebooks tell the story; the logic lives here, one module per topic, tested.
"""

__version__ = "0.1.0"
