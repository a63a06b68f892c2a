"""Figures the chapters share. Every function returns a ``matplotlib.figure.Figure``.

Figures are built without pyplot's global state (``new_figure``), so a notebook cell shows a
figure exactly once, by ending with it, and tests can draw figures without a display.
Figure text is English only: matplotlib's default fonts have no CJK glyphs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullLocator

from ._checks import (
    as_array,
    check_in_range,
    check_positive_int,
    check_probabilities,
    check_same_length,
    check_same_shape,
)

if TYPE_CHECKING:
    from .applications import CalibrationSweep, Complementarity, GeneLipidMap, Reliability
    from .principles import ViewsRow, XorFit

# The course's colours, by hue.
PALETTE: dict[str, str] = {
    "blue": "#1f77b4", "orange": "#ff7f0e", "purple": "#9467bd", "green": "#2ca02c",
    "red": "#d62728", "dark": "#444444", "grey": "#999999",
}
# One colour per role, fixed across the course: figures name the role, never the hue.
COLORS: dict[str, str] = {
    "vision": PALETTE["blue"], "text": PALETTE["orange"], "audio": PALETTE["purple"],
    "fused": PALETTE["green"], "poe": PALETTE["green"], "moe": PALETTE["red"],
    "truth": PALETTE["dark"], "chance": PALETTE["grey"],
    "negative": PALETTE["red"],   # a non-matching pair, a negative example
    "error": PALETTE["red"],      # an error rate drawn beside a bound
    "event": PALETTE["red"],      # a moment marked on a training curve (a trigger)
}
# Colours for series that have no role (methods, data sets), in a fixed order.
SERIES: tuple[str, ...] = (PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["red"],
                           PALETTE["purple"])
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


def _check_mapping(value: object, name: str, what: str) -> None:
    """``value`` is a non-empty mapping (``what`` says of what, for the message)."""
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{name} must be a non-empty mapping {what}, got {type(value).__name__}")


def _check_record(value: object, name: str, fields: tuple[str, ...], what: str) -> None:
    """``value`` has the fields of the record ``what`` (checked by its fields, so a reloaded module's
    record still passes)."""
    if not all(hasattr(value, field) for field in fields):
        raise ValueError(f"{name} must be a {what}, got {type(value).__name__}")


def _check_series(series: Mapping[str, Sequence[float]], n: int, name: str, per: str) -> None:
    """Every entry of ``series`` holds ``n`` values, one per entry of ``per``."""
    for key, values in series.items():
        if np.shape(values) != (n,):
            raise ValueError(f"{name}[{key!r}] must hold one value per entry of {per} ({n}), "
                             f"got shape {np.shape(values)}")


def _check_points(points: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    """``points`` as an (n, d ≥ 2) array (the first two columns are drawn)."""
    points = as_array(points, name, ndim=2)
    if points.shape[1] < 2 or (n is not None and len(points) != n):
        rows = "n" if n is None else n
        raise ValueError(f"{name} must have shape ({rows}, d) with d >= 2, got {points.shape}")
    return points


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 4.2, height: float = 3.4,
               **subplot_kw: object) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure of ``nrows × ncols`` panels, each ``width × height`` inches.

    Returns the figure and a flat array of its axes.
    """
    check_positive_int(ncols, "ncols")
    check_positive_int(nrows, "nrows")
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, subplot_kw=subplot_kw or None)
    return fig, axes.ravel()


def bar_values(values: Mapping[str, float], *, title: str = "", ylabel: str = "",
               chance: float | None = None, ax: Axes | None = None, fmt: str = "{:.2f}") -> Figure:
    """Bars of named values with the value printed on each bar; optional dashed chance line."""
    _check_mapping(values, "values", "name -> number")
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
    _check_mapping(history, "history", "name -> values")
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

_LABEL_COLORS = {-1: COLORS["vision"], 1: COLORS["text"]}


def xor_risk_landscape(a_values: np.ndarray, b_values: np.ndarray, risk: np.ndarray) -> Figure:
    """Left: the four XOR inputs coloured by Y = -x1*x2. Right: the exact risk of sign(a x1 + b)
    over (a, b)."""
    from .principles import XOR_POINTS, xor_labels

    a_values, b_values = as_array(a_values, "a_values", ndim=1), as_array(b_values, "b_values", ndim=1)
    risk = as_array(risk, "risk", ndim=2)
    if risk.shape != (len(b_values), len(a_values)):
        raise ValueError(f"risk must have shape (len(b_values), len(a_values)) = "
                         f"{(len(b_values), len(a_values))}, got {risk.shape}")

    fig, (left, right) = new_figure(2, width=4.2, height=3.6)
    labels = xor_labels(XOR_POINTS)
    for label, marker in ((-1, "o"), (1, "s")):
        pts = XOR_POINTS[labels == label]
        left.scatter(pts[:, 0], pts[:, 1], s=160, marker=marker, color=_LABEL_COLORS[label],
                     label=f"Y = {label:+d}")
    left.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), xlabel="x1", ylabel="x2", title="XOR: Y = -x1 x2",
             aspect="equal")
    left.legend(loc="center")
    mesh = right.pcolormesh(a_values, b_values, risk, shading="nearest", cmap="viridis", vmin=0, vmax=1)
    fig.colorbar(mesh, ax=right, label="risk P(sign(a x1 + b) != Y)")
    right.set(xlabel="a", ylabel="b", title=f"unimodal risk: min {risk.min():.2f}, max {risk.max():.2f}")
    right.grid(False)
    return fig


def xor_frame(fit: XorFit, x: np.ndarray, y: np.ndarray, *, limit: float = 2.5,
              resolution: int = 120) -> dict[str, object]:
    """What ``xor_boundaries_in_place`` draws for trained XOR classifiers (``principles.XorFit``): ``probs``,
    each model's P(Y=1) on a ``resolution``² grid over [−limit, limit]² (rows: x2, columns: x1); ``accuracy``,
    each model's held-out accuracy; ``x`` (n, 2) and ``y`` (n,), the test points."""
    _check_record(fit, "fit", ("predict", "accuracy"), "principles.XorFit (from fit_xor_models)")
    x = _check_points(x, "x")
    y = as_array(y, "y", ndim=1)
    check_same_length(x=x, y=y)
    check_positive_int(resolution, "resolution", minimum=2)
    grid = np.linspace(-limit, limit, resolution)
    g1, g2 = np.meshgrid(grid, grid)
    flat = np.column_stack([g1.ravel(), g2.ravel()])
    return {"probs": {name: f(flat).reshape(g1.shape) for name, f in fit.predict.items()},
            "accuracy": dict(fit.accuracy), "x": x, "y": y}


def xor_decision_boundaries(fit: XorFit, x: np.ndarray, y: np.ndarray, *, limit: float = 2.5,
                            resolution: int = 120) -> Figure:
    """One panel per trained XOR classifier (``principles.XorFit``): its P(Y=1) regions, the 0.5
    boundary, the test points (x = (x1, x2), y in {0, 1}) and the held-out accuracy — the figure the
    chapter-01 noise widget redraws (``xor_boundaries_in_place``), drawn once."""
    frame = xor_frame(fit, x, y, limit=limit, resolution=resolution)
    return xor_boundaries_in_place(limit=limit, shown=len(frame["x"]))(frame)


def xor_boundaries_in_place(*, limit: float = 2.5, shown: int = 500) -> Callable[[Mapping[str, object], str],
                                                                                  Figure]:
    """For a widget: a function ``draw(frame, title)`` showing the panels of ``xor_decision_boundaries`` for
    one precomputed ``frame`` (``probs``: name → P(Y=1) on a square grid over [−limit, limit]², ``accuracy``:
    name → held-out accuracy, ``x`` (n, 2) and ``y`` (n,): test points, of which the first ``shown`` are
    drawn). The first call builds the figure; later calls update its images, boundaries, points and titles in
    place, so a redraw only re-renders."""
    check_in_range(limit, "limit", 0.0, 100.0, low_open=True)
    check_positive_int(shown, "shown")
    state: dict[str, object] = {}

    def draw(frame: Mapping[str, object], title: str = "") -> Figure:
        _check_mapping(frame, "frame", "probs / accuracy / x / y")
        probs, accuracy = frame["probs"], frame["accuracy"]
        x, y = _check_points(frame["x"], "frame['x']"), as_array(frame["y"], "frame['y']", ndim=1)
        x, y = x[:shown], y[:shown]
        rgba = matplotlib.colors.to_rgba_array([COLORS["vision"], COLORS["text"]], alpha=0.6)
        colours = rgba[(y == 1).astype(int)]   # one RGBA row per point: no per-point colour parsing
        if not state:
            fig = Figure(figsize=(3.1 * len(probs), 3.7))   # a fixed layout, computed once
            fig.subplots_adjust(left=0.06, right=0.9, bottom=0.24, top=0.8, wspace=0.1)
            axes = fig.subplots(1, len(probs), sharey=True)
            extent = (-limit, limit, -limit, limit)
            images = [axis.imshow(np.zeros((2, 2)), extent=extent, origin="lower", cmap="coolwarm",
                                  alpha=0.55, vmin=0, vmax=1) for axis in axes]
            points = [axis.scatter(x[:, 0], x[:, 1], s=5) for axis in axes]
            for axis in axes:
                axis.set(xlabel="x1", xlim=extent[:2], ylim=extent[2:], xticks=[-2, 0, 2], yticks=[-2, 0, 2])
                axis.grid(False)
            axes[0].set_ylabel("x2")
            fig.colorbar(images[-1], cax=fig.add_axes((0.915, 0.3, 0.012, 0.45), label="<colorbar>"),
                         label="model's P(Y = 1)")
            handles = [Line2D([], [], ls="", marker="o", color=COLORS[role]) for role in ("vision", "text")]
            fig.legend(handles + [Line2D([], [], color="k", lw=1.2)],
                       ["test point, Y = 0", "test point, Y = 1", "boundary P(Y=1) = 0.5"],
                       loc="lower center", ncols=3, fontsize=8)
            state.update(fig=fig, axes=axes, images=images, points=points, boundaries=[None] * len(axes))
        fig, axes = state["fig"], state["axes"]
        for k, (axis, (name, prob)) in enumerate(zip(axes, probs.items())):
            prob = as_array(prob, f"frame['probs'][{name!r}]", ndim=2)
            grid = np.linspace(-limit, limit, prob.shape[0])
            state["images"][k].set_data(prob)
            state["points"][k].set_offsets(x)
            state["points"][k].set_facecolor(colours)
            state["points"][k].set_edgecolor(colours)
            if state["boundaries"][k] is not None:
                state["boundaries"][k].remove()
            state["boundaries"][k] = axis.contour(grid, grid, prob, levels=[0.5], colors="k", linewidths=1.2)
            axis.set_title(f"{name}\naccuracy {accuracy[name]:.1%}", fontsize=10)
        fig.suptitle(title, x=0.48, fontsize=10)
        return fig

    return draw


