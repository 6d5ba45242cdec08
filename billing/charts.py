"""The bureau page's pictures: monthly series from the ledger, drawn as SVG by pygal."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pygal
from pygal.etree import etree
from pygal.style import Style
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from billing.ledger import CHARGE, ELDER_COPAY, SUBSIDY_PAYABLE, SUBSIDY_PENDING
from billing.models import LedgerPosting as LP
from dispatcher.consoles.scope import Area, scope_filter
from dispatcher.models import Category, Elder, Item, Order

# Dark and light in turn, so that neighbours in a stack differ in lightness when printed in grey;
# every other series also carries a hatch (PATTERNS), so even two of like lightness stay apart.
COLORS = ("#1b4332", "#f4a261", "#3a5a8c", "#e9d8a6", "#9b2226", "#94d2bd", "#5a189a", "#ffd6a5",
          "#343a40", "#bde0fe")
# One hatch a series (the first plain), drawn in white on dark colours and black on light ones.
PATTERNS = ("", "M0,8 L8,0", "M0,4 H8", "M0,0 L8,8", "M4,0 V8", "M0,8 L8,0 M0,0 L8,8")
# Text no smaller than 12 px as shown: the page shows each chart at its drawn size (not scaled down).
WIDTH, HEIGHT = 620, 420
STYLE = Style(
    background="white", plot_background="white",
    font_family='"Noto Sans CJK SC", "Microsoft YaHei", sans-serif',
    colors=COLORS, foreground="#111", foreground_strong="#111", foreground_subtle="#555",
    label_font_size=14, major_label_font_size=14, legend_font_size=14, title_font_size=16,
    value_font_size=13, value_label_font_size=13, tooltip_font_size=14, no_data_font_size=20,
)
NO_DATA = "无数据"


@dataclass
class MonthlySeries:
    """Per month (oldest first): subsidy by category and street, elders served, co-pay."""

    months: list[str]
    by_category: dict[str, dict[str, int]] = field(default_factory=dict)
    by_street: dict[str, dict[str, int]] = field(default_factory=dict)
    elders_served: dict[str, int] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)
    copay: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)

    def average_copay(self, month: str) -> int:
        return self.copay.get(month, 0) // self.visits[month] if self.visits.get(month) else 0


def monthly_series(session: Session, months: list[str], area: Area | None = None) -> MonthlySeries:
    """Subsidy booked (pending or payable, not withheld) and visits of each month (of one area's
    elders, if given)."""
    series = MonthlySeries(months)
    subsidy = and_(LP.month.in_(months), LP.account.in_((SUBSIDY_PENDING, SUBSIDY_PAYABLE)),
                   scope_filter(area, LP.elder_id))
    for name, column, joins in (("by_category", Category.name, (Order, Item, Category)),
                                ("by_street", Elder.street, (Order, Elder))):
        stmt = select(LP.month, column, func.sum(LP.amount_fen)).select_from(LP)
        for model in joins:
            stmt = stmt.join(model, {Order: Order.id == LP.order_id, Item: Item.id == Order.item_id,
                                     Category: Category.id == Item.category_id,
                                     Elder: Elder.id == Order.elder_id}[model])
        found: dict[str, dict[str, int]] = defaultdict(dict)
        for month, key, total in session.execute(stmt.where(subsidy).group_by(LP.month, column)):
            found[key][month] = int(total)
        setattr(series, name, dict(sorted(found.items())))
    found_sources: dict[str, dict[str, int]] = defaultdict(dict)
    for month, source, total in session.execute(
        select(LP.month, LP.source, func.sum(LP.amount_fen)).where(subsidy)
        .group_by(LP.month, LP.source)
    ):
        if total:
            found_sources[source][month] = int(total)
    series.by_source = dict(sorted(found_sources.items()))
    charges = (LP.month.in_(months), LP.service_month == LP.month, LP.kind == CHARGE,
               LP.account == ELDER_COPAY, scope_filter(area, LP.elder_id))
    for month, elders, visits, copay in session.execute(
        select(LP.month, func.count(func.distinct(LP.elder_id)), func.count(LP.visit_id),
               func.sum(LP.amount_fen)).where(*charges).group_by(LP.month)
    ):
        series.elders_served[month], series.visits[month] = elders, visits
        series.copay[month] = int(copay)
    return series


def _yuan(value) -> str:
    return "" if value is None else f"{value:,.2f} 元"


def _shown(formatter, stacked: bool):
    """Label a value where there is one; a month without data (and an empty stack segment) gets none."""
    if stacked:
        return lambda value: formatter(value) if value else ""
    return lambda value: "" if value is None else formatter(value)


def _chart(kind, title: str, months: list[str], data_months: set[str], **options):
    options.setdefault("value_formatter", lambda v: f"{v:,.0f}")
    options["value_formatter"] = _shown(options["value_formatter"], kind is pygal.StackedBar)
    chart = kind(style=STYLE, js=[], disable_xml_declaration=True, title=title, width=WIDTH,
                 height=HEIGHT, legend_at_bottom=True, legend_at_bottom_columns=2, print_values=True,
                 no_data_text=NO_DATA, truncate_label=-1, x_label_rotation=20, spacing=16, **options)
    # A month without any record says so under its bar, rather than standing at zero.
    chart.x_labels = [m if m in data_months else f"{m} {NO_DATA}" for m in months]
    return chart


def _light(color: str) -> bool:
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * red + 0.587 * green + 0.114 * blue > 150


def _hatch(tree, count: int) -> None:
    """Fill series 1, 2, … with their colour plus a hatch, in the bars and in the legend."""
    svg = tree.tag[:-3]  # "{namespace}" with lxml, "" with the standard library's etree
    chart_id = tree.get("id")
    defs = tree.find(f"{svg}defs")
    # Value labels: black on a white halo, readable on a dark bar, a light one or a hatch.
    rules = [f"#{chart_id} .text-overlay text.value{{fill:#000;paint-order:stroke;stroke:#fff;"
             "stroke-width:4px;stroke-linejoin:round;font-weight:bold}"]
    for index in range(1, count):
        color, path = COLORS[index % len(COLORS)], PATTERNS[index % len(PATTERNS)]
        if not path:
            continue
        pattern = etree.SubElement(defs, f"{svg}pattern", id=f"{chart_id}-hatch-{index}",
                                   patternUnits="userSpaceOnUse", width="8", height="8")
        etree.SubElement(pattern, f"{svg}rect", width="8", height="8", fill=color)
        etree.SubElement(pattern, f"{svg}path", d=path, stroke="#000" if _light(color) else "#fff",
                         attrib={"stroke-width": "1.5"})
        rules.append(f"#{chart_id} .color-{index} .rect,#{chart_id} rect.color-{index}"
                     f"{{fill:url(#{chart_id}-hatch-{index})}}")
    etree.SubElement(defs, f"{svg}style", type="text/css").text = "".join(rules)


def _render(chart, title: str, series_count: int = 0, size: tuple[int, int] = (WIDTH, HEIGHT)) -> str:
    # Drop pygal's inline config script: the page needs no JavaScript to show a picture.
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    _hatch(tree, series_count)
    tree.set("width", str(size[0]))
    tree.set("height", str(size[1]))
    tree.set("role", "img")
    tree.set("aria-label", title)
    return etree.tostring(tree, encoding="unicode")


def charts(series: MonthlySeries) -> dict[str, str]:
    """The page's five SVG charts, keyed by name. A month with no record at all is a gap labelled
    无数据 (not a bar or point at zero); every bar segment and point is labelled with its value."""
    months = series.months
    subsidised = {m for groups in (series.by_source, series.by_category, series.by_street)
                  for per_month in groups.values() for m in per_month}
    visited = {m for m in months if series.visits.get(m)}
    svgs = {}
    for key, title, groups in (("source", "补贴（不含扣回）按资金来源，元", series.by_source),
                               ("category", "补贴（不含扣回）按服务类别，元", series.by_category),
                               ("street", "补贴（不含扣回）按街道，元", series.by_street)):
        chart = _chart(pygal.StackedBar, title, months, subsidised, value_formatter=_yuan)
        for name, per_month in groups.items():
            chart.add(name, [per_month[m] / 100 if m in per_month else None for m in months])
        svgs[key] = _render(chart, title, len(groups))
    served = _chart(pygal.Bar, "服务老人数（人）", months, visited, show_legend=False)
    served.add("服务老人数", [series.elders_served[m] if m in visited else None for m in months])
    svgs["elders"] = _render(served, "服务老人数（人）")
    copay = _chart(pygal.Line, "每次服务平均自付，元", months, visited, show_legend=False,
                   value_formatter=_yuan, allow_interruptions=True, dots_size=5, margin_right=48)
    copay.add("平均自付", [series.average_copay(m) / 100 if m in visited else None for m in months])
    svgs["copay"] = _render(copay, "每次服务平均自付，元")
    return svgs
