"""helpers.plots: shared figure tools return Figures without touching pyplot's global state.
Each chapter's figures are exercised by its own test file and notebook."""

from __future__ import annotations

import matplotlib
from matplotlib.figure import Figure

from helpers import plots


def test_new_figure_returns_flat_axes_of_the_requested_grid() -> None:
    fig, axes = plots.new_figure(3, 2, width=2, height=1)
    assert isinstance(fig, Figure) and axes.shape == (6,)
    assert tuple(fig.get_size_inches()) == (6, 2)


def test_shared_figures_leave_pyplot_untouched() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    bars = plots.bar_values({"vision": 0.5, "fused": 0.9}, title="t", chance=0.5)
    lines = plots.curves({"loss": [3, 2, 1]}, logy=True)
    assert plt.get_fignums() == before
    heights = [patch.get_height() for patch in bars.axes[0].patches]
    assert heights == [0.5, 0.9]
    assert lines.axes[0].get_yscale() == "log" and len(lines.axes[0].lines) == 1
    assert matplotlib.rcParams["axes.grid"] is True
