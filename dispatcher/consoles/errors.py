"""Error pages in Chinese, in the app's layout, with a way back; JSON for machine paths.

Werkzeug's own pages ("Not Found", "The CSRF token is invalid") are English and bare: every HTTP
error a person can meet is answered here instead. The provider API keeps its own JSON handlers
(providers/api.py), which take precedence for its paths; the other machine paths (webhooks, the
simulator's API, the console's polling) get the same JSON shape from here.
"""

from __future__ import annotations

import logging
import re

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from dispatcher.consoles.auth import same_site_path

log = logging.getLogger(__name__)

# code → (title, what happened and what to do), as a person reads them.
MESSAGES = {
    400: ("请求有误", "提交的内容不完整或格式不对。请返回上一页检查后再试。"),
    403: ("没有权限", "您的账号没有打开这个页面的权限。如需使用，请联系管理员。"),
    404: ("没有找到", "没有这个页面，或者要找的记录不存在（也可能不在您的区域内）。请检查网址。"),
    405: ("不支持此操作", "这个页面不接受这种打开方式。请从页面上的链接或按钮进入。"),
    413: ("内容过大", "提交的内容或文件超过了上限。请缩小后再试。"),
    429: ("请求过于频繁", "请稍等片刻再试。"),
    503: ("系统繁忙", "数据库暂时繁忙或连不上，刚才的操作没有完成，也没有保存任何改动。请稍等几秒后再试。"),
    500: ("系统出错", "系统内部出错，已记录下来。请稍后再试；如仍出错，请联系管理员。"),
}
CSRF_TITLE = "页面已过期，请重新提交"
CSRF_TEXT = "这个页面打开太久，或您已退出登录，刚才提交的内容没有保存。请返回页面，刷新后重新填写提交。"
# Seconds a page or a poll is told to wait before asking again when the database is away.
DATABASE_RETRY_AFTER_S = 2
_CJK = re.compile(r"[\u4e00-\u9fff]")
# Paths read by programs, not people: they get JSON, never a page.
_MACHINE_PREFIXES = ("/api/", "/telephony/", "/simulator/api/", "/simulator/outbox", "/healthz")


def wants_json() -> bool:
    path = request.path
    return (path.startswith(_MACHINE_PREFIXES) or path.endswith(".json")
            or request.accept_mimetypes.best == "application/json")


def _rollback() -> None:
    from dispatcher.db import get_session

    try:
        get_session().rollback()
    except Exception:  # noqa: BLE001 - the database may be why we are here
        log.exception("rollback after an error failed")


def _detail(exc: HTTPException) -> str:
    """The view's own explanation when it wrote one in Chinese (`abort(400, description="请选择…")`)."""
    text = exc.description or ""
    return text if _CJK.search(text) and exc.code != 500 else ""


def _back_url() -> str:
    """The page the person came from, if it is one of ours; else nothing (the layout offers home)."""
    referrer = request.referrer or ""
    host = request.host_url.rstrip("/")
    if referrer.startswith(host + "/"):
        return same_site_path(referrer[len(host):]) or ""
    return ""


def _headers(exc: HTTPException) -> dict:
    # Keep Allow (405) and Retry-After (429); the body's type is ours.
    return {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}


def error_page(exc: HTTPException):
    code = exc.code or 500
    csrf = isinstance(exc, CSRFError)
    title, text = (CSRF_TITLE, CSRF_TEXT) if csrf else MESSAGES.get(code, MESSAGES[400 if code < 500 else 500])
    _rollback()
    if wants_json():
        error = "csrf_expired" if csrf else (exc.name or "error").lower().replace(" ", "_")
        return jsonify(error=error, message=title + "。" + text), code, _headers(exc)
    try:
        body = render_template("errors/error.html", code=code, title=title, text=text,
                               detail=_detail(exc), back=_back_url(), csrf=csrf)
    except Exception:  # noqa: BLE001 - the layout itself needs the database; say it plainly without
        log.exception("error page could not be rendered")
        body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}'
                f'</title></head><body><header>虚拟养老院 服务调度平台</header><main><h1>{escape(title)}</h1>'
                f'<p>{escape(text)}</p><p><a href="/">返回首页</a></p></main></body></html>')
    return body, code, _headers(exc)


def _unhandled(exc: InternalServerError):
    original = getattr(exc, "original_exception", None)
    if original is not None:
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
    return error_page(exc)


def _database_away(exc: Exception):
    """A busy SQLite file (its write lock not free within VNH_DB_WAIT_S), a PostgreSQL server that
    does not answer, or a pool with no connection free: 503 and Retry-After, with nothing
    half-saved (the transaction is rolled back), not an "unhandled error" 500. The webhooks answer
    their own safe goodbye before this is reached."""
    log.warning("database busy or unavailable on %s %s: %s", request.method, request.path,
                type(getattr(exc, "orig", None) or exc).__name__)
    unavailable = ServiceUnavailable(retry_after=DATABASE_RETRY_AFTER_S)
    return error_page(unavailable)


def init_app(app: Flask) -> None:
    """Answer every HTTP error with a Chinese page (or JSON); register before the provider API,
    which keeps JSON for its unmatched URLs by wrapping this handler."""
    # The CSRF token lives as long as the signed-in session (Flask-WTF's default is one hour, after
    # which a form left open over lunch was refused with an English page).
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    app.register_error_handler(HTTPException, error_page)
    app.register_error_handler(InternalServerError, _unhandled)
    app.register_error_handler(OperationalError, _database_away)
    app.register_error_handler(PoolTimeout, _database_away)
