"""helpers.alignment: Procrustes, triplet loss, InfoNCE, recall@k and the probe are right; bad input is
refused clearly; the chapter's claims C4–C6 hold with its seeds; ex02's hidden tests catch wrong answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
import torch.nn.functional as F
from conftest import ROOT, run_test_cell
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import alignment, data

EX02 = ROOT / "solutions" / "ex02_alignment" / "ex02_alignment.ipynb"


# --- Procrustes ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_procrustes_rotation_agrees_with_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
    fit = alignment.procrustes(x, y, center=False, scale=False)
    rotation, total = scipy.linalg.orthogonal_procrustes(x, y)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-10)
    np.testing.assert_allclose(fit.residual, np.linalg.norm(x @ rotation - y), rtol=1e-10)
    # with centring and scale, the rotation is scipy's on the centred data and s = sum(sigma) / ||x_c||^2
    fit = alignment.procrustes(x, y)
    xc, yc = x - x.mean(0), y - y.mean(0)
    rotation, total = scipy.linalg.orthogonal_procrustes(xc, yc)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-10)
    np.testing.assert_allclose(fit.scale, total / np.sum(xc**2), rtol=1e-10)


def test_procrustes_recovers_a_known_transformation_exactly_without_noise() -> None:
    pair = data.procrustes_pair(100, 3, scale=2.5, translation=(1.0, -2.0, 0.5), noise=0.0, seed=3)
    fit = alignment.procrustes(pair.x, pair.y)
    np.testing.assert_allclose(fit.rotation, pair.rotation, atol=1e-10)
    np.testing.assert_allclose(fit.scale, 2.5, rtol=1e-10)
    np.testing.assert_allclose(fit.translation, pair.translation, atol=1e-10)
    np.testing.assert_allclose(fit.transform(pair.x), pair.y, atol=1e-9)
    assert fit.residual < 1e-9 and fit.relative_residual < 1e-10


def test_procrustes_scale_minimises_the_residual() -> None:
    pair = data.procrustes_pair(80, 2, noise=0.3, seed=4)
    fit = alignment.procrustes(pair.x, pair.y)
    xc, yc = pair.x - fit.mean_x, pair.y - fit.mean_y
    for s in (fit.scale * 0.99, fit.scale * 1.01):
        assert np.linalg.norm(s * xc @ fit.rotation - yc) > fit.residual


def test_rotation_angle_inverts_rotation_2d_and_polynomial_refit_is_exact_on_cubics() -> None:
    for degrees in (-170.0, -30.0, 0.0, 45.0, 120.0):
        assert alignment.rotation_angle(data.rotation_2d(degrees)) == pytest.approx(degrees)
    u = np.random.default_rng(0).normal(size=(50, 2))
    y = np.column_stack([1 + u[:, 0] - 0.5 * u[:, 0] ** 3, 2 * u[:, 1] ** 2])
    np.testing.assert_allclose(alignment.polynomial_refit(u, y, degree=3), y, atol=1e-9)


def test_random_rotation_is_proper() -> None:
    for seed in range(5):
        r = data.random_rotation(4, seed=seed)
        np.testing.assert_allclose(r.T @ r, np.eye(4), atol=1e-12)
        assert np.linalg.det(r) == pytest.approx(1.0)


# --- losses --------------------------------------------------------------------------------

def test_info_nce_is_cross_entropy_over_the_similarity_matrix() -> None:
    generator = torch.Generator().manual_seed(0)
    za, zb = torch.randn(16, 5, generator=generator), torch.randn(16, 5, generator=generator)
    logits = F.normalize(za, dim=1) @ F.normalize(zb, dim=1).T / 0.2
    labels = torch.arange(16)
    torch.testing.assert_close(alignment.info_nce(za, zb, 0.2), F.cross_entropy(logits, labels))
    torch.testing.assert_close(alignment.info_nce(za, zb, 0.2, symmetric=True),
                               0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)))
    torch.testing.assert_close(alignment.info_nce_loop(za, zb, 0.2), alignment.info_nce(za, zb, 0.2))


def test_triplet_loss_formula_and_gradient_directions() -> None:
    a, p, n = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.5]])
    assert float(alignment.triplet_loss(a, p, n, margin=2.0)) == pytest.approx(2.0 + 1.0 - 2.25)
    assert float(alignment.triplet_loss(a, p, n, margin=1.0)) == 0.0
    g = alignment.triplet_gradients(np.zeros(2), np.array([1.2, 0.6]), np.array([0.6, -0.5]), margin=0.5)
    np.testing.assert_allclose(g["anchor"], 2 * (np.array([0.6, -0.5]) - [1.2, 0.6]))
    np.testing.assert_allclose(g["positive"], 2 * np.array([1.2, 0.6]))
    np.testing.assert_allclose(g["negative"], -2 * np.array([0.6, -0.5]))


def test_gradients_pass_gradcheck_in_float64() -> None:
    generator = torch.Generator().manual_seed(1)
    a, p, n = (torch.randn(6, 3, generator=generator, dtype=torch.float64, requires_grad=True)
               for _ in range(3))
    assert torch.autograd.gradcheck(lambda a, p, n: alignment.triplet_loss(a, p, n, margin=3.0), (a, p, n))
    za, zb = (torch.randn(5, 4, generator=generator, dtype=torch.float64, requires_grad=True)
              for _ in range(2))
    assert torch.autograd.gradcheck(lambda a, b: alignment.info_nce(a, b, 0.3, symmetric=True), (za, zb))


# --- retrieval and probe -------------------------------------------------------------------

def test_recall_at_k_known_answers_and_pessimistic_ties() -> None:
    s = np.array([[0.9, 0.1, 0.3], [0.2, 0.5, 0.8], [0.5, 0.5, 0.5]])
    # query 1 misses, query 2 ties (counts against)
    assert alignment.recall_at_k(s, 1) == pytest.approx(1 / 3)
    assert alignment.recall_at_k(s, 2) == pytest.approx(2 / 3)
    assert alignment.recall_at_k(s, 3) == 1.0
    assert alignment.recall_at_k(np.eye(50), 1) == 1.0


def test_few_label_probe_separable_classes() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 40)
    features = np.eye(3)[labels] * 5 + rng.normal(size=(120, 3)) * 0.3
    assert alignment.few_label_probe(features, labels, features, labels, per_class=1, repeats=2) > 0.95


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: alignment.procrustes(np.ones((5, 2)), np.ones((4, 2))), "same number of rows"),
    (lambda: alignment.procrustes(np.ones((5, 2)), np.ones((5, 3))), "same number of columns"),
    (lambda: alignment.procrustes(np.ones(5), np.ones(5)), "x must have 2 dimension"),
    (lambda: alignment.procrustes(np.ones((5, 2)), np.ones((5, 2))), "constant"),
    (lambda: alignment.procrustes([[np.nan, 1.0], [0.0, 1.0]], np.ones((2, 2))), "finite"),
    (lambda: alignment.triplet_loss(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(4, 2)), "same shape"),
    (lambda: alignment.triplet_loss(torch.zeros(3, 2), torch.zeros(3, 2), torch.zeros(3, 2), margin=-1),
     "margin"),
    (lambda: alignment.info_nce(torch.zeros(3, 2), torch.zeros(3, 2), temperature=0.0), "temperature"),
    (lambda: alignment.info_nce(np.zeros((3, 2)), torch.zeros(3, 2)), "za must be a float tensor"),
    (lambda: alignment.recall_at_k(np.ones((3, 4)), 1), "square"),
    (lambda: alignment.recall_at_k(np.ones((3, 3)), 0), "k must be an integer"),
    (lambda: alignment.polynomial_refit(np.ones((4, 2)), np.ones((4, 3))), "same shape"),
    (lambda: alignment.pca_project([np.ones((10, 3))], 5), "dim must be at most"),
    (lambda: alignment.train_alignment(alignment.dual_encoder(2, 2), np.ones((4, 2)), np.ones((4, 2)),
                                       objective="cca"), "objective must be one of"),
    (lambda: alignment.few_label_probe(np.ones((4, 2)), [0, 0, 1, 1], np.ones((2, 2)), [0, 1], per_class=3),
     "per_class"),
    (lambda: data.latent_pairs(1), "n must be an integer >= 2"),
    (lambda: data.procrustes_pair(10, 2, translation=(1.0, 2.0, 3.0)), "translation must be"),
])
def test_bad_input_raises_a_clear_value_error(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# --- the chapter's claims, with the chapter's seeds -----------------------------------------

def test_c4_procrustes_recovers_translation_rotation_scale_and_flags_nonlinearity() -> None:
    pair = data.procrustes_pair(200, 2, degrees=40.0, scale=1.5, translation=(1.0, 2.0), noise=0.05, seed=0)
    fit = alignment.procrustes(pair.x, pair.y)
    assert alignment.rotation_angle(fit.rotation) == pytest.approx(40.0, abs=0.5)
    assert fit.scale == pytest.approx(1.5, abs=0.02)
    np.testing.assert_allclose(fit.translation, [1.0, 2.0], atol=0.02)
    linear_residual = fit.relative_residual
    assert linear_residual < 0.06
    bent = data.procrustes_pair(200, 2, degrees=40.0, scale=1.5, noise=0.05, warp=0.2, seed=0)
    bent_fit = alignment.procrustes(bent.x, bent.y)
    refit = alignment.relative_residual(alignment.polynomial_refit(bent_fit.transform(bent.x), bent.y, 3),
                                        bent.y)
    assert bent_fit.relative_residual > 4 * linear_residual, "a nonlinear relation leaves a large residual"
    assert refit < 0.2 * bent_fit.relative_residual, "a per-dimension cubic removes most of it"
    # real data: pix -> kar is far more linear than fou -> kar; both beat the shuffled baseline
    digits = data.load_multiple_features(["pix", "kar", "fou"])
    pix, kar = alignment.pca_project([digits.views["pix"], digits.views["kar"]], dim=20)
    fou, kar2 = alignment.pca_project([digits.views["fou"], digits.views["kar"]], dim=20)
    linear = alignment.procrustes_diagnostics(pix, kar, seed=0)
    other = alignment.procrustes_diagnostics(fou, kar2, seed=0)
    assert linear["procrustes"] < 0.7 < other["procrustes"] < linear["shuffled"]
    assert linear["recall@1"] > 0.3 > 0.02 > other["recall@1"]


@pytest.fixture(scope="module")
def trained() -> dict:
    """The chapter's data split and models, trained with the chapter's seeds."""
    pairs = data.latent_pairs(2500, seed=0)
    train, test = pairs.subset(slice(0, 2000)), pairs.subset(slice(2000, None))
    models = {"random encoder": alignment.dual_encoder(16, 16, dim=8, seed=1)}
    for objective, name in (("triplet", "triplet"), ("infonce", "InfoNCE")):
        models[name] = alignment.dual_encoder(16, 16, dim=8, seed=1)
        alignment.train_alignment(models[name], train.x, train.y, objective=objective, margin=0.5,
                                  temperature=0.1, epochs=20, seed=0, progress=False)
    return {"train": train, "test": test, "models": models}


def test_c5_triplet_training_pulls_matches_together(trained: dict) -> None:
    test = trained["test"]
    before = alignment.pair_distances(*alignment.embed(trained["models"]["random encoder"], test.x, test.y))
    after = alignment.pair_distances(*alignment.embed(trained["models"]["triplet"], test.x, test.y))
    assert abs(before["matched"].mean() - before["unmatched"].mean()) < 0.2, "untrained: no preference"
    assert after["matched"].mean() < 0.5 * before["matched"].mean()
    assert after["unmatched"].mean() - after["matched"].mean() > 1.0
    assert np.mean(after["matched"] < after["unmatched"]) > 0.9


def test_c6_aligned_representations_retrieve_and_help_a_few_label_probe(trained: dict) -> None:
    train, test, models = trained["train"], trained["test"], trained["models"]
    representations = {"raw features": None, **models}
    features = {name: (alignment.encode_pairs(r, train.x, train.y), alignment.encode_pairs(r, test.x, test.y))
                for name, r in representations.items()}
    table = alignment.compare_representations(features, train.labels, test.labels, ks=(1, 5),
                                              per_class=(1, 5, 10), repeats=5, seed=0)
    chance = 5 / len(test.x)
    for aligned in ("triplet", "InfoNCE"):
        assert table[aligned]["recall@5"] > 10 * chance
        for baseline in ("raw features", "random encoder"):
            assert table[aligned]["recall@1"] > 5 * max(table[baseline]["recall@1"], 1 / len(test.x))
            assert table[aligned]["probe@1"] > table[baseline]["probe@1"] + 0.15
            assert table[aligned]["probe@5"] > table[baseline]["probe@5"] + 0.05


# --- ex02: every graded task's hidden tests catch a plausible wrong implementation -----------

def _procrustes_plain(x, y):
    """Wrong: the unconstrained orthogonal solution (may be a reflection)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    xc, yc = x - x.mean(0), y - y.mean(0)
    u, sigma, vt = np.linalg.svd(xc.T @ yc)
    r, s = u @ vt, sigma.sum() / np.sum(xc**2)
    t = y.mean(0) - s * x.mean(0) @ r
    return r, s, t, float(np.linalg.norm(s * x @ r + t - y))


