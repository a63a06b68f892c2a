"""helpers.widgets: the one widget pattern redraws its figure when a control moves."""

from __future__ import annotations

import pytest

from helpers import plots, widgets


def test_redrawing_calls_draw_with_current_values_on_every_change() -> None:
    calls = []

    def draw(noise: float):
        calls.append(noise)
        return plots.bar_values({"vision": noise})

    control = widgets.slider("noise", 0.3, 0.0, 1.0, 0.1)
    box = widgets.redrawing(draw, noise=control)
    control.value = 0.7
    assert calls == [0.3, 0.7]
    assert box.children[0].children[0] is control


def test_redrawing_needs_a_control() -> None:
    with pytest.raises(ValueError, match="at least one control"):
        widgets.redrawing(lambda: None)
