"""``breedbench screen`` and ``breedbench references`` as a user types them."""

from __future__ import annotations

from db.database import Database
from tests.cli.helpers import cli
from tests.factories import insert_image
from tests.fixtures.assist import accepted_images
from tests.fixtures.evaluation import accept, lite_spec, register
from tests.modelkit import TinyModels, class_jpeg


def test_screen_then_evaluate_warns(database: Database, tiny_models: TinyModels) -> None:
    ids = [insert_image(database, "pug", data=class_jpeg(1, 4, i, 48, 40)) for i in range(4)]
    register(database, tiny_models.sub_float, lite_spec(tiny_models))
    code, out = cli(database, "screen", "tiny:1", "--breed", "pug", width=200)
    assert code == 0, out
    assert "Screened by tiny:1: 4 pending images" in out
    assert "likely not a dog" in out and "model disagrees" in out
    assert "dog score = the model's top probability (a breeds-only model)" in out
    assert "Recorded screening #1" in out
    for image_id in ids:
        accept(database, image_id)
    code, out = cli(database, "evaluate", "tiny:1", width=200)
    assert code == 0, out
    assert (
        "Warning: 4 of the 4 images were screened before review by tiny:1 (the same version)" in out
    )


def test_screen_errors_are_one_line(database: Database, tiny_models: TinyModels) -> None:
    register(database, tiny_models.sub_float, lite_spec(tiny_models))
    code, out = cli(database, "screen", "tiny:1")
    assert code == 1 and out.strip() == "Error: no pending images to screen"
    code, out = cli(database, "screen", "tiny:1", "--breed", "wolf")
    assert code == 1 and "Error: unknown breed(s): wolf" in out


def test_references_pin_list_unpin(database: Database) -> None:
    ids = accepted_images(database, "norfolk_terrier", 3)
    norwich = accepted_images(database, "norwich_terrier", 1, seed=50)
    pending = insert_image(database, "norfolk_terrier", seed=99)
    code, out = cli(database, "references", "norfolk_terrier", "--pin", pending)
    assert code == 1
    assert out.strip() == (
        f"Error: image #{pending} is pending, not accepted: only accepted images can be references"
    )
    code, out = cli(database, "references", "norfolk_terrier", "--pin", ids[2], "--reviewer", "ana")
    assert code == 0, out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(tuple("│|"))]
    table = [r for r in rows if any(c.isdigit() for c in r[1])]
    assert [r[1] for r in table] == [str(ids[2]), str(ids[0]), str(ids[1])]
    assert "yes" in table[0] and "ana" in table[0]
    assert f"norwich_terrier: #{norwich[0]}" in out and "Look-alike breeds (built-in)" in out
    code, out = cli(database, "references", "norfolk_terrier", "--unpin", ids[2])
    assert code == 0 and "yes" not in out
    code, out = cli(database, "references", "wolf")
    assert code == 1 and "Error: unknown breed 'wolf'" in out
