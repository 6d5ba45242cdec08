"""`vnh simulate` starts, by default, on the first of last month: a month its reports can verify."""

from datetime import UTC, date, datetime

import pytest

from dispatcher.demo.simulate import first_of_last_month


@pytest.mark.parametrize(("now", "start"), [
    (datetime(2026, 12, 1, 4, 0, tzinfo=UTC), date(2026, 11, 1)),
    (datetime(2027, 1, 15, 4, 0, tzinfo=UTC), date(2026, 12, 1)),
    (datetime(2026, 3, 31, 20, 0, tzinfo=UTC), date(2026, 3, 1)),  # already 1 April in Lanzhou
])
def test_the_default_start_is_the_first_of_last_month(now, start):
    assert first_of_last_month(now) == start
