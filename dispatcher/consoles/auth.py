"""Staff sign-in, password hashing, and the role check every page uses."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import tempfile
import threading
import unicodedata
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache, wraps

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
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

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

# The password rule: this long at least, and zxcvbn's score (0–4, an estimate of guesses needed that
# knows common passwords, words, keyboard runs, dates and the user's own names) at least this.
MIN_PASSWORD_LENGTH = 10
MIN_PASSWORD_SCORE = 3
# zxcvbn's time grows fast with length; past this, the first characters are judged.
_JUDGED_CHARS = 64
# Password checks one process runs at once (each takes ~0.2 s of both cores, at the idle CPU
# priority); more sign-ins at once get 429.
SIGN_IN_CHECKS = 1
# How long a sign-in waits for a free check before it is told the sign-in is busy.
_CHECK_WAIT_S = 0.05


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str, password: str) -> bool:
    """Whether the password matches; checked at the idle CPU priority (see `at_lowest_priority`)."""
    return at_lowest_priority(_verify, password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_idle_threads: tuple[int, ThreadPoolExecutor] | None = None
_idle_threads_lock = threading.Lock()


def at_lowest_priority(function, *args):
    """Call `function(*args)` in a thread of the idle CPU priority and wait for its result.

    An argon2 check takes ~0.2 s of both cores (its four lanes run in threads it starts, which
    inherit the priority), and the GIL is released meanwhile: at SCHED_IDLE it gets only the CPU
    the webhooks leave, and a waking webhook takes the core from it at once. Linux keeps the
    priority per thread, so the request's own thread, which could not raise its priority back, is
    left alone.
    """
    global _idle_threads
    with _idle_threads_lock:
        if _idle_threads is None or _idle_threads[0] != os.getpid():  # threads do not survive a fork
            _idle_threads = (os.getpid(), ThreadPoolExecutor(max_workers=4, thread_name_prefix="vnh-idle",
                                                             initializer=_lower_this_thread))
        executor = _idle_threads[1]
    return executor.submit(function, *args).result()


def _lower_this_thread() -> None:
    # SCHED_IDLE: a waking webhook preempts the check at once; nice 19 where that policy is missing.
    with contextlib.suppress(AttributeError, OSError):  # not Linux: the check runs at normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_IDLE, os.sched_param(0))


@cache
def _dummy_hash() -> str:
    """A hash no password matches, checked for unknown usernames so they cost what known ones do."""
    return at_lowest_priority(_hasher.hash, secrets.token_urlsafe(32))


def password_problem(password: str, user_inputs: list[str]) -> str | None:
    """Why this password is too weak for a staff account (in Chinese and English), or None."""
    judged = zxcvbn(password[:_JUDGED_CHARS], user_inputs=[i for i in user_inputs if i])
    if len(password) >= MIN_PASSWORD_LENGTH and judged["score"] >= MIN_PASSWORD_SCORE:
        return None
    return (f"密码太弱：至少{MIN_PASSWORD_LENGTH}个字符，不能是常见密码，也不能由用户名或姓名构成 "
            f"(password too weak: at least {MIN_PASSWORD_LENGTH} characters, not a common password, "
            "not built from the username or name)")


def add_user(db: Session, *, username: str, password: str, role: str, display_name: str,
             provider_id: int | None, now: datetime) -> StaffUser:
    """Create a staff account; provider staff must name their provider, nobody else may."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if (role == "provider") != (provider_id is not None):
        raise ValueError("provider staff need --provider, and only they may have one")
    if problem := password_problem(password, [username, display_name]):
        raise ValueError(problem)
    if db.scalar(select(StaffUser.id).where(StaffUser.username == username)):
        raise ValueError(f"user {username!r} exists already")
    user = StaffUser(username=username, display_name=display_name or username, role=role,
                     password_hash=hash_password(password), provider_id=provider_id, created_at=now)
    db.add(user)
    db.flush()
    return user


def change_password(db: Session, user: StaffUser, password: str) -> None:
    """Give this account a new password and end every session it has open."""
    if problem := password_problem(password, [user.username, user.display_name]):
        raise ValueError(problem)
    user.password_hash = hash_password(password)
    db.flush()
    end_sessions(db, user.id)


