"""Self-contained HTML reports (inline CSS, plots as inline PNG data URIs) plus their JSON twin.

Sections from every area (robustness, fuzzing, privacy) use the same few helpers so one page can hold
them all and open offline in any browser.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from .atomic import atomic_write_text

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.6em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3} td.num{text-align:right}
.verdict-pass{color:#17692c;font-weight:600} .verdict-warn{color:#a36100;font-weight:600}
.verdict-fail{color:#b00020;font-weight:600} .muted{color:#777} figure{margin:.6em 0} img{max-width:100%}
.warning{background:#fff4e0;border-left:4px solid #e59b00;padding:.4em .8em;margin:.4em 0}
"""


@attrs.frozen
class Section:
    """One part of a report: an id (anchor and JSON key), a title and its HTML body."""

    id: str
    title: str
    body: str


def esc(text: Any) -> str:
    return html.escape(str(text))


def figure_uri(fig: Any) -> str:
    """A matplotlib figure as a PNG data URI (the figure is closed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def img(uri: str, alt: str) -> str:
    return f'<figure><img src="{uri}" alt="{esc(alt)}"><figcaption class="muted">{esc(alt)}</figcaption></figure>'


def image_grid(rows: Sequence[np.ndarray], row_titles: Sequence[str], col_titles: Sequence[str] = (),
               bounds: tuple[float, float] = (0.0, 1.0), title: str = "") -> str:
    """A grid of images (each row a batch of (N, C, H, W) or (N, H, W)) as an inline figure."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(1.2 * ncols, 1.3 * len(rows)), squeeze=False)
    for i, batch in enumerate(rows):
        for j in range(ncols):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(batch):
                im = np.asarray(batch[j])
                if im.ndim == 3:
                    im = im[0] if im.shape[0] == 1 else np.transpose(im, (1, 2, 0))
                ax.imshow(im, cmap="gray", vmin=bounds[0], vmax=bounds[1])
                if i == 0 and j < len(col_titles):
                    ax.set_title(col_titles[j], fontsize=7)
        axes[i][0].text(-0.1, 0.5, row_titles[i], transform=axes[i][0].transAxes, ha="right", va="center",
                        fontsize=8)
    return img(figure_uri(fig), title or "examples")


class Raw(str):
    """Table cell content that is already HTML (not escaped)."""


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, Raw):
            return str(v)
        if isinstance(v, float):
            return f"{v:.4g}"
        return esc(v)

    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    def td(v: Any) -> str:
        numeric = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        return f'<td class="num">{cell(v)}</td>' if numeric else f"<td>{cell(v)}</td>"

    body = "".join("<tr>" + "".join(td(v) for v in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, sections: Sequence[Section]) -> str:
    nav = " · ".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    body = "\n".join(f'<section id="{esc(s.id)}"><h2>{esc(s.title)}</h2>\n{s.body}\n</section>' for s in sections)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1><nav>{nav}</nav>\n{body}\n</body></html>")


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if attrs.has(type(obj)):
        return attrs.asdict(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write(out_dir: str | Path, name: str, html_text: str, data: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``name.html`` and ``name.json`` atomically into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h, j = out / f"{name}.html", out / f"{name}.json"
    atomic_write_text(j, json.dumps(data, indent=2, default=_jsonable, allow_nan=False))
    atomic_write_text(h, html_text)
    return h, j


def line_chart(x: Sequence[float], series: dict[str, Sequence[float]], *, xlabel: str = "", ylabel: str = "",
               title: str = "", ylim: tuple[float, float] | None = None, highlight: str | None = None) -> str:
    """Lines of ``series`` (name -> y values over ``x``) as an inline figure; ``highlight`` draws one series
    thicker (e.g. the worst case over an ensemble)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, ys in series.items():
        bold = name == highlight
        ax.plot(list(x), list(ys), marker="o", lw=2.8 if bold else 1.4, color="black" if bold else None,
                label=name, zorder=3 if bold else 2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return img(figure_uri(fig), title or ylabel)


def warnings_html(messages: Sequence[str]) -> str:
    """Warning boxes (nothing when there are none)."""
    return "".join(f'<div class="warning">{esc(m)}</div>' for m in messages)
