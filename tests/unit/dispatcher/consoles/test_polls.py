"""Reused answers: one computation per key and moment, shared by the threads asking."""

from __future__ import annotations

import threading
import time

from dispatcher.consoles.polls import Reused


def test_a_value_is_reused_within_its_moment_and_worked_out_again_after_it():
    asked, moment = [], [0.0]
    reused = Reused(0.2, timer=lambda: moment[0])
    assert reused.get("a", lambda: asked.append("a") or 1) == 1
    assert reused.get("a", lambda: asked.append("a") or 2) == 1  # within the moment: the first answer
    assert reused.get("b", lambda: asked.append("b") or 3) == 3  # another key is its own question
    moment[0] += 0.19
    assert reused.get("a", lambda: asked.append("a") or 5) == 1  # still within it
    moment[0] += 0.02
    assert reused.get("a", lambda: asked.append("a") or 4) == 4
    assert asked == ["a", "b", "a"]


def test_no_reuse_when_turned_off():
    reused, asked = Reused(0), []
    for n in range(3):
        reused.get("a", lambda n=n: asked.append(n))
    assert asked == [0, 1, 2]


def test_threads_asking_at_once_share_one_computation():
    reused, asked, answers = Reused(5), [], []

    def slow():
        asked.append(1)
        time.sleep(0.05)
        return "rows"

    threads = [threading.Thread(target=lambda: answers.append(reused.get("a", slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert asked == [1] and answers == ["rows"] * 8
