"""Crash on purpose at a named point, for the fault tests; inert unless VNH_FAULT is set.

`VNH_FAULT=before_send` kills the process (SIGKILL, as `kill -9` would) when it reaches
`crash_point("before_send", kind)`; `VNH_FAULT=before_send:call` only when sending a call. Commit points name a table a transaction inserted into:
`VNH_FAULT=after_commit:orders` dies just after the first commit that created an order.
"""

from __future__ import annotations

import os
import signal

ENV = "VNH_FAULT"
# The named points: where the fault tests kill a process.
POINTS = ("before_commit:TABLE", "after_commit:TABLE", "before_send[:sms|call]", "after_send[:sms|call]")


def crash_point(name: str, detail: str | None = None) -> None:
    """Die at once, with no cleanup, when VNH_FAULT names this point (or `name:detail`)."""
    wanted = os.environ.get(ENV)
    if wanted and (wanted == name or wanted == f"{name}:{detail}"):
        os.kill(os.getpid(), signal.SIGKILL)


def watch_commits(sessionmaker) -> None:
    """Give every session's commits crash points named by the tables they inserted into."""
    wanted = os.environ.get(ENV, "")
    if not wanted.startswith(("before_commit:", "after_commit:")):
        return
    from sqlalchemy import event

    @event.listens_for(sessionmaker, "after_flush")
    def _note_inserts(session, _context):
        session.info.setdefault("vnh.inserted", set()).update(
            type(obj).__tablename__ for obj in session.new)

    @event.listens_for(sessionmaker, "before_commit")
    def _before(session):
        for table in session.info.get("vnh.inserted", ()):
            crash_point(f"before_commit:{table}")

    @event.listens_for(sessionmaker, "after_commit")
    def _after(session):
        for table in session.info.pop("vnh.inserted", ()):
            crash_point(f"after_commit:{table}")

    @event.listens_for(sessionmaker, "after_rollback")
    def _forget(session):
        session.info.pop("vnh.inserted", None)
