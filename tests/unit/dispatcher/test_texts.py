from datetime import UTC, date, datetime

import pytest

from dispatcher.texts import age_on, charge_words, honorific, when_words, yuan_words


@pytest.mark.parametrize(
    ("surname", "gender", "age", "title"),
    [
        ("王", "F", 70, "王阿姨"),
        ("王", "F", 80, "王奶奶"),
        ("李", "M", 70, "李大爷"),
        ("李", "M", 60, "李叔叔"),
        ("欧阳", "F", 90, "欧阳奶奶"),
    ],
)
def test_an_elder_is_addressed_by_surname_gender_and_age(surname, gender, age, title):
    assert honorific(surname, gender, age) == title


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(1950, 6, 15), date(2026, 6, 14), 75),
        (date(1950, 6, 15), date(2026, 6, 15), 76),
        (date(1948, 2, 29), date(2026, 2, 28), 77),
        (date(1948, 2, 29), date(2026, 3, 1), 78),
    ],
)
def test_age_counts_only_birthdays_already_reached(birth, today, age):
    assert age_on(birth, today) == age


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (4800, "48元"),
        (1650, "16.5元"),
        (1605, "16.05元"),
        (1000, "10元"),
        (5, "0.05元"),
        (0, "0元"),
        (100000, "1000元"),
        (1601, "16.01元"),
    ],
)
def test_an_amount_is_said_in_yuan_without_needless_zeros(fen, words):
    assert yuan_words(fen) == words


def test_a_free_service_is_said_to_be_free():
    assert charge_words(0, 0, 0) == "本次服务免费。"


def test_a_fully_subsidised_service_costs_the_elder_nothing():
    assert charge_words(4800, 4800, 0) == "服务费48元，政府全额补贴，您无需付费。"


def test_a_co_paid_service_names_the_elders_share():
    assert charge_words(3300, 1650, 1650) == "服务费33元，政府补贴16.5元，您自付16.5元。"


def test_the_visit_time_is_said_in_local_time():
    start = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)
    words = when_words(start, "今天下午")
    assert words.startswith("今天下午")
    assert words.endswith("（11月25日 14:00起）")
