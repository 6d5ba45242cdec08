"""The hotline's steps that are not a booking: family members, workers, after hours, a person, a message."""

from __future__ import annotations

from sqlalchemy import select

from dispatcher import texts
from dispatcher.hotline.steps import MAX_FAILURES, STEP_NAMES, Reply, Turn
from dispatcher.lifecycle import attendance, tasks
from dispatcher.lifecycle.family import family_member_by_phone
from dispatcher.lifecycle.proof import device_hash
from dispatcher.models import ElderPhone, HotlineCall, Order
from dispatcher.programmes.no_show import report_no_show
from telephony.outbox import enqueue_notice


class PeopleSteps:
    """Mixed into `Hotline`: family members, workers checking in, voicemail and the way to a person."""

    # -- a family member reports that nobody came ------------------------------------------------
    def _is_family(self, call: HotlineCall, *, ask: bool = False) -> bool:
        if call.data.get("family"):
            return True
        return ask and family_member_by_phone(self.session, call.caller) is not None

    def _family_no_show(self, call: HotlineCall) -> Reply:
        call.step = "done"
        return Reply(say=[report_no_show(self.session, call.caller, self.settings, self.now) + "再见。"], hangup=True)

    # -- a worker checks in or out from the elder's phone ----------------------------------------
    def _worker_starts(self, call: HotlineCall) -> Reply:
        call.step = "worker_code"
        call.data = {**call.data, "failures": 0}
        return self._prompt(call)

    def _on_worker_code(self, call: HotlineCall, turn: Turn) -> Reply:
        code = turn.digits.strip("#")
        order = self.session.scalar(
            select(Order).join(ElderPhone, ElderPhone.elder_id == Order.elder_id)
            .where(Order.job_code == code, Order.state.in_(("accepted", "in_progress")),
                   ElderPhone.phone == call.caller)
        )
        if order is None:
            # Caller ID proves the place: the code must belong to an elder of this phone.
            return self._fail(call, "工单号不对，或不是在老人家中拨打。", "worker", "服务人员工单号两次无效")
        if order.item.place == "venue":
            # At a canteen or a centre the elder's home phone proves nothing about the place (issue 17).
            call.step = "done"
            return Reply(say=[f"这项服务在{order.item.venue or '服务场所'}进行，不能用老人家里的电话签到。"
                              "请服务人员用登记的手机发短信或在服务商网页签到。再见。"], hangup=True)
        call.step = "worker_id"
        call.data = {**call.data, "order_id": order.id, "failures": 0}
        return self._prompt(call)

    def _on_worker_id(self, call: HotlineCall, turn: Turn) -> Reply:
        worker = turn.digits.strip("#")
        if not worker.isdigit() or not 3 <= len(worker) <= 11:  # a work number, or the worker's mobile
            return self._fail(call, "工号不对。", "worker", "服务人员工号两次无效")
        call.step = "worker_action"
        call.data = {**call.data, "worker": worker, "failures": 0}
        return self._prompt(call)

    def _on_worker_action(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.digits not in ("1", "2"):
            return self._fail(call, "按键无效。", "invalid", "连续两次按键无效")
        order = self.session.get(Order, call.data["order_id"])
        # Caller ID proved the place when the job code was taken (an elder's phone only).
        visit_by_phone = {"source": "phone", "phone": call.caller, "worker": call.data["worker"],
                          "elder_phone": True, "device": device_hash("phone", call.caller)}
        if turn.digits == "1":
            outcome = attendance.check_in(self.session, order, order.provider_id, "phone", self.now,
                                      evidence=visit_by_phone, settings=self.settings)
        else:
            outcome = attendance.check_out(self.session, order, order.provider_id, "phone", self.policy,
                                       self.settings, self.now, evidence=visit_by_phone)
        call.step = "done"
        return Reply(say=[outcome.message.replace("工单", "工单号") + "再见。"], hangup=True)

    # -- after hours, operators and voicemail ---------------------------------------------------
    def _on_after_hours(self, call: HotlineCall, turn: Turn) -> Reply:
        return self._voicemail(call, "after_hours", "夜间来电留言")

    def _voicemail(self, call: HotlineCall, kind: str, reason: str) -> Reply:
        call.step = "voicemail"
        call.data = {**call.data, "voicemail_kind": kind, "voicemail_reason": reason}
        return Reply(say=["请在提示音后说出您的姓名和需要，说完请挂机，我们会尽快给您回电。"], record=True)

    def _after_recording(self, call: HotlineCall, turn: Turn) -> Reply:
        call.step = "done"
        task = tasks.open_task(self.session, kind=call.data.get("voicemail_kind", "voicemail"),
                                reason=call.data.get("voicemail_reason", "留言"),
                                dedupe_key=f"call:{call.call_sid}", elder_id=call.elder_id,
                                call_sid=call.call_sid, caller=call.caller, now=self.now)
        if turn.recording_url and not task.recording_url:
            task.recording_url = turn.recording_url[:500]
        return Reply(say=["留言已收到，我们会尽快给您回电。再见。"], hangup=True)

    def _after_dial(self, call: HotlineCall, turn: Turn) -> Reply:
        if turn.dial_status == "completed":
            call.step = "done"
            return Reply(hangup=True)
        fallback = self.settings.emergency_fallback_number
        if call.data.get("emergency") and fallback and not call.data.get("fallback_tried"):
            call.data = {**call.data, "fallback_tried": True}
            return Reply(say=["正在继续为您转接。"], dial=[fallback])
        return self._voicemail(call, call.data.get("dial_kind", "voicemail"), "话务员未接听，来电留言")

    def _to_operator(self, call: HotlineCall, kind: str, reason: str, words: str) -> Reply:
        call.step = "dialling"
        call.data = {**call.data, "dial_kind": kind}
        tasks.open_task(self.session, kind=kind, reason=reason, dedupe_key=f"call:{call.call_sid}",
                         elder_id=call.elder_id, call_sid=call.call_sid, caller=call.caller, now=self.now)
        return Reply(say=[words], dial=self.settings.operator_numbers)

    def _emergency(self, call: HotlineCall) -> Reply:
        call.step = "dialling"
        call.data = {**call.data, "dial_kind": "emergency", "emergency": True}
        task = tasks.open_task(self.session, kind="emergency", reason="老人按9紧急求助",
                                dedupe_key=f"call:{call.call_sid}", elder_id=call.elder_id,
                                call_sid=call.call_sid, caller=call.caller, now=self.now)
        # An emergency outranks whatever this call was first queued for.
        task.kind, task.reason, task.priority = "emergency", "老人按9紧急求助", 0
        if call.elder_id is not None:
            elder = self._elder(call)
            for contact in elder.emergency_contacts:
                # A landline contact is called and told the same words (it cannot take an SMS).
                enqueue_notice(self.session, to=contact.phone, purpose="emergency_contact",
                               dedupe_key=f"emergency:{call.call_sid}:{contact.id}",
                               from_=self.settings.hotline_number, now=self.now,
                               params=texts.emergency_params(contact.name, elder.name, self.now),
                               public_url=self.settings.public_url)
        return Reply(say=["正在为您紧急转接话务员。"], dial=self.settings.operator_numbers)

    def _fail(self, call: HotlineCall, sorry: str, kind: str, reason: str) -> Reply:
        """Say sorry and ask again; the second failure of the call, at any step, puts a person on."""
        failures = call.data.get("failures", 0) + 1
        # "failures" restarts at each step; "failed" counts the whole call (issue 21).
        failed = call.data.get("failed", 0) + 1
        call.data = {**call.data, "failures": failures, "failed": failed}
        if max(failures, failed) >= MAX_FAILURES:
            return self._to_operator(call, kind, f"{reason}（{STEP_NAMES[call.step]}）",
                                     "正在为您转接话务员，请稍候。")
        return self._prompt(call, prefix=sorry)

    # -- their prompts ----------------------------------------------------------------------
    def _ask_worker_code(self, call: HotlineCall, reply: Reply) -> None:
        reply.say.append("服务人员您好。请输入工单号，以井号键结束。")
        reply.digits, reply.speech = None, False

    def _ask_worker_id(self, call: HotlineCall, reply: Reply) -> None:
        reply.say.append("请输入您的工号或登记的手机号，以井号键结束。")
        reply.digits, reply.speech = None, False

    def _ask_worker_action(self, call: HotlineCall, reply: Reply) -> None:
        reply.say.append("签到按1，签退按2。")
        reply.speech = False

    def _ask_after_hours(self, call: HotlineCall, reply: Reply) -> None:
        reply.say.append("现在是夜间值班时间。紧急求助按9；其他需要按1留言，我们明天白天给您回电。")
        reply.speech = False
