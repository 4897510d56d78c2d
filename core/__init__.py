"""The ground floor: what every stage shares (errors, settings, small helpers).

Imports nothing of ours, so any package may import it without closing a loop.
"""

__version__ = "0.1.0"
