"""The migrations and the models describe the same schema."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dispatcher.db import make_engine
from dispatcher.schema import metadata


def test_the_migrated_database_matches_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    # SQLite cannot name or reflect some constraints the same way; only real drift is interesting.
    real = [d for d in differences if not (isinstance(d, tuple) and d[0] in ("add_fk", "remove_fk"))]
    assert real == []
