"""Interactive controls for the chapters: each widget is a function returning an ipywidgets object
that redraws one figure when a control moves.

Every chapter widget follows one pattern, ``redrawing(draw, **controls)``: ``draw`` is a plots
function taking the controls' values as keyword arguments and returning a Figure. A chapter shows
the same figure statically just before the widget, so the static HTML edition (where widgets do
not run) still has it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as widgets
import numpy as np
from IPython import get_ipython
from matplotlib.figure import Figure

from ._checks import as_array, check_in_range, check_positive_int


def redrawing(draw: Callable[..., Figure], **controls: widgets.ValueWidget) -> widgets.VBox:
    """Controls above an output area that shows ``draw(**values)`` and redraws it on every change.

    The figure is set as the output area's state by the kernel, not displayed inside ``with out:``.
    Under nbclient (tests, nbconvert) a display captured by an Output widget makes the client send a
    comm message on the shell socket while it waits there for the cell's reply; when the reply has
    already arrived, that send swallows its wake-up and the cell waits out the whole cell timeout
    with the kernel idle. An error in the first draw is raised in the cell; after a slider move its
    traceback goes to the output area.
    """
    if not callable(draw):
        raise ValueError(f"draw must be a function returning a Figure, got {type(draw).__name__}")
    if not controls:
        raise ValueError("controls must hold at least one control, e.g. redrawing(draw, noise=slider(...))")
    out = widgets.Output()

    def redraw(change: object = None) -> None:
        values = {name: control.value for name, control in controls.items()}
        try:
            figure = draw(**values)
        except Exception:
            if change is None:
                raise
            with out:  # in a kernel, shows the traceback in the output area (elsewhere, raises)
                raise
            return
        out.outputs = (_display_data(figure),)

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox(list(controls.values())), out])
    box.redraw = redraw  # lets tests (and curious students) redraw by hand
    return box


def _display_data(figure: Figure) -> dict:
    """``figure`` as one output of an Output widget: what ``display(figure)`` would show in this kernel."""
    shell = get_ipython()
    if shell is None:  # plain Python (scripts, tests): no display formatters, the text form only
        return {"output_type": "display_data", "data": {"text/plain": repr(figure)}, "metadata": {}}
    data, metadata = shell.display_formatter.format(figure)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def slider(description: str, value: float, low: float, high: float, step: float) -> widgets.FloatSlider:
    """A float slider that redraws only when released (keeps a slow figure responsive)."""
    check_in_range(step, "step", 0.0, float(high) - float(low), low_open=True)
    check_in_range(value, "value", low, high)
    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                               continuous_update=False, readout_format=".2f",
                               style={"description_width": "initial"})


# ---------------------------------------------------------------------------------------------
# Chapter 01 — principles: widgets
# ---------------------------------------------------------------------------------------------


XOR_NOISES: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(1, 16))   # 0.1, 0.2, …, 1.5


def xor_frames(noises: Sequence[float] = XOR_NOISES, seed: int = 0, n_train: int = 400, n_test: int = 1000,
               limit: float = 2.5, resolution: int = 100) -> "dict[float, dict]":
    """The noisy-XOR models of chapter 01 trained once per noise level (``principles.fit_xor_models``): for
    each noise, ``plots.xor_frame`` (every model's P(Y=1) on a ``resolution``² grid over [−limit, limit]², its
    held-out accuracy and the test points) — what ``plots.xor_boundaries_in_place`` draws."""
    from . import data, principles
    from .plots import xor_frame

    check_positive_int(seed, "seed", minimum=0)
    check_positive_int(resolution, "resolution", minimum=2)
    noises = [check_in_range(noise, "noises", 0.0, 10.0, low_open=True) for noise in noises]
    if not noises:
        raise ValueError("noises must hold at least one noise level")
    frames = {}
    for noise in noises:
        train = data.make_noisy_xor(n_train, noise, seed=seed)
        test = data.make_noisy_xor(n_test, noise, seed=seed + 1)
        fit = principles.fit_xor_models(train, test, seed=seed)
        frames[noise] = xor_frame(fit, np.column_stack(test[:2]), test[2], limit=limit, resolution=resolution)
    return frames


def xor_noise(seed: int = 0, noise: float = 0.4) -> widgets.VBox:
    """A noise slider over the four XOR models trained at noise 0.1, 0.2, …, 1.5 when the widget is made
    (``xor_frames``); a move only redraws (``plots.xor_boundaries_in_place``): watch every model drift
    towards 50 % as the noise grows."""
    from .plots import xor_boundaries_in_place

    check_positive_int(seed, "seed", minimum=0)
    if noise not in XOR_NOISES:
        raise ValueError(f"noise must be one of {list(XOR_NOISES)}, got {noise!r}")
    frames = xor_frames(XOR_NOISES, seed)
    draw = xor_boundaries_in_place()
    return redrawing(lambda noise: draw(frames[noise], f"noise {noise:.1f}"),
                     noise=widgets.SelectionSlider(options=list(XOR_NOISES), value=noise, description="noise",
                                                   continuous_update=False))


def flip_views_figure(eps1: float, eps2: float, eps3: float = 0.0, three_views: bool = False) -> Figure:
    """Information, Fano's bound and Bayes error for two (or three) binary views flipped with eps1,
    eps2 (, eps3)."""
    from . import plots, principles

    for eps, name in ((eps1, "eps1"), (eps2, "eps2"), (eps3, "eps3")):
        check_in_range(eps, name, 0.0, 1.0)

    flips = [eps1, eps2, eps3] if three_views else [eps1, eps2]
    rows = principles.flip_views_summary(flips)
    return plots.information_and_error(rows, title="binary views, flip probabilities " +
                                       ", ".join(f"{e:.2f}" for e in flips))


def flip_noise() -> widgets.VBox:
    """Sliders for the flip probabilities of two binary views and a box adding a third view."""
    return redrawing(flip_views_figure, eps1=slider("eps1", 0.1, 0.0, 0.5, 0.01),
                     eps2=slider("eps2", 0.1, 0.0, 0.5, 0.01), eps3=slider("eps3", 0.1, 0.0, 0.5, 0.01),
                     three_views=widgets.Checkbox(value=False, description="third view"))


def flip_views_condition_figure(eps1: float, eps2: float, eps3: float = 0.1,
                                three_views: bool = False) -> Figure:
    """``flip_views_figure`` whose title also says whether the weaker views can outvote the best one
    (``principles.flip_views_outvoted``: the only case where the Bayes error falls below the best view's)."""
    from . import principles

    fig = flip_views_figure(eps1, eps2, eps3, three_views)
    flips = [eps1, eps2, eps3] if three_views else [eps1, eps2]
    verdict = "yes: error below the best view's" if principles.flip_views_outvoted(flips) else \
        "no: error = the best view's"
    fig.suptitle(f"flips {', '.join(f'{e:.2f}' for e in flips)} | weaker views outvote the best? {verdict}",
                 fontsize=10)
    return fig


def flip_noise_linked(eps1: float = 0.1, eps2: float = 0.1, eps3: float = 0.1) -> widgets.VBox:
    """Like ``flip_noise``, but the eps3 slider is greyed out until "third view" is ticked, and the title
    states the outvoting condition."""
    for eps, name in ((eps1, "eps1"), (eps2, "eps2"), (eps3, "eps3")):
        check_in_range(eps, name, 0.0, 0.5)
    third = widgets.Checkbox(value=False, description="third view (enables eps3)")
    eps3_slider = slider("eps3", eps3, 0.0, 0.5, 0.01)
    eps3_slider.disabled = True

    def toggle(change: dict) -> None:
        eps3_slider.disabled = not change["new"]

    third.observe(toggle, names="value")
    return redrawing(flip_views_condition_figure, eps1=slider("eps1", eps1, 0.0, 0.5, 0.01),
                     eps2=slider("eps2", eps2, 0.0, 0.5, 0.01), eps3=eps3_slider, three_views=third)


def sample_complexity(sigmas: tuple[float, ...] = (0.7, 1.0, 1.4), *,
                      sizes: tuple[int, ...] = (8, 16, 32, 64, 128, 256), repeats: int = 5, dim: int = 10,
                      seed: int = 0) -> widgets.VBox:
    """Controls for the noise sigma of both Gaussian views, the training-set size n and the target error.

    The learning curves (one view vs both, ``principles.learning_curves``) are computed once per sigma
    when the widget is made; the sliders then only redraw ``plots.sample_complexity_figure``.
    """
    from . import plots, principles

    if not isinstance(sigmas, (tuple, list)) or not sigmas or any(float(s) <= 0 for s in sigmas):
        raise ValueError(f"sigmas must be a non-empty tuple of positive noise levels, got {sigmas!r}")
    check_positive_int(repeats, "repeats")
    check_positive_int(seed, "seed", minimum=0)
    views = {"one view": [0], "both views": [0, 1]}
    precomputed = {}
    for s in sigmas:
        curves = principles.learning_curves((s, s), views, sizes, repeats=repeats, dim=dim, n_test=2000,
                                            seed=seed)
        floors = {"one view": principles.gaussian_views_bayes_error([s]),
                  "both views": principles.gaussian_views_bayes_error([s, s])}
        precomputed[float(s)] = (curves, floors)

    def draw(sigma: float, n: int, target: float) -> Figure:
        curves, floors = precomputed[float(sigma)]
        fig = plots.sample_complexity_figure(sizes, curves, target=target, n=n, floors=floors)
        fig.axes[0].set_title(f"sigma = {sigma:.2f} per view, {repeats} training sets per n")
        return fig

    first = 1.0 if 1.0 in precomputed else float(sigmas[0])
    return redrawing(draw, sigma=widgets.SelectionSlider(options=list(precomputed), value=first,
                                                         description="sigma", continuous_update=False),
                     n=widgets.SelectionSlider(options=list(sizes), value=sizes[len(sizes) // 2],
                                               description="n", continuous_update=False),
                     target=slider("target error", 0.20, 0.02, 0.45, 0.01))


# ---------------------------------------------------------------------------------------------
# Chapter 02 — alignment: widgets
# ---------------------------------------------------------------------------------------------


def procrustes_figure(degrees: float = 40.0, noise: float = 0.05, warp: float = 0.0, seed: int = 0) -> Figure:
    """A 2-D cloud rotated by ``degrees`` (scale 1.5, shift (1, 2)) with ``noise`` and ``warp``, aligned by
    Procrustes; the title reports the recovered angle, scale and relative residual."""
    import numpy as np

    from . import alignment, data, plots

    pair = data.procrustes_pair(200, 2, degrees=degrees, noise=noise, warp=warp, seed=seed)
    fit = alignment.procrustes(pair.x, pair.y)
    angle = np.degrees(np.arctan2(fit.rotation[0, 1], fit.rotation[0, 0]))
    title = (f"true: {degrees:.0f} deg, s = {pair.scale:.2f} | recovered: {angle:.1f} deg, "
             f"s = {fit.scale:.2f}, residual {fit.relative_residual:.3f}")
    return plots.procrustes_before_after(pair.x, pair.y, fit.transform(pair.x), title=title)


def procrustes_explorer(degrees: float = 40.0, noise: float = 0.05, warp: float = 0.0) -> widgets.VBox:
    """Sliders for the rotation angle, the noise and the nonlinear warp of ``procrustes_figure``
    (starting at the given values, e.g. those of the static figure above the widget)."""
    check_in_range(degrees, "degrees", -180.0, 180.0)
    check_in_range(noise, "noise", 0.0, 1.0)
    check_in_range(warp, "warp", 0.0, 0.5)
    return redrawing(procrustes_figure, degrees=slider("rotation (deg)", degrees, -180.0, 180.0, 5.0),
                     noise=slider("noise", noise, 0.0, 1.0, 0.05), warp=slider("warp", warp, 0.0, 0.5, 0.05))


def temperature_explorer(similarities: "np.ndarray", temperature: float = 0.1) -> widgets.VBox:
    """A temperature slider redrawing ``plots.softmax_temperature`` for one anchor's similarities."""
    from . import plots

    similarities = as_array(similarities, "similarities", ndim=1)
    check_in_range(temperature, "temperature", 0.01, 2.0)

    def draw(temperature: float) -> Figure:
        return plots.softmax_temperature(similarities, temperature)

    return redrawing(draw, temperature=slider("temperature tau", temperature, 0.01, 2.0, 0.01))


def temperature_classes_explorer(similarities: "np.ndarray", same_class: "np.ndarray",
                                 temperature: float = 0.1) -> widgets.VBox:
    """A temperature slider redrawing ``plots.softmax_temperature_classes`` (same-class candidates
    hatched)."""
    from . import plots

    similarities = as_array(similarities, "similarities", ndim=1)
    same_class = as_array(same_class, "same_class", ndim=1, dtype=bool)
    if len(same_class) != len(similarities):
        raise ValueError(f"same_class must hold one flag per candidate ({len(similarities)}), "
                         f"got {len(same_class)}")
    check_in_range(temperature, "temperature", 0.01, 2.0)
    def draw(temperature: float) -> Figure:
        return plots.softmax_temperature_classes(similarities, temperature, same_class)

    return redrawing(draw,
                     temperature=slider("temperature tau", temperature, 0.01, 2.0, 0.01))


def triplet_gaps(ex: "np.ndarray", ey: "np.ndarray", seed: int = 0) -> "np.ndarray":
    """Gaps d(a, n)² − d(a, p)² of the triplets (e_x,i, e_y,i, e_y,π(i)), π a random derangement
    (``alignment.pair_distances``)."""
    from . import alignment

    distances = alignment.pair_distances(ex, ey, seed=seed)
    return distances["unmatched"] - distances["matched"]


def margin_explorer(ex: "np.ndarray", ey: "np.ndarray", margin: float = 0.5, seed: int = 0) -> widgets.VBox:
    """A margin slider redrawing ``plots.triplet_margin_figure`` for embedded test pairs: which triplets a
    margin m would still train on (gap < m), from m = 0 to m = 5 (beyond 4 every triplet on the sphere)."""
    from . import plots

    check_in_range(margin, "margin", 0.0, 5.0)
    gaps = triplet_gaps(ex, ey, seed)
    return redrawing(lambda margin: plots.triplet_margin_figure(gaps, margin),
                     margin=slider("margin m", margin, 0.0, 5.0, 0.1))


def info_nce_by_batch_size(ex: "np.ndarray", ey: "np.ndarray", sizes: "tuple[int, ...]", temperature: float,
                           batches: int = 8, seed: int = 0) -> tuple["np.ndarray", "np.ndarray"]:
    """Mean InfoNCE loss (one direction, ``alignment.info_nce``) and recall@1 over ``batches`` random batches
    of n embedded test pairs, for each n in ``sizes``."""
    import torch

    from . import alignment
    from ._checks import rng_from

    ex, ey = as_array(ex, "ex", ndim=2), as_array(ey, "ey", ndim=2)
    if any(int(n) < 2 or int(n) > len(ex) for n in sizes):
        raise ValueError(f"sizes must lie in 2..{len(ex)} (the number of pairs), got {sizes}")
    rng = rng_from(seed)
    losses, recalls = [], []
    for n in sizes:
        picks = [rng.choice(len(ex), int(n), replace=False) for _ in range(batches)]
        losses.append(np.mean([float(alignment.info_nce(torch.as_tensor(ex[p]), torch.as_tensor(ey[p]),
                                                        temperature)) for p in picks]))
        recalls.append(np.mean([alignment.recall_at_k(ex[p] @ ey[p].T, 1) for p in picks]))
    return np.array(losses), np.array(recalls)


def batch_size_explorer(ex: "np.ndarray", ey: "np.ndarray", temperature: float = 0.1,
                        sizes: "tuple[int, ...]" = (2, 4, 8, 16, 32, 64, 128, 256, 500)) -> widgets.VBox:
    """A batch-size slider over precomputed ``info_nce_by_batch_size`` results, redrawing
    ``plots.batch_size_figure``: the loss grows with n, and so does the bound log n − L it gives."""
    from . import plots

    check_in_range(temperature, "temperature", 0.01, 2.0)
    losses, recalls = info_nce_by_batch_size(ex, ey, sizes, temperature)
    return redrawing(lambda n: plots.batch_size_figure(sizes, losses, recalls, n, temperature),
                     n=widgets.SelectionSlider(options=list(sizes), value=128 if 128 in sizes else sizes[0],
                                               description="batch size n", continuous_update=False))


# ---------------------------------------------------------------------------------------------
# Chapter 03 — fusion: widgets
# ---------------------------------------------------------------------------------------------


def poe_vs_moe(p_v: float = 0.9, p_t: float = 0.1, weight: float = 0.5) -> widgets.VBox:
    """Two binary experts' P(class 0) and the mixture weight; redraws PoE and MoE
    (``helpers.plots.poe_vs_moe_binary``)."""
    from .plots import poe_vs_moe_binary

    check_in_range(p_v, "p_v", 0.01, 0.99)
    check_in_range(p_t, "p_t", 0.01, 0.99)
    check_in_range(weight, "weight", 0.0, 1.0)
    return redrawing(poe_vs_moe_binary,
                     p_v=slider("expert v: P(class 0)", p_v, 0.01, 0.99, 0.01),
                     p_t=slider("expert t: P(class 0)", p_t, 0.01, 0.99, 0.01),
                     weight=slider("MoE weight w", weight, 0.0, 1.0, 0.05))


def prior_correction(p_v: float = 0.6, p_t: float = 0.6, prior: float = 0.8) -> widgets.VBox:
    """Chapter 03: both experts' P(class 0) and the class prior; redraws ``plots.prior_correction`` (PoE with
    and without dividing out the prior once)."""
    from .plots import prior_correction as draw

    check_in_range(p_v, "p_v", 0.01, 0.99)
    check_in_range(p_t, "p_t", 0.01, 0.99)
    check_in_range(prior, "prior", 0.05, 0.95)
    return redrawing(draw, p_v=slider("expert v: P(class 0)", p_v, 0.01, 0.99, 0.01),
                     p_t=slider("expert t: P(class 0)", p_t, 0.01, 0.99, 0.01),
                     prior=slider("prior P(class 0)", prior, 0.05, 0.95, 0.05))


def corruption_rate(rates: "np.ndarray", sweep: dict, rate: float = 0.2) -> widgets.VBox:
    """Chapter 03: a corruption-rate slider over a precomputed ``fusion.corruption_sweep``; redraws accuracy,
    NLL and ECE of expert v, PoE and MoE at that rate (linear interpolation between the swept rates)."""
    from .plots import COLORS, new_figure

    rates = as_array(rates, "rates", ndim=1)
    check_in_range(rate, "rate", float(rates.min()), float(rates.max()))
    methods = {"vision": "expert v", "poe": "PoE", "moe": "MoE"}

    def draw(rate: float) -> Figure:
        fig, (axis,) = new_figure(width=6.0, height=3.4)
        for i, (method, label) in enumerate(methods.items()):
            heights = [float(np.interp(rate, rates, sweep[method][m])) for m in ("accuracy", "nll", "ece")]
            bars = axis.bar(np.arange(3) + (i - 1) * 0.26, heights, 0.26, color=COLORS[method], label=label)
            axis.bar_label(bars, fmt="%.2f", fontsize=9)
        axis.set_xticks(range(3), labels=["accuracy", "NLL (nats)", "ECE"])
        axis.set(ylim=(0, 2.3), title=f"expert t confidently wrong on a fraction {rate:.2f} of examples")
        axis.legend(fontsize=9, loc="upper left")
        return fig

    step = float(np.min(np.diff(rates))) if len(rates) > 1 else 0.1
    return redrawing(draw, rate=slider("corruption rate", rate, float(rates.min()), float(rates.max()), step))


def cross_attention_seeds(seed: int = 0) -> widgets.VBox:
    """Chapter 03: a seed slider over the precomputed ``fusion.CROSS_ATTENTION_SEED_RESULTS``; redraws the
    test accuracy and the best head's alignment of every configuration with that seed ringed."""
    from .fusion import CROSS_ATTENTION_SEED_RESULTS as results
    from .plots import cross_attention_seed_panels

    n = len(next(iter(results.values()))["accuracy"])
    check_positive_int(seed, "seed", minimum=0)
    if seed >= n:
        raise ValueError(f"seed must be below {n} (the precomputed seeds), got {seed}")

    def draw(seed: int) -> Figure:
        return cross_attention_seed_panels(results, seed)

    return redrawing(draw, seed=widgets.IntSlider(value=seed, min=0, max=n - 1, description="seed",
                                                  continuous_update=False))


# ---------------------------------------------------------------------------------------------
# Chapter 04 — challenges: widgets
# ---------------------------------------------------------------------------------------------


def gated_fusion_tau(p_v: "np.ndarray", p_t: "np.ndarray", labels: "np.ndarray", reliable: int,
                     tau: float = 0.5) -> widgets.VBox:
    """Chapter 04: a τ slider redrawing ``plots.gated_fusion_panel`` (the sweep and where the gate fuses)."""
    from . import challenges, plots

    check_in_range(tau, "tau", 0.0, 1.0)
    taus = np.linspace(0.0, 1.0, 21)
    accuracies = challenges.gated_accuracy_sweep(p_v, p_t, labels, taus, reliable)
    good_only = challenges.binary_accuracy(p_v if reliable == 0 else p_t, labels)
    average = challenges.binary_accuracy((np.asarray(p_v) + np.asarray(p_t)) / 2, labels)

    def draw(tau: float) -> Figure:
        return plots.gated_fusion_panel(p_v, p_t, labels, taus, accuracies, good_only=good_only,
                                        average=average, tau=tau, reliable=reliable)

    return redrawing(draw, tau=slider("tau", tau, 0.0, 1.0, 0.05))


def dominance_seeds(table: "dict[str, np.ndarray]", seed: int = 0) -> widgets.VBox:
    """Chapter 04: a seed slider over a precomputed ``challenges.dominance_over_seeds`` table; redraws the
    weak branch's accuracy per remedy with that seed's dots ringed."""
    from .plots import seed_dots

    if not isinstance(table, dict) or not table:
        raise ValueError("table must be the dict returned by challenges.dominance_over_seeds")
    n = len(next(iter(table.values())))
    check_positive_int(seed, "seed", minimum=0)
    if seed >= n:
        raise ValueError(f"seed must be below {n} (the seeds in table), got {seed}")

    def draw(seed: int) -> Figure:
        return seed_dots(table, ylabel="weak branch t: own test accuracy", highlight=seed,
                         title=f"seed {seed} ringed")

    return redrawing(draw, seed=widgets.IntSlider(value=seed, min=0, max=n - 1, description="seed",
                                                  continuous_update=False))


def dominance_monitor(runs: "dict[tuple[float, str], object]", threshold: float = 5.0, scale: float = 5.0,
                      optimiser: str = "sgd") -> widgets.VBox:
    """Chapter 04: controls for v's input scale, the monitor's ratio threshold and the optimiser over the
    precomputed ``challenges.dominance_grid`` runs; redraws ``plots.dominance_monitor_figure`` (per-branch
    norms, the ratio, where the monitor fires) with the weak branch's own test accuracy in the title."""
    from .plots import dominance_monitor_figure

    if not isinstance(runs, dict) or not runs or not all(isinstance(k, tuple) and len(k) == 2 for k in runs):
        raise ValueError("runs must be the dict returned by challenges.dominance_grid: "
                         "(scale, optimiser) -> run")
    scales = sorted({s for s, _ in runs})
    optimisers = list(dict.fromkeys(o for _, o in runs))
    check_in_range(threshold, "threshold", 1.0, 20.0)
    if scale not in scales:
        raise ValueError(f"scale must be one of the precomputed scales {scales}, got {scale!r}")
    if optimiser not in optimisers:
        raise ValueError(f"optimiser must be one of {optimisers}, got {optimiser!r}")

    def draw(scale: float, threshold: float, optimiser: str) -> Figure:
        run = runs[(scale, optimiser)]
        return dominance_monitor_figure(run, threshold, title=(
            f"v's input scale {scale:g}, {optimiser}: weak branch t's own test accuracy "
            f"{run.accuracy['t']:.3f} (fused {run.accuracy['fused']:.3f})"))

    return redrawing(draw, scale=widgets.SelectionSlider(options=scales, value=scale, description="v scale",
                                                         continuous_update=False),
                     threshold=slider("ratio threshold", threshold, 1.0, 20.0, 0.5),
                     optimiser=widgets.ToggleButtons(options=optimisers, value=optimiser,
                                                     description="optimiser"))


def missing_and_dropout(curves: "dict[str, dict[float, list[float]]]", imputation: "dict[str, list[float]]",
                        rates: "tuple[float, ...]", rate: float = 0.5,
                        dropout_rate: float = 0.5) -> widgets.VBox:
    """Chapter 04: the test missing rate and the training dropout rate, over precomputed curves
    (``challenges.curves_by_dropout_rate``; ``imputation``: the Gaussian-imputation curve per data set);
    redraws ``plots.missing_rates_figure``."""
    from .plots import missing_rates_figure

    if not isinstance(curves, dict) or not curves or not isinstance(imputation, dict) \
            or set(imputation) != set(curves):
        raise ValueError("curves and imputation must map the same data sets to accuracy curves "
                         "(challenges.curves_by_dropout_rate)")
    rates = tuple(float(r) for r in as_array(rates, "rates", ndim=1))
    dropout_rates = list(next(iter(curves.values())))
    if rate not in rates:
        raise ValueError(f"rate must be one of the missing rates {list(rates)}, got {rate!r}")
    if dropout_rate not in dropout_rates:
        raise ValueError(f"dropout_rate must be one of {dropout_rates}, got {dropout_rate!r}")

    def draw(rate: float, dropout_rate: float) -> Figure:
        return missing_rates_figure(curves, imputation, rates, rate=rate, dropout_rate=dropout_rate)

    style = {"description_width": "initial"}
    return redrawing(draw, rate=widgets.SelectionSlider(options=list(rates), value=rate, style=style,
                                                        description="test missing rate",
                                                        continuous_update=False),
                     dropout_rate=widgets.SelectionSlider(options=dropout_rates, value=dropout_rate,
                                                          style=style, description="training dropout rate",
                                                          continuous_update=False))

# ---------------------------------------------------------------------------------------------
# Chapter 05 — applications: widgets
# ---------------------------------------------------------------------------------------------


def diagnosis_calibration_figure(shared: float, seed: int = 0, n: int = 1500) -> Figure:
    """Simulated diagnosis with shared latent noise ``shared`` (dependence of the two modalities given the
    class): reliability diagram of the clinical and imaging experts and of their PoE and MoE."""
    from . import applications, data, plots

    train = data.make_diagnosis(n, seed=seed, shared=shared)
    test = data.make_diagnosis(n, seed=seed + 1, shared=shared)
    curves = applications.diagnosis_calibration(train, test)
    return plots.reliability_diagram(curves, title=f"shared noise {shared:.2f} (simulated)")


def diagnosis_dependence(seed: int = 0) -> widgets.VBox:
    """A slider for the noise the two simulated modalities share: at 0 they are independent given the
    class, PoE is calibrated and an equal-weight MoE under-confident; the more they share, the more PoE
    double-counts and over-states (the lower panel counts the cases per confidence bin)."""
    check_positive_int(seed, "seed", minimum=0)
    return redrawing(lambda shared: diagnosis_calibration_figure(shared, seed),
                     shared=slider("shared noise", 1.2, 0.0, 2.0, 0.1))

