"""The web edge's defences for every page: security headers, a body size limit, ids that fit the
database, inputs without control characters, and links only to places that are safe to follow."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request
from markupsafe import Markup
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter, ValidationError

from telephony.signature import FORM_AS_SENT

# The largest id a BIGINT column holds; SQLite's integers stop there too.
MAX_ID = 2**63 - 1
DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024
# C0 controls but tab, line feed and carriage return (a note may span lines), DEL and C1 controls.
# PostgreSQL refuses NUL in text; nobody types the others.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# The pages run only the app's own scripts and styles; the nonce lets a template's own <style>
# (and the phone simulator's script) through, and nothing injected.
CSP = ("default-src 'self'; script-src 'self'{nonce}; style-src 'self'{nonce}; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: a database id, 1 to 2^63−1; anything else is not found (404)."""

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_ID)):  # before int(): Python refuses 4,300 digits with ValueError
            raise ValidationError()
        return super().to_python(value)


def database_id(value: str) -> int:
    """A form or query value as a database id; ValueError (so `.get(..., type=database_id)` gives
    the default) unless it is 1 to 2^63−1."""
    number = int(value)
    if not 1 <= number <= MAX_ID:
        raise ValueError(f"id out of range: {value!r}")
    return number


def without_control_characters(text: str) -> str:
    return CONTROL_CHARACTERS.sub("", text)


def safe_url(url: str | None) -> str:
    """The stored URL if it is https: or one of the app's own paths, else "" (render no link)."""
    url = (url or "").strip()
    if not url or CONTROL_CHARACTERS.search(url) or "\\" in url:
        return ""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.netloc:
        return url
    if not parts.scheme and not parts.netloc and url.startswith("/") and not url.startswith("//"):
        return url
    return ""


def csp_nonce() -> str:
    """This response's nonce for a template's own <style> or <script> element."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def nonced(markup: str) -> Markup:
    """Trusted markup (a chart's SVG) with this response's nonce on each of its <style> elements,
    and without style="…" attributes, which the policy would drop anyway (pygal's one hides an empty
    tooltip that its script, not sent, would fill)."""
    markup = re.sub(r'\sstyle="[^"]*"', "", str(markup))
    return Markup(re.sub(r"<style\b", lambda _: f'<style nonce="{csp_nonce()}"', markup))


def _cleaned(values: ImmutableMultiDict) -> ImmutableMultiDict:
    return ImmutableMultiDict([(without_control_characters(k), without_control_characters(v))
                               for k, v in values.items(multi=True)])


def _guard_request() -> None:
    """Refuse oversized bodies and control characters in the path; strip them from form and query
    values, keeping the form as sent for Twilio's signature, which covers what Twilio sent."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        abort(413)
    if CONTROL_CHARACTERS.search(request.path):
        abort(404)
    if any(CONTROL_CHARACTERS.search(k + v) for k, v in request.args.items(multi=True)):
        request.args = _cleaned(request.args)
    if request.mimetype in FORM_TYPES:
        # Keep the raw body too: the provider API reads it to check it against its OpenAPI document
        # (and answers 415), and parsing the form alone would consume it.
        request.get_data(cache=True, parse_form_data=False)
        form = request.form
        request.environ[FORM_AS_SENT] = form
        if any(CONTROL_CHARACTERS.search(k + v) for k, v in form.items(multi=True)):
            request.form = _cleaned(form)


def _add_headers(response):
    nonce = g.get("csp_nonce")
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP.format(nonce=f" 'nonce-{nonce}'" if nonce else ""))
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Staff pages, the portal, the API and the simulator's outbox all carry personal data.
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Install the edge's defences; call before any blueprint is registered (routes take the converter)."""
    app.url_map.converters["int"] = IdConverter
    if not app.config.get("MAX_CONTENT_LENGTH"):
        app.config["MAX_CONTENT_LENGTH"] = DEFAULT_MAX_BODY_BYTES
    app.before_request(_guard_request)
    app.after_request(_add_headers)
    app.jinja_env.filters["safe_url"] = safe_url
    app.jinja_env.filters["nonced"] = nonced
    app.jinja_env.globals["csp_nonce"] = csp_nonce