def labellings_grid(points: np.ndarray, labellings: np.ndarray,
                    realisable: Mapping[str, np.ndarray]) -> Figure:
    """All labellings of a few 2-D points, one small panel each; the title says which hypothesis
    classes (keys of ``realisable``: name -> bool per labelling) realise it. Unrealisable ones are shaded."""
    points = _check_points(points, "points")
    labellings = as_array(labellings, "labellings", ndim=2)
    if labellings.shape[1] != len(points):
        raise ValueError(f"labellings must have one column per point ({len(points)}), got {labellings.shape}")
    _check_series(realisable, len(labellings), "realisable", "labellings")
    n = len(labellings)
    ncols = int(np.ceil(np.sqrt(n)))
    nrows = int(np.ceil(n / ncols))
    fig, axes = new_figure(ncols, nrows, width=1.9, height=1.9)
    for i, axis in enumerate(axes):
        axis.set(xticks=[], yticks=[], xlim=(-1.7, 1.7), ylim=(-1.7, 1.7), aspect="equal")
        axis.grid(False)
        if i >= n:
            axis.set_visible(False)
            continue
        for point, label in zip(points, labellings[i]):
            axis.scatter(*point, s=90, marker="s" if label > 0 else "o", color=_LABEL_COLORS[int(label)])
        marks = [f"{name} {'yes' if ok[i] else 'no'}" for name, ok in realisable.items()]
        if not all(ok[i] for ok in realisable.values()):
            axis.set_facecolor("#f3e0e0")
        axis.set_title("\n".join(marks), fontsize=8)
    return fig


def information_and_error(rows: Sequence[ViewsRow], *, title: str = "") -> Figure:
    """Left: I(Y; X) in bits per set of views. Right: Fano's lower bound beside the Bayes error.
    ``rows`` are ``principles.ViewsRow``s."""
    if not isinstance(rows, Sequence) or not rows:
        raise ValueError("rows must be a non-empty list of principles.ViewsRow")
    for i, row in enumerate(rows):
        _check_record(row, f"rows[{i}]", ("views", "information", "fano_bound", "bayes_error"),
                      "principles.ViewsRow")
    fig, (left, right) = new_figure(2, width=4.0, height=3.2)
    names = [r.views for r in rows]
    position = np.arange(len(rows))
    left.bar(position, [r.information for r in rows], color=COLORS["fused"])
    for x, r in zip(position, rows):
        left.annotate(f"{r.information:.3f}", (x, r.information), ha="center", va="bottom", fontsize=9)
    left.set(xticks=position, xticklabels=names, ylabel="I(Y; X)  [bits]", ylim=(0, 1.1), title="information")
    width = 0.38
    right.bar(position - width / 2, [r.fano_bound for r in rows], width, label="Fano lower bound",
              color=COLORS["chance"])
    right.bar(position + width / 2, [r.bayes_error for r in rows], width, label="Bayes error",
              color=COLORS["error"])
    for x, r in zip(position, rows):
        right.annotate(f"{r.fano_bound:.3f}", (x - width / 2, r.fano_bound), ha="center", va="bottom",
                       fontsize=7)
        right.annotate(f"{r.bayes_error:.3f}", (x + width / 2, r.bayes_error), ha="center", va="bottom",
                       fontsize=7)
    top = max(max(r.bayes_error, r.fano_bound) for r in rows)
    right.set(xticks=position, xticklabels=names, ylabel="0-1 error", title="error: bound vs achieved",
              ylim=(0, max(top, 0.01) * 1.35))
    right.legend(fontsize=8, loc="upper right", ncols=2)
    if title:
        fig.suptitle(title)
    return fig


def grouped_bars(groups: Mapping[str, Mapping[str, float]], *, ylabel: str = "", title: str = "",
                 fmt: str = "{:.2f}") -> Figure:
    """Bars of several named series side by side over the same categories: groups[series][category]."""
    _check_mapping(groups, "groups", "series -> {category: number}")
    for name, group in groups.items():
        _check_mapping(group, f"groups[{name!r}]", "category -> number")
    fig, (axis,) = new_figure(width=7.0, height=3.4)
    series = list(groups)
    categories = list(next(iter(groups.values())))
    width = 0.8 / len(series)
    palette = SERIES
    for s, name in enumerate(series):
        xs = np.arange(len(categories)) + (s - (len(series) - 1) / 2) * width
        heights = [float(groups[name][c]) for c in categories]
        axis.bar(xs, heights, width, label=name, color=palette[s % len(palette)])
        for x, h in zip(xs, heights):
            axis.annotate(fmt.format(h), (x, h), ha="center", va="bottom", fontsize=8)
    axis.set(xticks=np.arange(len(categories)), ylabel=ylabel, title=title)
    axis.set_xticklabels(categories, rotation=12)
    axis.legend(fontsize=8, loc="lower left")
    return fig


def _check_rows_of(table: Mapping[str, np.ndarray], name: str, columns: int, rows: str) -> None:
    """ValueError unless ``table`` maps names to 2-D arrays of shape (rows, ``columns``)."""
    _check_mapping(table, name, f"name -> ({rows}, {columns}) array")
    for key, values in table.items():
        if np.ndim(values) != 2 or np.shape(values)[1] != columns:
            raise ValueError(f"{name}[{key!r}] must have shape ({rows}, {columns}), got {np.shape(values)}")


def learning_curves_figure(sizes: Sequence[int], errors: Mapping[str, np.ndarray], *,
                           target: float | None = None, needed: Mapping[str, float] | None = None,
                           floors: Mapping[str, float] | None = None) -> Figure:
    """Mean held-out error against the training-set size (log scale) with a band of one standard
    deviation over repetitions; optional target line, samples needed (dotted) and Bayes-error floors."""
    sizes = as_array(sizes, "sizes", ndim=1)
    _check_rows_of(errors, "errors", len(sizes), "repeats")
    fig, (axis,) = new_figure(width=6.0, height=3.8)
    palette = [PALETTE["blue"], PALETTE["green"], PALETTE["orange"], PALETTE["purple"]]
    for k, (name, errs) in enumerate(errors.items()):
        colour = palette[k % len(palette)]
        mean, spread = errs.mean(axis=0), errs.std(axis=0)
        axis.plot(sizes, mean, "o-", color=colour, label=name)
        axis.fill_between(sizes, mean - spread, mean + spread, color=colour, alpha=0.2)
        if floors and name in floors:
            axis.axhline(floors[name], color=colour, ls=":", lw=1)
        if needed and np.isfinite(needed.get(name, np.inf)):
            axis.axvline(needed[name], color=colour, ls="--", lw=1)
            axis.annotate(f"n = {needed[name]:.0f}", (needed[name], 0.0),
                          xytext=(3, 3), textcoords="offset points", color=colour, fontsize=9)
    if target is not None:
        axis.axhline(target, color=COLORS["truth"], ls="--", lw=1, label=f"target error {target:.2f}")
    axis.set_xscale("log", base=2)
    axis.set(xlabel="training samples n", ylabel="held-out error", ylim=(0, None),
             title="learning curves (mean +- 1 sd; dotted: Bayes error)")
    axis.legend(fontsize=8)
    return fig


