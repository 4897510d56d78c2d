"""The crawler: image-search APIs → validation → dedup → the image store, and folder import.

``crawler.runner.run_crawl`` is the entry point; ``crawler.sources`` holds one module per API,
``crawler.pipelines`` the store pipeline, and ``validation``, ``dedup`` and ``queries`` the
policies as plain functions.
"""
