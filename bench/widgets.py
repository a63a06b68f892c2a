"""Widget redraw times: the median seconds from a control's change to a new figure, for every widget of
``helpers.widgets`` that builds with its defaults (the chapters' target: under 0.25 s).

Run by ``make bench`` (``bench/run.py``) or alone: ``python bench/widgets.py``. A benchmark: it prints and
never fails.
"""

from __future__ import annotations

import inspect
import statistics
import time

TARGET_SECONDS = 0.25
REPEATS = 5


def redraw_seconds(box: object) -> float:
    """Median wall seconds of ``box.redraw()`` (the function every course widget exposes)."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        box.redraw()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import matplotlib
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    matplotlib.use("agg")
    shell = InteractiveShell.instance()  # as in a kernel, each redraw encodes its figure as PNG
    shell.display_formatter.formatters["image/png"].for_type(Figure, lambda fig: print_figure(fig, "png"))
    from helpers import widgets

    print(f"{'widget':36s} {'median s':>9s}")
    for name, function in sorted(vars(widgets).items()):
        own = inspect.isfunction(function) and function.__module__ == widgets.__name__
        if name.startswith("_") or not own:
            continue
        try:
            box = function()
        except (TypeError, ValueError):  # needs data the chapter builds first
            continue
        if not hasattr(box, "redraw"):
            continue
        seconds = redraw_seconds(box)
        flag = "  over the 0.25 s target" if seconds > TARGET_SECONDS else ""
        print(f"{name:36s} {seconds:9.3f}{flag}", flush=True)


if __name__ == "__main__":
    main()
