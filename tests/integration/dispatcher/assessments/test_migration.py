"""Migration 0023: every enrolled elder's disability level becomes their first assessment."""

from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import text

from dispatcher.db import make_engine
from dispatcher.migrate import alembic_config


def test_existing_elders_get_their_enrollment_level_as_a_first_assessment(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0022")
        for n, level in enumerate(("重度失能", "")):
            connection.execute(text(
                "INSERT INTO elders (id_number, name, gender, birth_date, address, street, community,"
                " elder_class, disability_level, is_living_alone, created_at) VALUES (:id, '老人', 'F',"
                " '1941-03-05', '城关区', '街道', '社区', '特困', :level, 0, '2025-03-01 02:00:00')"),
                {"id": f"62010219410305{n:03d}X", "level": level})
        command.upgrade(config, "0023")
        rows = connection.execute(text(
            "SELECT elder_id, level, assessed_on, valid_until, source, assessor FROM assessments"
        )).all()
        insured = connection.execute(text("SELECT is_insured FROM elders")).scalars().all()
    engine.dispose()
    (only,) = rows
    assert (only.elder_id, only.level, only.source, only.assessor) == (1, "重度失能", "enrollment", "登记表")
    assert str(only.assessed_on) == "2025-03-01"
    assert date.fromisoformat(str(only.valid_until)) > date.today()
    assert insured == [0, 0]
