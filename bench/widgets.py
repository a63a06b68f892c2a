"""Widget redraw times: the median seconds from a control's change to a new figure, for every widget of
``helpers.widgets`` that builds with its defaults, and for those that need a chapter's precomputed results
(``WITH_DATA``: built here from the same helpers calls, smaller where the size does not change the figure).
The chapters' target: under 0.25 s.

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


def _dominance_monitor() -> object:
    from helpers import challenges, widgets

    return widgets.dominance_monitor(challenges.dominance_grid((1.0, 2.0, 5.0)), threshold=5.0)


def _missing_and_dropout() -> object:
    from helpers import challenges, widgets

    rates = (0.0, 0.25, 0.5, 0.75)
    missing = challenges.missing_modality_study(rates, n=300)
    extra = challenges.dropout_rate_study((0.25, 0.75), rates, n=300)
    curves = challenges.curves_by_dropout_rate(missing, extra)
    imputation = {name: methods["Gaussian imputation"] for name, methods in missing.items()}
    return widgets.missing_and_dropout(curves, imputation, rates, rate=0.75)


# Widgets whose arguments a chapter computes first: name -> a function building one.
WITH_DATA = {"dominance_monitor": _dominance_monitor, "missing_and_dropout": _missing_and_dropout}


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
            box = WITH_DATA[name]() if name in WITH_DATA else function()
        except (TypeError, ValueError):  # needs data the chapter builds first
            continue
        if not hasattr(box, "redraw"):
            continue
        seconds = redraw_seconds(box)
        flag = "  over the 0.25 s target" if seconds > TARGET_SECONDS else ""
        print(f"{name:36s} {seconds:9.3f}{flag}", flush=True)


if __name__ == "__main__":
    main()
