"""Figures the chapters share. Every function returns a ``matplotlib.figure.Figure``.

Figures are built without pyplot's global state (``new_figure``), so a notebook cell shows a
figure exactly once, by ending with it, and tests can draw figures without a display.
Figure text is English only: matplotlib's default fonts have no CJK glyphs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# One colour per role, fixed across the course.
COLORS: dict[str, str] = {
    "vision": "#1f77b4", "text": "#ff7f0e", "audio": "#9467bd", "fused": "#2ca02c",
    "poe": "#2ca02c", "moe": "#d62728", "truth": "#444444", "chance": "#999999",
}
STYLE = {"axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
         "axes.spines.right": False, "figure.dpi": 90, "font.size": 10}
matplotlib.rcParams.update(STYLE)


def _show_figures_inline() -> None:
    """In a Jupyter kernel, display a returned Figure as a PNG (figures here bypass pyplot)."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "kernel"):
        select_figure_formats(shell, {"png"})


_show_figures_inline()


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 4.2, height: float = 3.4,
               **subplot_kw: object) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure of ``nrows × ncols`` panels, each ``width × height`` inches.

    Returns the figure and a flat array of its axes.
    """
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, subplot_kw=subplot_kw or None)
    return fig, axes.ravel()


def bar_values(values: Mapping[str, float], *, title: str = "", ylabel: str = "",
               chance: float | None = None, ax: Axes | None = None, fmt: str = "{:.2f}") -> Figure:
    """Bars of named values with the value printed on each bar; optional dashed chance line."""
    fig, (axis,) = new_figure() if ax is None else (ax.figure, np.array([ax]))
    names = list(values)
    heights = [float(values[name]) for name in names]
    bars = axis.bar(names, heights, color=[COLORS.get(name, "#4c72b0") for name in names])
    for bar, height in zip(bars, heights):
        axis.annotate(fmt.format(height), (bar.get_x() + bar.get_width() / 2, height),
                      ha="center", va="bottom", fontsize=9)
    if chance is not None:
        axis.axhline(chance, ls="--", color=COLORS["chance"], label="chance")
        axis.legend(loc="lower right")
    axis.set(title=title, ylabel=ylabel)
    axis.tick_params(axis="x", rotation=20)
    return fig


def curves(history: Mapping[str, Sequence[float]], *, title: str = "", xlabel: str = "step",
           ylabel: str = "", logy: bool = False, ax: Axes | None = None) -> Figure:
    """One line per named series (e.g. a training history from ``helpers.train.fit``)."""
    fig, (axis,) = new_figure(width=5.5) if ax is None else (ax.figure, np.array([ax]))
    for name, values in history.items():
        axis.plot(np.asarray(values, dtype=float), label=name, color=COLORS.get(name))
    axis.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if logy:
        axis.set_yscale("log")
    axis.legend()
    return fig


# ---------------------------------------------------------------------------------------------
# Chapter 01 — principles: figures
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 02 — alignment: figures
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 03 — fusion: figures
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 04 — challenges: figures
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 05 — applications: figures
# ---------------------------------------------------------------------------------------------
