"""The collector pause nests, restores the previous state and survives exceptions."""

from __future__ import annotations

import gc
import threading

import pytest

from specloom.spec.gcpause import gc_paused


def test_pause_nests_and_restores() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the inner exit must not re-enable while the outer is inside"
    assert gc.isenabled()


def test_pause_keeps_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_pause_restores_after_an_exception() -> None:
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_overlapping_threads_leave_the_collector_on() -> None:
    both_inside = threading.Barrier(2)
    release_first = threading.Event()
    first_left = threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with gc_paused():
            both_inside.wait()
            release_first.wait()
        first_left.set()

    def second() -> None:
        both_inside.wait()
        with gc_paused():
            release_first.set()
            first_left.wait()  # the first thread has left; this one is still inside
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert seen == [False], "the collector came back on while a thread was still inside"
    assert gc.isenabled()
