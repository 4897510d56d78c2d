"""Storage shared by every stage: the SQLAlchemy models, migrations, the image store and the
small functions that hand plain data to the crawler, the review app and the evaluator."""
