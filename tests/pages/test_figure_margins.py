"""The page's plots keep their axis labels inside the PNG: with fixed margins the y-axis label and the tick labels
of a narrow figure (the diagnosis plots) were cut off at the image's left edge."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from labelsieve.report.plots import figure_data_uri, new_figure


def _image(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("L"))


def test_a_narrow_figure_keeps_its_y_axis_label_inside_the_image() -> None:
    fig = new_figure(6, 3)  # the entropy histogram's size
    ax = fig.subplots()
    ax.bar(np.arange(30), np.linspace(100, 12000, 30))  # five-digit tick labels
    ax.set_ylabel("pool tasks (sample of 2000)")
    ax.set_xlabel("predictive entropy (nats)")
    pixels = _image(figure_data_uri(fig))
    ink = np.argwhere(pixels < 128)
    assert len(ink), "nothing drawn"
    left, bottom = ink[:, 1].min(), ink[:, 0].max()
    assert left >= 2, f"something is drawn at the image's left edge (column {left}): a label is clipped"
    assert bottom <= pixels.shape[0] - 3, "something is drawn at the image's bottom edge: a label is clipped"
