"""Training slots go to projects in the order they asked: a project that releases a slot and asks again at once
queues behind the project already waiting (a plain semaphore lets it take the slot straight back)."""

from __future__ import annotations

import threading
import time

from labelsieve.service.slots import FairSlots


def wait_until(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_a_project_asking_again_queues_behind_the_one_already_waiting() -> None:
    slots = FairSlots(1)
    order: list[str] = []

    def quiet_project() -> None:
        with slots.held(2):
            order.append("quiet")

    other = threading.Thread(target=quiet_project)
    with slots.held(1):
        order.append("busy")
        other.start()
        wait_until(lambda: slots.waiting() == 1)  # the quiet project's round is queued
    with slots.held(1):  # the busy project went dirty during its round: it asks again at once
        order.append("busy again")
    other.join(30)
    assert order == ["busy", "quiet", "busy again"]
    stats = slots.stats()
    assert stats[2].waited == 1 and stats[1].rounds == 2 and stats[1].waited == 1


def test_two_slots_serve_two_projects_at_once_without_counting_a_wait() -> None:
    slots = FairSlots(2)
    inside = threading.Barrier(2, timeout=30)
    met: list[int] = []

    def project(pid: int) -> None:
        with slots.held(pid):
            inside.wait()  # both hold a slot at the same time, or the barrier breaks
            met.append(pid)

    threads = [threading.Thread(target=project, args=(pid,)) for pid in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(met) == [1, 2], "both rounds held a slot at the same time"
    assert all(s.waited == 0 and s.rounds == 1 for s in slots.stats().values())


def test_background_waits_for_a_coming_queued_or_training_round_and_a_released_slot_serves_the_next() -> None:
    slots = FairSlots(1)
    assert slots.quiet()
    with slots.expect(1) as coming:  # a round refreshing its pool: background work waits from now
        assert not slots.quiet() and not slots.wait_quiet(0.01)
        with slots.held(1, coming) as slot:
            assert not slots.quiet()  # training
            slot.release()  # ranked: the durable writes follow without the slot
            granted = threading.Event()

            def other() -> None:
                with slots.held(2):
                    granted.set()

            thread = threading.Thread(target=other)
            thread.start()
            assert granted.wait(10), "the released slot did not serve the next project's round"
            thread.join(10)
            slot.release()  # twice is once
    assert slots.quiet() and slots.wait_quiet(0.01)
    assert slots.stats()[2].rounds == 1
