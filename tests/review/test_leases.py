"""Leases on a clock the test moves: an image handed to one reviewer's window is nobody else's
until it expires or is released, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from db.database import Database
from review import leases
from tests.factories import insert_image

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=3)


def test_a_leased_image_is_held_until_it_expires(any_database: Database) -> None:
    a, b = (insert_image(any_database, "boxer", seed=n) for n in (1, 2))
    with any_database.session() as s:
        assert leases.acquire(s, "ana", [a, b], now=T0, ttl=TTL) == {a, b}
    with any_database.session() as s:
        # Bo asks for the same images a minute later: Ana still holds both.
        assert leases.acquire(s, "bo", [a, b], now=T0 + timedelta(minutes=1), ttl=TTL) == set()
        assert set(leases.leased_to_others(s, "bo", now=T0 + timedelta(minutes=1))) == {a, b}
        assert leases.leased_to_others(s, "ana", now=T0 + timedelta(minutes=1)) == []
    with any_database.session() as s:
        # Ana renews one of them; the other runs out and Bo gets it.
        later = T0 + timedelta(minutes=2)
        assert leases.acquire(s, "ana", [a], now=later, ttl=TTL) == {a}
        past_b = T0 + TTL + timedelta(seconds=1)
        assert leases.leased_to_others(s, "bo", now=past_b) == [a]
        assert leases.acquire(s, "bo", [a, b], now=past_b, ttl=TTL) == {b}
        assert leases.leased_to_others(s, "ana", now=past_b) == [b]


def test_the_end_of_a_lease_is_exact(any_database: Database) -> None:
    a = insert_image(any_database, "boxer", seed=1)
    with any_database.session() as s:
        leases.acquire(s, "ana", [a], now=T0, ttl=TTL)
    with any_database.session() as s:
        assert leases.leased_to_others(s, "bo", now=T0 + TTL - timedelta(seconds=1)) == [a]
        assert leases.leased_to_others(s, "bo", now=T0 + TTL) == []


def test_release_frees_only_the_holders_leases(any_database: Database) -> None:
    a, b = (insert_image(any_database, "boxer", seed=n) for n in (1, 2))
    with any_database.session() as s:
        leases.acquire(s, "ana", [a], now=T0, ttl=TTL)
        leases.acquire(s, "bo", [b], now=T0, ttl=TTL)
    with any_database.session() as s:
        leases.release(s, "ana", [a, b])  # Bo's lease on b is not Ana's to end
        assert leases.leased_to_others(s, "cy", now=T0) == [b]
        assert leases.acquire(s, "cy", [a], now=T0, ttl=TTL) == {a}


def test_purge_drops_only_ended_leases(any_database: Database) -> None:
    a, b = (insert_image(any_database, "boxer", seed=n) for n in (1, 2))
    with any_database.session() as s:
        leases.acquire(s, "ana", [a], now=T0, ttl=TTL)
        leases.acquire(s, "bo", [b], now=T0 + TTL, ttl=TTL)
    with any_database.session() as s:
        assert leases.purge_expired(s, now=T0 + TTL) == 1
        assert leases.leased_to_others(s, "cy", now=T0 + TTL) == [b]


def test_a_naive_clock_is_read_as_utc(any_database: Database) -> None:
    a = insert_image(any_database, "boxer", seed=1)
    with any_database.session() as s:
        leases.acquire(s, "ana", [a], now=T0.replace(tzinfo=None), ttl=TTL)
        assert leases.leased_to_others(s, "bo", now=T0 + timedelta(minutes=1)) == [a]
