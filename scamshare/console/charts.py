"""Charts and the member-state map, drawn on the server as inline SVG: no chart script at all.

Colours come from classes in static/console.css (the page's CSP allows no inline style).
"""

from __future__ import annotations

from markupsafe import Markup, escape

# Approximate capital positions (longitude, latitude): enough to place each member state.
CAPITALS = {
    "MM": (96.1, 19.7),
    "TH": (100.5, 13.8),
    "LA": (102.6, 18.0),
    "KH": (104.9, 11.6),
    "VN": (105.8, 21.0),
    "MY": (101.7, 3.1),
    "SG": (103.8, 1.35),
    "BN": (114.9, 4.9),
    "PH": (121.0, 14.6),
    "ID": (106.8, -6.2),
    "TL": (125.6, -8.6),
}
_LON, _LAT = (92.0, 130.0), (-11.0, 24.0)


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    """An accessible SVG element around drawn parts."""
    label = escape(title)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{label}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>{"".join(body)}</svg>'
    )


def lines(days: dict[str, dict[str, int]], series: dict[str, str], title: str) -> Markup:
    """One line per series (metric: label) over days (day: metric: count), with a legend."""
    width, height, left, bottom, top = 720, 240, 44, 28, 24
    names = list(days)
    peak = max([1] + [counts.get(metric, 0) for counts in days.values() for metric in series])
    plot_w, plot_h = width - left - 12, height - bottom - top
    step = plot_w / max(1, len(names) - 1)
    body = [
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{width - 12}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        f'<text class="tick" x="{left - 4}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text class="tick" x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    for index, day in enumerate(names):
        last = index == len(names) - 1
        if (index % 7 == 0 and len(names) - 1 - index >= 4) or last:
            x = left + index * step
            anchor = "end" if last else "middle"  # the last day's label stays inside
            body.append(
                f'<text class="tick" x="{x:.1f}" y="{height - 8}" text-anchor="{anchor}">'
                f"{escape(day[5:])}</text>"
            )
    for position, (metric, label) in enumerate(series.items()):
        heights = [days[day].get(metric, 0) / peak * plot_h for day in names]
        points = " ".join(
            f"{left + index * step:.1f},{top + plot_h - height:.1f}"
            for index, height in enumerate(heights)
        )
        body.append(f'<polyline class="series s{position}" points="{points}"/>')
        x = left + position * 150
        body.append(f'<rect class="swatch s{position}" x="{x}" y="4" width="12" height="12"/>')
        body.append(f'<text class="legend" x="{x + 16}" y="14">{escape(label)}</text>')
    return _svg(width, height, title, body)


def bars(counts: dict[str, int], title: str, limit: int = 12) -> Markup:
    """Horizontal bars, one per name, largest first."""
    items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]
    width, row, label_w = 480, 22, 170
    height = max(1, len(items)) * row + 8
    peak = max([1] + [count for _, count in items])
    body = []
    for index, (name, count) in enumerate(items):
        y = 4 + index * row
        length = (width - label_w - 60) * count / peak
        body.append(
            f'<text class="legend" x="{label_w - 6}" y="{y + 14}" text-anchor="end">'
            f"{escape(name)}</text>"
        )
        body.append(
            f'<rect class="bar" x="{label_w}" y="{y + 2}" width="{length:.1f}" height="{row - 6}"/>'
        )
        body.append(
            f'<text class="tick" x="{label_w + length + 4:.1f}" y="{y + 14}">{count}</text>'
        )
    if not items:
        body.append('<text class="legend" x="8" y="18">nothing in this period</text>')
    return _svg(width, height, title, body)


def member_map(own: str, peers: dict[str, str]) -> Markup:
    """The member states, this node's in the middle of lines to its peers (country: health)."""
    width, height = 560, 520

    def place(country: str) -> tuple[float, float]:
        """Project a capital onto the drawing (equirectangular)."""
        lon, lat = CAPITALS[country]
        x = 20 + (lon - _LON[0]) / (_LON[1] - _LON[0]) * (width - 40)
        y = 20 + (_LAT[1] - lat) / (_LAT[1] - _LAT[0]) * (height - 40)
        return x, y

    body = ['<rect class="sea" x="0" y="0" width="560" height="520"/>']
    ox, oy = place(own)
    for country, health in sorted(peers.items()):
        if country in CAPITALS:
            x, y = place(country)
            body.append(
                f'<line class="link {escape(health)}" x1="{ox:.0f}" y1="{oy:.0f}" '
                f'x2="{x:.0f}" y2="{y:.0f}"/>'
            )
    for country in sorted(CAPITALS):
        x, y = place(country)
        state = "self" if country == own else peers.get(country, "none")
        body.append(f'<circle class="state {state}" cx="{x:.0f}" cy="{y:.0f}" r="11"/>')
        body.append(
            f'<text class="state-label" x="{x:.0f}" y="{y + 26:.0f}" text-anchor="middle">'
            f"{country}</text>"
        )
    return _svg(width, height, "Member states and this node's peers", body)