def sample_complexity_figure(sizes: Sequence[int], errors: Mapping[str, np.ndarray], *, target: float,
                             n: int, floors: Mapping[str, float]) -> Figure:
    """``learning_curves_figure`` with the samples needed to reach ``target`` and a marker at size ``n``
    whose legend gives each model's mean error and excess error (error - Bayes error) there."""
    from .principles import samples_needed

    sizes = as_array(sizes, "sizes", ndim=1)
    if n not in sizes:
        raise ValueError(f"n must be one of sizes {list(sizes.astype(int))}, got {n}")
    needed = {name: samples_needed(sizes, np.asarray(errs).mean(axis=0), target)
              for name, errs in errors.items()}
    fig = learning_curves_figure(sizes, errors, target=target, needed=needed, floors=floors)
    axis = fig.axes[0]
    j = int(np.flatnonzero(sizes == n)[0])
    text = [f"n = {n}:"]
    for name, e in errors.items():
        error = float(np.mean(np.asarray(e)[:, j]))
        reach = f"needs n = {needed[name]:.0f}" if np.isfinite(needed[name]) else \
            f"not reached by n = {int(sizes[-1])}"
        text.append(f"{name}: error {error:.3f}, excess {error - floors[name]:.3f}, {reach}")
    axis.axvline(n, color="k", lw=0.8, alpha=0.5)
    axis.text(0.98, 0.97, "\n".join(text), transform=axis.transAxes, ha="right", va="top", fontsize=7.5,
              bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none"})
    axis.legend(fontsize=8, loc="lower right", framealpha=0.9)
    axis.minorticks_off()
    return fig


# ---------------------------------------------------------------------------------------------
# Chapter 02 — alignment: figures
# ---------------------------------------------------------------------------------------------


def paired_views(latent: np.ndarray, x: np.ndarray, y: np.ndarray, color: np.ndarray, *,
                 titles: Sequence[str] = ("shared latent z", "view x = f_x(z)", "view y = f_y(z)")) -> Figure:
    """Three scatter plots (first two columns of each) coloured alike: the latent and its two views."""
    n = len(as_array(color, "color", ndim=1))
    latent, x, y = (_check_points(v, name, n) for v, name in ((latent, "latent"), (x, "x"), (y, "y")))
    fig, axes = new_figure(3, width=3.4, height=3.2)
    for axis, points, title in zip(axes, (latent, x, y), titles):
        axis.scatter(points[:, 0], points[:, 1], c=color, cmap="viridis", s=8)
        axis.set(title=title, xlabel="dim 1", ylabel="dim 2")
    return fig


def procrustes_before_after(x: np.ndarray, y: np.ndarray, aligned: np.ndarray, *, title: str = "",
                            links: int = 40) -> Figure:
    """Left: x and y with lines joining ``links`` pairs; right: Procrustes-aligned x over y."""
    x = _check_points(x, "x")
    y, aligned = _check_points(y, "y", len(x)), _check_points(aligned, "aligned", len(x))
    check_positive_int(links, "links")
    fig, axes = new_figure(2, width=3.8, height=3.4)
    for axis, source, name in ((axes[0], x, "x (before)"), (axes[1], aligned, "s x R + t (after)")):
        step = max(1, len(x) // links)
        for i in range(0, len(x), step):
            axis.plot([source[i, 0], y[i, 0]], [source[i, 1], y[i, 1]], color=COLORS["chance"], lw=0.5)
        axis.scatter(source[:, 0], source[:, 1], s=8, color=COLORS["vision"], label=name)
        axis.scatter(y[:, 0], y[:, 1], s=8, color=COLORS["text"], label="y")
        axis.set_aspect("equal", adjustable="datalim")
        axis.legend(loc="upper left", fontsize=8)
    axes[0].set_title("before alignment")
    axes[1].set_title("after Procrustes")
    if title:
        fig.suptitle(title)
    return fig


def triplet_geometry(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray,
                     gradients: Mapping[str, np.ndarray], *, step: float = 0.15) -> Figure:
    """One 2-D triplet with the descent direction −∂L/∂(point) drawn on a, p and n."""
    for point, name in ((anchor, "anchor"), (positive, "positive"), (negative, "negative")):
        if np.shape(point) != (2,) or np.shape(gradients.get(name)) != (2,):
            raise ValueError(f"{name} and gradients[{name!r}] must be 2-D points of shape (2,), got "
                             f"{np.shape(point)} and {np.shape(gradients.get(name))}")
    fig, (axis,) = new_figure(width=4.6, height=4.0)
    points = {"anchor": anchor, "positive": positive, "negative": negative}
    colours = {"anchor": COLORS["vision"], "positive": COLORS["fused"], "negative": COLORS["negative"]}
    for name, point in points.items():
        axis.scatter(*point, s=80, color=colours[name], label=name, zorder=3)
        move = -step * np.asarray(gradients[name])
        axis.annotate("", xy=point + move, xytext=point,
                      arrowprops={"arrowstyle": "->", "color": colours[name], "lw": 2})
    axis.set_aspect("equal", adjustable="datalim")
    axis.margins(0.3)
    axis.legend(loc="best", fontsize=8)
    axis.set_title("descent directions of the triplet loss")
    return fig


def distance_histograms(before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]) -> Figure:
    """Histograms of matched vs unmatched squared distances before and after training."""
    for distances, name in ((before, "before"), (after, "after")):
        if not isinstance(distances, Mapping) or not {"matched", "unmatched"} <= set(distances):
            raise ValueError(f"{name} must map 'matched' and 'unmatched' to distances "
                             "(alignment.pair_distances)")
    fig, axes = new_figure(2, width=4.0, height=3.2)
    bins = np.linspace(0.0, 4.0, 41)
    for axis, distances, title in ((axes[0], before, "before training"), (axes[1], after, "after training")):
        for name, colour in (("matched", COLORS["fused"]), ("unmatched", COLORS["negative"])):
            values = np.asarray(distances[name])
            axis.hist(values, bins=bins, alpha=0.6, color=colour,
                      label=f"{name} (mean {values.mean():.2f})")
        axis.set(title=title, xlabel="squared distance ||e_x - e_y||^2", ylabel="pairs")
        axis.legend(fontsize=8)
    return fig


def similarity_matrix(similarity: np.ndarray, *, title: str = "cosine similarity S_ij") -> Figure:
    """A heatmap of a (small) similarity matrix: the diagonal holds the true matches."""
    similarity = as_array(similarity, "similarity", ndim=2)
    fig, (axis,) = new_figure(width=4.2, height=3.6)
    image = axis.imshow(similarity, cmap="coolwarm", vmin=-1, vmax=1)
    fig.colorbar(image, ax=axis)
    axis.set(title=title, xlabel="candidate j (modality y)", ylabel="anchor i (modality x)")
    axis.grid(False)
    return fig


def softmax_temperature(similarities: np.ndarray, temperature: float,
                        reference: Sequence[float] = (1.0, 0.02)) -> Figure:
    """Bars of softmax(s / τ) over one anchor's candidates (candidate 0 the true match) at ``temperature``,
    with outlines at the ``reference`` temperatures for comparison."""
    from .alignment import softmax_over_similarities

    similarities = as_array(similarities, "similarities", ndim=1)
    fig, (axis,) = new_figure(width=5.5, height=3.2)
    index = np.arange(len(similarities))
    probabilities = softmax_over_similarities(similarities, temperature)
    colours = [COLORS["fused"]] + [COLORS["chance"]] * (len(index) - 1)
    axis.bar(index, probabilities, color=colours, label=f"tau = {temperature:.2f}")
    for tau, style in zip(reference, ("--", ":")):
        axis.step(index, softmax_over_similarities(similarities, tau), where="mid", ls=style,
                  color=COLORS["truth"], label=f"tau = {tau:g}")
    axis.set(ylim=(0, 1), xlabel="candidate j (0 = true match)", ylabel="p(j | anchor)",
             title=f"softmax over cosine similarities, p(match) = {probabilities[0]:.2f}")
    axis.legend(fontsize=8)
    return fig


def representation_comparison(table: Mapping[str, Mapping[str, float]]) -> Figure:
    """Left: retrieval recall@k per representation (grouped bars); right: probe accuracy vs labels
    per class."""
    _check_mapping(table, "table", "representation -> {'recall@k' or 'probe@m': number}")
    fig, axes = new_figure(2, width=4.6, height=3.4)
    names = list(table)
    recalls = [key for key in next(iter(table.values())) if key.startswith("recall@")]
    probes = [key for key in next(iter(table.values())) if key.startswith("probe@")]
    width = 0.8 / len(names)
    palette = ["#999999", "#8c564b", "#17becf", "#1f77b4", "#2ca02c", "#d62728"]
    for i, name in enumerate(names):
        colour = palette[i % len(palette)]
        heights = [table[name][key] for key in recalls]
        axes[0].bar(np.arange(len(recalls)) + i * width, heights, width, color=colour, label=name)
        axes[1].plot([int(key.split("@")[1]) for key in probes], [table[name][key] for key in probes],
                     marker="osD^vP"[i % 6], ls=("-", "--", ":", "-.")[i % 4], ms=7 - i, color=colour,
                     label=name, alpha=0.85)
    axes[0].set_xticks(np.arange(len(recalls)) + width * (len(names) - 1) / 2, recalls)
    axes[0].set(title="cross-modal retrieval (test pairs)", ylabel="recall", ylim=(0, 1))
    axes[1].set(title="linear probe with few labels", xlabel="labels per class", ylabel="test accuracy",
                ylim=(0, 1))
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=7, loc="lower right")
    return fig


def horizontal_bars(values: Mapping[str, float], *, title: str = "", xlabel: str = "",
                    fmt: str = "{:.3f}", ax: Axes | None = None) -> Figure:
    """Horizontal bars of named values (long names stay readable), the value written at each bar's end."""
    _check_mapping(values, "values", "name -> number")
    fig, (axis,) = new_figure(width=6.0, height=0.45 * len(values) + 1.2) if ax is None else \
        (ax.figure, np.array([ax]))
    names = list(values)[::-1]
    widths = [float(values[n]) for n in names]
    axis.barh(names, widths, color=[SERIES[i % len(SERIES)] for i in range(len(names))][::-1])
    for k, w in enumerate(widths):
        axis.annotate(fmt.format(w), (w, k), xytext=(3, 0), textcoords="offset points", va="center",
                      fontsize=8)
    axis.set(title=title, xlabel=xlabel, xlim=(0, max(widths) * 1.2 if max(widths) > 0 else 1))
    return fig


def granularity_bars(table: Mapping[str, Mapping[str, float]],
                     metrics: Sequence[str] = ("instance@1", "concept@1", "x->y probe"), *,
                     chance: float | None = None) -> Figure:
    """``grouped_bars`` of ``alignment.granularity_and_invariance`` results, one group per representation,
    the legend above the bars, and an optional chance line (e.g. 1 / number of classes)."""
    _check_mapping(table, "table", "representation -> {metric: number}")
    missing = [m for m in metrics if any(m not in row for row in table.values())]
    if missing:
        raise ValueError(f"metrics must be columns of table, missing {missing}")
    fig = grouped_bars({m: {name: row[m] for name, row in table.items()} for m in metrics}, ylabel="fraction",
                       title="granularity and invariance")
    axis = fig.axes[0]
    if chance is not None:
        axis.axhline(chance, ls="--", color=COLORS["chance"], lw=1, label=f"chance {chance:.2f}")
    axis.set_ylim(0, 1.0)
    axis.legend(fontsize=8, loc="upper left", ncols=2)
    return fig


def similarity_matrix_marked(similarity: np.ndarray, *, title: str = "cosine similarity S_ij",
                             ax: Axes | None = None) -> Figure:
    """``similarity_matrix`` with each row's largest entry marked by a dot and the true pairs (diagonal) by
    squares; the title counts the rows whose true pair is the row's maximum."""
    from .alignment import true_pair_ranks

    similarity = as_array(similarity, "similarity", ndim=2)
    fig, (axis,) = new_figure(width=4.6, height=3.8) if ax is None else (ax.figure, np.array([ax]))
    image = axis.imshow(similarity, cmap="coolwarm", vmin=-1, vmax=1)
    fig.colorbar(image, ax=axis, label="S_ij")
    n = len(similarity)
    axis.scatter(np.arange(n), np.arange(n), marker="s", s=90, facecolors="none", edgecolors="k",
                 label="true pair (i, i)")
    axis.scatter(similarity.argmax(axis=1), np.arange(n), marker="o", s=14, color="k", label="row maximum")
    top = int(np.sum(true_pair_ranks(similarity) == 1))
    axis.set(title=f"{title}\ntrue pair is the row maximum in {top} of {n} rows",
             xlabel="candidate j (modality y)", ylabel="anchor i (modality x)")
    axis.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2)
    axis.grid(False)
    return fig


