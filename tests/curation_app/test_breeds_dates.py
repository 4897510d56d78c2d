"""The Breeds overview shows when the accepted images were uploaded and taken, by year."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from db.database import Database
from db.models import Image
from tests.factories import insert_image
from tests.fixtures.app import open_app
from tests.fixtures.evaluation import accept


def test_breeds_overview_shows_the_upload_years(app_env: Database) -> None:
    ids = [insert_image(app_env, "pug", seed=n) for n in range(3)]
    with app_env.session() as s:
        for year, image_id in zip((2019, 2025), ids, strict=False):
            s.execute(
                update(Image)
                .where(Image.id == image_id)
                .values(uploaded_at=datetime(year, 5, 1, tzinfo=UTC))
            )
        s.execute(update(Image).where(Image.id == ids[2]).values(indexed_at=datetime(2024, 1, 2)))
    for image_id in ids:
        accept(app_env, image_id)
    at = open_app("breeds.py", reviewer="ana")
    assert "Upload dates" in [h.value for h in at.subheader]
    chart = at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")
    assert chart, "no chart of the years"
    (caption,) = [c.value for c in at.caption if c.value.startswith("Accepted images by year")]
    assert "Upload date unknown: 1 of 3 (1 indexed by Openverse by 2024-01-02)." in caption
