"""The figures as lines a person reads: for the page, the report files and the terminal."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.centre.figures import (
    ANSWER_GOALS_S,
    CHANNEL_NAMES,
    DASH,
    REASON_NAMES,
    Figures,
    Ratio,
)
from dispatcher.clock import local


@dataclass(frozen=True)
class Line:
    """One figure: its section, name, value as shown, and the counts it was made of (if a ratio)."""

    section: str
    name: str
    value: str
    numerator: int | None = None
    denominator: int | None = None


def _ratio(section: str, name: str, ratio: Ratio) -> Line:
    return Line(section, name, str(ratio), ratio.num, ratio.den)


def _count(section: str, name: str, count: int) -> Line:
    return Line(section, name, str(count), count)


def period_label(figures: Figures) -> str:
    start, last = local(figures.start), local(figures.end)
    days = (figures.end - figures.start).days
    text = f"{start:%Y-%m-%d}" if days <= 1 else f"{start:%Y-%m-%d} 至 {last:%Y-%m-%d}（不含）"
    return text + (f"，{figures.street}" if figures.street else "，全部街道")


def summary_lines(f: Figures) -> list[Line]:
    """Every figure, in the order the page and the reports show them."""
    calls, queue, orders, visits, reviews = "来电", "人工接听", "工单", "上门服务", "回访与满意度"
    lines = [
        _count(calls, "来电总数", f.calls_offered),
        _ratio(calls, "语音导航独立完成（占非夜间来电）", f.ivr_containment),
        _count(calls, "夜间留言来电", f.after_hours),
        _count(calls, "语音导航中挂断", f.abandoned_in_ivr),
        _count(calls, "转人工", f.transferred),
    ]
    for reason, count in sorted(f.transferred_by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(_count(calls, f"转人工：{REASON_NAMES.get(reason, reason)}", count))
    lines += [
        _count(queue, "话务员接听", f.operator_answered),
        _count(queue, "无人接听转留言", f.messages_left),
        _count(queue, "排队中挂断", f.abandoned_in_queue),
        _ratio(queue, "排队放弃率（占转人工）", f.queue_abandonment),
    ]
    lines += [_ratio(queue, f"{s}秒内接听率", f.answered_within(s)) for s in ANSWER_GOALS_S]
    answer, emergency = f.answer_time, f.emergency_time
    lines += [
        Line(queue, "接听用时", answer.text("秒"), answer.count),
        _count(queue, "紧急求助来电", f.emergencies),
        _ratio(queue, "紧急求助接通人工", Ratio(f.emergencies_answered, f.emergencies)),
        Line(queue, "紧急求助接通用时", emergency.text("秒"), emergency.count),
        _count(orders, "新建工单", f.orders_booked),
    ]
    for channel, count in sorted(f.orders_by_channel.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(_count(orders, f"渠道：{CHANNEL_NAMES.get(channel, channel)}", count))
    acceptance = f.acceptance_time
    lines += [
        _ratio(orders, "完成工单中无需人工的比例", f.without_operator),
        Line(orders, "每单派单次数", f.offers_per_order, f.offers, f.orders_offered),
        Line(orders, "派单到接单用时", acceptance.text("分钟"), acceptance.count),
        _count(visits, "应上门服务", f.visits_due),
        _ratio(visits, "迟到（超过30分钟签到）", f.late_share),
        _ratio(visits, "未上门（时段结束仍未签到）", f.missed_share),
        _ratio(reviews, "回访接通率", f.review_reach),
        _count(reviews, "回访中否认上门", f.reviews_denied),
        _ratio(reviews, "满意率（4–5分）", f.satisfaction),
        _count(reviews, "投诉", f.complaints),
        _count(reviews, "争议工单", f.disputes),
        _ratio(reviews, "在册老人中获得服务的比例", f.served_share),
    ]
    return lines


def format_summary(figures: Figures) -> str:
    """The figures as aligned text lines, a header per section."""
    out = [f"运营统计 {period_label(figures)}"]
    section = None
    for line in summary_lines(figures):
        if line.section != section:
            section = line.section
            out.append(f"[{section}]")
        counts = ""
        if line.denominator is not None:
            counts = f"  ({line.numerator}/{line.denominator})"
        elif line.numerator is not None and line.value not in (str(line.numerator), DASH):
            counts = f"  (n={line.numerator})"
        out.append(f"  {line.name}: {line.value}{counts}")
    return "\n".join(out)
