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


def test_a_community_workers_account_is_added_bound_to_its_community_and_recorded(app, monkeypatch, make_elder):
    import json

    from dispatcher.consoles.audit import StaffChange

    make_elder(street="东岗街道", community="雁园社区")
    result = _vnh(app, monkeypatch, "user", "add", "yanyuan", "--role", "operator", "--street", "东岗街道",
                  "--community", "雁园社区", "--password", "long-enough-pw")
    assert result.exit_code == 0, result.output
    assert "东岗街道雁园社区" in result.output
    account = _account(app, "yanyuan")
    assert (account.street, account.community) == ("东岗街道", "雁园社区")
    with app.extensions["vnh.sessionmaker"]() as session:
        (change,) = session.scalars(select(StaffChange)).all()
    assert change.action == "add" and change.changed_by is None
    assert json.loads(change.after)["community"] == "雁园社区" and "argon2" not in change.after


def test_an_account_bound_to_a_community_nobody_lives_in_or_without_its_street_is_refused(app, monkeypatch, make_elder):
    make_elder(street="东岗街道", community="雁园社区")
    typo = _vnh(app, monkeypatch, "user", "add", "w1", "--role", "operator", "--street", "东岗街道",
                "--community", "雁园", "--password", "long-enough-pw")
    assert typo.exit_code != 0 and "community" in typo.output and "东岗街道雁园" in typo.output
    alone = _vnh(app, monkeypatch, "user", "add", "w2", "--role", "operator", "--community", "雁园社区",
                 "--password", "long-enough-pw")
    assert alone.exit_code != 0 and "street" in alone.output
    provider = _vnh(app, monkeypatch, "user", "add", "w3", "--role", "admin", "--street", "东岗街道",
                    "--password", "long-enough-pw")
    assert provider.exit_code != 0 and "street" in provider.output
    assert [_account(app, n) for n in ("w1", "w2", "w3")] == [None, None, None]
