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


def test_a_widget_cell_sends_nothing_to_the_kernel_under_nbclient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drawing into an Output widget from the kernel (not ``with out: display(...)``) keeps nbclient from
    sending a comm message on the shell socket while it waits there for the cell's reply: that send could
    swallow the reply's wake-up and leave the cell waiting its whole time limit with the kernel idle."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.output_widget import OutputWidget

    sent = []
    original = OutputWidget._publish_msg
    monkeypatch.setattr(OutputWidget, "_publish_msg",
                        lambda self, *a, **k: (sent.append(a), original(self, *a, **k)))
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
        "from helpers import plots, widgets\n"
        "widgets.redrawing(lambda noise: plots.bar_values({'vision': noise}),\n"
        "                  noise=widgets.slider('noise', 0.3, 0.0, 1.0, 0.1))")]
    NotebookClient(nb, timeout=120, startup_timeout=120, kernel_name="python3").execute()
    views = [o for o in nb.cells[0].outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views and not sent, sent


def test_xor_noise_redraws_precomputed_models_in_one_figure() -> None:
    """The chapter-01 noise widget trains its models once per noise level when it is made; moving the slider
    only updates the figure (the same Figure object, its panels' titles giving that level's accuracies)."""
    frames = widgets.xor_frames((0.2, 1.5), resolution=20)
    assert set(frames) == {0.2, 1.5}
    assert frames[0.2]["accuracy"]["interaction"] > 0.9 > 0.7 > frames[1.5]["accuracy"]["interaction"]
    draw = plots.xor_boundaries_in_place()
    first = draw(frames[0.2], "noise 0.2")
    titles = [axis.get_title() for axis in first.axes[:4]]
    second = draw(frames[1.5], "noise 1.5")
    assert second is first and [axis.get_title() for axis in second.axes[:4]] != titles
    assert f"{frames[1.5]['accuracy']['MLP']:.1%}" in second.axes[3].get_title()
    box = widgets.xor_noise(seed=0, noise=0.4)
    control = box.children[0].children[0]
    assert list(control.options) == list(widgets.XOR_NOISES)
    for value in (0.1, 1.5):
        control.value = value
        assert box.children[-1].outputs, value