def infonce_training_figure(history: Mapping[str, Sequence[float]], similarity: np.ndarray, *,
                            batch_size: int, untrained_loss: float, temperature: float) -> Figure:
    """Left: the InfoNCE loss per step, log(batch size) (a uniform softmax) and the loss of the untrained
    encoders on one batch. Right: ``similarity_matrix_marked`` for some test pairs after training."""
    if not isinstance(history, Mapping) or "loss" not in history:
        raise ValueError("history must map 'loss' to the loss per step (from alignment.train_alignment)")
    fig, axes = new_figure(2, width=4.8, height=4.0)
    loss = np.asarray(history["loss"], float)
    axes[0].plot(loss, color=SERIES[0], label="InfoNCE loss (training batches)")
    axes[0].axhline(np.log(batch_size), ls="--", color=COLORS["chance"],
                    label=f"log {batch_size} = {np.log(batch_size):.2f} (uniform softmax)")
    axes[0].axhline(untrained_loss, ls=":", color="k", label=f"untrained, one batch: {untrained_loss:.2f}")
    axes[0].set(title=f"InfoNCE training, tau = {temperature:g}", xlabel="step", ylabel="loss",
                ylim=(0, max(loss.max(), untrained_loss) * 1.1))
    axes[0].legend(fontsize=7)
    similarity_matrix_marked(similarity, title="S on test pairs (InfoNCE)", ax=axes[1])
    return fig


def softmax_temperature_classes(similarities: np.ndarray, temperature: float, same_class: Sequence[bool],
                                reference: Sequence[float] = (1.0, 0.02)) -> Figure:
    """``softmax_temperature`` with the candidates of the anchor's own class hatched, and the title naming
    the candidate that gets the most probability."""
    from .alignment import softmax_over_similarities

    same = np.asarray(same_class, bool)
    if same.shape != np.shape(similarities):
        raise ValueError(f"same_class must give one flag per candidate ({np.shape(similarities)}), "
                         f"got {same.shape}")
    fig = softmax_temperature(similarities, temperature, reference)
    axis = fig.axes[0]
    for bar, flag in zip(axis.patches, same):
        if flag:
            bar.set_hatch("///")
            bar.set_edgecolor("k")
    p = softmax_over_similarities(np.asarray(similarities, float), temperature)
    axis.set_title(f"tau = {temperature:.2f}: p(true match) = {p[0]:.2f}, top candidate {int(p.argmax())} "
                   f"(p = {p.max():.2f}); hatched: anchor's class", fontsize=9)
    return fig


def triplet_margin_figure(gaps: np.ndarray, margin: float) -> Figure:
    """Histogram of the test triplets' gaps d(a, n)² − d(a, p)² with the margin: a triplet is active (has a
    loss and a gradient) when its gap is below m."""
    gaps = as_array(gaps, "gaps", ndim=1)
    fig, (axis,) = new_figure(width=6.0, height=3.2)
    axis.hist(gaps, bins=np.linspace(-4, 4, 61), color=SERIES[0], alpha=0.7, label="test triplets")
    axis.axvline(margin, color=COLORS["error"], lw=2, label=f"margin m = {margin:.2f}")
    active = float(np.mean(gaps < margin))
    loss = float(np.mean(np.clip(margin - gaps, 0, None)))
    axis.set(xlabel="gap d(a, n)^2 - d(a, p)^2", ylabel="triplets", xlim=(-4, 5.5),
             title=f"active triplets (gap < m): {active:.0%}, mean loss {loss:.3f}")
    axis.legend(fontsize=8, loc="upper left")
    return fig


def batch_size_figure(sizes: Sequence[int], losses: Sequence[float], recalls: Sequence[float], n: int,
                      temperature: float) -> Figure:
    """InfoNCE of trained encoders on batches of n test pairs against n: the loss, log n, and the bound
    log n − L on the mutual information between the views; right: recall@1 among the n candidates."""
    sizes, losses, recalls = (as_array(v, name, ndim=1) for v, name in
                              ((sizes, "sizes"), (losses, "losses"), (recalls, "recalls")))
    if n not in sizes:
        raise ValueError(f"n must be one of sizes {list(sizes.astype(int))}, got {n}")
    j = int(np.flatnonzero(sizes == n)[0])
    fig, axes = new_figure(2, width=4.4, height=3.4)
    axes[0].plot(sizes, losses, "o-", color=SERIES[0], label="InfoNCE loss L")
    axes[0].plot(sizes, np.log(sizes), "--", color=COLORS["chance"], label="log n")
    axes[0].plot(sizes, np.log(sizes) - losses, "s-", color=SERIES[2], label="bound log n - L (nats)")
    axes[0].axvline(n, color="k", lw=0.8)
    axes[0].set(xscale="log", xlabel="batch size n", ylabel="nats",
                title=f"tau = {temperature:g}, n = {n}: L = {losses[j]:.2f}, "
                      f"bound {np.log(n) - losses[j]:.2f}")
    axes[0].legend(fontsize=7)
    axes[1].plot(sizes, recalls, "o-", color=SERIES[1], label="recall@1 among n")
    axes[1].plot(sizes, 1 / sizes, ":", color=COLORS["chance"], label="chance 1/n")
    axes[1].axvline(n, color="k", lw=0.8)
    axes[1].set(xscale="log", xlabel="batch size n", ylim=(0, 1),
                title=f"recall@1 at n = {n}: {recalls[j]:.2f}")
    axes[1].legend(fontsize=7)
    for axis in axes:
        axis.minorticks_off()   # log-axis minor ticks cost more to draw than the data
    return fig


# ---------------------------------------------------------------------------------------------
# Chapter 03 — fusion: figures
# ---------------------------------------------------------------------------------------------


def interaction_regions(models: Mapping[str, object], x_v: np.ndarray, x_t: np.ndarray, y: np.ndarray, *,
                        extent: float = 2.5, resolution: int = 60) -> Figure:
    """P(y = 1) of each two-input model over the plane (x_v[0], x_t[0]) (other coordinates 0), data on top.
    Each model is evaluated on its own device (``helpers.train.predict``)."""
    import torch

    from .train import predict

    x_v, x_t = as_array(x_v, "x_v", ndim=2), as_array(x_t, "x_t", ndim=2)
    check_same_length(x_v=x_v, x_t=x_t, y=as_array(y, "y", ndim=1))
    _check_mapping(models, "models", "name -> two-input torch model")
    grid = np.linspace(-extent, extent, resolution)
    gv, gt = np.meshgrid(grid, grid)
    fig, axes = new_figure(len(models), width=3.6, height=3.3)
    for axis, (name, model) in zip(axes, models.items()):
        inputs = []
        for coordinate, data in ((gv, x_v), (gt, x_t)):
            block = np.zeros((coordinate.size, data.shape[1]), dtype=np.float32)
            block[:, 0] = coordinate.ravel()
            inputs.append(torch.as_tensor(block))
        prob = torch.softmax(predict(model, *inputs), dim=1)[:, 1].numpy().reshape(gv.shape)
        axis.contourf(gv, gt, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        show = slice(0, 300)
        axis.scatter(x_v[show, 0], x_t[show, 0], c=y[show], cmap="RdBu_r", s=8, edgecolors="k",
                     linewidths=0.2)
        axis.set(title=f"{name}: P(y=1)", xlabel="x_v[0]", ylabel="x_t[0]", xlim=(-extent, extent),
                 ylim=(-extent, extent))
    return fig


def attention_heatmap(weights: np.ndarray, text_words: Sequence[int], audio_words: Sequence[int],
                      audio_flags: Sequence[float], match: Sequence[int], *, title: str = "") -> Figure:
    """Cross-attention weights of one example (rows: text tokens, columns: audio frames); true
    matches boxed."""
    from matplotlib.patches import Rectangle

    weights = as_array(weights, "weights", ndim=2)
    for values, name, size in ((text_words, "text_words", weights.shape[0]),
                               (audio_words, "audio_words", weights.shape[1]),
                               (audio_flags, "audio_flags", weights.shape[1])):
        if len(values) != size:
            raise ValueError(f"{name} must hold {size} entries (weights has shape {weights.shape}), "
                             f"got {len(values)}")
    if len(match) > weights.shape[0]:
        raise ValueError(f"match must hold at most one frame per text token ({weights.shape[0]}), "
                         f"got {len(match)}")
    fig, (axis,) = new_figure(width=0.55 * weights.shape[1] + 2.2, height=0.5 * weights.shape[0] + 1.8)
    image = axis.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    axis.grid(False)
    axis.set_xticks(range(len(audio_words)),
                    [f"w{w}" + ("\n●" if f > 0.5 else "\n○") for w, f in zip(audio_words, audio_flags)])
    axis.set_yticks(range(len(text_words)), [f"w{w}" for w in text_words])
    for row, column in enumerate(match):
        axis.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False,
                                 edgecolor="red", linewidth=2))
    axis.set(xlabel="audio frame (word code; ● = feature)", ylabel="text token (query)",
             title=title or "attention weights (red box: aligned frame)")
    fig.colorbar(image, ax=axis, shrink=0.8)
    return fig


def cost_curves(lengths: Sequence[int], costs: Mapping[str, Sequence[float]], *, title: str = "") -> Figure:
    """Multiply-adds per example against sequence length, one line per architecture (log–log axes)."""
    _check_mapping(costs, "costs", "architecture -> multiply-adds per length")
    _check_series(costs, len(as_array(lengths, "lengths", ndim=1)), "costs", "lengths")
    fig, (axis,) = new_figure(width=5.2, height=3.6)
    for name, values in costs.items():
        axis.plot(lengths, values, marker="o", ms=3, label=name)
    axis.set(xscale="log", yscale="log", xlabel="sequence length n (n_t = n, n_a = 2n)",
             ylabel="multiply-adds per example", title=title)
    axis.legend()
    return fig


