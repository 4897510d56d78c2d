"""``breedbench decide`` and ``reviewer-password``: the scripted path records what the app does."""

from __future__ import annotations

from db.database import Database
from db.models import Decision, ImageStatus
from review.identity import verify_password
from tests.cli.helpers import cli, invoke
from tests.factories import image_row
from tests.fixtures.app import reviews_of


def test_decide_ids_with_reason(database: Database, add_images) -> None:
    a, b, c = add_images("boxer", 3)
    code, out = cli(database, "decide", "--reviewer", "ana", "reject", "--reason",
                     "drawing or toy", str(a), str(b))  # fmt: skip
    assert code == 0, out
    assert "Recorded 2 reject decision(s) by ana: now 2 rejected." in out
    rows = reviews_of(database)
    assert [(r.image_id, r.reviewer, r.decision, r.reason) for r in rows] == [
        (a, "ana", Decision.REJECT, "drawing_or_toy"),
        (b, "ana", Decision.REJECT, "drawing_or_toy"),
    ]
    assert image_row(database, c).status == ImageStatus.PENDING


def test_decide_all_pending_of_a_breed(database: Database, add_images) -> None:
    boxers = add_images("boxer", 3)
    (pug,) = add_images("pug", 1)
    code, out = cli(database, "decide", "--reviewer", "bo", "reject", str(boxers[0]))
    assert code == 0, out
    code, out = cli(database, "decide", "--reviewer", "bo", "accept", "--breed", "boxer",
                     "--all-pending")  # fmt: skip
    assert code == 0 and "Recorded 2 accept" in out, out
    assert [image_row(database, i).status for i in boxers] == [
        ImageStatus.REJECTED, ImageStatus.ACCEPTED, ImageStatus.ACCEPTED
    ]  # fmt: skip
    assert image_row(database, pug).status == ImageStatus.PENDING


def test_decide_errors_write_nothing(database: Database, add_images) -> None:
    (a,) = add_images("boxer", 1)
    cases = [
        (["accept", str(a)], "--reviewer is required"),
        (["--reviewer", "ana", "accept", str(a), "999999"], "no image with id 999999"),
        (["--reviewer", "ana", "reject", "--reason", "ugly", str(a)], "unknown reject reason"),
        (["--reviewer", "ana", "accept", "--breed", "wolf", "--all-pending"], "unknown breed"),
        (["--reviewer", "ana", "accept", "--all-pending"], "--all-pending needs --breed"),
        (["--reviewer", "ana", "accept"], "no images"),
        (["--reviewer", "ana", "accept", "--reason", "duplicate", str(a)], "for reject"),
    ]
    for args, message in cases:
        code, out = cli(database, "decide", *args)
        assert code == 1 and message in out and "Traceback" not in out, (args, out)
    assert reviews_of(database) == []


def test_reviewer_password_prints_a_secrets_line() -> None:
    result = invoke("reviewer-password", "ana", stdin="longpassword\nlongpassword\n")
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    name, stored = (part.strip().strip('"') for part in line.split(" = "))
    assert name == "ana" and verify_password("longpassword", stored)
    assert stored.startswith("pbkdf2_sha256$600000$")  # today's work factor
    short = invoke("reviewer-password", "ana", stdin="short\nshort\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output


def test_a_name_that_looks_like_markup_is_printed_as_itself(database: Database, add_images) -> None:
    """`bo[/i]` once crashed the output after the decision was written, so a retrying script
    recorded it twice: the decision is recorded once and the name printed literally."""
    (a,) = add_images("boxer", 1)
    code, out = cli(database, "decide", "--reviewer", "bo[/i]", "accept", str(a))
    assert code == 0, out
    assert "by bo[/i]:" in out
    assert [(r.image_id, r.reviewer) for r in reviews_of(database)] == [(a, "bo[/i]")]
    code, out = cli(database, "decide", "--reviewer", "[bold]:smile:", "reject", str(a))
    assert code == 0, out
    assert "by [bold]:smile:" in out