def end_sessions(db: Session, user_id: int) -> None:
    """End every session of this account: the version its cookies carry no longer matches."""
    db.execute(update(StaffUser).where(StaffUser.id == user_id)
               .values(session_version=StaffUser.session_version + 1))
    db.flush()


def same_site_path(target: str) -> str | None:
    """`target` as a path on this site, or None when a browser could read it as another site.

    Browsers drop tabs and newlines anywhere in a URL and read a backslash as a slash, so
    `/%09/evil.example` and `/%5Cevil.example` both lead away: strip control characters and spaces
    first, then refuse what is not a plain absolute path.
    """
    cleaned = "".join(ch for ch in target if not ch.isspace() and unicodedata.category(ch)[0] != "C")
    if not cleaned.startswith("/") or cleaned.startswith("//") or "\\" in cleaned:
        return None
    parts = urllib.parse.urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    return cleaned


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
        g.staff_user = (user if user is not None and user.is_active
                        and session.get("session_version") == user.session_version else None)
    return g.staff_user


def _busy():
    flash("登录繁忙，请稍后再试", "warning")
    return render_template("login.html"), 429, {"Retry-After": "1"}


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "POST":
        # A cap on checks at once, so a burst of sign-ins cannot take the cores from the webhooks:
        # one at a time in this process, and one at a time on this host.
        checks = current_app.extensions["vnh.password_checks"]
        if not checks.acquire(timeout=_CHECK_WAIT_S):
            return _busy()
        try:
            with _host_check_slot(current_app.extensions["vnh.password_check_lock"]) as free:
                return _sign_in() if free else _busy()
        finally:
            checks.release()
    return render_template("login.html")


@contextlib.contextmanager
def _host_check_slot(path: str | None):
    """Yield whether this process got the host's one password-check slot (an flock on `path`,
    shared by every worker process of this app on this host; None: no host-wide slot); never
    waits for it."""
    if path is None:
        yield True
        return
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def host_check_lock_path(database_url: str) -> str:
    """The lock file of the host's password-check slot, one per database: beside a SQLite file,
    else in the temp directory."""
    if database_url.startswith("sqlite:///") and len(database_url) > len("sqlite:///"):
        return database_url.removeprefix("sqlite:///").split("?", 1)[0] + ".sign-in.lock"
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"vnh-sign-in-{digest}.lock")


def _sign_in():
    db = get_session()
    now = current_app.extensions["vnh.clock"].now()
    username = request.form.get("username", "").strip()
    address = request.remote_addr or "-"
    # Counted (and committed) before the check: at most MAX_FAILURES checks in a window, however
    # many sign-ins arrive at once.
    attempts = audit.count_attempt(db, username, address, now)
    user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    db.commit()
    if attempts > audit.MAX_FAILURES:
        minutes = int(audit.FAILURE_WINDOW.total_seconds() // 60)
        flash(f"登录失败次数过多，请{minutes}分钟后再试", "error")
        return render_template("login.html"), 429
    # Outside any transaction: the check takes ~0.2 s and must hold no lock the hotline waits on.
    known = user is not None and user.is_active
    matches = check_password(user.password_hash if known else _dummy_hash(),
                             request.form.get("password", ""))
    if not (known and matches):
        flash("用户名或密码错误", "error")
        return render_template("login.html")
    audit.clear_attempts(db, username, address)
    db.commit()
    session.clear()
    session["user_id"] = user.id
    session["session_version"] = user.session_version
    return redirect(same_site_path(request.args.get("next", "")) or url_for("views.home"))


@bp.post("/logout")
def logout():
    user = current_user()
    if user is not None:
        end_sessions(get_session(), user.id)
        get_session().commit()
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
    app.extensions["vnh.password_checks"] = threading.BoundedSemaphore(
        app.config.get("SIGN_IN_CHECKS", SIGN_IN_CHECKS))
    app.extensions["vnh.password_check_lock"] = host_check_lock_path(app.config["DATABASE_URL"])
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(current_user=current_user, ROLES=ROLES)