def gaussian_experts(means: Sequence[float], variances: Sequence[float], *, weight: float = 0.5) -> Figure:
    """Densities of two Gaussian experts, their normalised product (PoE) and their mixture (MoE)."""
    from .fusion import gaussian_product

    def pdf(x: np.ndarray, mean: float, var: float) -> np.ndarray:
        return np.exp(-(x - mean) ** 2 / (2 * var)) / np.sqrt(2 * np.pi * var)

    means, variances = as_array(means, "means"), as_array(variances, "variances")
    if means.shape != (2,):
        raise ValueError(f"means must hold the two experts' means, shape (2,), got {means.shape}")
    check_same_shape(means=means, variances=variances)
    mean_p, var_p = gaussian_product(means, variances)
    spread = 4 * np.sqrt(variances.max())
    x = np.linspace(means.min() - spread, means.max() + spread, 400)
    fig, (axis,) = new_figure(width=5.2, height=3.4)
    for (mean, var), name in zip(zip(means, variances), ("vision", "text")):
        axis.plot(x, pdf(x, mean, var), color=COLORS[name], label=f"expert {name}: σ²={var:.2f}")
    axis.plot(x, pdf(x, mean_p, var_p), color=COLORS["poe"], lw=2.5, label=f"PoE: σ²={var_p:.2f}")
    mixture = weight * pdf(x, means[0], variances[0]) + (1 - weight) * pdf(x, means[1], variances[1])
    axis.plot(x, mixture, color=COLORS["moe"], ls="--", lw=2, label=f"MoE (w={weight:.1f})")
    axis.set(xlabel="value", ylabel="density", title="Gaussian experts: precisions add in the product")
    axis.legend(fontsize=8)
    return fig


def fused_distributions(probs_v: Sequence[float], probs_t: Sequence[float], weight: float = 0.5, *,
                        prior: Sequence[float] | None = None, label: int | None = None, title: str = "",
                        ax: Axes | None = None) -> Figure:
    """Grouped bars over classes: expert v, expert t, their PoE (prior-corrected) and MoE; entropies
    in the legend."""
    from .fusion import entropy, mixture_of_experts, product_of_experts

    probs_v, probs_t = check_probabilities(probs_v, "probs_v"), check_probabilities(probs_t, "probs_t")
    check_same_shape(probs_v=probs_v, probs_t=probs_t)
    n_classes = len(probs_v)
    prior = np.full(n_classes, 1.0 / n_classes) if prior is None else check_probabilities(prior, "prior")
    check_same_shape(probs_v=probs_v, prior=prior)
    floor = np.finfo(float).tiny
    dists = {"expert v": probs_v, "expert t": probs_t,
             "PoE": np.exp(product_of_experts(np.log(np.maximum(probs_v, floor)),
                                              np.log(np.maximum(probs_t, floor)), np.log(prior))),
             "MoE": mixture_of_experts(probs_v, probs_t, weight)}
    colors = [COLORS["vision"], COLORS["text"], COLORS["poe"], COLORS["moe"]]
    fig, (axis,) = new_figure(width=4.6, height=3.2) if ax is None else (ax.figure, np.array([ax]))
    width = 0.8 / len(dists)
    for i, ((name, probs), color) in enumerate(zip(dists.items(), colors)):
        axis.bar(np.arange(n_classes) + (i - 1.5) * width, probs, width, color=color,
                 label=f"{name} (H={float(entropy(probs)):.2f})")
    ticks = [f"class {k}" + (" (true)" if k == label else "") for k in range(n_classes)]
    axis.set_xticks(range(n_classes), ticks)
    axis.set(ylim=(0, 1.55), ylabel="probability", title=title)
    axis.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    axis.legend(fontsize=8.5, loc="upper center", ncol=2, framealpha=0.9)  # above the bars (y > 1)
    return fig


def poe_vs_moe_binary(p_v: float, p_t: float, weight: float) -> Figure:
    """Two binary experts, P(class 0) = p_v and p_t, fused by PoE (uniform prior) and by MoE with weight w."""
    check_in_range(p_v, "p_v", 0.0, 1.0)
    check_in_range(p_t, "p_t", 0.0, 1.0)
    return fused_distributions([p_v, 1 - p_v], [p_t, 1 - p_t], weight,
                               title=f"p_v={p_v:.2f}, p_t={p_t:.2f}, w={weight:.2f}")


def veto_examples(probs_v: np.ndarray, probs_t: np.ndarray, labels: np.ndarray, indices: Sequence[int], *,
                  prior: Sequence[float], weight: float = 0.5) -> Figure:
    """One panel per chosen example: a confident right expert v, a confidently wrong expert t, PoE and MoE."""
    probs_v, probs_t = as_array(probs_v, "probs_v", ndim=2), as_array(probs_t, "probs_t", ndim=2)
    check_same_shape(probs_v=probs_v, probs_t=probs_t)
    check_same_length(probs_v=probs_v, labels=as_array(labels, "labels", ndim=1))
    if not len(indices) or any(not 0 <= int(i) < len(probs_v) for i in indices):
        raise ValueError(f"indices must list examples in 0 … {len(probs_v) - 1}, got {list(indices)}")
    fig, axes = new_figure(len(indices), width=4.0, height=3.2)
    for axis, i in zip(axes, indices):
        fused_distributions(probs_v[i], probs_t[i], weight, prior=prior, label=int(labels[i]),
                            title=f"example {i}", ax=axis)
    return fig


def corruption_curves(rates: Sequence[float], sweep: Mapping[str, Mapping[str, Sequence[float]]]) -> Figure:
    """Accuracy, NLL and ECE of each method against the rate at which expert t is confidently wrong."""
    n = len(as_array(rates, "rates", ndim=1))
    for method in ("vision", "text", "poe", "moe"):
        if not isinstance(sweep, Mapping) or not isinstance(sweep.get(method), Mapping):
            raise ValueError(f"sweep must map {method!r} to its metrics (fusion.corruption_sweep)")
        _check_series({m: sweep[method].get(m) for m in ("accuracy", "nll", "ece")}, n,
                      f"sweep[{method!r}]", "rates")
    fig, axes = new_figure(3, width=3.6, height=3.2)
    names = {"vision": "expert v", "text": "expert t (corrupted)", "poe": "PoE", "moe": "MoE"}
    for axis, metric in zip(axes, ("accuracy", "nll", "ece")):
        for method, label in names.items():
            axis.plot(rates, sweep[method][metric], marker="o", ms=3, color=COLORS[method], label=label,
                      ls=":" if method in ("vision", "text") else "-")
        axis.set(xlabel="corruption rate of expert t",
                 title={"nll": "NLL (nats)", "ece": "ECE"}.get(metric, metric))
    axes[0].legend(fontsize=9)
    return fig


def cross_attention_seed_panels(results: Mapping[str, Mapping[str, Sequence[float]]],
                                seed: int = 0) -> Figure:
    """Chapter 03: test accuracy and the best head's alignment per seed for each configuration
    (``fusion.CROSS_ATTENTION_SEED_RESULTS``), one seed's dots ringed."""
    _check_mapping(results, "results", "configuration -> {'accuracy': ..., 'aligned': ...}")
    fig, axes = new_figure(2, width=3.9, height=3.4)
    for axis, key, label in ((axes[0], "accuracy", "test accuracy"),
                             (axes[1], "aligned", "tokens whose top frame is their own")):
        seed_dots({name: r[key] for name, r in results.items()}, ylabel=label, highlight=seed, ax=axis,
                  title=f"seed {seed}: " + ", ".join(f"{r[key][seed]:.2f}" for r in results.values()))
    return fig


def prior_correction(p_v: float, p_t: float, prior: float) -> Figure:
    """Chapter 03: two binary experts (P(class 0) = p_v, p_t) fused by PoE with the prior divided out once
    (prior P(class 0) = ``prior``) and without it (the plain product, which counts the prior twice)."""
    check_in_range(prior, "prior", 0.0, 1.0, low_open=True, high_open=True)
    fig, axes = new_figure(2, width=4.4, height=3.2)
    fused_distributions([p_v, 1 - p_v], [p_t, 1 - p_t], prior=[prior, 1 - prior], ax=axes[0],
                        title=f"PoE / prior (prior P(class 0) = {prior:.2f})")
    fused_distributions([p_v, 1 - p_v], [p_t, 1 - p_t], ax=axes[1], title="plain product (no correction)")
    return fig


# ---------------------------------------------------------------------------------------------
# Chapter 04 — challenges: figures
# ---------------------------------------------------------------------------------------------


