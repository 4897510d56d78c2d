"""Sign-in throttling on a stepped clock: lock-out after repeated failures, doubling, forgetting."""

from __future__ import annotations

from review.throttle import SignInThrottle
from tests.fixtures.app import SteppedClock


def _throttle(clock: SteppedClock) -> SignInThrottle:
    return SignInThrottle(max_failures=5, window=300, lockout=30, max_lockout=120, clock=clock)


def test_five_failures_within_the_window_lock_the_key_out() -> None:
    clock = SteppedClock()
    throttle = _throttle(clock)
    ana = [("name", "ana")]
    for _ in range(4):
        assert throttle.failure(ana) == 0
        clock.now += 10
    assert throttle.retry_after(ana) == 0
    assert throttle.failure(ana) == 30  # the fifth
    clock.now += 12.5
    assert throttle.retry_after(ana) == 18  # whole seconds, rounded up
    assert throttle.retry_after([("name", "bo")]) == 0  # other names are not affected
    clock.now += 18
    assert throttle.retry_after(ana) == 0


def test_failures_outside_the_window_do_not_count() -> None:
    clock = SteppedClock()
    throttle = _throttle(clock)
    for _ in range(20):
        assert throttle.failure([("name", "ana")]) == 0
        clock.now += 100  # at most 3 failures in any 300 s


def test_lockouts_double_up_to_the_cap_and_are_forgotten_after_quiet() -> None:
    clock = SteppedClock()
    throttle = _throttle(clock)
    key = [("client", "203.0.113.7")]

    def lock_out() -> int:
        for _ in range(4):
            throttle.failure(key)
        wait = throttle.failure(key)
        clock.now += wait
        return wait

    assert [lock_out() for _ in range(4)] == [30, 60, 120, 120]
    clock.now += 3601  # an hour without a failure
    assert lock_out() == 30


def test_any_locked_key_refuses_and_success_clears_only_the_given_keys() -> None:
    clock = SteppedClock()
    throttle = _throttle(clock)
    client = ("client", "203.0.113.7")
    for i in range(5):  # one client guessing five names
        throttle.failure([("name", f"n{i}"), client])
    assert throttle.retry_after([("name", "ana"), client]) == 30
    throttle.success([("name", "n4")])
    assert throttle.retry_after([client]) == 30  # a sign-in does not clear the address
    for _ in range(3):
        throttle.failure([("name", "ana")])
    throttle.success([("name", "ana")])
    for _ in range(4):
        assert throttle.failure([("name", "ana")]) == 0  # counting starts again


def test_quiet_keys_are_dropped() -> None:
    clock = SteppedClock()
    throttle = _throttle(clock)
    for i in range(100):
        throttle.failure([("name", f"guess{i}")])
    clock.now += 3601
    throttle.failure([("name", "last")])
    assert len(throttle._records) == 1
