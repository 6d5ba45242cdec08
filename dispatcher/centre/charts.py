"""The operations page's pictures: single-series bar charts as SVG (pygal), readable in grey."""

from __future__ import annotations

import pygal
from pygal.style import Style

from billing.charts import _render
from dispatcher.centre.figures import CHANNEL_NAMES, Figures

# One dark grey for every bar: each bar is named on its axis and carries its value, so nothing
# depends on telling colours apart (printed in grey, or by a reader who cannot see colour).
STYLE = Style(
    background="white", plot_background="white", foreground="#222222", foreground_strong="#000000",
    foreground_subtle="#555555", font_family='"Noto Sans CJK SC", "Microsoft YaHei", sans-serif',
    colors=("#444444",), label_font_size=14, major_label_font_size=14, legend_font_size=14,
    title_font_size=18, value_font_size=14, value_label_font_size=14, tooltip_font_size=14,
)
# Answer-time bands, in seconds: (label, lowest, highest) with highest None for "and over".
ANSWER_BANDS = (("0–10秒", 0, 10), ("11–20秒", 11, 20), ("21–30秒", 21, 30), ("31–60秒", 31, 60),
                ("60秒以上", 61, None))


def _bars(title: str, labels: list[str], values: list[int]) -> str:
    height = max(220, 60 + 42 * len(labels))
    chart = pygal.HorizontalBar(style=STYLE, js=[], disable_xml_declaration=True, title=title, width=760,
                                height=height, show_legend=False, print_values=True,
                                print_values_position="top")
    chart.x_labels = labels
    chart.add(title, values)
    return _render(chart, title, 1, size=(760, height))


def answer_bands(figures: Figures) -> list[tuple[str, int]]:
    """Answered transfers per answer-time band."""
    return [(label, sum(n for s, n in figures.answer_seconds.items()
                        if s >= low and (high is None or s <= high)))
            for label, low, high in ANSWER_BANDS]


def charts(figures: Figures) -> dict[str, str]:
    """The page's three SVG charts, keyed by name."""
    outcomes = [("语音导航独立完成", figures.ivr_alone), ("夜间留言", figures.after_hours),
                ("语音导航中挂断", figures.abandoned_in_ivr), ("话务员接听", figures.operator_answered),
                ("无人接听转留言", figures.messages_left), ("排队中挂断", figures.abandoned_in_queue)]
    bands = answer_bands(figures)
    channels = sorted(figures.orders_by_channel.items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        "calls": _bars("来电去向（通）", [k for k, _ in outcomes], [v for _, v in outcomes]),
        "answer": _bars("话务员接听用时（通）", [k for k, _ in bands], [v for _, v in bands]),
        "channels": _bars("工单来源（单）", [CHANNEL_NAMES.get(k, k) for k, _ in channels] or ["无"],
                          [v for _, v in channels] or [0]),
    }