def _smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Running mean over ``window`` steps (shorter at the start), so noisy per-step curves read."""
    values = np.asarray(values, dtype=float)
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    starts = np.maximum(np.arange(1, len(values) + 1) - window, 0)
    return (cumulative[1:] - cumulative[starts]) / (np.arange(1, len(values) + 1) - starts)


def dominance_runs(runs: Sequence[object], *, threshold: float, alone: float | None = None,
                   window: int = 10) -> Figure:
    """Chapter 04, modality dominance: one column per training run (``challenges.DominanceRun``).

    Top: the monitor's gradient-norm ratio (larger branch norm over smaller; ‖∇θv L‖/‖∇θt L‖ while v
    dominates) per step (running mean, log scale), the threshold and
    the step where the monitor fired (and, with gradient scaling, the ratio after rescaling).
    Bottom: the weak branch's own test accuracy during training, beside what it reaches alone.
    """
    if not runs or not all(hasattr(run, "history") and hasattr(run, "probe_every") for run in runs):
        raise ValueError("runs must be a non-empty list of challenges.DominanceRun")
    check_in_range(threshold, "threshold", 0.0, float("inf"), low_open=True)
    check_positive_int(window, "window")
    fig, axes = new_figure(len(runs), 2, width=3.6, height=2.8)
    for col, run in enumerate(runs):
        top, bottom = axes[col], axes[len(runs) + col]
        history = run.history
        top.plot(_smooth(history["ratio"], window), color=COLORS["vision"], label="ratio larger/smaller")
        if "ratio_applied" in history:
            offset = len(history["ratio"]) - len(history["ratio_applied"])
            top.plot(np.arange(offset, len(history["ratio"])), history["ratio_applied"],
                     color=COLORS["fused"], label="after scaling")
        top.axhline(threshold, ls="--", color=COLORS["truth"], label=f"threshold {threshold:g}")
        if run.triggered_at is not None:
            top.axvline(run.triggered_at, color=COLORS["event"], lw=1,
                        label=f"trigger (step {run.triggered_at})")
        top.set_yscale("log")
        top.set_ylim(0.5, 50)
        top.set_yticks([0.5, 1, 2, 5, 10, 20, 50], labels=["0.5", "1", "2", "5", "10", "20", "50"])
        top.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        top.set(title=f"remedy: {run.remedy}", xlabel="step", ylabel="gradient-norm ratio")
        top.legend(fontsize=9, loc="upper right")
        steps = np.arange(len(history["weak_accuracy"])) * run.probe_every
        bottom.plot(steps, history["weak_accuracy"], color=COLORS["text"], label="weak branch t (own logits)")
        if alone is not None:
            bottom.axhline(alone, ls=":", color=COLORS["truth"], label=f"t trained alone ({alone:.2f})")
        bottom.set(xlabel="step", ylabel="test accuracy", ylim=(0, 1))
        bottom.legend(fontsize=9, loc="lower right")
    return fig


def seed_dots(values: Mapping[str, Sequence[float]], *, ylabel: str = "", title: str = "",
              line: float | None = None, line_label: str = "", reference: Mapping[str, float] | None = None,
              reference_label: str = "exact", highlight: int | None = None, fmt: str = "{:.3f}",
              ax: Axes | None = None) -> Figure:
    """Results over seeds: one column per name, one dot per seed, a bar at the mean (mean ± one standard
    deviation printed under the name); ``line``: a horizontal line (chance, a baseline); ``reference``: a
    black dash per name (an exact value); ``highlight`` rings one seed's dots."""
    _check_mapping(values, "values", "name -> values over seeds")
    if not values or any(len(np.atleast_1d(v)) == 0 for v in values.values()):
        raise ValueError("values must map at least one name to a non-empty list of values over seeds")
    fig, (axis,) = new_figure(width=1.5 + 1.75 * len(values), height=3.4) if ax is None \
        else (ax.figure, np.array([ax]))
    labels = []
    for i, (name, vals) in enumerate(values.items()):
        vals = as_array(vals, f"values[{name!r}]", ndim=1)
        jitter = np.linspace(-0.15, 0.15, len(vals)) if len(vals) > 1 else np.zeros(1)
        axis.plot(i + jitter, vals, "o", ms=6, alpha=0.75, color=SERIES[i % len(SERIES)],
                  label="one seed" if i == 0 else None)
        axis.plot([i - 0.3, i + 0.3], [vals.mean()] * 2, color=COLORS["truth"], lw=2,
                  label="mean" if i == 0 else None)
        if highlight is not None and 0 <= highlight < len(vals):
            axis.plot(i + jitter[highlight], vals[highlight], "o", ms=13, mfc="none",
                      mec=COLORS["truth"], mew=1.5)
        if reference and name in reference:
            axis.hlines(reference[name], i - 0.35, i + 0.35, colors="k", linestyles="--", lw=1.5,
                        label=reference_label if i == 0 else None)
        sd = vals.std(ddof=1) if len(vals) > 1 else 0.0
        labels.append(f"{name}\n{fmt.format(vals.mean())} ± {fmt.format(sd)}")
    if line is not None:
        axis.axhline(line, ls=":", color=COLORS["chance"], label=line_label or f"{line:g}")
    axis.legend(fontsize=8, loc="best")
    axis.set_xticks(range(len(values)), labels=labels, fontsize=9)
    axis.set(ylabel=ylabel, title=title, xlim=(-0.6, len(values) - 0.4))
    return fig


def gradient_norm_runs(runs: Sequence[object], *, window: int = 10) -> Figure:
    """Chapter 04: per-branch gradient norms ‖∇θv L‖ and ‖∇θt L‖ per step (running mean, log scale), one
    panel per run, with the monitor's trigger — which branch dominates is read off directly."""
    if not runs or not all(hasattr(run, "history") for run in runs):
        raise ValueError("runs must be a non-empty list of challenges.DominanceRun")
    check_positive_int(window, "window")
    fig, axes = new_figure(len(runs), width=3.4, height=2.9)
    values = np.concatenate([_smooth(run.history[f"norm_{name}"], window) for run in runs for name in "vt"])
    low, high = max(values.min(), 1e-4) / 1.5, values.max() * 1.5
    for axis, run in zip(axes, runs):
        axis.set_ylim(low, high)
        for name, role in (("v", "vision"), ("t", "text")):
            axis.plot(_smooth(run.history[f"norm_{name}"], window), color=COLORS[role],
                      label=f"branch {name}")
        if run.triggered_at is not None:
            axis.axvline(run.triggered_at, color=COLORS["event"], lw=1, ls="--", label="trigger")
        axis.set(yscale="log", title=f"remedy: {run.remedy}", xlabel="step")
    axes[0].set_ylabel("gradient norm (before any rescaling)")
    axes[0].legend(fontsize=9, loc="upper right")
    return fig


def gated_fusion_sweep(taus: Sequence[float], accuracies: Sequence[float], *, good_only: float,
                       average: float, tau: float | None = None, ax: Axes | None = None) -> Figure:
    """Chapter 04, negative transfer: accuracy of gated fusion against τ, beside good-only and averaging."""
    check_same_length(taus=as_array(taus, "taus", ndim=1),
                      accuracies=as_array(accuracies, "accuracies", ndim=1))
    fig, (axis,) = new_figure(width=5.0) if ax is None else (ax.figure, np.array([ax]))
    axis.plot(taus, accuracies, marker=".", color=COLORS["fused"], label="gated fusion")
    axis.axhline(good_only, ls="--", color=COLORS["vision"], label=f"good modality only ({good_only:.3f})")
    axis.axhline(average, ls="--", color=COLORS["moe"], label=f"plain average ({average:.3f})")
    if tau is not None:
        current = float(np.interp(tau, taus, accuracies))
        axis.plot([tau], [current], "o", ms=9, color=COLORS["truth"], label=f"tau = {tau:.2f}")
    axis.set(xlabel="tau (fuse when |p_v - p_t| < tau)", ylabel="test accuracy", title="Gated fusion")
    axis.legend(fontsize=9, loc="center left", framealpha=0.9)
    return fig


def gated_fusion_decisions(p_v: np.ndarray, p_t: np.ndarray, labels: np.ndarray, *, tau: float,
                           reliable: int = 0, ax: Axes | None = None, max_points: int = 600) -> Figure:
    """Chapter 04: each example at (p_v, p_t); inside the band |p_v − p_t| < τ the two are averaged,
    outside the gate keeps the reliable modality. Crosses mark examples the gated rule gets wrong."""
    check_same_length(p_v=as_array(p_v, "p_v", ndim=1), p_t=as_array(p_t, "p_t", ndim=1),
                      labels=as_array(labels, "labels", ndim=1))
    check_in_range(tau, "tau", 0.0, float("inf"))
    if reliable not in (0, 1):
        raise ValueError(f"reliable must be 0 (v) or 1 (t), got {reliable!r}")
    check_positive_int(max_points, "max_points")
    fig, (axis,) = new_figure(width=3.8, height=3.6) if ax is None else (ax.figure, np.array([ax]))
    p_v, p_t, labels = (np.asarray(a)[:max_points] for a in (p_v, p_t, labels))
    grid = np.linspace(0, 1, 2)
    axis.fill_between(grid, np.clip(grid - tau, 0, 1), np.clip(grid + tau, 0, 1), color=COLORS["fused"],
                      alpha=0.15, label="fused (|p_v - p_t| < tau)")
    for label, colour in ((0, COLORS["vision"]), (1, COLORS["text"])):
        chosen = labels == label
        axis.scatter(p_v[chosen], p_t[chosen], s=6, color=colour, alpha=0.6, label=f"y = {label}")
    fused = np.where((np.abs(p_v - p_t) < tau) | (tau >= 1), (p_v + p_t) / 2, p_v if reliable == 0 else p_t)
    wrong = (fused >= 0.5).astype(int) != labels
    axis.scatter(p_v[wrong], p_t[wrong], s=45, marker="x", color=COLORS["truth"], lw=1.5,
                 label="gated: wrong")
    axis.set(xlabel="p_v (good modality)", ylabel="p_t (poor modality)", xlim=(0, 1), ylim=(0, 1),
             title="Where the gate fuses")
    axis.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def gated_fusion_panel(p_v: np.ndarray, p_t: np.ndarray, labels: np.ndarray, taus: Sequence[float],
                       accuracies: Sequence[float], *, good_only: float, average: float, tau: float,
                       reliable: int = 0) -> Figure:
    """The sweep and the decisions side by side, for one τ (what the chapter's τ widget redraws)."""
    fig, axes = new_figure(2, width=4.6, height=3.6)
    gated_fusion_sweep(taus, accuracies, good_only=good_only, average=average, tau=tau, ax=axes[0])
    gated_fusion_decisions(p_v, p_t, labels, tau=tau, reliable=reliable, ax=axes[1])
    return fig


def missing_modality_panels(results: Mapping[str, Mapping[str, Sequence[float]]],
                            rates: Sequence[float]) -> Figure:
    """Chapter 04, missing modalities: accuracy against the missing rate, one panel per data set."""
    _check_mapping(results, "results", "data set -> {method: accuracy per rate}")
    for name, curves in results.items():
        _check_series(curves, len(as_array(rates, "rates", ndim=1)), f"results[{name!r}]", "rates")
    styles = {"zero-fill": ("#7f7f7f", "o"), "Gaussian imputation": ("#1f77b4", "s"),
              "dropout (zeros)": ("#2ca02c", "^"), "dropout (learned)": ("#d62728", "v")}
    fig, axes = new_figure(len(results), width=3.8, height=3.5)
    values = np.concatenate([np.ravel(v) for curves in results.values() for v in curves.values()])
    low, high = float(values.min()), float(values.max())
    for axis, (name, curves) in zip(axes, results.items()):
        for method, series in curves.items():
            colour, marker = styles.get(method, (None, "."))
            axis.plot(rates, series, marker=marker, color=colour, label=method)
        axis.set(title=name, xlabel="missing rate (one modality lost)", ylabel="test accuracy",
                 ylim=(low - 0.03, min(1.0, high + 0.03)))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=10)
    return fig


