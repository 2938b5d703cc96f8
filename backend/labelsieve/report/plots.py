"""matplotlib figures as self-contained ``data:`` URIs (no pyplot, no display, no files)."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure


def new_figure(width: float, height: float, *, right: float = 0.97) -> Figure:
    """A figure with fixed margins (``right`` < 1 leaves room for a legend outside the axes): constrained layout
    would cost a second draw per figure."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.08, right=right, bottom=0.16, top=0.95)
    return fig


def figure_data_uri(fig: Figure, dpi: int = 90) -> str:
    """The figure as a PNG ``data:`` URI, cropped to what it draws (``bbox_inches="tight"``): the fixed margins of
    :func:`new_figure` clipped long y-axis labels and tick labels of narrow figures."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.05, facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
