"""Reviewer passwords: salted hashes, constant-time checks, unknown names refused."""

from __future__ import annotations

import hashlib

import pytest

from review.identity import check_reviewer, hash_password, needs_rehash, verify_password


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


def test_new_hashes_use_600k_iterations_and_older_ones_still_verify() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("pbkdf2_sha256$600000$")
    assert verify_password("correct horse", stored) and not needs_rehash(stored)
    legacy = hash_password("correct horse", iterations=200_000)
    assert verify_password("correct horse", legacy)
    assert check_reviewer({"ana": legacy}, "ana", "correct horse")
    assert needs_rehash(legacy)  # named by `breedbench review` and at sign-in
    assert needs_rehash("plain text") and needs_rehash("pbkdf2_sha256$0$00$00")
    assert not verify_password("x", "pbkdf2_sha256$0$00$00")


def test_unknown_names_cost_what_the_configured_hashes_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rounds: list[int] = []
    real = hashlib.pbkdf2_hmac

    def counting(name: str, password: bytes, salt: bytes, iterations: int) -> bytes:
        rounds.append(iterations)
        return real(name, password, salt, iterations)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    reviewers = {"ana": hash_password("pw-ana-123", iterations=1000)}
    rounds.clear()
    assert not check_reviewer(reviewers, "nobody", "pw-ana-123")
    assert not check_reviewer(reviewers, "ana", "wrong")
    assert rounds == [1000, 1000]
