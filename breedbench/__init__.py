"""breedbench: an unseen, human-verified dog-breed test set, and every model version measured on it.

The data path shows in the packages: ``crawler`` (crawl) → ``db`` (store) → ``review`` (review,
export) → ``evaluator`` (evaluate and report), over ``core`` (errors, settings). This package is
the one CLI on top of them.
"""

from core import __version__

__all__ = ["__version__"]
