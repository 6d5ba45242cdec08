"""What the network says of a call handed to a person: ringing, talking or ended (issue 19).

Twilio reports on two legs. The caller's own call (the number's status callback, CallSid = the
hotline call) ends with completed, busy, failed, no-answer or canceled. The operator's leg (the
<Number statusCallback> of the <Dial>, ParentCallSid = the hotline call) rings, is answered and
completes. The desk reads the result from `hotline_calls.call_status`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.models import HotlineCall

RINGING, TALKING, ENDED = "ringing", "talking", "ended"
STATE_NAMES = {RINGING: "振铃中", TALKING: "通话中", ENDED: "已挂断"}
FINISHED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
# The operator's leg: these say a person picked up.
ANSWERED = frozenset({"in-progress", "answered"})
# Events the <Number> asks Twilio to report.
LEG_EVENTS = "initiated ringing answered completed"


def record_call_status(session: Session, call_sid: str, parent_sid: str, status: str) -> HotlineCall | None:
    """Note a status callback on the hotline call it concerns; None when it concerns no hotline call."""
    status = status.strip().lower()
    if parent_sid:
        call = session.scalar(select(HotlineCall).where(HotlineCall.call_sid == parent_sid))
        if call is None or call.call_status == ENDED:
            return call
        if status in ANSWERED:
            call.call_status = TALKING
        elif status in FINISHED and call.call_status == TALKING:
            call.call_status = ENDED  # the operator hung up after talking: the call is over
        return call
    call = session.scalar(select(HotlineCall).where(HotlineCall.call_sid == call_sid))
    if call is not None and status in FINISHED:
        call.call_status = ENDED
    return call


def desk_state(step: str | None, call_status: str | None) -> str:
    """Ringing, talking or ended, from the IVR's step and what the network reported."""
    if call_status == ENDED or step in ("done", "voicemail"):
        return ENDED
    if call_status == TALKING:
        return TALKING
    if step == "dialling":
        return RINGING
    return ENDED if step is None else RINGING
