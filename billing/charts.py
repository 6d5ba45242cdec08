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

STYLE = Style(
    background="white", plot_background="white",
    font_family='"Noto Sans CJK SC", "Microsoft YaHei", sans-serif',
    colors=("#2f5d50", "#e07a5f", "#3d405b", "#81b29a", "#f2cc8f", "#6d597a", "#b56576",
            "#118ab2", "#8d99ae", "#ef476f"),
    label_font_size=14, major_label_font_size=14, legend_font_size=14, title_font_size=18,
    value_font_size=12,
)


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


def _chart(kind, title: str, months: list[str], **options):
    chart = kind(style=STYLE, js=[], disable_xml_declaration=True, title=title, width=760,
                 height=380, legend_at_bottom=True, legend_at_bottom_columns=4,
                 print_values=False, **options)
    chart.x_labels = months
    return chart


def _render(chart) -> str:
    # Drop pygal's inline config script: the page needs no JavaScript to show a picture.
    tree = chart.render_tree()
    for parent in tree.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return etree.tostring(tree, encoding="unicode")


def charts(series: MonthlySeries) -> dict[str, str]:
    """The page's five SVG charts, keyed by name."""
    months = series.months
    svgs = {}
    for key, title, groups in (("source", "补贴（不含扣回）按资金来源，元", series.by_source),
                               ("category", "补贴（不含扣回）按服务类别，元", series.by_category),
                               ("street", "补贴（不含扣回）按街道，元", series.by_street)):
        chart = _chart(pygal.StackedBar, title, months, value_formatter=_yuan)
        for name, per_month in groups.items():
            chart.add(name, [per_month.get(m, 0) / 100 for m in months])
        svgs[key] = _render(chart)
    served = _chart(pygal.Bar, "服务老人数（人）", months, show_legend=False)
    served.add("服务老人数", [series.elders_served.get(m, 0) for m in months])
    svgs["elders"] = _render(served)
    copay = _chart(pygal.Line, "每次服务平均自付，元", months, show_legend=False,
                   value_formatter=_yuan)
    copay.add("平均自付", [series.average_copay(m) / 100 for m in months])
    svgs["copay"] = _render(copay)
    return svgs
