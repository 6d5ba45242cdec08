"""The wellbeing call (关爱呼叫): 1 if well, 9 for help, straight to the operator desk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Gather, VoiceResponse

from dispatcher.config import Settings
from dispatcher.lifecycle import orders
from dispatcher.programmes import wellbeing
from telephony.twiml import say


def respond(session: Session, call_id: int, *, step: str, digits: str, answered_by: str,
            url: Callable[..., str], settings: Settings, now: datetime) -> VoiceResponse:
    """Answer one webhook of a wellbeing call; the step travels in the URL."""
    response = VoiceResponse()

    def speak(node, text):
        say(node, text, settings.voice, settings.speech_rate)

    call = session.get(wellbeing.WellbeingCall, call_id)
    if call is None:
        speak(response, "您好，这里是虚拟养老院。打扰您了，再见。")
    elif answered_by.startswith("machine") or answered_by == "fax":
        wellbeing.call_unanswered(session, call, settings, now)
    elif step != "answer":
        gather = Gather(input="dtmf", num_digits=1, timeout=8, method="POST", action=url(step="answer"))
        speak(gather, f"{orders.elder_title(call.elder, now)}您好，这里是虚拟养老院关爱电话。"
                      "一切都好请按1，需要帮助请按9。")
        response.append(gather)
        response.redirect(url(step="answer"), method="POST")
        return response
    elif digits in ("1", "9"):
        speak(response, wellbeing.record_wellbeing_answer(session, call, digits, settings, now))
        if digits == "9":
            dial = response.dial(timeout=25)
            for number in settings.operator_numbers:
                dial.number(number)
            return response
    else:
        # Silence or a stray key: the call counts as not reached, and is tried again.
        wellbeing.call_unanswered(session, call, settings, now)
        speak(response, "我们稍后再给您打电话，再见。")
    response.hangup()
    return response
