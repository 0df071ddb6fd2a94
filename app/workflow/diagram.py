"""An SVG drawing of a workflow: states as boxes in columns, transitions as labelled arrows.

Columns come from a breadth-first rank from the initial state; boxes are coloured by
category. Only SVG presentation attributes are used (no ``style`` attribute, no
``<style>`` element), so the drawing passes the CSP (``style-src 'self'``) inline in a page.
Every text is escaped.
"""
from collections import deque
from html import escape

from app.workflow.definition import STAY

BOX_W, BOX_H = 190, 46
COL_GAP, ROW_GAP = 90, 34
MARGIN = 24
COLOURS = {  # fill, stroke
    "triage": ("#fff4d6", "#b7791f"),
    "active": ("#dbeafe", "#1d4ed8"),
    "reporting": ("#fde2e2", "#b91c1c"),
    "review": ("#e9d8fd", "#6b46c1"),
    "closed": ("#dcfce7", "#15803d"),
}


def ranks(definition):
    """Column of every state: BFS distance from the initial state (unreached: one past the last)."""
    closed = {n for n, s in definition.states.items() if s.category == "closed"}
    rank = {definition.initial_state: 0}
    queue = deque([definition.initial_state])
    while queue:
        name = queue.popleft()
        for t in definition.transitions:
            if name in t.sources or ("*" in t.sources and name not in closed):
                if t.to != STAY and t.to not in rank:
                    rank[t.to] = rank[name] + 1
                    queue.append(t.to)
    last = max(rank.values(), default=0)
    for name in definition.states:
        rank.setdefault(name, last + 1)
    # Closed states go to the last column, so the path reads left to right.
    end = max(rank.values())
    for name in closed:
        rank[name] = end
    return rank


_ANYWHERE = {"en": "In any open state (the incident stays where it is):",
             "ja": "完了以外のどの状態でも実施できる手続き（状態は変わりません）:"}


def _anywhere(definition):
    """Transitions offered in every open state that keep the state: listed below the diagram."""
    return [t for t in definition.transitions if "*" in t.sources and t.to == STAY]


def _edges(definition):
    """(source, target, [labels]) with parallel transitions merged."""
    closed = {n for n, s in definition.states.items() if s.category == "closed"}
    merged = {}
    for t in definition.transitions:
        if "*" in t.sources and t.to == STAY:
            continue  # listed below the diagram instead
        sources = [n for n in definition.states if n not in closed] if "*" in t.sources else t.sources
        for src in sources:
            merged.setdefault((src, src if t.to == STAY else t.to), []).append(t)
    return merged


def _text(x, y, content, **attrs):
    extra = "".join(f' {k.replace("_", "-")}="{escape(str(v))}"' for k, v in attrs.items())
    return f'<text x="{x:.0f}" y="{y:.0f}"{extra}>{escape(content)}</text>'


def _clip(text, limit=25):
    return text if len(text) <= limit else text[: limit - 1] + "…"


