"""The course's input checks (``helpers/_checks.py``) and the sweep of issue #23: every public function,
class and array-taking method of ``helpers`` is called at least once with malformed input (wrong shape,
wrong length, NaN where not allowed, wrong type) and must raise a ValueError naming the argument.

A new public name without a case in ``MALFORMED`` (or a reason in ``NO_INPUT`` / ``RECORDS``) fails
``test_the_sweep_covers_every_public_name``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from typing import Any, Callable

import numpy as np
import pytest
import torch
from torch import nn

import helpers
from helpers import (
    _checks,
    alignment,
    applications,
    challenges,
    data,
    fusion,
    plots,
    principles,
    testing,
    train,
    widgets,
)

MODULES = ("helpers", "helpers.principles", "helpers.alignment", "helpers.fusion", "helpers.challenges",
           "helpers.applications", "helpers.data", "helpers.train", "helpers.plots", "helpers.widgets",
           "helpers.testing")


def _takes_arguments(function: Callable[..., Any]) -> bool:
    parameters = list(inspect.signature(function).parameters)
    return bool(parameters[1:] if parameters[:1] in (["self"], ["cls"]) else parameters)


def public_names() -> set[str]:
    """``module.name`` of every public function and class defined in MODULES, and
    ``module.Class.method`` of every public method that takes an argument."""
    names = set()
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if name.startswith("_") or getattr(value, "__module__", None) != module_name:
                continue
            if inspect.isfunction(value):
                names.add(f"{module_name}.{name}")
            elif inspect.isclass(value):
                names.add(f"{module_name}.{name}")
                for attribute, member in vars(value).items():
                    function = getattr(member, "__func__", member)
                    if not attribute.startswith("_") and inspect.isfunction(function) \
                            and _takes_arguments(function):
                        names.add(f"{module_name}.{name}.{attribute}")
    return names


# --- tiny inputs ------------------------------------------------------------------------------

NAN = float("nan")
X = np.arange(12.0).reshape(6, 2) % 5          # (6, 2) features
Y6 = np.array([0, 1, 0, 1, 0, 1])              # (6,) labels
P3 = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
JOINT = np.full((2, 2), 0.25)
PB = np.array([0.2, 0.9, 0.6, 0.4])            # binary p(y=1)
YB = np.array([0, 1, 1, 0])


def T(*shape: int) -> torch.Tensor:
    return torch.ones(*shape)


def _views_row() -> principles.ViewsRow:
    return principles.ViewsRow("X1", 0.5, 0.1, 0.2)


def _fitted(cls: type, *args: Any, **kwargs: Any) -> Any:
    with train.seeded(0):
        return cls(*args, **kwargs)


def _enter(context: Any) -> None:
    with context:
        pass


def _imputer() -> challenges.GaussianImputer:
    rng = np.random.default_rng(0)
    return challenges.GaussianImputer.fit([rng.normal(size=(8, 2)), rng.normal(size=(8, 1))])


def _reliability() -> applications.Reliability:
    return applications.reliability_curve(P3, np.array([0, 1]), 5)


# name -> [(malformed call, argument its ValueError must name), ...]
MALFORMED: dict[str, list[tuple[Callable[[], Any], str]]] = {
    # helpers/__init__
    "helpers.use_device": [(lambda: helpers.use_device("tpu"), "name")],
    "helpers.seed_everything": [(lambda: helpers.seed_everything(-1), "seed")],
    # principles
    "helpers.principles.LogisticModel.predict_proba": [
        (lambda: principles.LogisticModel(np.ones(2), 0.0).predict_proba(np.ones(2)), "x")],
    "helpers.principles.LogisticModel.predict": [
        (lambda: principles.LogisticModel(np.ones(2), 0.0).predict([[NAN, 1.0]]), "x")],
    "helpers.principles.fit_logistic": [(lambda: principles.fit_logistic(np.ones(6), Y6), "x"),
                                        (lambda: principles.fit_logistic(X, Y6[:5]), "y")],
    "helpers.principles.sign": [(lambda: principles.sign([1.0, NAN]), "t")],
    "helpers.principles.xor_labels": [(lambda: principles.xor_labels(np.ones((3, 3))), "points")],
    "helpers.principles.unimodal_risk": [(lambda: principles.unimodal_risk(1.0, 0.0, labels=[1, -1]),
                                          "labels")],
    "helpers.principles.unimodal_risk_grid": [
        (lambda: principles.unimodal_risk_grid(np.ones((2, 2)), [0.0]), "a_values")],
    "helpers.principles.interaction_features": [
        (lambda: principles.interaction_features(np.ones(4)), "points")],
    "helpers.principles.interaction_risk": [(lambda: principles.interaction_risk([1.0, 2.0, 3.0]), "w")],
    "helpers.principles.fit_xor_models": [
        (lambda: principles.fit_xor_models((X[:, 0], X[:, 1]), (X[:, 0], X[:, 1], Y6)), "train")],
    "helpers.principles.is_realisable": [(lambda: principles.is_realisable(X, Y6), "labels")],
    "helpers.principles.all_labellings": [(lambda: principles.all_labellings(0), "n")],
    "helpers.principles.realisable_labellings": [
        (lambda: principles.realisable_labellings(np.ones(3)), "features")],
    "helpers.principles.shatters": [(lambda: principles.shatters([[1.0, NAN]]), "features")],
    "helpers.principles.vc_dimension": [(lambda: principles.vc_dimension(np.ones(3)), "pool")],
    "helpers.principles.entropy": [(lambda: principles.entropy([0.5, 0.6]), "p")],
    "helpers.principles.marginal": [(lambda: principles.marginal(JOINT, 5), "axes")],
    "helpers.principles.mutual_information": [(lambda: principles.mutual_information(JOINT, 0, 1, 7),
                                               "given")],
    "helpers.principles.bayes_error": [(lambda: principles.bayes_error(JOINT, y_axis=3), "y_axis")],
    "helpers.principles.flip_views_joint": [(lambda: principles.flip_views_joint([1.5]), "flips")],
    "helpers.principles.binary_entropy": [(lambda: principles.binary_entropy(1.5), "p")],
    "helpers.principles.fano_lower_bound": [(lambda: principles.fano_lower_bound(0.5, 1), "n_classes")],
    "helpers.principles.gaussian_views_snr": [(lambda: principles.gaussian_views_snr([0.0]), "sigmas")],
    "helpers.principles.gaussian_views_bayes_error": [
        (lambda: principles.gaussian_views_bayes_error([NAN]), "sigmas")],
    "helpers.principles.gaussian_views_information": [
        (lambda: principles.gaussian_views_information([]), "sigmas")],
    "helpers.principles.flip_views_summary": [(lambda: principles.flip_views_summary([0.1], 2.0), "prior")],
    "helpers.principles.gaussian_views_summary": [
        (lambda: principles.gaussian_views_summary(np.ones((2, 2))), "sigmas")],
    "helpers.principles.format_rows": [(lambda: principles.format_rows([("X1", 0.5)]), "rows")],
    "helpers.principles.redundancy_scores": [
        (lambda: principles.redundancy_scores([X], Y6, [X, X], Y6), "train_views")],
    "helpers.principles.cross_entropy_bits": [
        (lambda: principles.cross_entropy_bits(P3, np.array([0, 3])), "labels")],
    "helpers.principles.variational_information": [
        (lambda: principles.variational_information(np.ones(6), Y6, X, Y6), "x_train")],
    "helpers.principles.learning_curves": [
        (lambda: principles.learning_curves([1.0], {"a": [0]}, [1]), "sizes")],
    "helpers.principles.samples_needed": [(lambda: principles.samples_needed([8, 16], [0.3], 0.1),
                                           "mean_errors")],
    # alignment
    "helpers.alignment.ProcrustesFit.transform": [
        (lambda: alignment.procrustes(X, X).transform(np.ones((2, 3))), "x")],
    "helpers.alignment.procrustes": [(lambda: alignment.procrustes(X, np.ones(6)), "y")],
    "helpers.alignment.polynomial_refit": [(lambda: alignment.polynomial_refit(X, X[:5]), "aligned")],
    "helpers.alignment.relative_residual": [(lambda: alignment.relative_residual(X, X[:, :1]), "prediction")],
    "helpers.alignment.rotation_angle": [(lambda: alignment.rotation_angle(np.eye(3)), "rotation")],
    "helpers.alignment.procrustes_diagnostics": [
        (lambda: alignment.procrustes_diagnostics(X, X[:4]), "y")],
    "helpers.alignment.triplet_loss": [(lambda: alignment.triplet_loss(T(3), T(3, 2), T(3, 2)), "anchor")],
    "helpers.alignment.triplet_gradients": [
        (lambda: alignment.triplet_gradients(np.ones((2, 2)), np.ones(2), np.ones(2)), "anchor")],
    "helpers.alignment.cosine_similarities": [(lambda: alignment.cosine_similarities(T(2, 3), T(2, 4)), "b")],
    "helpers.alignment.info_nce": [(lambda: alignment.info_nce(T(3, 2), T(3, 2), 0.0), "temperature")],
    "helpers.alignment.info_nce_loop": [(lambda: alignment.info_nce_loop(T(3, 2), T(4, 2)), "zb")],
    "helpers.alignment.softmax_over_similarities": [
        (lambda: alignment.softmax_over_similarities([0.1, NAN], 0.1), "similarities")],
    "helpers.alignment.Encoder": [(lambda: alignment.Encoder(0), "in_dim")],
    "helpers.alignment.Encoder.forward": [(lambda: alignment.Encoder(3)(T(4, 2)), "x")],
    "helpers.alignment.DualEncoder": [(lambda: alignment.DualEncoder(3, 0), "y_dim")],
    "helpers.alignment.DualEncoder.forward": [(lambda: alignment.DualEncoder(3, 2)(T(4, 3), T(4, 3)), "y")],
    "helpers.alignment.dual_encoder": [(lambda: alignment.dual_encoder(0, 2), "x_dim")],
    "helpers.alignment.alignment_loss": [
        (lambda: alignment.alignment_loss(alignment.DualEncoder(2, 2), T(4, 2), T(4, 2), objective="l2"),
         "objective")],
    "helpers.alignment.train_alignment": [
        (lambda: alignment.train_alignment(alignment.DualEncoder(2, 2), np.ones(6), X, objective="infonce"),
         "x")],
    "helpers.alignment.embed": [(lambda: alignment.embed(alignment.DualEncoder(2, 2), X, np.ones(6)), "y")],
    "helpers.alignment.pair_distances": [(lambda: alignment.pair_distances(X, X[:4]), "ey")],
    "helpers.alignment.recall_at_k": [(lambda: alignment.recall_at_k(np.ones((2, 3)), 1), "similarity")],
    "helpers.alignment.few_label_probe": [
        (lambda: alignment.few_label_probe(X, Y6[:4], X, Y6, per_class=1), "train_labels")],
    "helpers.alignment.encode_pairs": [(lambda: alignment.encode_pairs("raw", X, X), "representation")],
    "helpers.alignment.compare_representations": [
        (lambda: alignment.compare_representations({"raw": (X, X)}, Y6, Y6), "features")],
    "helpers.alignment.table_text": [(lambda: alignment.table_text({}), "table")],
    # fusion
    "helpers.fusion.mlp": [(lambda: fusion.mlp(0, 4, 2), "in_dim")],
    "helpers.fusion.mlp_parameter_count": [(lambda: fusion.mlp_parameter_count(3, -4, 2), "hidden")],
    "helpers.fusion.mlp_multiply_adds": [(lambda: fusion.mlp_multiply_adds(3, 4, 0), "out_dim")],
    "helpers.fusion.count_parameters": [(lambda: fusion.count_parameters([T(2)]), "model")],
    "helpers.fusion.EarlyFusion": [(lambda: fusion.EarlyFusion([], 4, 2), "input_dims")],
    "helpers.fusion.EarlyFusion.forward": [(lambda: fusion.EarlyFusion([3, 4], 4, 2)(T(2, 3)), "xs"),
                                           (lambda: fusion.EarlyFusion([3, 4], 4, 2)(T(2, 3), T(2, 5)),
                                            "xs")],
    "helpers.fusion.LateFusion": [(lambda: fusion.LateFusion([3, 4], 4, 2, combine="vote"), "combine")],
    "helpers.fusion.LateFusion.unimodal_logits": [
        (lambda: fusion.LateFusion([3, 4], 4, 2).unimodal_logits(T(2, 3), T(3, 4)), "xs")],
    "helpers.fusion.LateFusion.forward": [(lambda: fusion.LateFusion([3, 4], 4, 2)(T(2, 3), T(2)), "xs")],
    "helpers.fusion.masked_mean": [(lambda: fusion.masked_mean(T(2, 3), T(2, 3)), "x"),
                                   (lambda: fusion.masked_mean(T(2, 3, 4), T(2, 4)), "mask")],
    "helpers.fusion.PooledEarlyFusion": [(lambda: fusion.PooledEarlyFusion(3, 0, 4, 2), "context_dim")],
    "helpers.fusion.PooledEarlyFusion.forward": [
        (lambda: fusion.PooledEarlyFusion(3, 2, 4, 2)(T(2, 3), T(2, 5, 2)), "queries")],
    "helpers.fusion.PooledEarlyFusion.multiply_adds": [
        (lambda: fusion.PooledEarlyFusion(3, 2, 4, 2).multiply_adds(0, 2), "n_query")],
    "helpers.fusion.scaled_dot_product_attention": [
        (lambda: fusion.scaled_dot_product_attention(T(2, 3), T(4, 3), T(4, 5), T(3)), "key_mask"),
        (lambda: fusion.scaled_dot_product_attention(np.ones((2, 3)), T(4, 3), T(4, 5)), "q")],
    "helpers.fusion.CrossAttentionFusion": [(lambda: fusion.CrossAttentionFusion(3, 2, 5, 2, n_heads=2),
                                             "d_model")],
    "helpers.fusion.CrossAttentionFusion.attend": [
        (lambda: fusion.CrossAttentionFusion(3, 2, 4, 2).attend(T(2, 4, 3), T(3, 5, 2)), "context")],
    "helpers.fusion.CrossAttentionFusion.forward": [
        (lambda: fusion.CrossAttentionFusion(3, 2, 4, 2)(T(2, 4, 3), T(2, 5, 2), T(2, 3)), "queries_mask")],
    "helpers.fusion.CrossAttentionFusion.multiply_adds": [
        (lambda: fusion.CrossAttentionFusion(3, 2, 4, 2).multiply_adds(2, -1), "n_context")],
    "helpers.fusion.product_of_experts": [
        (lambda: fusion.product_of_experts(np.zeros((2, 3)), np.zeros((2, 2)), np.zeros(3)), "logits_t")],
    "helpers.fusion.mixture_of_experts": [(lambda: fusion.mixture_of_experts(P3, P3, 1.5), "weight")],
    "helpers.fusion.gaussian_product": [(lambda: fusion.gaussian_product([0.0, 1.0], [1.0, -1.0]),
                                         "variances")],
    "helpers.fusion.gaussian_mixture_moments": [
        (lambda: fusion.gaussian_mixture_moments([0.0, 1.0], [1.0, 1.0], [0.5, 0.6]), "weights")],
    "helpers.fusion.entropy": [(lambda: fusion.entropy([0.5, NAN]), "probs")],
    "helpers.fusion.negative_log_likelihood": [
        (lambda: fusion.negative_log_likelihood(P3, [0, 1, 2]), "labels")],
    "helpers.fusion.accuracy_of": [(lambda: fusion.accuracy_of(P3[0], [0]), "probs")],
    "helpers.fusion.expected_calibration_error": [
        (lambda: fusion.expected_calibration_error(P3, [0, 1], n_bins=0), "n_bins")],
    "helpers.fusion.train_classifier": [
        (lambda: fusion.train_classifier(nn.Linear(2, 2), [T(6, 2)], torch.zeros(5, dtype=torch.long),
                                         epochs=1, progress=False), "labels")],
    "helpers.fusion.train_branches_separately": [
        (lambda: fusion.train_branches_separately(nn.Linear(2, 2), [T(6, 2)], torch.zeros(6).long(),
                                                  epochs=1, progress=False), "model"),
        (lambda: fusion.train_branches_separately(fusion.LateFusion([2], 4, 2), T(6, 2),
                                                  torch.zeros(6, dtype=torch.long), epochs=1,
                                                  progress=False), "inputs")],
    "helpers.fusion.gaussian_class_log_posterior": [
        (lambda: fusion.gaussian_class_log_posterior(X, np.zeros((3, 3)), 1.0, np.log([0.5, 0.5])), "means")],
    "helpers.fusion.corrupt_expert": [(lambda: fusion.corrupt_expert(P3, [0, 1], 2.0), "rate")],
    "helpers.fusion.fusion_metrics": [(lambda: fusion.fusion_metrics(P3, [0]), "labels")],
    "helpers.fusion.corruption_sweep": [
        (lambda: fusion.corruption_sweep(P3, P3[:, :2], [0, 1], [0.3, 0.3, 0.4], [0.1]), "probs_t"),
        (lambda: fusion.corruption_sweep(P3, P3, [0, 1], [0.3, 0.3, 0.4], [1.5]), "rates")],
    "helpers.fusion.example_attention": [
        (lambda: fusion.example_attention(fusion.CrossAttentionFusion(3, 2, 4, 2), T(2, 4, 3), T(2, 5, 2),
                                          T(2, 4), T(2, 5), 2), "index")],
    "helpers.fusion.multiply_adds_by_length": [
        (lambda: fusion.multiply_adds_by_length([0, 2], text_dim=3, audio_dim=2, hidden=4, d_model=4),
         "lengths")],
    "helpers.fusion.fuse_digit_views": [(lambda: fusion.fuse_digit_views(n_train=5), "n_train")],
    # challenges
    "helpers.challenges.gradient_norms": [(lambda: challenges.gradient_norms({}), "groups")],
    "helpers.challenges.scale_gradients": [(lambda: challenges.scale_gradients({"v": []}), "groups")],
    "helpers.challenges.AdaptiveLossWeights": [(lambda: challenges.AdaptiveLossWeights(["v"]), "names")],
    "helpers.challenges.AdaptiveLossWeights.update": [
        (lambda: challenges.AdaptiveLossWeights(["v", "t"]).update({"v": 1.0}), "norms")],
    "helpers.challenges.auxiliary_loss": [(lambda: challenges.auxiliary_loss({"v": 1.0}), "weights")],
    "helpers.challenges.DominanceMonitor": [(lambda: challenges.DominanceMonitor(0.5), "threshold")],
    "helpers.challenges.run_dominance": [
        (lambda: challenges.run_dominance((X, X), (X, X, Y6)), "train")],
    "helpers.challenges.unimodal_accuracy": [
        (lambda: challenges.unimodal_accuracy(X, Y6, np.ones(6), Y6), "test_x")],
    "helpers.challenges.gaussian_posterior": [(lambda: challenges.gaussian_posterior(X, 1.0), "x")],
    "helpers.challenges.binary_accuracy": [(lambda: challenges.binary_accuracy([1.5], [1]), "p")],
    "helpers.challenges.more_reliable": [(lambda: challenges.more_reliable(PB, PB, YB[:3]), "labels")],
    "helpers.challenges.gated_fusion": [(lambda: challenges.gated_fusion(PB, PB, 0.5, 2), "reliable")],
    "helpers.challenges.gated_accuracy_sweep": [
        (lambda: challenges.gated_accuracy_sweep(PB, PB, YB, np.ones((2, 2)), 0), "taus")],
    "helpers.challenges.negative_transfer_experiment": [
        (lambda: challenges.negative_transfer_experiment(
            X, PB, YB, (PB, PB, YB), good_separation=1.0, poor_separation=2.0), "x_v"),
        (lambda: challenges.negative_transfer_experiment(
            PB, PB, YB, (PB, PB), good_separation=1.0, poor_separation=2.0), "val")],
    "helpers.challenges.missing_mask": [(lambda: challenges.missing_mask(4, 2, 0.5, drop="all"), "drop")],
    "helpers.challenges.missing_masks_by_rate": [(lambda: challenges.missing_masks_by_rate(4, 2, [0.5, 1.5]),
                                                  "rate")],
    "helpers.challenges.mark_missing": [
        (lambda: challenges.mark_missing([X, X], np.ones((6, 3), dtype=bool)), "present")],
    "helpers.challenges.zero_fill": [(lambda: challenges.zero_fill(X, np.ones((6, 1), dtype=bool)), "views")],
    "helpers.challenges.GaussianImputer.fit": [(lambda: challenges.GaussianImputer.fit([X[:1], X[:1]]),
                                                "views")],
    "helpers.challenges.GaussianImputer.conditional_mean": [
        (lambda: _imputer().conditional_mean(np.ones(2), np.arange(2), np.arange(2, 3)), "x_observed")],
    "helpers.challenges.GaussianImputer.impute": [
        (lambda: _imputer().impute([X, X], np.ones((6, 2), dtype=bool)), "views")],
    "helpers.challenges.MissingAwareFusion": [(lambda: challenges.MissingAwareFusion([2, 2], 4, 2, "mean"),
                                               "fill")],
    "helpers.challenges.MissingAwareFusion.forward": [
        (lambda: challenges.MissingAwareFusion([2, 2], 4, 2)(T(3), T(3)), "xs")],
    "helpers.challenges.drop_modalities": [
        (lambda: challenges.drop_modalities(T(3, 2), 0.5, torch.Generator()), "xs")],
    "helpers.challenges.modality_dropout_loss": [(lambda: challenges.modality_dropout_loss(1.5), "rate")],
    "helpers.challenges.train_missing_aware": [(lambda: challenges.train_missing_aware([X, X], Y6[:5]),
                                                "labels")],
    "helpers.challenges.missing_modality_curves": [
        (lambda: challenges.missing_modality_curves([X, X], Y6, X, Y6), "test_views"),
        (lambda: challenges.missing_modality_curves([X, X[:4]], Y6, [X, X], Y6), "train_views")],
    # applications
    "helpers.applications.poe_many": [(lambda: applications.poe_many([], np.zeros(3)), "log_probs")],
    "helpers.applications.stratified_folds": [(lambda: applications.stratified_folds(Y6, 1), "n_splits")],
    "helpers.applications.fused_probabilities": [
        (lambda: applications.fused_probabilities({"a": X}, Y6[:5], {"a": X}, 2), "y_train"),
        (lambda: applications.fused_probabilities({"a": X}, Y6, {"b": X}, 2), "test_views")],
    "helpers.applications.cross_validated_accuracies": [
        (lambda: applications.cross_validated_accuracies([], Y6), "views")],
    "helpers.applications.canonical_correlations": [
        (lambda: applications.canonical_correlations(X, X[:5]), "y")],
    "helpers.applications.held_out_canonical_correlation": [
        (lambda: applications.held_out_canonical_correlation(np.ones(6), X), "x")],
    "helpers.applications.gene_lipid_map": [
        (lambda: applications.gene_lipid_map(X, X, ["g1"], ["l1", "l2"]), "gene_names")],
    "helpers.applications.digit_split": [(lambda: applications.digit_split(n_train=5), "n_train")],
    "helpers.applications.complementarity": [(lambda: applications.complementarity([X, X]), "split")],
    "helpers.applications.poe_present": [
        (lambda: applications.poe_present([np.zeros((2, 3))], np.ones((2, 2), bool), np.zeros(3)), "present"),
        (lambda: applications.poe_present([], np.ones((2, 0), bool), np.zeros(3)), "log_probs")],
    "helpers.applications.missing_views_curves": [(lambda: applications.missing_views_curves(None), "split")],
    "helpers.applications.missingness_strategies": [
        (lambda: applications.missingness_strategies(X, {}), "train")],
    "helpers.applications.reliability_curve": [
        (lambda: applications.reliability_curve(P3, [0, 5]), "labels")],
    "helpers.applications.diagnosis_calibration": [
        (lambda: applications.diagnosis_calibration(data.make_diagnosis(30), X), "test")],
    "helpers.applications.wilson_interval": [(lambda: applications.wilson_interval(1.5, 40), "accuracy")],
    "helpers.applications.lipid_family": [(lambda: applications.lipid_family("oleic"), "name")],
    "helpers.applications.missing_views_over_seeds": [
        (lambda: applications.missing_views_over_seeds([-1]), "seeds")],
    "helpers.applications.calibration_over_seeds": [
        (lambda: applications.calibration_over_seeds(shared=(20.0,)), "shared")],
    "helpers.applications.calibration_report": [(lambda: applications.calibration_report(X), "sweep")],
    # data
    "helpers.data.standardise": [(lambda: data.standardise(np.ones(3)), "train"),
                                 (lambda: data.standardise(X, np.ones((2, 3))), "others")],
    "helpers.data.pca_project": [(lambda: data.pca_project([X], 0), "dim")],
    "helpers.data.load_multiple_features": [(lambda: data.load_multiple_features(["pixels"]), "views")],
    "helpers.data.load_nutrimouse": [(lambda: data.load_nutrimouse("gene"), "views")],
    "helpers.data.make_noisy_xor": [(lambda: data.make_noisy_xor(10, NAN), "noise")],
    "helpers.data.make_gaussian_views": [(lambda: data.make_gaussian_views(10, []), "sigmas")],
    "helpers.data.PairedViews.subset": [
        (lambda: data.latent_pairs(4).subset([0, 9]), "index"),
        (lambda: data.latent_pairs(4).subset(np.ones(3, dtype=bool)), "index")],
    "helpers.data.latent_pairs": [(lambda: data.latent_pairs(10, dims=(4,)), "dims")],
    "helpers.data.rotation_2d": [(lambda: data.rotation_2d(NAN), "degrees")],
    "helpers.data.random_rotation": [(lambda: data.random_rotation(0), "d")],
    "helpers.data.procrustes_pair": [(lambda: data.procrustes_pair(10, 2, translation=[1.0]), "translation")],
    "helpers.data.make_interaction_views": [(lambda: data.make_interaction_views(10, dims=(4, 0)), "dims")],
    "helpers.data.make_aligned_sequences": [(lambda: data.make_aligned_sequences(4, lengths=[2]), "lengths")],
    "helpers.data.make_class_conditional_views": [
        (lambda: data.make_class_conditional_views(10, [0.5, 0.6]), "prior")],
    "helpers.data.make_dominance_data": [(lambda: data.make_dominance_data(10, n_classes=1), "n_classes")],
    "helpers.data.make_conflicting_views": [(lambda: data.make_conflicting_views(10, corruption=2.0),
                                             "corruption")],
    "helpers.data.make_latent_views": [(lambda: data.make_latent_views(10, relation="cubic"), "relation")],
    "helpers.data.digit_views_pca": [(lambda: data.digit_views_pca(n_components=0), "n_components")],
    "helpers.data.make_diagnosis": [(lambda: data.make_diagnosis(10, missing_by_class=[0.1]),
                                     "missing_by_class")],
    "helpers.data.make_missing_views_task": [(lambda: data.make_missing_views_task(missing=1.0), "missing")],
    # train
    "helpers.train.seeded": [(lambda: _enter(train.seeded(-1)), "seed")],
    "helpers.train.as_tensors": [(lambda: train.as_tensors(X, "labels"), "arrays")],
    "helpers.train.fit": [(lambda: train.fit(nn.Linear(2, 2), lambda m, x: m(x).sum(), [T(4, 2)], epochs=0),
                           "epochs")],
    "helpers.train.predict": [(lambda: train.predict(nn.Linear(2, 2), X), "inputs")],
    "helpers.train.accuracy": [(lambda: train.accuracy(T(4), torch.zeros(4)), "logits")],
    # plots
    "helpers.plots.new_figure": [(lambda: plots.new_figure(0), "ncols")],
    "helpers.plots.bar_values": [(lambda: plots.bar_values([0.5, 0.7]), "values")],
    "helpers.plots.curves": [(lambda: plots.curves([0.5, 0.4]), "history")],
    "helpers.plots.xor_risk_landscape": [
        (lambda: plots.xor_risk_landscape([0.0, 1.0], [0.0, 1.0, 2.0], np.zeros((2, 2))), "risk")],
    "helpers.plots.xor_frame": [
        (lambda: plots.xor_frame(principles.XorFit({}, {}), np.ones((3, 2)), YB), "y")],
    "helpers.plots.xor_decision_boundaries": [
        (lambda: plots.xor_decision_boundaries(principles.XorFit({}, {}), np.ones(4), YB), "x")],
    "helpers.plots.labellings_grid": [
        (lambda: plots.labellings_grid(np.ones((2, 2)), principles.all_labellings(3), {}), "labellings")],
    "helpers.plots.information_and_error": [(lambda: plots.information_and_error([]), "rows")],
    "helpers.plots.grouped_bars": [(lambda: plots.grouped_bars({}), "groups")],
    "helpers.plots.learning_curves_figure": [
        (lambda: plots.learning_curves_figure([8, 16], {"a": np.ones((3, 4))}), "errors")],
    "helpers.plots.paired_views": [(lambda: plots.paired_views(X, X, X[:4], Y6), "y")],
    "helpers.plots.procrustes_before_after": [(lambda: plots.procrustes_before_after(X, X, np.ones(6)),
                                               "aligned")],
    "helpers.plots.triplet_geometry": [
        (lambda: plots.triplet_geometry(np.ones(2), np.ones(2), np.ones(3),
                                        dict.fromkeys(("anchor", "positive", "negative"), np.ones(2))),
         "negative")],
    "helpers.plots.distance_histograms": [
        (lambda: plots.distance_histograms({"matched": [0.1]}, {"matched": [0.1], "unmatched": [0.2]}),
         "before")],
    "helpers.plots.similarity_matrix": [(lambda: plots.similarity_matrix(np.ones(3)), "similarity")],
    "helpers.plots.softmax_temperature": [(lambda: plots.softmax_temperature(np.ones((2, 2)), 0.1),
                                           "similarities")],
    "helpers.plots.representation_comparison": [(lambda: plots.representation_comparison({}), "table")],
    "helpers.plots.interaction_regions": [
        (lambda: plots.interaction_regions({}, X, np.ones(6), Y6), "x_t")],
    "helpers.plots.attention_heatmap": [
        (lambda: plots.attention_heatmap(np.ones((2, 3)), [1, 2], [1, 2], [0, 1], [0, 1]), "audio_words")],
    "helpers.plots.cost_curves": [(lambda: plots.cost_curves([1, 2], {"a": [1.0]}), "costs")],
    "helpers.plots.gaussian_experts": [(lambda: plots.gaussian_experts([0.0, 1.0, 2.0], [1.0, 1.0, 1.0]),
                                        "means")],
    "helpers.plots.fused_distributions": [(lambda: plots.fused_distributions([0.5, 0.5], [0.2, 0.3, 0.5]),
                                           "probs_t")],
    "helpers.plots.poe_vs_moe_binary": [(lambda: plots.poe_vs_moe_binary(1.5, 0.5, 0.5), "p_v")],
    "helpers.plots.veto_examples": [(lambda: plots.veto_examples(P3, P3, [0, 1], [5], prior=[0.3, 0.3, 0.4]),
                                     "indices")],
    "helpers.plots.corruption_curves": [(lambda: plots.corruption_curves([0.1], {"vision": {}}), "sweep")],
    "helpers.plots.dominance_runs": [(lambda: plots.dominance_runs([], threshold=5.0), "runs")],
    "helpers.plots.gated_fusion_sweep": [
        (lambda: plots.gated_fusion_sweep([0.0, 0.5], [0.8], good_only=0.8, average=0.7), "accuracies")],
    "helpers.plots.gated_fusion_decisions": [
        (lambda: plots.gated_fusion_decisions(PB, PB, YB, tau=-0.5), "tau")],
    "helpers.plots.gated_fusion_panel": [
        (lambda: plots.gated_fusion_panel(PB, PB[:3], YB, [0.0, 1.0], [0.8, 0.7], good_only=0.8,
                                          average=0.7, tau=0.5), "p_t")],
    "helpers.plots.missing_modality_panels": [
        (lambda: plots.missing_modality_panels({"a": {"zero-fill": [0.9]}}, [0.0, 0.5]), "results")],
    "helpers.plots.cv_spread": [(lambda: plots.cv_spread({"diet": {"early": [0.8]}}, n=0), "n")],
    "helpers.plots.gene_lipid_figure": [(lambda: plots.gene_lipid_figure(X, Y6, ["a", "b"]), "mapping")],
    "helpers.plots.complementarity_figure": [(lambda: plots.complementarity_figure({}), "result")],
    "helpers.plots.missing_views_figure": [(lambda: plots.missing_views_figure({"a": [0.9]}, [0.0, 0.5]),
                                            "curves")],
    "helpers.plots.reliability_diagram": [(lambda: plots.reliability_diagram({"a": P3}), "curves")],
    "helpers.plots.missing_views_seeds_figure": [
        (lambda: plots.missing_views_seeds_figure({"a": np.zeros(3)}, [0.0, 0.5, 1.0]), "curves")],
    "helpers.plots.calibration_seeds_figure": [(lambda: plots.calibration_seeds_figure(X), "sweep")],
    # widgets
    "helpers.widgets.redrawing": [(lambda: widgets.redrawing(plots.new_figure), "controls"),
                                  (lambda: widgets.redrawing("figure", x=widgets.slider("x", 0, 0, 1, 0.1)),
                                   "draw")],
    "helpers.widgets.slider": [(lambda: widgets.slider("x", 2.0, 0.0, 1.0, 0.1), "value")],
    "helpers.widgets.xor_frames": [(lambda: widgets.xor_frames([-0.5]), "noises"),
                                   (lambda: widgets.xor_frames(seed=-1), "seed")],
    "helpers.widgets.xor_noise": [(lambda: widgets.xor_noise(-1), "seed"),
                                  (lambda: widgets.xor_noise(noise=0.45), "noise")],
    "helpers.plots.xor_boundaries_in_place": [(lambda: plots.xor_boundaries_in_place(limit=-1.0), "limit"),
                                              (lambda: plots.xor_boundaries_in_place()([], ""), "frame")],
    "helpers.widgets.flip_views_figure": [(lambda: widgets.flip_views_figure(1.5, 0.1), "eps1")],
    "helpers.widgets.procrustes_figure": [(lambda: widgets.procrustes_figure(noise=-1.0), "noise")],
    "helpers.widgets.temperature_explorer": [(lambda: widgets.temperature_explorer([0.5, NAN]),
                                              "similarities")],
    "helpers.widgets.poe_vs_moe": [(lambda: widgets.poe_vs_moe(p_t=1.5), "p_t")],
    "helpers.widgets.gated_fusion_tau": [(lambda: widgets.gated_fusion_tau(PB, PB, YB, 0, tau=2.0), "tau")],
    "helpers.widgets.diagnosis_calibration_figure": [
        (lambda: widgets.diagnosis_calibration_figure(20.0), "shared")],
    "helpers.widgets.diagnosis_dependence": [(lambda: widgets.diagnosis_dependence(-1), "seed")],
    # chapters 03–04: seeds, ablations, learned combiner, controls
    "helpers.challenges.dominance_over_seeds": [
        (lambda: challenges.dominance_over_seeds((X, X, Y6), (X, X, Y6), []), "seeds")],
    "helpers.challenges.missing_modality_study": [(lambda: challenges.missing_modality_study(n=3), "n")],
    "helpers.challenges.trigger_step": [(lambda: challenges.trigger_step(X, 5.0), "ratios"),
                                        (lambda: challenges.trigger_step([1.0, 2.0], NAN), "threshold")],
    "helpers.challenges.dominance_grid": [(lambda: challenges.dominance_grid([]), "scales"),
                                          (lambda: challenges.dominance_grid([1.0], optimisers=("rmsprop",)),
                                           "optimisers")],
    "helpers.challenges.dropout_rate_study": [(lambda: challenges.dropout_rate_study([1.5]), "dropout_rates"),
                                              (lambda: challenges.dropout_rate_study([0.5], n=3), "n")],
    "helpers.challenges.curves_by_dropout_rate": [
        (lambda: challenges.curves_by_dropout_rate({"a": {}}, {"b": {}}), "missing and extra")],
    "helpers.plots.dominance_monitor_figure": [(lambda: plots.dominance_monitor_figure(X, 5.0), "run")],
    "helpers.plots.missing_rates_figure": [
        (lambda: plots.missing_rates_figure({"a": {0.5: [0.9, 0.8]}}, {"a": [0.9, 0.8]}, [0.0, 0.5], rate=0.5,
                                            dropout_rate=0.25), "dropout_rate"),
        (lambda: plots.missing_rates_figure({"a": {0.5: [0.9, 0.8]}}, {"a": [0.9, 0.8]}, [0.0, NAN], rate=0.5,
                                            dropout_rate=0.5), "rates")],
    "helpers.widgets.dominance_monitor": [(lambda: widgets.dominance_monitor({}), "runs")],
    "helpers.widgets.missing_and_dropout": [
        (lambda: widgets.missing_and_dropout({"a": {0.5: [0.9]}}, {"b": [0.9]}, [0.0]), "curves"),
        (lambda: widgets.missing_and_dropout({"a": {0.5: [0.9]}}, {"a": [0.9]}, [0.0], rate=0.3), "rate")],
    "helpers.fusion.LearnedCombiner": [(lambda: fusion.LearnedCombiner([2, 2], 4, 2, on="middle"), "on")],
    "helpers.fusion.LearnedCombiner.forward": [
        (lambda: fusion.LearnedCombiner([2, 2], 4, 2)(torch.zeros(3, 2)), "xs")],
    "helpers.fusion.attention_alignment": [
        (lambda: fusion.attention_alignment(nn.Linear(2, 2), *([torch.zeros(1, 1, 2)] * 4), np.zeros((1, 1))),
         "model")],
    "helpers.fusion.cross_attention_seed_sweep": [
        (lambda: fusion.cross_attention_seed_sweep(None, None, []), "seeds")],
    "helpers.fusion.digit_fusion_metrics": [
        (lambda: fusion.digit_fusion_metrics({"a": P3, "b": P3}, np.array([0, 5])), "labels")],
    "helpers.fusion.digit_view_experts": [(lambda: fusion.digit_view_experts(n_train=5), "n_train")],
    "helpers.fusion.error_correlations": [(lambda: fusion.error_correlations({"a": P3}, np.array([0, 1])),
                                           "probs")],
    "helpers.fusion.fuse_experts": [(lambda: fusion.fuse_experts({"a": P3}), "experts")],
    "helpers.fusion.accuracy_over_seeds": [
        (lambda: fusion.accuracy_over_seeds({}, [T(6, 2)], torch.zeros(6).long(), [T(6, 2)],
                                            torch.zeros(6).long(), [0]), "builders"),
        (lambda: fusion.accuracy_over_seeds({"a": lambda: nn.Linear(2, 2)}, [T(6, 2)], torch.zeros(6).long(),
                                            [T(6, 2)], torch.zeros(6).long(), []), "seeds")],
    "helpers.fusion.HybridFusion": [(lambda: fusion.HybridFusion([2, 2, 2], 4, 2), "input_dims"),
                                    (lambda: fusion.HybridFusion([2, 2], 4, 2, rank=0), "rank")],
    "helpers.fusion.HybridFusion.forward": [
        (lambda: fusion.HybridFusion([2, 3], 4, 2)(T(3, 2), T(3, 2)), "xs")],
    "helpers.fusion.regional_experts": [(lambda: fusion.regional_experts(10, [0.5, 0.5], rate=1.5), "rate"),
                                        (lambda: fusion.regional_experts(10, [0.5, 0.6]), "prior")],
    "helpers.fusion.ExpertGate": [(lambda: fusion.ExpertGate(3, 1), "n_experts")],
    "helpers.fusion.ExpertGate.forward": [(lambda: fusion.ExpertGate(3, 2)(T(4, 2)), "xs")],
    "helpers.fusion.fit_expert_gate": [
        (lambda: fusion.fit_expert_gate(X, np.stack([P3, P3]), [0, 1]), "experts"),
        (lambda: fusion.fit_expert_gate(X[:2], np.stack([P3, P3]), [0, 5]), "labels")],
    "helpers.fusion.gate_weights": [(lambda: fusion.gate_weights(nn.Linear(2, 2), X), "gate"),
                                    (lambda: fusion.gate_weights(fusion.ExpertGate(3, 2), X), "inputs")],
    "helpers.fusion.gated_mixture": [
        (lambda: fusion.gated_mixture(fusion.ExpertGate(2, 2), X[:2], P3), "experts")],
    "helpers.fusion.gate_over_seeds": [(lambda: fusion.gate_over_seeds([], [0.5, 0.5]), "seeds"),
                                       (lambda: fusion.gate_over_seeds([0], [0.5, 0.5], n_train=3),
                                        "n_train")],
    "helpers.plots.gate_weight_panel": [(lambda: plots.gate_weight_panel([0.1, NAN], [0.5, 0.5]), "context")],
    "helpers.plots.cross_attention_seed_panels": [
        (lambda: plots.cross_attention_seed_panels([], 0), "results")],
    "helpers.plots.gradient_norm_runs": [(lambda: plots.gradient_norm_runs([]), "runs")],
    "helpers.plots.prior_correction": [(lambda: plots.prior_correction(0.6, 0.6, 1.0), "prior")],
    "helpers.widgets.corruption_rate": [
        (lambda: widgets.corruption_rate(np.linspace(0, 0.5, 6), {}, rate=0.9), "rate")],
    "helpers.widgets.cross_attention_seeds": [(lambda: widgets.cross_attention_seeds(seed=10), "seed")],
    "helpers.widgets.dominance_seeds": [(lambda: widgets.dominance_seeds({}, seed=0), "table")],
    "helpers.widgets.prior_correction": [(lambda: widgets.prior_correction(prior=0.99), "prior")],
    # testing
    "helpers.testing.helpers_disabled": [(lambda: _enter(testing.helpers_disabled(["np"])), "namespace")],
    "helpers.testing.assert_close": [(lambda: testing.assert_close(1.0, 1.0, "x", rtol=-1.0), "rtol")],
    # --- chapters 01-02 ---
    "helpers.principles.xor_linear_accuracies": [
        (lambda: principles.xor_linear_accuracies(0.4, []), "seeds"),
        (lambda: principles.xor_linear_accuracies(0.4, [1, 1]), "seeds")],
    "helpers.principles.xor_variational_information": [
        (lambda: principles.xor_variational_information((X[:, 0], X[:, 1]), (X[:, 0], X[:, 1], Y6)),
         "train")],
    "helpers.principles.flip_views_outvoted": [(lambda: principles.flip_views_outvoted([0.1, 1.5]), "flips")],
    "helpers.principles.variational_information_over_seeds": [
        (lambda: principles.variational_information_over_seeds((1.0, 1.0), {"a": [0]}, []), "seeds"),
        (lambda: principles.variational_information_over_seeds((1.0, 1.0), {"a": [5]}, [0], n_fit=20,
                                                               n_held=20), "view_sets")],
    "helpers.principles.samples_for_targets": [
        (lambda: principles.samples_for_targets([8, 16], {}, {"t": 0.2}), "errors"),
        (lambda: principles.samples_for_targets([8, 16], {"m": np.ones((2, 2))}, {}), "targets")],
    "helpers.principles.excess_errors": [
        (lambda: principles.excess_errors({"m": np.ones((2, 2))}, {}), "floors")],
    "helpers.alignment.triplet_loss_all_negatives": [
        (lambda: alignment.triplet_loss_all_negatives(torch.ones(1, 2), torch.ones(1, 2)), "ex")],
    "helpers.alignment.true_pair_ranks": [(lambda: alignment.true_pair_ranks(np.ones((2, 3))), "similarity")],
    "helpers.alignment.heldout_residuals": [(lambda: alignment.heldout_residuals(X, X), "x"),
                                            (lambda: alignment.heldout_residuals(X, X[:5]), "y")],
    "helpers.alignment.latent_recoverability": [(lambda: alignment.latent_recoverability(Y6, {}), "views")],
    "helpers.alignment.batch_info_nce": [
        (lambda: alignment.batch_info_nce(alignment.dual_encoder(2, 2), X, X[:5], 0.1), "x")],
    "helpers.alignment.objectives_over_seeds": [
        (lambda: alignment.objectives_over_seeds((X, X), (X, X), Y6, Y6, [0], objectives={}), "objectives")],
    "helpers.alignment.granularity_and_invariance": [
        (lambda: alignment.granularity_and_invariance({"r": ((X, X), (X, X))}, Y6, Y6[:5]), "test_labels")],
    "helpers.plots.seed_dots": [(lambda: plots.seed_dots([1.0, 2.0]), "values")],
    "helpers.plots.sample_complexity_figure": [
        (lambda: plots.sample_complexity_figure([8, 16], {"m": np.ones((2, 2))}, target=0.2, n=12,
                                                floors={"m": 0.1}), "n")],
    "helpers.plots.horizontal_bars": [(lambda: plots.horizontal_bars([1.0]), "values")],
    "helpers.plots.granularity_bars": [(lambda: plots.granularity_bars({"r": {"a": 1.0}}), "metrics")],
    "helpers.plots.similarity_matrix_marked": [
        (lambda: plots.similarity_matrix_marked(np.ones(3)), "similarity")],
    "helpers.plots.infonce_training_figure": [
        (lambda: plots.infonce_training_figure({}, np.eye(2), batch_size=2, untrained_loss=1.0,
                                               temperature=0.1), "history")],
    "helpers.plots.softmax_temperature_classes": [
        (lambda: plots.softmax_temperature_classes(np.ones(3), 0.1, [True]), "same_class")],
    "helpers.plots.triplet_margin_figure": [
        (lambda: plots.triplet_margin_figure(np.ones((2, 2)), 0.5), "gaps")],
    "helpers.plots.batch_size_figure": [
        (lambda: plots.batch_size_figure([2, 4], [1.0, 2.0], [0.5, 0.3], 3, 0.1), "n")],
    "helpers.widgets.flip_views_condition_figure": [
        (lambda: widgets.flip_views_condition_figure(1.5, 0.1), "eps1")],
    "helpers.widgets.flip_noise_linked": [(lambda: widgets.flip_noise_linked(eps3=0.9), "eps3")],
    "helpers.widgets.sample_complexity": [(lambda: widgets.sample_complexity(()), "sigmas")],
    "helpers.widgets.temperature_classes_explorer": [
        (lambda: widgets.temperature_classes_explorer(np.ones(3), np.ones(2, bool)), "same_class")],
    "helpers.widgets.triplet_gaps": [(lambda: widgets.triplet_gaps(X, X[:5]), "ex")],
    "helpers.widgets.margin_explorer": [(lambda: widgets.margin_explorer(X, X, margin=9.0), "margin")],
    "helpers.widgets.info_nce_by_batch_size": [
        (lambda: widgets.info_nce_by_batch_size(X, X, (1,), 0.1), "sizes")],
    "helpers.widgets.batch_size_explorer": [(lambda: widgets.batch_size_explorer(X, X, temperature=9.0),
                                             "temperature")],
}

# Names that take no input a caller could get wrong.
NO_INPUT: dict[str, str] = {
    "helpers.device": "no arguments",
    "helpers.single_thread": "no arguments",
    "helpers.widgets.flip_noise": "no arguments",
    "helpers.widgets.procrustes_explorer": "no arguments",
    "helpers.train.model_device": "takes any object by design: anything but a torch Module means the CPU",
    "helpers.testing.HelpersDisabledError": "an exception type: any message is valid",
}

# Frozen result records: built by the function named, which checks their inputs; they hold no checks.
RECORDS: dict[str, str] = {
    "helpers.principles.LogisticModel": "fit_logistic",
    "helpers.principles.XorFit": "fit_xor_models",
    "helpers.principles.ViewsRow": "flip_views_summary, gaussian_views_summary",
    "helpers.alignment.ProcrustesFit": "procrustes",
    "helpers.challenges.DominanceRun": "run_dominance",
    "helpers.challenges.NegativeTransfer": "negative_transfer_experiment",
    "helpers.challenges.GaussianImputer": "GaussianImputer.fit",
    "helpers.applications.GeneLipidMap": "gene_lipid_map",
    "helpers.applications.ViewSplit": "digit_split",
    "helpers.applications.Complementarity": "complementarity",
    "helpers.applications.Reliability": "reliability_curve",
    "helpers.applications.CalibrationSweep": "calibration_over_seeds",
    "helpers.data.MultiViewData": "load_multiple_features, load_nutrimouse",
    "helpers.data.PairedViews": "latent_pairs",
    "helpers.data.ProcrustesPair": "procrustes_pair",
    "helpers.data.AlignedSequences": "make_aligned_sequences",
    "helpers.data.ClassConditionalViews": "make_class_conditional_views",
    "helpers.data.Diagnosis": "make_diagnosis",
}

CASES = [pytest.param(call, argument, id=f"{name}[{i}]")
         for name, calls in MALFORMED.items() for i, (call, argument) in enumerate(calls)]


@pytest.mark.parametrize(("call", "argument"), CASES)
def test_malformed_input_raises_a_value_error_naming_the_argument(call: Callable[[], Any],
                                                                  argument: str) -> None:
    with pytest.raises(ValueError, match=rf"(?<![\w.]){re.escape(argument)}(?!\w)"):
        call()


def test_the_sweep_covers_every_public_name() -> None:
    found = public_names()
    listed = set(MALFORMED) | set(NO_INPUT) | set(RECORDS)
    assert not found - listed, f"public names without a malformed call: {sorted(found - listed)}"
    assert not listed - found, f"cases for names that are not public (renamed?): {sorted(listed - found)}"
    assert not set(MALFORMED) & (set(NO_INPUT) | set(RECORDS))
    assert all(calls for calls in MALFORMED.values())


def test_records_are_dataclasses_returned_by_a_checked_function() -> None:
    for name, builders in RECORDS.items():
        module_name, class_name = name.rsplit(".", 1)
        module = importlib.import_module(module_name)
        assert dataclasses.is_dataclass(getattr(module, class_name)), name
        for builder in builders.split(", "):
            assert f"{module_name}.{builder}" in MALFORMED, f"{name}: its builder {builder} has no case"


# --- the check functions themselves -----------------------------------------------------------

@pytest.mark.parametrize(("call", "message"), [
    (lambda: _checks.as_array("abc", "x"), "x must be numeric"),
    (lambda: _checks.as_array(np.ones(3), "x", ndim=2), r"x must have 2 dimension\(s\), got shape \(3,\)"),
    (lambda: _checks.as_array([1.0, NAN], "x"), "x must contain only finite numbers"),
    (lambda: _checks.check_same_length(a=np.ones(2), b=np.ones(3)), "a has 2, b has 3"),
    (lambda: _checks.check_same_shape(a=np.ones(2), b=np.ones((2, 1))), r"a has shape \(2,\)"),
    (lambda: _checks.check_probabilities([0.5, 0.6], "p"), "p must sum to 1"),
    (lambda: _checks.check_probabilities([-0.5, 1.5], "p"), "p must be non-negative"),
    (lambda: _checks.check_in_range(2.0, "rate", 0.0, 1.0), r"rate must lie in \[0.0, 1.0\]"),
    (lambda: _checks.check_in_range(0.0, "tau", 0.0, 1.0, low_open=True), r"tau must lie in \(0.0, 1.0\]"),
    (lambda: _checks.check_in_range("a", "tau", 0.0, 1.0), "tau must be a number"),
    (lambda: _checks.check_positive_int(True, "n"), "n must be an integer >= 1"),
    (lambda: _checks.check_positive_int(2.0, "n"), "n must be an integer >= 1"),
    (lambda: _checks.check_choice("x", "mode", ("a", "b")), "mode must be one of 'a', 'b'"),
    (lambda: _checks.rng_from(-1), "seed must be an integer >= 0"),
])
def test_each_check_names_the_argument_and_what_it_expects(call: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_checks_pass_valid_input_through() -> None:
    assert _checks.as_array([1, 2], "x", ndim=1).dtype == float
    assert np.isnan(_checks.as_array([1.0, NAN], "x", finite=False)[1])
    assert _checks.check_same_length(a=[1, 2], b=np.ones((2, 3))) == 2
    assert _checks.check_same_shape(a=np.ones((2, 3)), b=np.zeros((2, 3))) == (2, 3)
    assert _checks.check_in_range(1.0, "x", 0.0, 1.0) == 1.0
    assert _checks.check_positive_int(np.int64(3), "n") == 3
    assert _checks.check_choice("a", "mode", ("a", "b")) == "a"
    generator = np.random.default_rng(0)
    assert _checks.rng_from(generator) is generator
