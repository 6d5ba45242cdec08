"""The bureau's charts: readable text, grey-scale-safe colours, gaps for months without data, values labelled."""

from __future__ import annotations

import re

from billing.charts import COLORS, MonthlySeries, charts

MONTHS = ["2026-08", "2026-09", "2026-10", "2026-11"]


def _series() -> MonthlySeries:
    series = MonthlySeries(MONTHS)
    series.by_source = {"city_class": {"2026-08": 12000, "2026-11": 9600}, "district": {"2026-11": 7200}}
    series.by_category = {"家政保洁": {"2026-08": 12000, "2026-11": 16800}}
    series.by_street = {"酒泉路街道": {"2026-08": 12000, "2026-11": 16800}}
    series.elders_served = {"2026-08": 3, "2026-11": 5}
    series.visits = {"2026-08": 4, "2026-11": 7}
    series.copay = {"2026-08": 0, "2026-11": 4200}
    return series


def _grey(color: str) -> float:
    red, green, blue = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * red + 0.587 * green + 0.114 * blue


def test_no_text_is_smaller_than_12_px_and_the_chart_is_shown_at_its_drawn_size():
    for svg in charts(_series()).values():
        sizes = [float(s) for s in re.findall(r"font-size:([\d.]+)px", svg)]
        assert sizes and min(sizes) >= 12, sizes
        assert 'width="620"' in svg and 'viewBox="0 0 620 420"' in svg  # 1 px drawn = 1 px shown


def test_neighbouring_colours_differ_in_lightness_and_later_series_are_hatched():
    greys = [_grey(c) for c in COLORS]
    assert all(abs(a - b) >= 60 for a, b in zip(greys, greys[1:], strict=False)), greys
    svg = charts(_series())["source"]
    assert "<pattern" in svg and re.search(r"\.color-1 \.rect,#[^ ]+ rect\.color-1\{fill:url\(#", svg)


def test_months_without_data_are_gaps_named_as_such_not_zero():
    svgs = charts(_series())
    for key in ("source", "elders", "copay"):
        assert "2026-09 无数据" in svgs[key] and "2026-10 无数据" in svgs[key], key
        assert "2026-08 无数据" not in svgs[key]
    # Two bars (August, November), not four with two at zero.
    assert svgs["elders"].count('class="rect reactive tooltip-trigger"') == 2
    # The line's points: August and November only; August's real zero co-pay is a labelled point.
    assert svgs["copay"].count("<circle") == 2
    assert "0.00 元" in svgs["copay"] and "6.00 元" in svgs["copay"]


def test_values_are_labelled_on_the_bars():
    svgs = charts(_series())
    labels = re.findall(r'<text[^>]*class="value">([^<]+)<', svgs["source"])
    assert {"120.00 元", "96.00 元", "72.00 元"} <= set(labels), labels
    assert re.findall(r'<text[^>]*class="value">([^<]+)<', svgs["elders"]) == ["3", "5"]