def _procrustes_flip_but_old_scale(x, y):
    """Wrong: flips the last direction but keeps s = tr(Sigma) / ||x_c||^2."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    xc, yc = x - x.mean(0), y - y.mean(0)
    u, sigma, vt = np.linalg.svd(xc.T @ yc)
    d = np.ones(len(sigma))
    d[-1] = np.sign(np.linalg.det(u @ vt))
    r, s = (u * d) @ vt, sigma.sum() / np.sum(xc**2)
    t = y.mean(0) - s * x.mean(0) @ r
    return r, s, t, float(np.linalg.norm(s * x @ r + t - y))


def _batch_hard_with_self(anchors, positives, margin=0.5):
    """Wrong: the positive itself is allowed as the 'hardest negative'."""
    if anchors.shape[0] < 2:
        raise ValueError("need two pairs")
    dist = ((anchors[:, None] - positives[None]) ** 2).sum(-1)
    return torch.clamp(margin + dist.diagonal() - dist.min(dim=1).values, min=0).mean()


def _batch_easiest(anchors, positives, margin=0.5):
    """Wrong: the farthest negative (max) instead of the hardest (min)."""
    if anchors.shape[0] < 2:
        raise ValueError("need two pairs")
    dist = ((anchors[:, None] - positives[None]) ** 2).sum(-1)
    eye = torch.eye(len(anchors), dtype=torch.bool)
    return torch.clamp(margin + dist.diagonal() - dist.masked_fill(eye, -1.0).max(dim=1).values, min=0).mean()


def _batch_hard_unsquared(anchors, positives, margin=0.5):
    """Wrong: plain (not squared) Euclidean distances."""
    if anchors.shape[0] < 2:
        raise ValueError("need two pairs")
    dist = torch.cdist(anchors, positives)
    eye = torch.eye(len(anchors), dtype=torch.bool)
    return torch.clamp(margin + dist.diagonal() - dist.masked_fill(eye, float("inf")).min(dim=1).values,
                       min=0).mean()


def _multi_positive_naive_exp(x, y, positives, temperature=0.1):
    """Wrong: exponentiates the logits directly (overflows for small temperatures)."""
    positives = torch.as_tensor(positives, dtype=torch.bool)
    if not bool(positives.any(1).all()) or not bool(positives.any(0).all()):
        raise ValueError("no positive")
    e = torch.exp(F.normalize(x, dim=1) @ F.normalize(y, dim=1).T / temperature)
    rows = -torch.log((e * positives).sum(1) / e.sum(1))
    cols = -torch.log((e * positives).sum(0) / e.sum(0))
    return 0.5 * (rows.mean() + cols.mean())


def _multi_positive_one_way(x, y, positives, temperature=0.1):
    """Wrong: only the x → y direction."""
    positives = torch.as_tensor(positives, dtype=torch.bool)
    if not bool(positives.any(1).all()) or not bool(positives.any(0).all()):
        raise ValueError("no positive")
    logits = F.normalize(x, dim=1) @ F.normalize(y, dim=1).T / temperature
    return (logits.logsumexp(1) - logits.masked_fill(~positives, float("-inf")).logsumexp(1)).mean()


def _multi_positive_mean_of_logs(x, y, positives, temperature=0.1):
    """Wrong: averages the log-probabilities of the positives instead of taking the log of their sum."""
    positives = torch.as_tensor(positives, dtype=torch.bool)
    if not bool(positives.any(1).all()) or not bool(positives.any(0).all()):
        raise ValueError("no positive")
    logits = F.normalize(x, dim=1) @ F.normalize(y, dim=1).T / temperature
    rows = -((logits - logits.logsumexp(1, keepdim=True)) * positives).sum(1) / positives.sum(1)
    cols = -((logits - logits.logsumexp(0, keepdim=True)) * positives).sum(0) / positives.sum(0)
    return 0.5 * (rows.mean() + cols.mean())


def _multi_positive_dot_products(x, y, positives, temperature=0.1):
    """Wrong: raw dot products instead of cosine similarities."""
    positives = torch.as_tensor(positives, dtype=torch.bool)
    if not bool(positives.any(1).all()) or not bool(positives.any(0).all()):
        raise ValueError("no positive")
    logits = x @ y.T / temperature
    rows = logits.logsumexp(1) - logits.masked_fill(~positives, float("-inf")).logsumexp(1)
    cols = logits.logsumexp(0) - logits.masked_fill(~positives, float("-inf")).logsumexp(0)
    return 0.5 * (rows.mean() + cols.mean())


def _recall_optimistic(similarity, targets, k):
    """Wrong: ties count for the true match."""
    s = np.asarray(similarity, float)
    true = s[np.arange(len(s)), np.asarray(targets)][:, None]
    return float(np.mean((s > true).sum(1) + 1 <= k))


def _recall_pessimistic(similarity, targets, k):
    """Wrong: ties count against the true match."""
    s = np.asarray(similarity, float)
    true = s[np.arange(len(s)), np.asarray(targets)][:, None]
    return float(np.mean((s >= true).sum(1) <= k))


def _recall_argsort(similarity, targets, k):
    """Wrong: whatever order a stable sort happens to give tied candidates."""
    order = np.argsort(-np.asarray(similarity, float), axis=1, kind="stable")[:, :k]
    return float(np.mean([t in row for t, row in zip(np.asarray(targets), order)]))


EX02_WRONG = [
    ("test_proper_procrustes", "proper_procrustes", _procrustes_plain),
    ("test_proper_procrustes", "proper_procrustes", _procrustes_flip_but_old_scale),
    ("test_batch_hard_triplet_loss", "batch_hard_triplet_loss", _batch_hard_with_self),
    ("test_batch_hard_triplet_loss", "batch_hard_triplet_loss", _batch_easiest),
    ("test_batch_hard_triplet_loss", "batch_hard_triplet_loss", _batch_hard_unsquared),
    ("test_multi_positive_info_nce", "multi_positive_info_nce", _multi_positive_naive_exp),
    ("test_multi_positive_info_nce", "multi_positive_info_nce", _multi_positive_one_way),
    ("test_multi_positive_info_nce", "multi_positive_info_nce", _multi_positive_mean_of_logs),
    ("test_multi_positive_info_nce", "multi_positive_info_nce", _multi_positive_dot_products),
    ("test_expected_recall_at_k", "expected_recall_at_k", _recall_optimistic),
    ("test_expected_recall_at_k", "expected_recall_at_k", _recall_pessimistic),
    ("test_expected_recall_at_k", "expected_recall_at_k", _recall_argsort),
]


def _judged(notebook, grade_id: str, replace: dict | None, seed: int = 0):
    """The judge's verdict alone, without the visible asserts: points come only from the judge."""
    from conftest import _cells, _namespace_before

    from coursetools import judge

    cell = next(c for c in _cells(notebook) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    student, reference = (_namespace_before(notebook, grade_id, r) for r in (replace, None))
    return judge.judge_in_process(judge.setup_code(notebook), judge.hidden_code(cell), student, reference,
                                  seed)


@pytest.mark.parametrize("grade_id, name, wrong", EX02_WRONG,
                         ids=lambda value: getattr(value, "__name__", None))
def test_ex02_hidden_tests_catch_a_wrong_implementation(grade_id: str, name: str, wrong) -> None:
    with pytest.raises(AssertionError):
        run_test_cell(EX02, grade_id, replace={name: wrong})


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("grade_id, name, wrong", EX02_WRONG,
                         ids=lambda value: getattr(value, "__name__", None))
def test_ex02_judge_alone_fails_a_wrong_implementation(grade_id: str, name: str, wrong, seed: int) -> None:
    result = _judged(EX02, grade_id, {name: wrong}, seed)
    assert not result.passed and "failed" in result.message


@pytest.mark.parametrize("grade_id", ["test_proper_procrustes", "test_batch_hard_triplet_loss",
                                      "test_multi_positive_info_nce", "test_expected_recall_at_k"])
def test_ex02_hidden_tests_pass_the_solution(grade_id: str) -> None:
    run_test_cell(EX02, grade_id)


def test_ex02_hidden_tests_refuse_delegating_to_helpers() -> None:
    """A 'solution' that calls the helpers reference is stubbed out while grading."""
    from helpers.testing import HelpersDisabledError

    def delegating(similarity, targets, k):
        return alignment.recall_at_k(np.asarray(similarity)[:, np.asarray(targets)], k)

    with pytest.raises((AssertionError, HelpersDisabledError)):
        run_test_cell(EX02, "test_expected_recall_at_k", replace={"expected_recall_at_k": delegating})
    result = _judged(EX02, "test_expected_recall_at_k", {"expected_recall_at_k": delegating})
    assert not result.passed and "switched off" in result.message


# --- the chapter's figures and widgets --------------------------------------------------------

def test_chapter_figures_are_figures_with_the_expected_panels() -> None:
    from matplotlib.figure import Figure

    from helpers import plots

    demo = data.latent_pairs(50, n_classes=1, d_shared=2, d_private=0, dims=(2, 2), seed=0)
    pair = data.procrustes_pair(50, 2, seed=0)
    fit = alignment.procrustes(pair.x, pair.y)
    grads = alignment.triplet_gradients(np.zeros(2), np.ones(2), -np.ones(2))
    distances = alignment.pair_distances(np.eye(4), np.eye(4)[::-1])
    table = {"raw": {"recall@1": 0.1, "recall@5": 0.3, "probe@1": 0.4, "probe@5": 0.6},
             "aligned": {"recall@1": 0.5, "recall@5": 0.8, "probe@1": 0.7, "probe@5": 0.9}}
    figures = {
        "paired_views": (plots.paired_views(demo.shared, demo.x, demo.y, demo.shared[:, 0]), 3),
        "procrustes": (plots.procrustes_before_after(pair.x, pair.y, fit.transform(pair.x)), 2),
        "triplet": (plots.triplet_geometry(np.zeros(2), np.ones(2), -np.ones(2), grads), 1),
        "distances": (plots.distance_histograms(distances, distances), 2),
        "similarity": (plots.similarity_matrix(np.eye(3)), 2),  # the heatmap and its colour bar
        "softmax": (plots.softmax_temperature(np.array([0.9, 0.1, 0.5]), 0.1), 1),
        "comparison": (plots.representation_comparison(table), 2),
    }
    for name, (figure, panels) in figures.items():
        assert isinstance(figure, Figure), name
        assert len(figure.axes) == panels, f"{name}: {len(figure.axes)} axes"
    heights = [patch.get_height() for patch in figures["softmax"][0].axes[0].patches]
    np.testing.assert_allclose(heights, alignment.softmax_over_similarities([0.9, 0.1, 0.5], 0.1))


def test_chapter_widgets_redraw_when_a_slider_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import plots, widgets

    title = widgets.procrustes_figure(degrees=-90.0, noise=0.0).get_suptitle()
    assert "recovered: -90.0 deg" in title and "s = 1.50" in title
    calls: list[tuple] = []
    draw_procrustes, draw_softmax = plots.procrustes_before_after, plots.softmax_temperature
    monkeypatch.setattr(plots, "procrustes_before_after",
                        lambda *a, **k: calls.append(("procrustes", k["title"])) or draw_procrustes(*a, **k))
    monkeypatch.setattr(plots, "softmax_temperature",
                        lambda s, t: calls.append(("softmax", t)) or draw_softmax(s, t))
    box = widgets.procrustes_explorer()
    sliders = box.children[0].children
    assert [s.description for s in sliders] == ["rotation (deg)", "noise", "warp"]
    sliders[0].value = -90.0
    assert len(calls) == 2 and "true: -90 deg" in calls[-1][1]
    box = widgets.temperature_explorer(np.array([0.9, 0.1, 0.5]))
    box.children[0].children[0].value = 1.0
    assert calls[-2:] == [("softmax", 0.1), ("softmax", 1.0)]


@settings(max_examples=25, deadline=None)
@given(d=st.integers(2, 6), scale=st.floats(0.1, 10.0), seed=st.integers(0, 10_000))
def test_procrustes_undoes_any_similarity_transform(d: int, scale: float, seed: int) -> None:
    """Property: y = s x R + t without noise is recovered exactly, for any proper rotation and scale."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3 * d, d))
    rotation, shift = data.random_rotation(d, seed=seed), rng.normal(size=d)
    fit = alignment.procrustes(x, scale * x @ rotation + shift)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-6)
    np.testing.assert_allclose(fit.scale, scale, rtol=1e-8)
    np.testing.assert_allclose(fit.translation, shift, atol=1e-6 * max(1.0, scale))


# --- issue #17: chapter 02's corrected lessons, on seeds the chapter does not use -----------


def test_a_nonlinear_model_must_shrink_the_held_out_residual_before_we_call_a_relation_nonlinear() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-2, 2, size=(600, 2))
    bent = alignment.heldout_residuals(x, np.sin(2 * x) + 0.05 * rng.normal(size=x.shape), seed=0)
    assert bent["10-NN"] < 0.5 * bent["Procrustes"], "a real nonlinearity: k-NN shrinks the residual"
    digits = data.load_multiple_features(["kar", "fou"])
    fou, kar = alignment.pca_project([digits.views["fou"], digits.views["kar"]], dim=20)
    for seed in (1, 2):
        digits_residuals = alignment.heldout_residuals(fou, kar, folds=5, k=10, seed=seed)
        assert min(digits_residuals.values()) > 0.8, "fou -> kar: no model shrinks it much (little shared)"
    with pytest.raises(ValueError, match="x must hold at least"):
        alignment.heldout_residuals(x[:20], x[:20])


def test_the_folded_view_keeps_less_of_the_latent_in_most_seeds() -> None:
    keeps_less = []
    for seed in range(10):
        demo = data.latent_pairs(600, n_classes=1, d_shared=2, d_private=0, dims=(2, 2),
                                 nonlinear=(False, True), noise=0.02, seed=seed)
        r2 = alignment.latent_recoverability(demo.shared[:, 0], {"x": demo.x, "y": demo.y}, k=5)
        keeps_less.append(r2["y"] < r2["x"])
        if seed == 0:   # the chapter's figure
            assert r2["x"] > 0.95 and r2["y"] < 0.8, r2
            singular = np.linalg.svd(demo.y - demo.y.mean(0), compute_uv=False)
            assert singular[0] > 5 * singular[1], "y is almost one-dimensional"
    assert sum(keeps_less) >= 7, "in most seeds (8 of 10 when written)"
    with pytest.raises(ValueError, match="views"):
        alignment.latent_recoverability(np.zeros(5), {})


def test_true_pair_ranks_and_triplet_loss_with_all_negatives() -> None:
    similarity = np.array([[0.9, 0.1, 0.0], [0.8, 0.5, 0.2], [0.3, 0.3, 0.3]])
    assert alignment.true_pair_ranks(similarity).tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="square"):
        alignment.true_pair_ranks(np.zeros((2, 3)))
    gen = torch.Generator().manual_seed(0)
    ex = F.normalize(torch.randn(6, 4, generator=gen), dim=1)
    ey = F.normalize(torch.randn(6, 4, generator=gen), dim=1)
    loop = np.mean([max(0.0, 0.5 + float(((ex[i] - ey[i]) ** 2).sum()) - float(((ex[i] - ey[j]) ** 2).sum()))
                    for i in range(6) for j in range(6) if j != i])
    assert float(alignment.triplet_loss_all_negatives(ex, ey, margin=0.5)) == pytest.approx(loop, rel=1e-5)
    with pytest.raises(ValueError, match="at least two pairs"):
        alignment.triplet_loss_all_negatives(ex[:1], ey[:1])


def test_untrained_infonce_starts_far_above_log_n_at_small_temperature() -> None:
    pairs = data.latent_pairs(256, seed=7)
    for seed in range(2, 7):
        model = alignment.dual_encoder(16, 16, dim=8, seed=seed)
        low = alignment.batch_info_nce(model, pairs.x[:128], pairs.y[:128], 0.1)
        high = alignment.batch_info_nce(model, pairs.x[:128], pairs.y[:128], 1.0)
        assert low > np.log(128) + 1.0, "tau = 0.1: a confident, arbitrary softmax"
        assert abs(high - np.log(128)) < 0.5, "tau = 1: near uniform"


@pytest.fixture(scope="module")
def fresh_split() -> tuple:
    pairs = data.latent_pairs(2500, seed=0)
    return pairs.subset(slice(0, 2000)), pairs.subset(slice(2000, None))


def test_on_equal_batches_infonce_retrieves_better_on_average_and_the_probe_does_not_separate_them(
        fresh_split: tuple) -> None:
    train, test = fresh_split
    fair = alignment.objectives_over_seeds((train.x, train.y), (test.x, test.y), train.labels, test.labels,
                                           seeds=[31, 32, 33, 34, 35], epochs=10,
                                           objectives={"triplet": "triplet-all", "InfoNCE": "infonce"})
    recall, probe = fair["recall@1"], fair["probe@5"]
    assert recall["InfoNCE"].mean() > recall["triplet"].mean() + 0.01
    assert np.sum(recall["InfoNCE"] > recall["triplet"]) >= 3, "in most runs"
    assert abs(probe["InfoNCE"].mean() - probe["triplet"].mean()) < 0.04, "the probe does not separate them"
    assert np.all(recall["triplet"] > 10 / len(test.x)), "both far above chance in every run"
    with pytest.raises(ValueError, match="objectives"):
        alignment.objectives_over_seeds((train.x, train.y), (test.x, test.y), train.labels, test.labels,
                                        seeds=[1], objectives={"x": "hinge"})


def test_aligned_spaces_are_concept_level_close_and_modality_invariant_over_seeds(fresh_split: tuple) -> None:
    train, test = fresh_split
    raw = {"raw": ((train.x, train.y), (test.x, test.y))}
    raw_row = alignment.granularity_and_invariance(raw, train.labels, test.labels, repeats=3)["raw"]
    for seed in (41, 42, 43):
        model = alignment.dual_encoder(16, 16, dim=8, seed=seed)
        alignment.train_alignment(model, train.x, train.y, objective="infonce", epochs=10, seed=seed,
                                  progress=False)
        features = {"InfoNCE": (alignment.embed(model, train.x, train.y),
                                alignment.embed(model, test.x, test.y))}
        row = alignment.granularity_and_invariance(features, train.labels, test.labels, repeats=3)["InfoNCE"]
        assert row["concept@1"] > row["instance@1"] + 0.3, "same concept far more often than same instance"
        assert row["concept@1"] > raw_row["concept@1"] + 0.2
        assert row["x->y probe"] > raw_row["x->y probe"] + 0.2 and row["x->y probe"] > 0.5
    assert raw_row["x->y probe"] < 0.35, "raw views: a probe does not transfer across modalities"


def test_chapter02_prose_facts_with_the_chapter_seeds(trained: dict) -> None:
    train, test, models = trained["train"], trained["test"], trained["models"]
    table = alignment.compare_representations(
        {"Procrustes": (alignment.encode_pairs(alignment.procrustes(train.x, train.y), train.x, train.y),
                        alignment.encode_pairs(alignment.procrustes(train.x, train.y), test.x, test.y))},
        train.labels, test.labels, ks=(5,), per_class=(1,), repeats=1)
    assert 3 * 5 / len(test.x) < table["Procrustes"]["recall@5"] < 0.1, "above chance, far below trained"
    triplet = models["triplet"]
    similarity = alignment.cosine_similarities(*alignment.embed(triplet, test.x[:8], test.y[:8])).numpy()
    assert np.sum(alignment.true_pair_ranks(similarity) == 1) < 8, "not a bright diagonal"
    row = alignment.cosine_similarities(*alignment.embed(triplet, test.x[:1], test.y[:12])).numpy()[0]
    cold = alignment.softmax_over_similarities(row, 0.02)
    assert cold.argmax() != 0 and cold.max() > cold[0], "the softmax collapses onto a wrong candidate"
    scales = [alignment.procrustes(p.x, p.y).scale for p in
              (data.procrustes_pair(200, 2, degrees=40.0, scale=1.5, noise=0.05, warp=w, seed=0)
               for w in (0.0, 0.1, 0.2, 0.3, 0.5))]
    assert abs(scales[0] - 1.5) < 0.02 and np.all(np.diff(scales) > 0), "the warp inflates the scale"
    header = alignment.table_text({"a": {"procrustes": 0.5, "polynomial": 0.4}}).splitlines()[0]
    assert "procrustes  polynomial" in header


def test_chapter02_new_figures_and_widgets(trained: dict) -> None:
    from matplotlib.figure import Figure

    from helpers import plots, widgets

    test = trained["test"]
    ex, ey = alignment.embed(trained["models"]["InfoNCE"], test.x, test.y)
    box = widgets.margin_explorer(ex, ey, margin=0.5)
    (margin,) = box.children[0].children
    margin.value = 4.5                                                   # redraws without error
    assert np.all(widgets.triplet_gaps(ex, ey) < 4.5), "beyond 4 every triplet on the sphere is active"
    box = widgets.batch_size_explorer(ex, ey, sizes=(2, 8, 32))
    (n,) = box.children[0].children
    n.value = 32
    with pytest.raises(ValueError, match="sizes"):
        widgets.info_nce_by_batch_size(ex, ey, (1, 8), 0.1)
    row = ex[0] @ ey[:12].T
    box = widgets.temperature_classes_explorer(row, test.labels[:12] == test.labels[0])
    box.children[0].children[0].value = 0.05
    with pytest.raises(ValueError, match="same_class"):
        widgets.temperature_classes_explorer(row, np.ones(3, bool))
    box = widgets.procrustes_explorer(degrees=40.0, noise=0.05, warp=0.2)
    starts = [c.value for c in box.children[0].children]
    assert starts == [40.0, 0.05, 0.2], "starts where the static figure is"
    with pytest.raises(ValueError, match="warp"):
        widgets.procrustes_explorer(warp=0.9)
    history = {"loss": [7.9, 5.0, 3.0]}
    assert isinstance(plots.infonce_training_figure(history, ex[:6] @ ey[:6].T, batch_size=128,
                                                    untrained_loss=7.8, temperature=0.1), Figure)
    assert isinstance(plots.horizontal_bars({"a long name: Procrustes": 0.2, "b": 0.1}), Figure)
    table = {"raw": {"instance@1": 0.0, "concept@1": 0.3, "x->y probe": 0.2}}
    assert isinstance(plots.granularity_bars(table, chance=0.2), Figure)
    with pytest.raises(ValueError, match="metrics"):
        plots.granularity_bars({"raw": {"instance@1": 0.0}})
