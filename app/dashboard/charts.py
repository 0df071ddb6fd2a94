"""Charts drawn as SVG on the server: horizontal bars, one stacked bar and a line chart.

No script and no ``style=`` attributes (the CSP forbids inline styles): colours are SVG
presentation attributes (``fill=``) and classes that ``app.css`` styles. Every chart is
``role="img"`` with an ``aria-label``, has a ``<title>``, axis labels and value labels;
bars are links (``<a href>``) to the incidents behind them.
"""
from markupsafe import Markup, escape

# The severity badges' colours (app.css --sev1..--sev4), and a neutral palette for the rest.
SEVERITY_COLOURS = {"sev1": "#b3261e", "sev2": "#c05600", "sev3": "#8a6d00", "sev4": "#476072"}
NEUTRAL = "#1f5f8b"
STATUS_COLOURS = {"met_on_time": "#2e7d32", "met_late": "#c05600", "overdue": "#b3261e"}
SERIES_COLOURS = ("#1f5f8b", "#b3261e", "#2e7d32")

FONT = 13
WIDTH = 640


def _e(value):
    return escape("" if value is None else str(value))


def _axis(value):
    """A round axis: ``(top, ticks)`` with at most six ticks at whole, round steps from 0 to ``top``."""
    if not value or value <= 0:
        return 1, [0, 1]
    step = 1
    for magnitude in (1, 10, 100, 1000, 10_000, 100_000, 1_000_000, 10_000_000):
        step = next((magnitude * k for k in (1, 2, 5) if value / (magnitude * k) <= 5), None)
        if step:
            break
    top = -(-value // step) * step
    return top, [step * i for i in range(int(top // step) + 1)]


def _fmt(value):
    if value is None:
        return "–"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def _open(chart_id, title, desc, width, height, css):
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css}" id="{_e(chart_id)}" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{_e(chart_id)}-title {_e(chart_id)}-desc" aria-label="{_e(title)}">',
        f'<title id="{_e(chart_id)}-title">{_e(title)}</title>',
        f'<desc id="{_e(chart_id)}-desc">{_e(desc)}</desc>',
    ]


def bar_chart(*, chart_id, title, rows, x_label, y_label, empty_text=""):
    """Horizontal bars: ``rows`` of ``{label, value, href, colour?}``; the value axis is ``x_label``."""
    label_w, right, top, bar_h, gap = 200, 56, 28, 22, 8
    n = max(len(rows), 1)
    plot_w = WIDTH - label_w - right
    height = top + n * (bar_h + gap) + 44
    top_value, ticks = _axis(max((r["value"] or 0 for r in rows), default=0))
    desc = "; ".join(f"{r['label']}: {_fmt(r['value'])}" for r in rows) or empty_text
    out = _open(chart_id, title, desc, WIDTH, height, "chart-bar")
    out.append(f'<text class="axis-label" x="{label_w - 8}" y="{top - 10}" text-anchor="end" '
               f'font-size="{FONT - 1}" fill="#555">{_e(y_label)}</text>')
    base_y = top + n * (bar_h + gap)
    for tick in ticks:  # grid and ticks
        x = label_w + plot_w * tick / top_value
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{base_y}" stroke="#ddd"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{base_y + 16}" text-anchor="middle" font-size="{FONT - 2}" '
                   f'fill="#555">{_fmt(tick)}</text>')
    out.append(f'<text class="axis-label" x="{label_w + plot_w / 2:.1f}" y="{base_y + 36}" text-anchor="middle" '
               f'font-size="{FONT - 1}" fill="#555">{_e(x_label)}</text>')
    if not rows:
        out.append(f'<text x="{label_w + 8}" y="{top + bar_h - 6}" font-size="{FONT}" fill="#555">'
                   f'{_e(empty_text)}</text>')
    for i, r in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = plot_w * (r["value"] or 0) / top_value
        colour = r.get("colour") or NEUTRAL
        label = str(r["label"])
        short = label if len(label) <= 26 else label[:25] + "…"
        out.append(f'<a href="{_e(r.get("href") or "#")}" class="bar-link">')
        out.append(f'<title>{_e(label)}: {_fmt(r["value"])}</title>')
        out.append(f'<text class="bar-label" x="{label_w - 8}" y="{y + bar_h - 6}" text-anchor="end" '
                   f'font-size="{FONT}" fill="#222">{_e(short)}</text>')
        out.append(f'<rect class="bar {_e(r.get("css", ""))}" x="{label_w}" y="{y}" width="{max(w, 1.5):.1f}" '
                   f'height="{bar_h}" fill="{colour}" rx="2"/>')
        out.append(f'<text class="value" x="{label_w + w + 6:.1f}" y="{y + bar_h - 6}" font-size="{FONT}" '
                   f'fill="#222">{_fmt(r["value"])}</text>')
        out.append('</a>')
    out.append('</svg>')
    return Markup("".join(out))


def stacked_bar(*, chart_id, title, segments, x_label, empty_text=""):
    """One horizontal bar of ``segments`` (``{label, value, href, colour}``) with a legend; x is the share."""
    left, right, top, bar_h = 16, 16, 20, 34
    plot_w = WIDTH - left - right
    height = top + bar_h + 40 + 26 * len(segments) + 10
    total = sum(s["value"] or 0 for s in segments)
    desc = "; ".join(f"{s['label']}: {_fmt(s['value'])}" for s in segments) if total else empty_text
    out = _open(chart_id, title, desc, WIDTH, height, "chart-stacked")
    x = left
    if not total:
        out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{bar_h}" fill="#eee"/>')
        out.append(f'<text x="{left + 8}" y="{top + bar_h - 12}" font-size="{FONT}" fill="#555">{_e(empty_text)}</text>')
    for s in segments:
        if not total or not s["value"]:
            continue
        w = plot_w * s["value"] / total
        out.append(f'<a href="{_e(s.get("href") or "#")}" class="bar-link"><title>{_e(s["label"])}: '
                   f'{_fmt(s["value"])}</title>')
        out.append(f'<rect class="bar" x="{x:.1f}" y="{top}" width="{w:.1f}" height="{bar_h}" fill="{s["colour"]}"/>')
        if w > 28:
            out.append(f'<text class="value value-in" x="{x + w / 2:.1f}" y="{top + bar_h - 11}" text-anchor="middle" '
                       f'font-size="{FONT}" fill="#fff">{_fmt(s["value"])}</text>')
        out.append('</a>')
        x += w
    axis_y = top + bar_h
    for k, pct in enumerate((0, 25, 50, 75, 100)):
        tx = left + plot_w * k / 4
        anchor = "start" if k == 0 else ("end" if k == 4 else "middle")
        out.append(f'<text class="tick" x="{tx:.1f}" y="{axis_y + 15}" text-anchor="{anchor}" font-size="{FONT - 2}" '
                   f'fill="#555">{pct}%</text>')
    out.append(f'<text class="axis-label" x="{left + plot_w / 2:.1f}" y="{axis_y + 32}" text-anchor="middle" '
               f'font-size="{FONT - 1}" fill="#555">{_e(x_label)}</text>')
    ly = axis_y + 52
    for s in segments:
        share = f" ({100 * s['value'] / total:.0f}%)" if total else ""
        out.append(f'<rect x="{left}" y="{ly - 11}" width="14" height="14" fill="{s["colour"]}"/>')
        out.append(f'<text class="legend" x="{left + 22}" y="{ly}" font-size="{FONT}" fill="#222">'
                   f'{_e(s["label"])}: {_fmt(s["value"])}{share}</text>')
        ly += 26
    out.append('</svg>')
    return Markup("".join(out))


def line_chart(*, chart_id, title, labels, series, x_label, y_label, empty_text=""):
    """Lines over ``labels`` (the x categories): ``series`` of ``{name, values, colour}``; None is a gap."""
    left, right, top, bottom = 56, 16, 18, 66
    height = 300
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    values = [v for s in series for v in s["values"] if v is not None]
    top_value, ticks = _axis(max(values, default=0))
    n = max(len(labels), 1)
    step = plot_w / max(n - 1, 1)
    desc = "; ".join(f"{s['name']}: " + ", ".join(f"{lab} {_fmt(v)}" for lab, v in zip(labels, s["values"]))
                     for s in series) if values else empty_text
    out = _open(chart_id, title, desc, WIDTH, height + 24 * len(series), "chart-line")
    base_y = top + plot_h
    for tick in ticks:
        y = base_y - plot_h * tick / top_value
        out.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="{FONT - 2}" '
                   f'fill="#555">{_fmt(tick)}</text>')
    out.append(f'<text class="axis-label" transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle" font-size="{FONT - 1}" fill="#555">{_e(y_label)}</text>')
    for i, lab in enumerate(labels):
        x = left + i * step
        if i % 2 == 0 or n <= 6:
            out.append(f'<text class="tick" x="{x:.1f}" y="{base_y + 16}" text-anchor="middle" font-size="{FONT - 2}" '
                       f'fill="#555">{_e(lab)}</text>')
    out.append(f'<text class="axis-label" x="{left + plot_w / 2:.1f}" y="{base_y + 38}" text-anchor="middle" '
               f'font-size="{FONT - 1}" fill="#555">{_e(x_label)}</text>')
    if not values:
        out.append(f'<text x="{left + 12}" y="{top + 24}" font-size="{FONT}" fill="#555">{_e(empty_text)}</text>')
    for si, s in enumerate(series):
        colour = s.get("colour") or SERIES_COLOURS[si % len(SERIES_COLOURS)]
        points = [(left + i * step, None if v is None else base_y - plot_h * v / top_value, v)
                  for i, v in enumerate(s["values"])]
        run = []
        for p in points + [(None, None, None)]:
            if p[2] is None:
                if len(run) > 1:
                    d = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in run)
                    out.append(f'<polyline class="line" points="{d}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
                run = []
            else:
                run.append(p)
        for (x, y, v), lab in zip(points, labels):
            if v is None:
                continue
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"><title>{_e(s["name"])} '
                       f'{_e(lab)}: {_fmt(v)}</title></circle>')
            out.append(f'<text class="value" x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" font-size="{FONT - 3}" '
                       f'fill="{colour}">{_fmt(v)}</text>')
        ly = height + 24 * si
        out.append(f'<rect x="{left}" y="{ly - 11}" width="14" height="4" fill="{colour}"/>')
        out.append(f'<text class="legend" x="{left + 22}" y="{ly - 4}" font-size="{FONT}" fill="#222">'
                   f'{_e(s["name"])}</text>')
    out.append('</svg>')
    return Markup("".join(out))
