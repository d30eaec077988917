"""Charts of a report, drawn by hand as SVG: bars, lines, a donut, and a one-page dashboard.

Pure functions from figures to SVG text; every piece of text is escaped (labels come from the
database: unit names, topics). The font list names common CJK fonts so Chinese labels render
wherever the SVG is opened.
"""
from __future__ import annotations

import math
from xml.sax.saxutils import escape, quoteattr

from tickets.lifecycle import STATE_ZH
from tickets.models import KIND_ZH

FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei','WenQuanYi Micro Hei',sans-serif"
PALETTE = ("#2f6fb0", "#e0803a", "#3a9e6f", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c",
           "#ccb974", "#64b5cd")
INK, MUTED, GRID = "#222", "#666", "#e3e3e3"
RATING_ZH = {"1": "非常满意", "2": "满意", "3": "基本满意", "4": "不满意", "5": "非常不满意"}
RATING_COLORS = ("#1a9850", "#91cf60", "#d9ef8b", "#fc8d59", "#d73027")
ACTION_ZH = {"queue": "人工座席", "leader": "领导专席", "emergency": "紧急转接"}


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.1%}" if value <= 1.0 else f"{value:,.1f}"
    return f"{value:,}"


def _text(x: float, y: float, body: str, *, size: int = 12, anchor: str = "start", color: str = INK,
          weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{color}" '
            f'font-weight="{weight}">{escape(str(body))}</text>')


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family={quoteattr(FONT)} role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        _text(16, 26, title, size=15, weight="bold"),
        *body, "</svg>"])


def _short(label: str, n: int = 14) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


def bar_chart(title: str, items: list[tuple[str, float | int | None]], *, width: int = 480,
              percent: bool = False, color: str = PALETTE[0]) -> str:
    """Horizontal bars, one a row, the value at the end of each bar."""
    row, top, label_w = 24, 44, 130
    height = top + max(1, len(items)) * row + 16
    peak = 1.0 if percent else max([v or 0 for _l, v in items] + [1])
    span = width - label_w - 70
    body = []
    if not items:
        body.append(_text(16, top + 14, "（无数据）", color=MUTED))
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = 0 if not value else max(1.0, span * value / peak)
        shown = _fmt(float(value)) if (percent and value is not None) else _fmt(value)
        body += [_text(label_w - 8, y + 15, _short(str(label)), anchor="end"),
                 f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="2" fill="{color}"/>',
                 _text(label_w + w + 6, y + 15, shown, color=MUTED)]
    return _svg(width, height, title, body)


def _nice_step(raw: float) -> int:
    """A whole 1, 2 or 5 × 10^k step at least ``raw`` (axis ticks of counts)."""
    if raw <= 1:
        return 1
    mag = 10 ** math.floor(math.log10(raw))
    return int(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def line_chart(title: str, labels: list[str], series: dict[str, list[int | float]], *,
               width: int = 720, height: int = 240) -> str:
    """One line per series over shared labels, with a legend and a light grid."""
    left, right, top, bottom = 48, 16, 48, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([v for vs in series.values() for v in vs] + [1])
    step = _nice_step(peak / 4)
    ceiling = step * math.ceil(peak / step)
    n = max(1, len(labels) - 1)
    body = []
    for k in range(int(round(ceiling / step)) + 1):
        v = step * k
        y = top + plot_h - plot_h * v / ceiling
        body += [f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID}"/>',
                 _text(left - 6, y + 4, f"{v:,.0f}", size=10, anchor="end", color=MUTED)]
    every = max(1, math.ceil(len(labels) / 12))
    for i, label in enumerate(labels):
        if i % every == 0:
            body.append(_text(left + plot_w * i / n, height - bottom + 16, label, size=10, anchor="middle",
                              color=MUTED))
    for j, (name, values) in enumerate(series.items()):
        color = PALETTE[j % len(PALETTE)]
        pts = " ".join(f"{left + plot_w * i / n:.1f},{top + plot_h - plot_h * v / ceiling:.1f}"
                       for i, v in enumerate(values))
        body.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
        lx = width - right - 110 * (len(series) - j)
        body += [f'<rect x="{lx}" y="32" width="12" height="4" fill="{color}"/>',
                 _text(lx + 16, 38, name, size=11)]
    return _svg(width, height, title, body)


