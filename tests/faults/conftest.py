"""Fault tests run real `vnh serve` and `vnh scheduler` processes on a temporary SQLite file,
and on PostgreSQL too when VNH_TEST_DATABASE_URL is set."""
