"""Reviewer passwords: salted hashes, constant-time checks, unknown names refused."""

from __future__ import annotations

from review.identity import check_reviewer, hash_password, verify_password


def test_password_hash_round_trip() -> None:
    stored = hash_password("correct horse", iterations=1000)
    assert stored.startswith("pbkdf2_sha256$1000$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert hash_password("x", iterations=1000) != hash_password("x", iterations=1000)  # salted


def test_check_reviewer() -> None:
    reviewers = {"ana": hash_password("s3cret-pass", iterations=1000)}
    assert check_reviewer(reviewers, "ana", "s3cret-pass")
    assert not check_reviewer(reviewers, "ana", "nope")
    assert not check_reviewer(reviewers, "bo", "s3cret-pass")
    assert not check_reviewer({"ana": "plain text"}, "ana", "plain text")
    assert not check_reviewer({"ana": "md5$1$00$00"}, "ana", "x")
