"""The domestic carrier adapter: Alibaba Cloud's SMS (Dysmsapi) and voice (Dyvmsapi) services.

Built on Alibaba Cloud's official SDKs (alibabacloud-dysmsapi20170525, alibabacloud-dyvmsapi20170525
over alibabacloud-tea-openapi). What the carrier documents, and this adapter follows:
- SendSms sends a registered signature (SignName), a template (TemplateCode) and its parameters
  (TemplateParam, JSON); it answers HTTP 200 with `Code` "OK" and a `BizId`, or HTTP 200 with an
  error `Code` (国内消息API错误码, https://help.aliyun.com/document_detail/101346.html): e.g.
  isv.SMS_TEMPLATE_ILLEGAL, isv.BLACK_KEY_CONTROL_LIMIT, isv.DAY_LIMIT_CONTROL (the console's daily
  total: a person must raise it), isv.BUSINESS_LIMIT_CONTROL (the per-number frequency limit, 50
  notices of one template a day to one number, https://developer.aliyun.com/ask/218440: worth a
  later try). QuerySendDetails lists what went to a number on a day, with the OutId we gave.
- IvrCall (https://help.aliyun.com/document_detail/393521.html) plays a TTS template and collects
  one key (MenuKeyMap), reporting it in the call report; 100 calls/s per account, and each show
  number carries only so many calls at once. SingleCallByTts plays a notice with no keys.
- Reports arrive by HTTP batch push (dispatcher/hotline/carrier_views.py cites their formats):
  SmsReport names the BizId, VoiceCallReport/VoiceReport the CallId and our OutId.
- The voice API has no two-leg call, so the supervisor's call-back and a wellbeing call's key 9 are
  placed by the call centre's FreeSWITCH (telephony/esl.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers

from telephony.esl import SwitchCalls, call_uuid
from telephony.ports import DeliveryError

CHINA = ZoneInfo("Asia/Shanghai")
SMS_ENDPOINT = "dysmsapi.aliyuncs.com"
VOICE_ENDPOINT = "dyvmsapi.aliyuncs.com"
# How long a carrier API request may take before it counts as a network error (and is retried).
TIMEOUT_MS = 15_000
# Error codes that a later try can fix: flow control and the carrier's own faults. Every other
# isv.* code (template or signature not approved, number invalid or blacklisted, bad parameters,
# account out of service) needs a person and is permanent.
_TEMPORARY_CODES = ("Throttling", "isp.", "ServiceUnavailable", "SignatureNonceUsed",
                    "isv.BUSINESS_LIMIT_CONTROL", "InternalError")
# The voice templates an outbound call needs (VNH_ALIYUN_VOICE_TEMPLATES), by purpose.
# Spoken notices to landlines (telephony.outbox.enqueue_notice) are TTS calls of their own template.
VOICE_PURPOSES = ("review", "wellbeing", "visit_notice", "visit_reminder", "ack", "emergency_contact",
                  "wellbeing_alarm")
# A call script that rings params["first"] (or the callee) and bridges them to params["then"].
BRIDGE = "bridge"
# After a crash between placing a carrier call and recording it, how long to wait for its
# VoiceReport before calling again (a call rings, plays twice and reports within minutes).
REPORT_WAIT = timedelta(minutes=15)


@dataclass(frozen=True)
class CallScript:
    """What the carrier plays on an outbound call: an IVR with keys, or a notice without."""

    purpose: str
    params: dict[str, str] = field(default_factory=dict)
    keys: tuple[str, ...] = ()


def national(e164: str) -> str:
    """The number as the carrier wants it: digits in national form (13912340001, 09312345678)."""
    try:
        parsed = phonenumbers.parse(e164, "CN")
    except phonenumbers.NumberParseException:
        return re.sub(r"\D", "", e164)
    return re.sub(r"\D", "", phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL))


def is_temporary(code: str) -> bool:
    return code.startswith(_TEMPORARY_CODES)


class AliyunTelephony:
    """Send SMS and place calls through Alibaba Cloud; the SDK clients are built once, in create_app.

    `scripts` maps the TwiML URL of an outbox call to the carrier's script for it (which template,
    which parameters, which keys), since the carrier plays registered templates instead of TwiML.
    """

    def __init__(self, *, access_key_id: str, access_key_secret: str, sign_name: str,
                 sms_templates: dict[str, str], voice_templates: dict[str, str], show_number: str,
                 scripts: Callable[[str], CallScript | None], switch: SwitchCalls | None = None,
                 gateway: str = "sofia/gateway/carrier/{national}", clock=None,
                 report_wait: timedelta = REPORT_WAIT):
        from alibabacloud_dysmsapi20170525.client import Client as SmsClient
        from alibabacloud_dyvmsapi20170525.client import Client as VoiceClient
        from alibabacloud_tea_openapi import models as open_api

        def config(endpoint):
            return open_api.Config(access_key_id=access_key_id, access_key_secret=access_key_secret,
                                   endpoint=endpoint, read_timeout=TIMEOUT_MS, connect_timeout=TIMEOUT_MS)

        self.sms = SmsClient(config(SMS_ENDPOINT))
        self.voice = VoiceClient(config(VOICE_ENDPOINT))
        self.sign_name, self.show_number = sign_name, show_number
        self.sms_templates, self.voice_templates = sms_templates, voice_templates
        self.scripts = scripts
        # The call centre's switch places two-leg calls (telephony/esl.py); `gateway` dials a number.
        self.switch, self.gateway = switch, gateway
        self.clock, self.report_wait = clock, report_wait

    def send_sms(self, *, to, from_, body, status_callback, key, template=None, params=None):
        """Send the carrier template registered for `template` with `params`; return the BizId.

        The delivery report names the BizId, so it is the message's SID.
        """
        from alibabacloud_dysmsapi20170525 import models

        code = self.sms_templates.get(template or "")
        if not code:
            raise DeliveryError(f"aliyun: no SMS template registered for {template!r} "
                                "(VNH_ALIYUN_SMS_TEMPLATES)", permanent=True)
        request = models.SendSmsRequest(
            phone_numbers=national(to), sign_name=self.sign_name, template_code=code,
            template_param=json.dumps({k: str(v) for k, v in (params or {}).items()}, ensure_ascii=False),
            out_id=key)
        return self._call(lambda runtime: self.sms.send_sms_with_options(request, runtime)).body.biz_id

    def place_call(self, *, to, from_, url, status_callback, key):
        """An IVR call where the script has keys, else a TTS notice; return the carrier's CallId."""
        from alibabacloud_dyvmsapi20170525 import models

        script = self.scripts(url)
        if script is None:
            raise DeliveryError(f"aliyun: no voice script for {url}", permanent=True)
        if script.purpose == BRIDGE:
            if self.switch is None:
                raise DeliveryError("aliyun: a two-leg call needs the call centre's switch "
                                    "(VNH_SWITCH_ESL_HOST)", permanent=True)
            first = script.params.get("first") or self.gateway.format(national=national(to), e164=to)
            return self.switch.bridge(first=first, then=script.params["then"], key=key)
        code = self.voice_templates.get(script.purpose)
        if not code:
            raise DeliveryError(f"aliyun: no voice template registered for {script.purpose!r} "
                                "(VNH_ALIYUN_VOICE_TEMPLATES)", permanent=True)
        params = json.dumps(script.params, ensure_ascii=False)
        if script.keys:
            ack = self.voice_templates["ack"]
            request = models.IvrCallRequest(
                called_number=national(to), called_show_number=self.show_number, start_code=code,
                start_tts_params=params, play_times=2, timeout=8000, bye_code=ack, out_id=key,
                menu_key_map=[models.IvrCallRequestMenuKeyMap(key=k, code=ack) for k in script.keys])
            answer = self._call(lambda runtime: self.voice.ivr_call_with_options(request, runtime))
        else:
            request = models.SingleCallByTtsRequest(
                called_number=national(to), called_show_number=self.show_number, tts_code=code,
                tts_param=params, play_times=2, out_id=key)
            answer = self._call(lambda runtime: self.voice.single_call_by_tts_with_options(request, runtime))
        return answer.body.call_id

    def find_sent(self, *, key, kind, to, from_, body, since: datetime, url=None):
        """After a crash, find the send of `key`: an SMS by its OutId, a call by its report.

        An SMS: QuerySendDetails lists the day's SMS to `to` with the OutId we gave. A two-leg call
        on the switch: `uuid_exists` on the uuid the call was given. A carrier call: the voice API
        has no lookup by OutId, but every call ends in a VoiceReport push that carries it, and that
        push adopts the call (carrier_views). So until `report_wait` after the claim the answer is
        "cannot tell yet" (the claim stays, nobody is rung twice); after it, no report means no call.
        """
        if kind == "call":
            script = self.scripts(url) if url else None
            if script is not None and script.purpose == BRIDGE and self.switch is not None:
                return call_uuid(key) if self.switch.exists(key) else None
            now = self.clock.now() if self.clock is not None else datetime.now(UTC)
            if now < since + self.report_wait:
                raise DeliveryError("aliyun: waiting for the carrier's VoiceReport of this call "
                                    f"until {since + self.report_wait:%H:%M:%S}", permanent=False)
            return None
        from alibabacloud_dysmsapi20170525 import models

        request = models.QuerySendDetailsRequest(
            phone_number=national(to), send_date=since.astimezone(CHINA).strftime("%Y%m%d"), page_size=50,
            current_page=1)
        answer = self._call(lambda runtime: self.sms.query_send_details_with_options(request, runtime))
        details = answer.body.sms_send_detail_dtos
        for detail in (details.sms_send_detail_dto or []) if details else []:
            if detail.out_id == key:
                # QuerySendDetails does not return the BizId; the OutId names the message instead.
                return f"{key}@aliyun"
        return None

    @staticmethod
    def _call(send):
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException
        from darabonba.exceptions import DaraException, UnretryableException
        from darabonba.runtime import RuntimeOptions

        try:
            answer = send(RuntimeOptions(read_timeout=TIMEOUT_MS, connect_timeout=TIMEOUT_MS))
        except AlibabaCloudException as exc:
            code = exc.code or ""
            permanent = (exc.status_code or 500) < 500 and not is_temporary(code)
            raise DeliveryError(f"aliyun {exc.status_code} {code}: {exc.message}", permanent=permanent) from exc
        except (DaraException, UnretryableException, OSError) as exc:
            raise DeliveryError(f"aliyun unreachable: {exc}", permanent=False) from exc
        code = answer.body.code or ""
        if code != "OK":
            raise DeliveryError(f"aliyun {code}: {answer.body.message}", permanent=not is_temporary(code))
        return answer
