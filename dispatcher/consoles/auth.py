"""Staff sign-in, password hashing, and the role check every page uses."""

from __future__ import annotations

from datetime import datetime
from functools import wraps

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.consoles import audit
from dispatcher.db import get_session
from dispatcher.models import StaffUser

ROLES = {
    "operator": "话务员",
    "supervisor": "质量监督员",
    "provider": "服务商员工",
    "bureau": "民政局",
    "admin": "管理员",
}

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(db: Session, *, username: str, password: str, role: str, display_name: str,
             provider_id: int | None, now: datetime) -> StaffUser:
    """Create a staff account; provider staff must name their provider, nobody else may."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if (role == "provider") != (provider_id is not None):
        raise ValueError("provider staff need --provider, and only they may have one")
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    if db.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise ValueError(f"user {username!r} exists already")
    user = StaffUser(username=username, display_name=display_name or username, role=role,
                     password_hash=hash_password(password), provider_id=provider_id, created_at=now)
    db.add(user)
    db.flush()
    return user


def role_required(*roles: str):
    """Let only signed-in staff of these roles (and admins) through; others get 403."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if user.role not in roles and user.role != "admin":
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def current_user() -> StaffUser | None:
    if "staff_user" not in g:
        user_id = session.get("user_id")
        user = get_session().get(StaffUser, user_id) if user_id else None
        g.staff_user = user if user is not None and user.is_active else None
    return g.staff_user



@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        db = get_session()
        now = current_app.extensions["vnh.clock"].now()
        username = request.form.get("username", "").strip()
        address = request.remote_addr or "-"
        if audit.is_locked_out(db, username, address, now):
            minutes = int(audit.FAILURE_WINDOW.total_seconds() // 60)
            flash(f"登录失败次数过多，请{minutes}分钟后再试")
            return render_template("login.html"), 429
        user = db.scalar(select(StaffUser).where(StaffUser.username == username))
        if user is not None and user.is_active and check_password(user.password_hash,
                                                                   request.form.get("password", "")):
            audit.clear_failures(db, username, address)
            db.commit()
            session.clear()
            session["user_id"] = user.id
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//")
                            else url_for("views.home"))
        audit.record_failure(db, username, address, now)
        db.commit()
        flash("用户名或密码错误")
    return render_template("login.html")


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))


def record_elder_view(elder_id: int) -> None:
    """Write who is looking at this elder's full record, from where and when (committed by the view)."""
    audit.record_view(get_session(), staff_user_id=current_user().id, elder_id=elder_id,
                      route=f"{request.endpoint} {request.path}", remote_addr=request.remote_addr,
                      now=current_app.extensions["vnh.clock"].now())


class SessionInterface(SecureCookieSessionInterface):
    """Mark the session cookie `Secure` when configured to, or whenever the request came over HTTPS
    (directly, or through the trusted proxy's X-Forwarded-Proto)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or (has_request_context() and request.is_secure))


def init_app(app: Flask) -> None:
    # Flask's defaults hold these keys already (SameSite unset, Secure off), so set, not setdefault.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = (app.config.get("SESSION_COOKIE_SECURE") is True
                                           or app.config["PUBLIC_URL"].startswith("https://"))
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(current_user=current_user, ROLES=ROLES)
