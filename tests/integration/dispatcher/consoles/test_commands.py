"""`vnh user add` and `vnh user password` apply the password rule; a new password ends the sessions."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.cli import main
from dispatcher.models import StaffUser


def _vnh(app, monkeypatch, *args):
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    return CliRunner().invoke(main, list(args))


def _account(app, username):
    with app.extensions["vnh.sessionmaker"]() as session:
        return session.scalar(select(StaffUser).where(StaffUser.username == username))


def test_adding_a_user_with_a_common_password_is_refused_with_the_reason(app, monkeypatch):
    for weak in ("12345678", "password", "xiaoli", "xiaoli2024"):
        result = _vnh(app, monkeypatch, "user", "add", "xiaoli", "--role", "operator", "--password", weak)
        assert result.exit_code != 0 and "密码太弱" in result.output and "password too weak" in result.output
    assert _account(app, "xiaoli") is None


def test_a_new_password_by_command_replaces_the_old_and_ends_the_sessions(app, monkeypatch):
    assert _vnh(app, monkeypatch, "user", "add", "xiaoli", "--role", "operator",
                "--password", "long-enough-pw").exit_code == 0
    before = _account(app, "xiaoli")
    weak = _vnh(app, monkeypatch, "user", "password", "xiaoli", "--password", "xiaoli123")
    assert weak.exit_code != 0 and "密码太弱" in weak.output
    assert _account(app, "xiaoli").password_hash == before.password_hash

    result = _vnh(app, monkeypatch, "user", "password", "xiaoli", "--password", "Yellow-river-at-dusk")
    assert result.exit_code == 0, result.output
    after = _account(app, "xiaoli")
    assert after.password_hash != before.password_hash
    assert after.session_version == before.session_version + 1


def test_a_new_password_for_nobody_is_refused(app, monkeypatch):
    result = _vnh(app, monkeypatch, "user", "password", "nobody", "--password", "Yellow-river-at-dusk")
    assert result.exit_code != 0 and "no user 'nobody'" in result.output
