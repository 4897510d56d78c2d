"""breedbench: an unseen, human-verified dog-breed test set, and every model version measured on it.

The data path shows in the packages: ``crawler`` (crawl) → ``db`` (store) → ``curation_app``
(review) → ``evaluator`` (evaluate and report). This package holds what they share: settings,
errors and the one CLI.
"""

__version__ = "0.1.0"