def dominance_monitor_figure(run: object, threshold: float, *, title: str = "") -> Figure:
    """Chapter 04: one training run (``challenges.DominanceRun``) as the monitor sees it: the ratio of the two
    branches' gradient norms ‖∇θv L‖ / ‖∇θt L‖ per step (log scale: above 1, v's gradient is larger; below 1,
    t's), the threshold T and 1/T (the monitor compares larger over smaller, so it fires beyond either), and
    the first step where it fires (``challenges.trigger_step``), if any."""
    from .challenges import trigger_step

    if not hasattr(run, "history") or not all(k in run.history for k in ("norm_v", "norm_t", "ratio")):
        raise ValueError("run must be a challenges.DominanceRun (its history holds norm_v, norm_t and ratio)")
    fired = trigger_step(run.history["ratio"], threshold)
    v_over_t = np.asarray(run.history["norm_v"]) / np.maximum(run.history["norm_t"], 1e-12)
    fig = Figure(figsize=(7.0, 3.8))   # a fixed layout: a constrained one costs each redraw
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.33, top=0.9)
    axis = fig.subplots()
    axis.plot(v_over_t, color=COLORS["truth"], lw=1, label="norm ratio v / t")
    axis.axhline(threshold, ls="--", color=COLORS["vision"],
                 label=f"threshold {threshold:g} (v dominates above)")
    axis.axhline(1 / threshold, ls="--", color=COLORS["text"], label=f"1/{threshold:g} (t dominates below)")
    if fired is not None:
        axis.axvline(fired, color=COLORS["event"], lw=1.5, ls=":", label=f"monitor fires (step {fired})")
    axis.set_yscale("log")
    axis.set(ylim=(1 / 40, 40), xlabel="training step", ylabel="gradient-norm ratio v / t",
             title=title or ("the monitor fires" if fired is not None else "the monitor never fires"))
    axis.yaxis.set_minor_locator(NullLocator())  # minor log ticks cost most of a redraw and add little
    axis.set_yticks([1 / 20, 1 / 5, 1, 5, 20], labels=["1/20", "1/5", "1", "5", "20"])
    axis.title.set_fontsize(9)
    fig.legend(*axis.get_legend_handles_labels(), loc="lower center", ncols=2, fontsize=9)
    return fig


