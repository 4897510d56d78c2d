"""The review app: reviewers accept or reject candidate images in the browser.

Pages in ``app_pages/`` only draw widgets; the logic they call lives in importable modules here
and takes a SQLAlchemy ``Session``, so it is tested without a browser.
"""
