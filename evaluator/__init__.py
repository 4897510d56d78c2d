"""Evaluate model versions on the accepted images: register → preprocess → run → measure → report.

The public API other parts call: ``registry.register_model`` / ``registry.get_version``,
``pipeline.evaluate``, ``results`` (read-only dataclasses for the app), ``compare.compare_runs``.
"""
