"""helpers.applications and chapter 05: the small-data tools (fusion rules, folds, canonical correlations,
missing-view masks, calibration), bad input, the chapter's headline numbers with the chapter's seeds, and
the capstone's hidden tests failing for plausible weak solutions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT, run_test_cell
from sklearn.cross_decomposition import CCA
from sklearn.linear_model import LogisticRegression

from helpers import applications, data, fusion, plots, widgets

EXERCISE = ROOT / "solutions" / "ex05_applications" / "ex05_applications.ipynb"


def _log_probs(rng: np.random.Generator, n: int, k: int, scale: float = 2.0) -> np.ndarray:
    logits = scale * rng.normal(size=(n, k))
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


# --- building blocks ------------------------------------------------------------------------


def test_poe_many_is_the_chained_two_expert_rule_and_the_closed_form() -> None:
    rng = np.random.default_rng(1)
    experts = [_log_probs(rng, 20, 4) for _ in range(3)]
    log_prior = np.log(rng.dirichlet(np.ones(4)))
    joint = sum(experts) - 2 * log_prior
    expected = joint - np.log(np.exp(joint).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(applications.poe_many(experts, log_prior), expected, atol=1e-10)
    np.testing.assert_allclose(applications.poe_many(experts[:2], log_prior),
                               fusion.product_of_experts(experts[0], experts[1], log_prior), atol=1e-12)
    np.testing.assert_allclose(applications.poe_many(experts[:1], log_prior), experts[0])


def test_poe_present_ignores_missing_experts() -> None:
    rng = np.random.default_rng(3)
    experts = [_log_probs(rng, 12, 3) for _ in range(3)]
    log_prior = np.log([0.5, 0.3, 0.2])
    every = np.ones((12, 3), dtype=bool)
    np.testing.assert_allclose(applications.poe_present(experts, every, log_prior),
                               applications.poe_many(experts, log_prior), atol=1e-10)
    only_second = np.zeros((12, 3), dtype=bool)
    only_second[:, 1] = True
    np.testing.assert_allclose(applications.poe_present(experts, only_second, log_prior), experts[1],
                               atol=1e-10)


def test_stratified_folds_balance_every_class() -> None:
    labels = np.repeat(np.arange(5), 8)
    fold = applications.stratified_folds(labels, 5, seed=0)
    counts = np.array([[np.sum((fold == k) & (labels == c)) for c in range(5)] for k in range(5)])
    assert (counts == 8 // 5).sum() + (counts == 8 // 5 + 1).sum() == 25
    assert not np.array_equal(fold, applications.stratified_folds(labels, 5, seed=1))


def test_leave_one_out_is_n_splits_equal_n() -> None:
    labels = np.repeat([0, 1], 5)
    fold = applications.stratified_folds(labels, 10, seed=0)
    assert sorted(fold) == list(range(10))


def test_canonical_correlations_match_scikit_learn_and_known_cases() -> None:
    rng = np.random.default_rng(4)
    z = rng.normal(size=(300, 2))
    x = np.column_stack([z, rng.normal(size=(300, 2))]) @ rng.normal(size=(4, 4))
    y = np.column_stack([z[:, 0] + 0.5 * rng.normal(size=300), rng.normal(size=(300, 2))])
    rho = applications.canonical_correlations(x, y)
    u, v = CCA(n_components=1, max_iter=2000, tol=1e-10).fit(x, y).transform(x, y)
    assert abs(rho[0] - abs(np.corrcoef(u[:, 0], v[:, 0])[0, 1])) < 1e-3
    assert np.all(np.diff(rho) <= 1e-12) and rho[0] == pytest.approx(1 / np.sqrt(1.25), abs=0.05)
    np.testing.assert_allclose(applications.canonical_correlations(x, x), 1.0, atol=1e-8)


def test_reliability_curve_agrees_with_expected_calibration_error() -> None:
    rng = np.random.default_rng(5)
    probs = np.exp(_log_probs(rng, 400, 3))
    labels = rng.integers(0, 3, 400)
    curve = applications.reliability_curve(probs, labels, n_bins=10)
    weights = curve.count / curve.count.sum()
    ece = np.nansum(weights * np.abs(curve.accuracy - curve.confidence))
    assert curve.ece == pytest.approx(ece) == pytest.approx(fusion.expected_calibration_error(probs, labels))
    assert curve.count.sum() == 400


def test_wilson_interval_keeps_a_width_at_the_edges_and_matches_the_formula() -> None:
    low, high = applications.wilson_interval(1.0, 40)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.9124, abs=1e-4)   # 40/40 is not certainty
    low, high = applications.wilson_interval(0.0, 40)
    assert low == pytest.approx(0.0) and high == pytest.approx(1 - 0.9124, abs=1e-4)
    a, n, z = np.array([0.3, 0.75, 0.925]), 40, 1.96
    low, high = applications.wilson_interval(a, n, z=z)
    # the Wilson bounds solve |a − p| = z √(p(1 − p)/n) for p
    for bound in (low, high):
        np.testing.assert_allclose(np.abs(a - bound), z * np.sqrt(bound * (1 - bound) / n), atol=1e-12)
    assert np.all((low < a) & (a < high))


def test_lipid_family_reads_the_double_bonds() -> None:
    assert applications.lipid_family("C16.0") == "saturated"
    assert applications.lipid_family("C18.1n.9") == "monounsaturated"
    assert applications.lipid_family("C20.4n.6") == "polyunsaturated"


def test_make_diagnosis_missingness_depends_on_the_class() -> None:
    d = data.make_diagnosis(6000, seed=0)
    rates = [1 - d.imaged[d.labels == c].mean() for c in range(3)]
    np.testing.assert_allclose(rates, (0.4, 0.75, 0.1), atol=0.03)
    assert np.isnan(d.imaging[~d.imaged]).all() and np.isfinite(d.imaging[d.imaged]).all()
    assert np.isfinite(d.clinical).all()


def test_make_missing_views_task_shapes_and_missing_rate() -> None:
    train, y, test, yt = data.make_missing_views_task(400, 100, seed=0, dims=(2, 3), missing=0.3)
    assert [v.shape for v in train] == [(400, 2), (400, 3)]
    assert [v.shape for v in test] == [(100, 2), (100, 3)]
    missing = np.column_stack([np.isnan(v).any(axis=1) for v in train])
    assert not missing.all(axis=1).any() and 0.2 < missing.mean() < 0.35
    assert set(y) <= {0, 1, 2} and len(yt) == 100


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("call, message", [
    (lambda: applications.canonical_correlations(np.ones((10, 12)), np.ones((10, 2))),
     "fewer columns than rows"),
    (lambda: applications.cross_validated_accuracies({"a": np.ones((10, 2))}, np.zeros(9)),
     "same number of rows"),
    (lambda: applications.cross_validated_accuracies({}, np.zeros(9)), "non-empty"),
    (lambda: applications.stratified_folds(np.zeros(4), 5), "n_splits must be at most"),
    (lambda: applications.complementarity("digits"), "split must be a ViewSplit"),
    (lambda: applications.poe_present([np.zeros((4, 2))], np.ones((4, 2), bool), np.zeros(2)),
     "present must have shape"),
    (lambda: applications.poe_many([], np.zeros(2)), "at least one expert"),
    (lambda: applications.gene_lipid_map(np.ones((5, 3)), np.ones((5, 2)), ["a"], ["b", "c"]),
     "name every column"),
    (lambda: applications.digit_split(n_train=2000), "n_train must leave test digits"),
    (lambda: data.make_diagnosis(10, missing_by_class=(0.5, 0.5)), "one probability per class"),
    (lambda: data.make_missing_views_task(10, 10, missing=1.0), "missing must lie in"),
    (lambda: applications.wilson_interval(1.2, 40), "accuracy must lie in"),
    (lambda: applications.wilson_interval(0.5, 0), "n must be"),
    (lambda: applications.lipid_family("oleic"), "name must look like"),
    (lambda: applications.missing_views_over_seeds([]), "seeds must hold"),
    (lambda: applications.calibration_over_seeds(shared=()), "shared and seeds"),
    (lambda: applications.calibration_report("sweep"), "sweep must be a CalibrationSweep"),
    (lambda: plots.missing_views_seeds_figure({"a": np.zeros(3)}, [0.0, 0.5, 1.0]), "n_seeds"),
])
def test_bad_input_raises_a_clear_value_error(call, message) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- the chapter's headline numbers (same calls, same seeds as the notebook) --------------------


@pytest.fixture(scope="module")
def mice() -> data.MultiViewData:
    return data.load_nutrimouse()


@pytest.fixture(scope="module")
def nutrimouse_cv(mice) -> dict[str, dict[str, np.ndarray]]:
    return {target: applications.cross_validated_accuracies(mice.views, mice.targets[target], n_splits=5,
                                                            n_repeats=5, C=0.1, seed=0)
            for target in ("diet", "genotype")}


def test_nutrimouse_diet_lipids_win_and_fusion_suffers_negative_transfer(nutrimouse_cv) -> None:
    diet = {k: v.mean() for k, v in nutrimouse_cv["diet"].items()}
    assert diet["lipid"] >= 0.95 and 0.5 <= diet["gene"] <= 0.75
    for method in applications.FUSED:
        assert diet["gene"] < diet[method] < diet["lipid"], (method, diet)
    spread = {k: v.max() - v.min() for k, v in nutrimouse_cv["diet"].items()}
    assert max(spread.values()) > 0, "repeats must differ: the spread is the point"
    for method in applications.FUSED:   # "none beats the lipids" on the same folds, repeat by repeat
        assert np.all(nutrimouse_cv["diet"][method] <= nutrimouse_cv["diet"]["lipid"]), method
    means = [diet[m] for m in applications.FUSED]
    assert (max(means) - min(means)) * 40 < 1, "the fusions differ by less than one mouse: no ranking"


def test_nutrimouse_genotype_is_read_from_the_genes(nutrimouse_cv) -> None:
    genotype = {k: v.mean() for k, v in nutrimouse_cv["genotype"].items()}
    assert genotype["gene"] == 1.0 and genotype["lipid"] >= 0.9
    assert all(genotype[m] >= 0.975 for m in applications.FUSED)


def test_nutrimouse_leave_one_out_within_the_stated_ranges(mice) -> None:
    loo = {target: applications.cross_validated_accuracies(mice.views, mice.targets[target], n_splits=40,
                                                           n_repeats=1, C=0.1, seed=0)
           for target in ("diet", "genotype")}
    assert loo["diet"]["lipid"][0] >= 0.95 and loo["diet"]["gene"][0] <= 0.75
    assert loo["genotype"]["gene"][0] == 1.0
    assert all(0.85 <= loo["diet"][m][0] < loo["diet"]["lipid"][0] for m in applications.FUSED)


def test_gene_lipid_alignment_survives_held_out_mice(mice) -> None:
    scores = applications.held_out_canonical_correlation(mice.views["gene"], mice.views["lipid"],
                                                         n_components=5, seed=0)
    assert scores["in-sample"] > scores["held-out"] > 0.7
    mapping = applications.gene_lipid_map(mice.views["gene"], mice.views["lipid"], mice.feature_names["gene"],
                                          mice.feature_names["lipid"], n_components=5, top=15)
    assert mapping.corr.shape == (15, 21) and mapping.rho == pytest.approx(scores["in-sample"])
    assert np.abs(mapping.corr).max() > 0.7
    # the canonical axis does not sort the lipids by family: both ends hold polyunsaturated acids
    families = [{applications.lipid_family(name) for name in end} for end in (mapping.lipids[:5],
                                                                              mapping.lipids[-5:])]
    assert all("polyunsaturated" in end for end in families) and "saturated" in families[1]
    # the first canonical pair separates the genotypes
    u = mapping.variates[:, 0]
    genotype = mice.targets["genotype"]
    assert abs(u[genotype == 0].mean() - u[genotype == 1].mean()) > 1.5


@pytest.fixture(scope="module")
def digits() -> applications.ViewSplit:
    return applications.digit_split(n_components=20, n_train=1000, seed=0)


@pytest.fixture(scope="module")
def views6(digits) -> applications.Complementarity:
    return applications.complementarity(digits, C=1.0)


def test_all_six_digit_views_fused_beat_the_best_single_view(views6) -> None:
    best = views6.single.max()
    assert best == pytest.approx(views6.single[views6.names.index("fac")])
    for name, accuracy in views6.fused.items():
        assert accuracy > best + 0.02, (name, accuracy, best)


def test_redundant_pairs_gain_little_and_complementary_pairs_gain_much(views6) -> None:
    index = {name: i for i, name in enumerate(views6.names)}
    kar_pix = index["kar"], index["pix"]
    fou_mor = index["fou"], index["mor"]
    assert views6.gain[kar_pix] < 0.01 and views6.redundancy[kar_pix] > 0.95
    assert views6.gain[fou_mor] > 0.07 and views6.redundancy[fou_mor] < 0.6
    rows, cols = np.triu_indices(len(views6.names), 1)
    assert np.corrcoef(views6.redundancy[rows, cols], views6.gain[rows, cols])[0, 1] < -0.5
    np.testing.assert_allclose(np.diag(views6.gain), 0)
    np.testing.assert_allclose(views6.gain, views6.gain.T)


@pytest.fixture(scope="module")
def missing_over_seeds() -> dict[str, np.ndarray]:
    return applications.missing_views_over_seeds(range(5), (0.0, 0.2, 0.4, 0.6, 0.8))


def test_missing_views_dropout_gap_opens_only_at_high_missing_rates(missing_over_seeds) -> None:
    zero, dropout, poe = (missing_over_seeds[m] for m in applications.MISSING_VIEW_METHODS)
    assert zero.shape == (5, 5)
    assert np.all(np.minimum(zero[:, 0], np.minimum(dropout[:, 0], poe[:, 0])) >= 0.97)
    gap = dropout - zero
    assert np.all(np.abs(gap[:, :2]) < 0.01), gap          # under one point at r <= 0.2, every seed
    assert np.all(gap[:, 3] > 0.01) and np.all(gap[:, 4] > 0.025), gap   # opens at r = 0.6 and 0.8
    assert np.all(poe[:, 4] > dropout[:, 4]) and poe[:, 4].mean() >= 0.86
    assert np.all(poe.mean(0) >= dropout.mean(0)) and np.all(np.diff(poe.mean(0)) <= 0.005)


def test_missing_views_seed_zero_is_the_single_run(digits, views6, missing_over_seeds) -> None:
    rates = (0.0, 0.2, 0.4, 0.6, 0.8)
    single = applications.missing_views_curves(digits, rates, seed=0, log_probs=views6.log_probs)
    for method in applications.MISSING_VIEW_METHODS:
        np.testing.assert_allclose(single[method], missing_over_seeds[method][0], atol=1e-12)


def test_informative_missingness_indicator_wins_then_loses_when_the_policy_changes() -> None:
    train = data.make_diagnosis(1500, seed=0)
    tests = {"same policy": data.make_diagnosis(1500, seed=1),
             "changed policy": data.make_diagnosis(1500, seed=2, missing_by_class=(0.5, 0.5, 0.5))}
    table = applications.missingness_strategies(train, tests, seed=0)
    same, changed = table["same policy"], table["changed policy"]
    assert max(same, key=same.get) == "missingness indicator"
    assert min(changed, key=changed.get) == "missingness indicator"
    assert changed["mean imputation"] - changed["missingness indicator"] > 0.05


@pytest.mark.parametrize("seeds", [range(5), range(5, 10)], ids=["chapter seeds", "other seeds"])
def test_poe_over_confident_with_shared_noise_and_moe_under_confident_without(seeds) -> None:
    sweep = applications.calibration_over_seeds(shared=(0.0, 0.6, 1.2), seeds=seeds)
    poe, moe = sweep.gap["PoE"], sweep.gap["MoE"]
    assert np.all(poe[2] > 0.02), poe                      # shared noise 1.2: PoE over-confident, every seed
    assert poe[0].mean() < poe[1].mean() < poe[2].mean()  # ... the more so, the more noise is shared
    assert np.all(np.abs(poe[0]) < 0.03) and np.all(sweep.ece["PoE"][0] < 0.03)  # independent: calibrated
    assert np.all(moe[:2] < -0.015) and np.all(moe[0] < -0.04), moe   # MoE under-confident without sharing
    assert moe[2].mean() > moe[0].mean()                  # its deficit shrinks as the noise is shared
    stacked = np.array([sweep.ece[m][0] for m in applications.CALIBRATED])
    assert np.all(stacked.argmax(0) == applications.CALIBRATED.index("MoE"))   # largest ECE at shared 0
    accuracy = np.array([sweep.accuracy[m][2] for m in applications.CALIBRATED])
    assert np.sum(accuracy.argmax(0) == applications.CALIBRATED.index("MoE")) >= 3
    assert "highest accuracy" in applications.calibration_report(sweep)


def test_poe_is_over_confident_in_the_chapters_single_run() -> None:
    shared = applications.diagnosis_calibration(data.make_diagnosis(1500, seed=0, shared=1.2),
                                                data.make_diagnosis(1500, seed=1, shared=1.2))
    assert shared["PoE"].mean_confidence - shared["PoE"].overall_accuracy > 0.03
    assert shared["MoE"].mean_confidence < shared["MoE"].overall_accuracy
    assert shared["MoE"].overall_accuracy == max(c.overall_accuracy for c in shared.values())


def test_chapter_figures_and_widget_draw(views6, nutrimouse_cv, mice) -> None:
    from matplotlib.figure import Figure

    assert isinstance(plots.cv_spread(nutrimouse_cv, n=40), Figure)
    assert isinstance(plots.complementarity_figure(views6), Figure)
    texts = [t for t in plots.complementarity_figure(views6).axes[1].texts]
    boxes = [t.get_window_extent() for t in texts]
    assert len(boxes) == 15 and not any(a.overlaps(b) for k, a in enumerate(boxes) for b in boxes[k + 1:])
    rates = [0.0, 0.5]
    assert isinstance(plots.missing_views_seeds_figure({"a": np.ones((3, 2))}, rates), Figure)
    sweep = applications.calibration_over_seeds(shared=(0.0, 1.2), seeds=range(2), n=300)
    assert isinstance(plots.calibration_seeds_figure(sweep), Figure)
    mapping = applications.gene_lipid_map(mice.views["gene"], mice.views["lipid"], mice.feature_names["gene"],
                                          mice.feature_names["lipid"], n_components=5, top=5)
    figure = plots.gene_lipid_figure(mapping, mice.targets["diet"], mice.classes["diet"])
    colours = {label.get_color() for label in figure.axes[1].get_xticklabels()}
    assert colours == set(plots.LIPID_FAMILY_COLOURS.values())
    box = widgets.diagnosis_dependence(seed=0)
    slider = box.children[0].children[0]
    assert (slider.min, slider.value, slider.max) == (0.0, 1.2, 2.0)
    slider.value = 0.0                                   # redraws through the observer without error
    figure = widgets.diagnosis_calibration_figure(0.0, seed=0)
    assert isinstance(figure, Figure) and "shared noise 0.00" in figure.axes[0].get_title()


# --- the capstone's hidden tests catch weak solutions -------------------------------------------


def single_view_only(train_views, train_labels, test_views):
    """Weak: the view with the best training accuracy, its missing rows mean-imputed; the others ignored."""
    labels = np.asarray(train_labels)
    n_test = len(next(v for v in test_views if v is not None))
    if len(np.unique(labels)) == 1:
        return np.repeat(labels[:1], n_test)
    best, best_score, fitted = None, -1.0, None
    for m, (train, test) in enumerate(zip(train_views, test_views)):
        if train is None or test is None:
            continue
        mean = np.nan_to_num(np.nanmean(train, axis=0))
        x = np.where(np.isnan(train), mean, train)
        model = LogisticRegression(max_iter=2000).fit((x - mean) / (x.std(0) + 1e-9), labels)
        score = model.score((x - mean) / (x.std(0) + 1e-9), labels)
        if score > best_score:
            best, best_score, fitted = m, score, (model, mean, x.std(0) + 1e-9)
    model, mean, std = fitted
    test = np.where(np.isnan(test_views[best]), mean, test_views[best])
    return model.predict((test - mean) / std)


def zero_fill_only(train_views, train_labels, test_views):
    """Weak: every missing value (and every view None) becomes 0 on the raw scale, then one classifier."""
    labels = np.asarray(train_labels)
    n_test = len(next(v for v in test_views if v is not None))
    if len(np.unique(labels)) == 1:
        return np.repeat(labels[:1], n_test)
    kept = [m for m, v in enumerate(train_views) if v is not None]
    train = np.hstack([np.nan_to_num(train_views[m]) for m in kept])
    test = np.hstack([np.nan_to_num(test_views[m]) if test_views[m] is not None
                      else np.zeros((n_test, train_views[m].shape[1])) for m in kept])
    mean, std = train.mean(0), train.std(0) + 1e-9
    return LogisticRegression(max_iter=2000).fit((train - mean) / std, labels).predict((test - mean) / std)


def mean_imputation_concat(train_views, train_labels, test_views):
    """A different, sound answer: NaN-aware standardisation, mean imputation, one classifier on all views."""
    labels = np.asarray(train_labels)
    n_test = len(next(v for v in test_views if v is not None))
    if len(np.unique(labels)) == 1:
        return np.repeat(labels[:1], n_test)
    columns_train, columns_test = [], []
    for train, test in zip(train_views, test_views):
        if train is None:
            continue
        mean, std = np.nanmean(train, axis=0), np.nanstd(train, axis=0) + 1e-9
        test = np.full((n_test, train.shape[1]), np.nan) if test is None else np.asarray(test, dtype=float)
        columns_train.append(np.nan_to_num((train - mean) / std))
        columns_test.append(np.nan_to_num((test - mean) / std))
    model = LogisticRegression(max_iter=2000).fit(np.hstack(columns_train), labels)
    return model.predict(np.hstack(columns_test))


def test_capstone_reference_passes_every_test_cell() -> None:
    for grade_id in ("test_complementary_views", "test_sensor_failure", "test_edge_cases"):
        run_test_cell(EXERCISE, grade_id)


def test_single_view_solution_fails_the_complementary_views_tests() -> None:
    for grade_id in ("test_complementary_views", "test_sensor_failure"):
        with pytest.raises(AssertionError, match="accuracy"):
            run_test_cell(EXERCISE, grade_id, replace={"fit_predict": single_view_only})


def test_zero_fill_solution_fails_the_sensor_failure_tests() -> None:
    with pytest.raises(AssertionError, match="missing everywhere"):
        run_test_cell(EXERCISE, "test_sensor_failure", replace={"fit_predict": zero_fill_only})


def test_a_different_sound_solution_passes_the_accuracy_tests() -> None:
    for grade_id in ("test_complementary_views", "test_sensor_failure"):
        run_test_cell(EXERCISE, grade_id, replace={"fit_predict": mean_imputation_concat})


def test_edge_case_tests_catch_a_solution_without_the_majority_rule() -> None:
    def no_majority_rule(train_views, train_labels, test_views):
        predicted = np.asarray(mean_imputation_concat(train_views, train_labels, test_views))
        return predicted  # rows with every view missing are classified from imputed means, not the prior

    with pytest.raises(AssertionError, match="most frequent"):
        run_test_cell(EXERCISE, "test_edge_cases", replace={"fit_predict": no_majority_rule})


def delegating_poe(train_views, train_labels, test_views):
    """Sound, but fuses through the reference helper applications.poe_present (switched off while grading)."""
    labels = np.asarray(train_labels)
    classes, y = np.unique(labels, return_inverse=True)
    n_test = len(next(v for v in test_views if v is not None))
    if len(classes) == 1:
        return np.repeat(classes, n_test)
    log_probs, present = [], []
    for train, test in zip(train_views, test_views):
        if train is None or test is None:
            continue
        seen, here = ~np.isnan(train).any(axis=1), ~np.isnan(test).any(axis=1)
        mean, std = train[seen].mean(axis=0), train[seen].std(axis=0) + 1e-9
        model = LogisticRegression(max_iter=2000).fit((train[seen] - mean) / std, y[seen])
        log_probs.append(model.predict_log_proba(np.nan_to_num((test - mean) / std)))
        present.append(here)
    log_prior = np.log(np.bincount(y) / len(y))
    fused = applications.poe_present(log_probs, np.column_stack(present), log_prior)
    return classes[fused.argmax(axis=1)]


def test_capstone_cannot_delegate_to_the_helpers() -> None:
    """A fit_predict that calls the reference helpers scores nothing (they are switched off while grading)."""
    with pytest.raises(AssertionError, match="switched off"):
        run_test_cell(EXERCISE, "test_complementary_views", replace={"fit_predict": delegating_poe})


def test_capstone_test_labels_never_reach_the_students_kernel() -> None:
    """What travels to the kernel (a case's args) is (train views, train labels, test views): the test labels
    stay in the grader, which finds them again from the data set named at the end of the case's name."""
    from coursetools import judge, observations

    plan = judge.plan_notebook(EXERCISE, seed=7)["checks"]
    assert set(plan) == {"test_complementary_views", "test_sensor_failure", "test_edge_cases"}
    for grade_id, check in plan.items():
        inputs = observations.loads(check["cases_json"])
        assert all(len(args) == 3 for args in inputs), grade_id
        cell = next(c for c in json.loads(EXERCISE.read_text())["cells"]
                    if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
        hidden = judge.hidden_namespace(judge.setup_code(EXERCISE), judge.hidden_code(cell))
        for name, args in zip(check["names"], inputs):
            task, _ = hidden["data_set"](name)
            if task is not None:
                assert len(args[1]) == len(task[1]) and np.array_equal(args[1], task[1]), name
                assert not any(len(value) == len(task[3]) and np.array_equal(value, task[3])
                               for value in (args[1], *args[2]) if value is not None), name
