"""The password rule: long enough, not common, not built from the user's own names."""

from __future__ import annotations

import secrets

import pytest

from dispatcher.consoles.auth import password_problem


@pytest.mark.parametrize("password", [
    "12345678", "password", "password123", "1234567890", "qwertyuiop", "xiaoli", "xiaoli2024!",
    "xiaolixiaoli", "xiaoli123456", "Xiaoli2024", "zhou_laoshi_1", "short-Pw1",
])
def test_common_short_or_user_derived_passwords_are_refused(password):
    problem = password_problem(password, ["xiaoli", "zhou_laoshi"])
    assert problem is not None and "密码太弱" in problem and "password too weak" in problem


@pytest.mark.parametrize("password", ["long-enough-pw", "correct-horse", "operator-pw-123",
                                      "acceptance-supervisor-pw", "Lanzhou-river-7-bridges"])
def test_long_uncommon_passwords_are_accepted(password):
    assert password_problem(password, ["xiaoli", "小李"]) is None


def test_the_demo_datas_generated_passwords_are_accepted():
    from dispatcher.demo.commands import new_staff_password

    for _ in range(50):
        assert password_problem(new_staff_password(), ["operator", "话务员"]) is None


def test_a_very_long_password_is_judged_without_reading_all_of_it():
    assert password_problem("k" + secrets.token_urlsafe(3000), []) is None


def test_password_checks_run_in_another_thread_at_the_idle_cpu_priority():
    import os
    import threading

    from dispatcher.consoles.auth import at_lowest_priority, check_password, hash_password

    def priority_and_thread():
        me = threading.get_native_id()
        return os.sched_getscheduler(me), os.getpriority(os.PRIO_PROCESS, me), me

    policy, nice, thread = at_lowest_priority(priority_and_thread)
    assert policy == os.SCHED_IDLE and nice == 19 and thread != threading.get_native_id()
    assert os.sched_getscheduler(threading.get_native_id()) != os.SCHED_IDLE
    stored = hash_password("Yellow-river-at-dusk")
    assert check_password(stored, "Yellow-river-at-dusk") and not check_password(stored, "yellow-river")


def test_the_hosts_check_lock_lies_beside_a_sqlite_file_or_in_the_temp_directory(tmp_path):
    import tempfile

    from dispatcher.consoles.auth import host_check_lock_path

    assert host_check_lock_path(f"sqlite:///{tmp_path}/vnh.sqlite") == f"{tmp_path}/vnh.sqlite.sign-in.lock"
    one = host_check_lock_path("postgresql+psycopg://vnh@db/vnh")
    assert one.startswith(tempfile.gettempdir()) and one != host_check_lock_path("postgresql+psycopg://vnh@db/other")