def missing_rates_figure(curves: Mapping[str, Mapping[float, Sequence[float]]],
                         imputation: Mapping[str, Sequence[float]], rates: Sequence[float], *, rate: float,
                         dropout_rate: float) -> Figure:
    """Chapter 04: accuracy against the test missing rate, one panel per data set: one curve per training
    dropout rate (``challenges.dropout_rate_study``; the chosen one bold), Gaussian imputation dashed, and the
    accuracies at the chosen missing ``rate`` printed."""
    rates = as_array(rates, "rates", ndim=1)
    _check_mapping(curves, "curves", "data set -> {dropout rate: accuracy per missing rate}")
    if dropout_rate not in next(iter(curves.values()), {}):
        raise ValueError(f"dropout_rate must be one of the trained rates, got {dropout_rate!r}")
    if not np.any(np.isclose(rates, rate)):
        raise ValueError(f"rate must be one of the missing rates {rates.tolist()}, got {rate!r}")
    at = int(np.argmin(np.abs(rates - rate)))
    fig = Figure(figsize=(3.6 * len(curves), 3.5))   # a fixed layout: a constrained one costs each redraw
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.3, top=0.86, wspace=0.08)
    axes = fig.subplots(1, len(curves), sharey=True)
    shades = matplotlib.colormaps["Greens"](np.linspace(0.35, 1.0, len(next(iter(curves.values())))))
    for axis, (name, by_rate) in zip(axes, curves.items()):
        for shade, (p, series) in zip(shades, sorted(by_rate.items())):
            chosen = p == dropout_rate
            axis.plot(rates, series, marker="o" if chosen else ".", lw=3 if chosen else 1, color=shade,
                      label=f"trained with dropout rate {p:g}" + (" (chosen)" if chosen else ""),
                      zorder=3 if chosen else 2)
        axis.plot(rates, imputation[name], ls="--", marker="s", ms=4, color=COLORS["vision"],
                  label="Gaussian imputation (no dropout)")
        axis.axvline(rate, color=COLORS["truth"], lw=0.8, ls=":")
        axis.set(title=f"{name}\nmissing rate {rate:g}: dropout {dropout_rate:g} "
                       f"{by_rate[dropout_rate][at]:.3f}, imputation {imputation[name][at]:.3f}",
                 xlabel="test missing rate", ylim=(0.45, 1.0), xticks=rates)
        axis.title.set_fontsize(9)
    axes[0].set_ylabel("test accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=3, fontsize=9)
    return fig


# ---------------------------------------------------------------------------------------------
# Chapter 05 — applications: figures
# ---------------------------------------------------------------------------------------------


def cv_spread(results: Mapping[str, Mapping[str, np.ndarray]], *, n: int) -> Figure:
    """Chapter 05, small data: one panel per target; every dot is one repeat of cross-validation, the
    bar its mean, the whisker the 95 % Wilson interval of an accuracy measured on ``n`` examples
    (``applications.wilson_interval``: it keeps a width at 1.000). The mean is printed under each bar."""
    from .applications import wilson_interval

    _check_mapping(results, "results", "target -> {method: accuracies}")
    check_positive_int(n, "n")
    fig, axes = new_figure(len(results), width=4.2, height=3.4)
    for axis, (target, accuracies) in zip(axes, results.items()):
        for k, (method, values) in enumerate(accuracies.items()):
            values = np.asarray(values, dtype=float)
            colour = COLORS["fused"] if method in ("early", "late", "poe") else COLORS["vision"]
            mean = values.mean()
            low, high = wilson_interval(mean, n)
            axis.bar(k, mean, 0.6, color=colour, alpha=0.35)
            axis.errorbar(k, mean, yerr=[[mean - low], [high - mean]], color=COLORS["truth"], capsize=4)
            jitter = np.linspace(-0.15, 0.15, len(values))
            axis.plot(k + jitter, values, "o", ms=3.5, color=colour)
            axis.text(k, 0.43, f"{mean:.3f}", ha="center", va="bottom", fontsize=8)
        axis.set(xticks=range(len(accuracies)), ylim=(0.4, 1.04), ylabel="cross-validated accuracy",
                 title=f"{target} (n = {n}; whisker: 95 % Wilson interval)")
        axis.title.set_fontsize(9)
        axis.set_xticklabels(list(accuracies), rotation=15)
    return fig


def gene_lipid_figure(mapping: GeneLipidMap, labels: np.ndarray, class_names: Sequence[str],
                      markers: np.ndarray | None = None, marker_names: Sequence[str] = ()) -> Figure:
    """Chapter 05, alignment: the first canonical pair (gene side u, lipid side v) coloured by class
    (marker by a second grouping), and the gene × lipid correlation heatmap in canonical order."""
    _check_record(mapping, "mapping", ("corr", "genes", "lipids", "variates", "rho"),
                  "applications.GeneLipidMap")
    check_same_length(labels=np.asarray(labels), variates=mapping.variates)
    fig = Figure(figsize=(12.5, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 2.3])
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    shapes = ["o", "^", "s", "D"]
    u, v = mapping.variates[:, 0], mapping.variates[:, 1]
    groups = np.zeros(len(u), int) if markers is None else np.asarray(markers)
    for c, name in enumerate(class_names):
        for g in np.unique(groups):
            chosen = (labels == c) & (groups == g)
            left.scatter(u[chosen], v[chosen], color=palette[c % len(palette)],
                         marker=shapes[g % len(shapes)], s=28, label=name if g == groups.min() else None)
    for g, name in enumerate(marker_names):
        left.scatter([], [], color="grey", marker=shapes[g % len(shapes)], label=name)
    left.set(xlabel="gene-side canonical variate u1", ylabel="lipid-side canonical variate v1",
             title=f"first canonical pair, r = {mapping.rho:.2f}")
    left.legend(fontsize=7, ncol=2)
    image = right.imshow(mapping.corr, cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    right.set_yticks(range(len(mapping.genes)), mapping.genes, fontsize=7)
    right.set_xticks(range(len(mapping.lipids)), mapping.lipids, fontsize=7, rotation=70)
    _colour_by_family(right, mapping.lipids)
    right.grid(False)
    right.set_title("correlation of gene expression with lipid level (n = 40); "
                    "lipids ordered by their correlation with v1", fontsize=9)
    fig.colorbar(image, ax=right, shrink=0.8, label="Pearson r")
    return fig


LIPID_FAMILY_COLOURS: dict[str, str] = {"saturated": PALETTE["dark"], "monounsaturated": PALETTE["orange"],
                                         "polyunsaturated": PALETTE["purple"]}


def _colour_by_family(axis: Axes, lipids: Sequence[str]) -> None:
    """Colour each lipid tick label of ``axis`` by its family (``applications.lipid_family``), add a key."""
    from matplotlib.patches import Patch

    from .applications import lipid_family

    for label, name in zip(axis.get_xticklabels(), lipids):
        label.set_color(LIPID_FAMILY_COLOURS[lipid_family(name)])
    handles = [Patch(color=colour, label=family) for family, colour in LIPID_FAMILY_COLOURS.items()]
    axis.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=3,
                title="tick colour: lipid family", title_fontsize=7, frameon=False)


def _place_labels(axis: Axes, x: np.ndarray, y: np.ndarray, texts: Sequence[str], *,
                  fontsize: float = 7) -> None:
    """Annotate points without overlaps: each label takes the first of a ring of offsets (in points)
    whose box meets no point and no label placed before it (greedy, in the order given)."""
    from matplotlib.transforms import Bbox

    offsets = [(4, 3), (4, -9), (-4, 3), (-4, -9), (4, 12), (4, -18), (-4, 12), (-4, -18), (4, 21), (4, -27)]
    centres = axis.transData.transform(np.column_stack([x, y]))
    placed = [Bbox.from_extents(cx - 3, cy - 3, cx + 3, cy + 3) for cx, cy in centres]
    for xi, yi, text in zip(x, y, texts):
        for dx, dy in offsets:
            label = axis.annotate(text, (xi, yi), xytext=(dx, dy), textcoords="offset points",
                                  fontsize=fontsize, ha="left" if dx > 0 else "right")
            box = label.get_window_extent()
            if not any(box.overlaps(other) for other in placed):
                break
            label.remove()
        else:
            label = axis.annotate(text, (xi, yi), xytext=(4, 3), textcoords="offset points",
                                  fontsize=fontsize)
            box = label.get_window_extent()
        placed.append(box)


def complementarity_figure(result: Complementarity) -> Figure:
    """Chapter 05, six views: the gain of every pair over its better member (diagonal: the view's own
    accuracy, in grey) and, for every pair, gain against how predictable one view is from the other."""
    _check_record(result, "result", ("names", "single", "gain", "redundancy"),
                  "applications.Complementarity")
    fig, axes = new_figure(2, width=5.0, height=4.2)
    names, m = list(result.names), len(result.names)
    gain = np.array(result.gain, dtype=float)
    shown = np.where(np.eye(m, dtype=bool), np.nan, gain)
    limit = max(np.nanmax(np.abs(shown)), 1e-3)
    image = axes[0].imshow(shown, cmap="RdBu_r", vmin=-limit, vmax=limit)
    for i in range(m):
        for j in range(m):
            text = f"{result.single[i]:.2f}" if i == j else f"{gain[i, j]:+.3f}"
            dark_cell = i != j and abs(gain[i, j]) > 0.6 * limit
            axes[0].text(j, i, text, ha="center", va="center", fontsize=8,
                         color="#444444" if i == j else "white" if dark_cell else "black")
    axes[0].set_xticks(range(m), names)
    axes[0].set_yticks(range(m), names)
    axes[0].grid(False)
    axes[0].set_title("gain of a pair over its better view")
    fig.colorbar(image, ax=axes[0], shrink=0.8)
    rows, cols = np.triu_indices(m, 1)
    axes[1].scatter(result.redundancy[rows, cols], gain[rows, cols], color=COLORS["fused"])
    axes[1].axhline(0, color=COLORS["chance"], lw=1)
    axes[1].set(xlabel="mean of top-5 canonical correlations (training data)",
                ylabel="gain over the better view", title="redundant pairs gain little")
    fig.draw_without_rendering()  # fixes the layout, so that label boxes are measured where they end up
    _place_labels(axes[1], result.redundancy[rows, cols], gain[rows, cols],
                  [f"{names[i]}+{names[j]}" for i, j in zip(rows, cols)])
    return fig


def missing_views_figure(curves: Mapping[str, Sequence[float]], rates: Sequence[float], *,
                         best_single: float | None = None) -> Figure:
    """Chapter 05: accuracy against the probability that each view is missing (independently)."""
    _check_mapping(curves, "curves", "method -> accuracy per rate")
    _check_series(curves, len(as_array(rates, "rates", ndim=1)), "curves", "rates")
    fig, (axis,) = new_figure(width=5.6, height=3.6)
    palette = [PALETTE["grey"], PALETTE["blue"], PALETTE["green"], PALETTE["red"]]
    for k, (name, values) in enumerate(curves.items()):
        axis.plot(rates, values, "o-", color=palette[k % len(palette)], label=name)
    if best_single is not None:
        axis.axhline(best_single, ls="--", color=COLORS["truth"], lw=1, label="best single view, complete")
    axis.set(xlabel="probability that each view is missing", ylabel="test accuracy",
             title="six views, missing at random")
    axis.legend(fontsize=8, loc="lower left")
    return fig


def missing_views_seeds_figure(curves: Mapping[str, np.ndarray], rates: Sequence[float], *,
                               best_single: float | None = None) -> Figure:
    """Chapter 05: accuracy against the probability that each view is missing, over data seeds:
    ``curves[method]`` of shape (n_seeds, n_rates); each seed is a dot, the line joins the means."""
    rates = as_array(rates, "rates", ndim=1)
    _check_rows_of(curves, "curves", len(rates), "n_seeds")
    fig, (axis,) = new_figure(width=5.8, height=3.8)
    palette = [PALETTE["grey"], PALETTE["blue"], PALETTE["green"], PALETTE["red"]]
    for k, (name, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        colour = palette[k % len(palette)]
        shift = (k - (len(curves) - 1) / 2) * 0.012
        for row in values:
            axis.plot(rates + shift, row, "o", ms=3, color=colour, alpha=0.6)
        axis.plot(rates + shift, values.mean(0), "-", color=colour, label=f"{name} (mean)")
    if best_single is not None:
        axis.axhline(best_single, ls="--", color=COLORS["truth"], lw=1, label="best single view, complete")
    n_seeds = len(next(iter(curves.values())))
    axis.set(xlabel="probability that each view is missing", ylabel="test accuracy",
             title=f"six views, missing at random ({n_seeds} data seeds, one dot each)")
    axis.legend(fontsize=8, loc="lower left")
    return fig


def reliability_diagram(curves: Mapping[str, Reliability], *, title: str = "") -> Figure:
    """Chapter 05: accuracy against confidence per bin (the diagonal is perfect calibration), one line
    per predictor with its ECE in the legend; below the diagonal means over-confident. The lower panel
    counts the test cases in each confidence bin (a bin with few cases says little)."""
    _check_mapping(curves, "curves", "name -> applications.Reliability")
    for name, curve in curves.items():
        _check_record(curve, f"curves[{name!r}]", ("confidence", "accuracy", "count", "ece"),
                      "applications.Reliability (from reliability_curve)")
    fig = Figure(figsize=(5.0, 5.6), layout="constrained")
    axis, counts = fig.subplots(2, 1, height_ratios=[3, 1.2], sharex=True)
    axis.plot([0, 1], [0, 1], ls="--", color=COLORS["chance"], lw=1, label="perfectly calibrated")
    palette = {"clinical": COLORS["vision"], "imaging": COLORS["text"], "PoE": COLORS["poe"],
               "MoE": COLORS["moe"]}
    n_bins = len(next(iter(curves.values())).count)
    width = 1.0 / n_bins / (len(curves) + 1)
    for k, (name, curve) in enumerate(curves.items()):
        filled = curve.count > 0
        axis.plot(curve.confidence[filled], curve.accuracy[filled], "o-", ms=4, color=palette.get(name),
                  label=f"{name}: ECE {curve.ece:.3f}")
        left_edges = np.arange(n_bins) / n_bins
        counts.bar(left_edges + (k + 0.5) * width, curve.count, width, align="edge", color=palette.get(name))
    axis.set(ylabel="accuracy", xlim=(0.3, 1.0), ylim=(0.0, 1.02), title=title or "reliability diagram")
    axis.legend(fontsize=8, loc="upper left")
    counts.set(xlabel="confidence (top-class probability)", ylabel="cases per bin")
    return fig


def calibration_seeds_figure(sweep: CalibrationSweep) -> Figure:
    """Chapter 05: over data seeds (one dot each) and shared-noise levels, the signed calibration gap
    mean confidence − accuracy of each predictor (above 0: over-confident) and its accuracy."""
    _check_record(sweep, "sweep", ("shared", "seeds", "gap", "accuracy"), "applications.CalibrationSweep")
    fig, axes = new_figure(2, width=4.6, height=3.6)
    palette = {"clinical": COLORS["vision"], "imaging": COLORS["text"], "PoE": COLORS["poe"],
               "MoE": COLORS["moe"]}
    levels = np.arange(len(sweep.shared))
    for axis, field, label in ((axes[0], sweep.gap, "mean confidence − accuracy"),
                               (axes[1], sweep.accuracy, "accuracy (imaged test cases)")):
        for k, (name, values) in enumerate(field.items()):
            shift = (k - (len(field) - 1) / 2) * 0.17
            for i in levels:
                axis.plot(np.full(values.shape[1], i + shift), values[i], "o", ms=3.5, alpha=0.7,
                          color=palette.get(name), label=name if i == 0 else None)
            axis.plot(levels + shift, values.mean(1), "_", ms=14, mew=2, color=palette.get(name))
        axis.set(xticks=levels, xlabel="noise shared by the two modalities", ylabel=label)
        axis.set_xticklabels([f"{v:.1f}" for v in sweep.shared])
    axes[0].axhline(0, color=COLORS["chance"], lw=1)
    axes[0].set_title("above 0: over-confident; below: under-confident", fontsize=9)
    axes[1].set_title(f"{len(sweep.seeds)} data seeds, one dot each; bar: mean", fontsize=9)
    axes[0].legend(fontsize=8, loc="upper left")
    return fig


def gate_weight_panel(context: np.ndarray, weight_v: np.ndarray, *, ax: Axes | None = None) -> Figure:
    """Chapter 03: the learned gate's weight on expert v, g_v(x), against the context c of each test example,
    with the region where each expert is corrupted shaded."""
    context = as_array(context, "context", ndim=1)
    weight_v = as_array(weight_v, "weight_v", ndim=1)
    check_same_length(context=context, weight_v=weight_v)
    fig, (axis,) = new_figure(width=4.4, height=3.4) if ax is None else (ax.figure, np.array([ax]))
    axis.axvspan(-1, 0, color=COLORS["vision"], alpha=0.08)
    axis.axvspan(0, 1, color=COLORS["text"], alpha=0.08)
    for x, y, text, role in ((-0.5, 0.7, "v corrupted here\n(trust t)", "vision"),
                             (0.5, 0.3, "t corrupted here\n(trust v)", "text")):
        axis.text(x, y, text, ha="center", va="center", fontsize=9, color=COLORS[role])
    axis.scatter(context, weight_v, s=4, alpha=0.4, color=COLORS["truth"], label="test example")
    axis.axhline(0.5, ls=":", color=COLORS["chance"], label="fixed w = 0.5")
    axis.set(xlabel="context c", ylabel="gate weight on expert v, $g_v(x)$", xlim=(-1, 1), ylim=(-0.02, 1.02),
             title="What the gate learned")
    axis.legend(fontsize=8, loc="upper left")
    return fig
