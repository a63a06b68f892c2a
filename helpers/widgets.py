"""Interactive controls for the chapters: each widget is a function returning an ipywidgets object
that redraws one figure when a control moves.

Every chapter widget follows one pattern, ``redrawing(draw, **controls)``: ``draw`` is a plots
function taking the controls' values as keyword arguments and returning a Figure. A chapter shows
the same figure statically just before the widget, so the static HTML edition (where widgets do
not run) still has it.
"""

from __future__ import annotations

from typing import Callable

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure


def redrawing(draw: Callable[..., Figure], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Controls above an output area that shows ``draw(**values)`` and redraws it on every change."""
    if not controls:
        raise ValueError("redrawing needs at least one control, e.g. noise=slider(...)")
    out = widgets.Output()

    def redraw(_change: object = None) -> None:
        values = {name: control.value for name, control in controls.items()}
        with out:
            out.clear_output(wait=True)
            display(draw(**values))

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox(list(controls.values())), out])
    box.redraw = redraw  # lets tests (and curious students) redraw by hand
    return box


def slider(description: str, value: float, low: float, high: float, step: float) -> widgets.FloatSlider:
    """A float slider that redraws only when released (keeps a slow figure responsive)."""
    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                               continuous_update=False, readout_format=".2f",
                               style={"description_width": "initial"})


# ---------------------------------------------------------------------------------------------
# Chapter 01 — principles: widgets
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 02 — alignment: widgets
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 03 — fusion: widgets
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 04 — challenges: widgets
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Chapter 05 — applications: widgets
# ---------------------------------------------------------------------------------------------