def to_svg(definition, locale="en"):
    """The workflow as an SVG document (a string, safe to embed in a page)."""
    rank = ranks(definition)
    columns = {}
    for name in definition.states:
        columns.setdefault(rank[name], []).append(name)
    pos = {}
    for col, names in columns.items():
        for row, name in enumerate(names):
            pos[name] = (MARGIN + col * (BOX_W + COL_GAP), MARGIN + 20 + row * (BOX_H + ROW_GAP))
    width = MARGIN * 2 + (max(columns) + 1) * (BOX_W + COL_GAP) - COL_GAP
    anywhere = _anywhere(definition)
    height = (MARGIN * 2 + 20 + max(len(n) for n in columns.values()) * (BOX_H + ROW_GAP) + 40
              + (18 * (len(anywhere) + 1) if anywhere else 0))
    title = definition.label.get(locale)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-diagram" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-label="{escape(title)}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    loops = []
    for (src, dst), transitions in _edges(definition).items():
        label = " / ".join(_clip(t.label.get(locale), 26) for t in transitions[:2]) + (
            " …" if len(transitions) > 2 else "")
        names = ", ".join(t.name for t in transitions)
        (x1, y1), (x2, y2) = pos[src], pos[dst]
        if src == dst:
            loops.append((x1, y1, label, names))
            continue
        if x2 > x1:
            sx, sy, ex, ey = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        elif x2 < x1:  # going back: leave from the top, arrive on top, bowed upwards
            sx, sy, ex, ey = x1 + BOX_W / 2, y1, x2 + BOX_W / 2, y2
        elif y2 > y1:  # same column, downwards: along the left side
            sx, sy, ex, ey = x1 + 12, y1 + BOX_H, x2 + 12, y2
        else:  # same column, upwards: along the right side
            sx, sy, ex, ey = x1 + BOX_W - 12, y1, x2 + BOX_W - 12, y2 + BOX_H
        if x2 < x1:
            cx, cy = (sx + ex) / 2, min(sy, ey) - 40
        elif x2 == x1:
            cx, cy = (sx - 40 if y2 > y1 else sx + 40), (sy + ey) / 2
        else:
            cx, cy = (sx + ex) / 2, (sy + ey) / 2 - 14
        out.append(f'<g class="transition" data-transitions="{escape(names)}">')
        out.append(f'<path d="M {sx:.0f} {sy:.0f} Q {cx:.0f} {cy:.0f} {ex:.0f} {ey:.0f}" fill="none" '
                   f'stroke="#555" stroke-width="1.2" marker-end="url(#arrow)"/>')
        out.append(_text((sx + 2 * cx + ex) / 4, (sy + 2 * cy + ey) / 4 - 4, label, text_anchor="middle",
                         font_size="10", fill="#333"))
        out.append(f"<title>{escape(names)}</title></g>")
    for x, y, label, names in loops:
        out.append(f'<g class="transition" data-transitions="{escape(names)}">')
        out.append(f'<path d="M {x + BOX_W - 30:.0f} {y + BOX_H:.0f} C {x + BOX_W - 30:.0f} {y + BOX_H + 26:.0f} '
                   f'{x + BOX_W:.0f} {y + BOX_H + 26:.0f} {x + BOX_W:.0f} {y + BOX_H - 10:.0f}" fill="none" '
                   f'stroke="#555" stroke-width="1.2" marker-end="url(#arrow)"/>')
        out.append(_text(x + BOX_W - 15, y + BOX_H + 30, label, text_anchor="middle", font_size="10", fill="#333"))
        out.append(f"<title>{escape(names)}</title></g>")
    for name, state in definition.states.items():
        x, y = pos[name]
        fill, stroke = COLOURS.get(state.category, ("#eeeeee", "#555555"))
        initial = name == definition.initial_state
        out.append(f'<g class="state state-{escape(state.category)}" data-state="{escape(name)}">')
        out.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" '
                   f'stroke="{stroke}" stroke-width="{3 if initial else 1.5}"/>')
        out.append(_text(x + BOX_W / 2, y + 19, _clip(state.label.get(locale)), text_anchor="middle",
                         font_weight="bold", fill="#111"))
        out.append(_text(x + BOX_W / 2, y + 35, f"{name} · {state.category}", text_anchor="middle",
                         font_size="10", fill="#444"))
        out.append(f"<title>{escape(state.label.get(locale))} ({escape(name)})</title></g>")
    # Legend.
    lx, ly = MARGIN, height - 22 - (18 * (len(anywhere) + 1) if anywhere else 0)
    if anywhere:
        # Steps recorded in any open state (to: "=") are listed, not drawn on every box.
        ty = ly + 36
        out.append(f'<text x="{lx}" y="{ty}" font-weight="bold">{escape(_ANYWHERE.get(locale[:2], _ANYWHERE["en"]))}</text>')
        for t in anywhere:
            ty += 18
            out.append(f'<text x="{lx + 12}" y="{ty}">• {escape(t.label.get(locale))}</text>')
    for category, (fill, stroke) in COLOURS.items():
        out.append(f'<rect x="{lx}" y="{ly}" width="14" height="14" rx="3" fill="{fill}" stroke="{stroke}"/>')
        out.append(_text(lx + 18, ly + 11, category, font_size="10", fill="#333"))
        lx += 90
    out.append("</svg>")
    return "\n".join(out)
