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
