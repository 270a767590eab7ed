"""Sign-in rules with no clock and no server: sessions expire, the throttle locks and lifts."""

from __future__ import annotations

import itertools

from recorder.console.auth import Limit, SessionStore, Throttle, same_token
from recorder.console.passwords import check_new_password, hash_password, needs_rehash, verify_password


def _tokens() -> itertools.count[int]:
    return itertools.count(1)


def test_a_session_expires_when_idle_and_at_its_absolute_limit() -> None:
    numbers = _tokens()
    store = SessionStore(idle_s=100, max_s=250)
    key, signed = store.create("alice", "auditor", now=0, token=lambda: f"t{next(numbers)}")
    assert signed.csrf != key
    assert store.get(key, now=90) is not None  # seen: idle timer restarts
    assert store.get(key, now=180) is not None
    assert store.get(key, now=260) is None  # absolute limit, however active
    key2, _ = store.create("alice", "auditor", now=300, token=lambda: f"t{next(numbers)}")
    assert store.get(key2, now=401) is None  # idle
    assert store.get(None, now=0) is None and store.get("", now=0) is None


def test_sign_out_and_the_session_limit_drop_the_stalest() -> None:
    numbers = _tokens()
    store = SessionStore(limit=2)
    a, _ = store.create("a", "auditor", now=0, token=lambda: f"t{next(numbers)}")
    b, _ = store.create("b", "auditor", now=1, token=lambda: f"t{next(numbers)}")
    store.get(a, now=2)
    c, _ = store.create("c", "auditor", now=3, token=lambda: f"t{next(numbers)}")
    assert store.get(b, now=3) is None and store.get(a, now=3) is not None and store.get(c, now=3) is not None
    store.drop_user("a")
    assert store.get(a, now=4) is None


def test_five_failures_lock_the_user_key_until_the_lockout_passes() -> None:
    throttle = Throttle({"user": Limit(5, window_s=60, lockout_s=300), "addr": Limit(20, 60, 300)})
    keys = ["user:alice", "addr:10.0.0.1"]
    for t in range(4):
        throttle.failed(keys, now=t)
        assert throttle.retry_after(keys, now=t) == 0
    throttle.failed(keys, now=4)
    assert throttle.retry_after(keys, now=5) == 299
    assert throttle.retry_after(["user:bob", "addr:10.0.0.1"], now=5) == 0
    assert throttle.retry_after(keys, now=304) == 0


def test_failures_outside_the_window_do_not_add_up_and_success_clears_the_user() -> None:
    throttle = Throttle({"user": Limit(3, window_s=10, lockout_s=100), "addr": Limit(100, 10, 100)})
    keys = ["user:alice", "addr:x"]
    throttle.failed(keys, now=0)
    throttle.failed(keys, now=1)
    throttle.failed(keys, now=20)  # the first two are out of the window
    assert throttle.retry_after(keys, now=21) == 0
    throttle.failed(keys, now=22)
    throttle.succeeded("user:alice")
    throttle.failed(keys, now=23)
    assert throttle.retry_after(keys, now=23) == 0


def test_an_address_guessing_many_names_is_locked() -> None:
    throttle = Throttle({"user": Limit(5, 60, 300), "addr": Limit(20, 60, 300)})
    for i in range(20):
        throttle.failed([f"user:guess{i}", "addr:10.0.0.9"], now=i)
    assert throttle.retry_after(["user:sam", "addr:10.0.0.9"], now=20) > 0
    assert throttle.retry_after(["user:sam", "addr:10.0.0.10"], now=20) == 0


def test_tokens_compare_only_when_both_are_present() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd")
    assert not same_token(None, None) and not same_token("", "") and not same_token("abc", None)


def test_passwords_hash_with_argon2id_and_verify() -> None:
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$") and "correct" not in hashed
    assert verify_password(hashed, "correct horse battery")
    assert not verify_password(hashed, "correct horse batterY")
    assert not verify_password("not a hash", "correct horse battery")
    assert not needs_rehash(hashed)


def test_short_and_huge_passwords_are_refused() -> None:
    import pytest

    from recorder.console.passwords import WeakPassword

    with pytest.raises(WeakPassword, match="at least 12"):
        check_new_password("short")
    with pytest.raises(WeakPassword, match="at most 1024"):
        check_new_password("x" * 1025)
    assert not verify_password(hash_password("a" * 12), "a" * 2000)
