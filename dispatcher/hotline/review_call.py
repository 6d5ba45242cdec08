"""The callback-review call (回访): did the worker come, and how satisfied was the elder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import Gather, VoiceResponse

from dispatcher.config import Settings
from dispatcher.lifecycle import orders, reviews
from dispatcher.lifecycle.family import review_contact
from dispatcher.lifecycle.reviews import refresh_provider_quality, review_call_ended
from dispatcher.models import CallbackReview
from telephony.twiml import LANGUAGE, say


def respond(session: Session, review_id: int, *, step: str, tries: int, digits: str,
            url: Callable[..., str], voice: str | None, now: datetime, settings: Settings,
            answered_by: str = "", recording_url: str = "") -> VoiceResponse:
    """Answer one webhook of a review call; the step travels in the URL, so replays are harmless."""
    response = VoiceResponse()
    review = session.get(CallbackReview, review_id)
    if review is None:
        say(response, "您好，这里是虚拟养老院。打扰您了，再见。", voice)
        response.hangup()
        return response
    order = review.order
    if answered_by.startswith("machine") or answered_by == "fax":
        # A voicemail greeting answered: hang up and try again later, like no answer.
        review_call_ended(session, review.id, "voicemail", settings, now)
        response.hangup()
        return response
    if step == "ask":
        contact = review_contact(order.elder)
        if contact is not None:
            return _gather(response, url(step="came"), voice,
                           f"{contact.name}您好，这里是虚拟养老院回访。服务人员最近上门为{order.elder.name}提供了"
                           f"{order.item.name}，服务人员来了吗？来了请按1，没来请按2。")
        title = orders.elder_title(order.elder, now)
        return _gather(response, url(step="came"), voice,
                       f"{title}您好，这里是虚拟养老院回访。服务人员最近上门为您提供了{order.item.name}，"
                       "服务人员来了吗？来了请按1，没来请按2。")
    if step == "came":
        if digits in ("1", "2"):
            reviews.record_review_answer(session, review, digits == "1", now,
                                        settings.review_sample_share, settings.plan_review_every_days)
            refresh_provider_quality(session, review, settings, now)
            if digits == "2":
                say(response, "谢谢您告诉我们，我们会尽快核实处理。再见。", voice)
                response.hangup()
                return response
            return _gather(response, url(step="rating"), voice,
                           "请为本次服务打分，非常满意请按5，很不满意请按1。")
        return _retry(response, url(step="came", **{"try": tries + 1}), tries, voice,
                      "服务人员来了吗？来了请按1，没来请按2。")
    if step == "rating":
        if len(digits) == 1 and digits in "12345":
            reviews.record_review_rating(session, review, int(digits), now)
            refresh_provider_quality(session, review, settings, now)
            say(response, "感谢您的评价。还有什么想说的，请在提示音后说，说完请挂机；没有请直接挂机。", voice)
            response.record(action=url(step="comment"), method="POST", max_length=60, timeout=4,
                            play_beep=True, finish_on_key="#")
            return response
        return _retry(response, url(step="rating", **{"try": tries + 1}), tries, voice,
                      "请按1到5之间的数字为本次服务打分。")
    if step == "comment":
        if recording_url and review.comment_url is None:
            review.comment_url = recording_url[:500]
        say(response, "谢谢，祝您身体健康，再见。", voice)
        response.hangup()
        return response
    say(response, "谢谢，再见。", voice)
    response.hangup()
    return response


def _gather(response: VoiceResponse, action: str, voice: str | None, text: str) -> VoiceResponse:
    gather = Gather(input="dtmf", num_digits=1, action=action, method="POST", timeout=8,
                    language=LANGUAGE)
    say(gather, text, voice)
    response.append(gather)
    response.redirect(action, method="POST")
    return response


def _retry(response: VoiceResponse, action: str, tries: int, voice: str | None,
           text: str) -> VoiceResponse:
    if tries >= 1:
        say(response, "我们稍后再联系您，再见。", voice)
        response.hangup()
        return response
    return _gather(response, action, voice, "没有听清。" + text)