def donut_chart(title: str, items: list[tuple[str, int]], *, colors=PALETTE, width: int = 360,
                center_label: str = "") -> str:
    """Shares of a whole as a ring, with a legend (label, count, share)."""
    cx, cy, r, hole = 100, 130, 70, 42
    total = sum(v for _l, v in items)
    body = []
    if total == 0:
        body.append(f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{GRID}"/>')
    angle = -math.pi / 2
    for i, (_label, value) in enumerate(items):
        if not value:
            continue
        color = colors[i % len(colors)]
        if value == total:
            body.append(f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="{color}"/>')
            continue
        end = angle + 2 * math.pi * value / total
        large = 1 if end - angle > math.pi else 0
        x1, y1 = cx + r * math.cos(angle), cy + r * math.sin(angle)
        x2, y2 = cx + r * math.cos(end), cy + r * math.sin(end)
        body.append(f'<path d="M{cx},{cy} L{x1:.2f},{y1:.2f} A{r},{r} 0 {large} 1 {x2:.2f},{y2:.2f} Z" '
                    f'fill="{color}"/>')
        angle = end
    body.append(f'<circle cx="{cx}" cy="{cy}" r="{hole}" fill="#fff"/>')
    if center_label:
        body.append(_text(cx, cy + 6, center_label, size=16, anchor="middle", weight="bold"))
    for i, (label, value) in enumerate(items):
        y = 64 + i * 22
        share = f"{value / total:.0%}" if total else "–"
        body += [f'<rect x="200" y="{y - 10}" width="12" height="12" fill="{colors[i % len(colors)]}"/>',
                 _text(218, y, f"{label}  {value:,}  {share}", size=12)]
    return _svg(width, max(230, 64 + len(items) * 22), title, body)


def kpi_tiles(report: dict, width: int = 1100) -> str:
    calls, tickets, ratings = report["calls"], report["tickets"], report["ratings"]
    tiles = [("来电", _fmt(calls["total"])), ("自助服务率", _fmt(calls["self_service_rate"])),
             ("接通率", _fmt(calls["answer_rate"])), ("拦截呼入", _fmt(calls["blocked_attempts"])),
             ("受理工单", _fmt(tickets["received"])), ("按时办结率", _fmt(tickets["on_time_rate"])),
             ("满意率", _fmt(ratings["satisfaction_rate"]))]
    w = (width - 16 * (len(tiles) + 1)) / len(tiles)
    body = []
    for i, (name, value) in enumerate(tiles):
        x = 16 + i * (w + 16)
        body += [f'<rect x="{x:.1f}" y="40" width="{w:.1f}" height="64" rx="6" fill="#f3f6fa"/>',
                 _text(x + 12, 62, name, size=12, color=MUTED),
                 _text(x + 12, 92, value, size=22, weight="bold")]
    period = report["period"]
    title = f"12345 热线{'日报' if period['kind'] == 'daily' else '月报'} {period['label']}"
    return _svg(width, 116, title, body)


def _unit_label(row: dict) -> str:
    return "热线直办" if row["unit"] == "-" else (row["name"] or row["unit"])


def charts(report: dict) -> dict[str, str]:
    """Every chart of a report, by name."""
    calls, tickets, ratings, series = report["calls"], report["tickets"], report["ratings"], report["series"]
    per = "每小时" if series["bucket"] == "hour" else "每日"
    labels = [lb[5:] if series["bucket"] == "day" else lb for lb in series["labels"]]   # 03-05, 14:00
    return {
        "kpi": kpi_tiles(report),
        "series": line_chart(f"{per}来电与工单", labels,
                             {"来电": series["calls"], "工单": series["tickets"]}, width=1100),
        "tickets_by_kind": bar_chart("工单类型", [(KIND_ZH.get(k, k), v) for k, v in tickets["by_kind"].items()]),
        "tickets_by_state": bar_chart("工单状态", [(STATE_ZH.get(k, k), v) for k, v in tickets["by_state"].items()],
                                      color=PALETTE[2]),
        "ratings": donut_chart("满意度评价", [(RATING_ZH[k], v) for k, v in ratings["distribution"].items()],
                               colors=RATING_COLORS, center_label=_fmt(ratings["satisfaction_rate"])),
        "on_time_by_unit": bar_chart("承办单位按时办结率", [(_unit_label(r), r["rate"])
                                                   for r in tickets["on_time_by_unit"]],
                                     percent=True, color=PALETTE[2]),
        "top_topics": bar_chart("热点话题", [(r["topic"], r["tickets"]) for r in tickets["top_topics"]],
                                color=PALETTE[1]),
        "handoffs": bar_chart("转接去向", [(ACTION_ZH.get(k, k), v) for k, v in calls["handoffs_by_action"].items()],
                              color=PALETTE[4]),
    }


def _height(svg: str) -> int:
    head = svg[: svg.index(">")]
    return int(head.split(' height="', 1)[1].split('"', 1)[0])


def dashboard(report: dict) -> str:
    """All charts on one page (nested SVGs in a two-column grid under the tiles and the series)."""
    parts = charts(report)
    width = 1100
    placed, y = [], 0
    for name in ("kpi", "series"):
        placed.append((0, y, parts[name]))
        y += _height(parts[name]) + 8
    grid = ["tickets_by_kind", "ratings", "top_topics", "on_time_by_unit", "tickets_by_state", "handoffs"]
    for i in range(0, len(grid), 2):
        row = [parts[n] for n in grid[i:i + 2]]
        for j, svg in enumerate(row):
            placed.append((16 + j * 550, y, svg))
        y += max(_height(s) for s in row) + 8
    body = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}" '
            f'font-family={quoteattr(FONT)}>', f'<rect width="{width}" height="{y}" fill="#fff"/>']
    for x, top, svg in placed:
        inner = svg.replace('<svg xmlns="http://www.w3.org/2000/svg" ', f'<svg x="{x}" y="{top}" ', 1)
        body.append(inner)
    body.append("</svg>")
    return "\n".join(body)
