"""helpers.fusion and chapter 03: the fusion modules (parameter and multiply-add counts, attention against
torch's), the probability rules and metrics, bad input, the chapter's claims C7–C9 with the chapter's seeds,
and the exercise set's hidden tests failing for plausible wrong implementations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import ROOT, run_test_cell, shown_for_each
from scipy.special import logsumexp
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from helpers import data, fusion
from helpers.train import accuracy, as_tensors, predict, seeded

EXERCISE = ROOT / "solutions" / "ex03_fusion" / "ex03_fusion.ipynb"


def _linear(i: int, o: int) -> int:
    return i * o + o


# --- architectures: parameters, multiply-adds, attention ------------------------------------


@pytest.mark.parametrize("dims, hidden, k", [((4, 4), 32, 2), ((76, 216, 64), 16, 10), ((1,), 3, 2)])
def test_early_and_late_fusion_parameter_counts_equal_layer_sizes(dims, hidden, k) -> None:
    early = fusion.EarlyFusion(dims, hidden, k)
    late = fusion.LateFusion(dims, hidden, k)
    assert fusion.count_parameters(early) == _linear(sum(dims), hidden) + _linear(hidden, k)
    assert fusion.count_parameters(late) == sum(_linear(d, hidden) + _linear(hidden, k) for d in dims)
    assert early.expected_parameter_count() == fusion.count_parameters(early)
    assert late.expected_parameter_count() == fusion.count_parameters(late)
    assert len(late.branches) == len(dims)


@pytest.mark.parametrize("d_q, d_c, d_model, heads, hidden", [(16, 17, 16, 1, 32), (8, 5, 12, 3, 7)])
def test_sequence_models_parameter_counts_equal_layer_sizes(d_q, d_c, d_model, heads, hidden) -> None:
    cross = fusion.CrossAttentionFusion(d_q, d_c, d_model, 2, n_heads=heads, hidden=hidden)
    expected = (_linear(d_q, d_model) + 2 * _linear(d_c, d_model) + _linear(d_model, d_model)
                + _linear(d_model, hidden) + _linear(hidden, 2))
    assert fusion.count_parameters(cross) == expected == cross.expected_parameter_count()
    pooled = fusion.PooledEarlyFusion(d_q, d_c, hidden, 3)
    assert fusion.count_parameters(pooled) == _linear(d_q + d_c, hidden) + _linear(hidden, 3)
    assert pooled.expected_parameter_count() == fusion.count_parameters(pooled)


def _counted_multiply_adds(model: nn.Module, *inputs: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(*inputs)
    return counter.get_total_flops() // 2  # torch counts a multiply-add as two flops


@pytest.mark.parametrize("n_q, n_c", [(1, 2), (5, 10), (7, 3)])
def test_multiply_adds_equal_torch_flop_count(n_q: int, n_c: int) -> None:
    cross = fusion.CrossAttentionFusion(16, 17, 12, 2, n_heads=3, hidden=32)
    assert cross.multiply_adds(n_q, n_c) == _counted_multiply_adds(cross, torch.randn(1, n_q, 16),
                                                                   torch.randn(1, n_c, 17))
    pooled = fusion.PooledEarlyFusion(16, 17, 32, 2)
    pooling_sums = n_q * 16 + n_c * 17  # not matrix products: torch does not count them
    assert pooled.multiply_adds(n_q, n_c) == pooling_sums + _counted_multiply_adds(
        pooled, torch.randn(1, n_q, 16), torch.randn(1, n_c, 17))
    early = fusion.EarlyFusion([n_q * 16, n_c * 17], 32, 2)
    assert early.multiply_adds() == _counted_multiply_adds(early, torch.randn(1, n_q * 16),
                                                           torch.randn(1, n_c * 17))
    late = fusion.LateFusion([n_q, n_c], 8, 3)
    assert late.multiply_adds() == _counted_multiply_adds(late, torch.randn(1, n_q), torch.randn(1, n_c))


def test_cost_grows_with_the_product_for_cross_attention_and_linearly_for_early_fusion() -> None:
    lengths = [1, 2, 4, 8, 16, 32]
    costs = fusion.multiply_adds_by_length(lengths, text_dim=16, audio_dim=17, hidden=32, d_model=16)
    for name in ("flattened early fusion", "pooled early fusion"):
        steps = np.diff(costs[name]) / np.diff(lengths)
        assert np.all(steps == steps[0]), f"{name} must grow linearly"
    # cross-attention: minus its linear part, exactly 2 n_t n_a d with n_a = 2 n_t
    n = np.array(lengths)
    linear = costs["cross-attention"][0] - 2 * 1 * 2 * 16
    slope = (16 * 16 + 2 * 2 * 17 * 16 + 16 * 16)
    head = 16 * 32 + 32 * 2
    assert linear == slope + head
    assert np.array_equal(costs["cross-attention"] - slope * n - head, 2 * n * (2 * n) * 16)


def _multihead_copy(model: fusion.CrossAttentionFusion) -> nn.MultiheadAttention:
    mha = nn.MultiheadAttention(model.d_model, model.n_heads, kdim=model.context_dim, vdim=model.context_dim,
                                batch_first=True)
    with torch.no_grad():
        mha.q_proj_weight.copy_(model.q_proj.weight)
        mha.k_proj_weight.copy_(model.k_proj.weight)
        mha.v_proj_weight.copy_(model.v_proj.weight)
        mha.in_proj_bias.copy_(torch.cat([model.q_proj.bias, model.k_proj.bias, model.v_proj.bias]))
        mha.out_proj.weight.copy_(model.out_proj.weight)
        mha.out_proj.bias.copy_(model.out_proj.bias)
    return mha


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_cross_attention_equals_torch_multihead_attention_with_padding(heads: int) -> None:
    with seeded(heads):
        model = fusion.CrossAttentionFusion(8, 5, 8, 2, n_heads=heads)
    generator = torch.Generator().manual_seed(heads)
    queries, context = torch.randn(4, 3, 8, generator=generator), torch.randn(4, 6, 5, generator=generator)
    mask = torch.arange(6)[None, :] < torch.tensor([6, 1, 4, 2])[:, None]
    ours, weights = model.attend(queries, context, mask)
    theirs, their_weights = _multihead_copy(model)(queries, context, context, key_padding_mask=~mask)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weights.mean(dim=1), their_weights, rtol=1e-5, atol=1e-6)
    assert torch.all(weights.masked_select(~mask[:, None, None, :].expand_as(weights)) == 0)


def test_scaled_dot_product_attention_matches_torch_and_ignores_padding() -> None:
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 4, generator=generator), torch.randn(2, 5, 4, generator=generator),
               torch.randn(2, 5, 6, generator=generator))
    mask = torch.tensor([[True, True, False, False, False], [True] * 5])
    out, weights = fusion.scaled_dot_product_attention(q, k, v, mask)
    expected = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, :])
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    # changing a padded frame changes nothing
    k2, v2 = k.clone(), v.clone()
    k2[0, 3], v2[0, 3] = 100.0, -100.0
    torch.testing.assert_close(fusion.scaled_dot_product_attention(q, k2, v2, mask)[0], out)


def test_late_fusion_combines_logits_or_probabilities() -> None:
    with seeded(0):
        model = fusion.LateFusion([3, 2], 5, 4)
    xs = (torch.randn(6, 3), torch.randn(6, 2))
    logits = model.unimodal_logits(*xs)
    torch.testing.assert_close(model(*xs), logits[0] + logits[1])
    model.combine = "prob_mean"
    mean = (torch.softmax(logits[0], 1) + torch.softmax(logits[1], 1)) / 2
    torch.testing.assert_close(model(*xs).exp(), mean)
    loss = nn.functional.cross_entropy(model(*xs), torch.tensor([0, 1, 2, 3, 0, 1]))
    torch.testing.assert_close(loss, nn.functional.nll_loss(mean.log(), torch.tensor([0, 1, 2, 3, 0, 1])))


# --- probability rules and metrics ----------------------------------------------------------


def test_product_of_experts_is_bayes_and_flat_under_conflict() -> None:
    fused = np.exp(fusion.product_of_experts(np.log([[0.9, 0.1]]), np.log([[0.1, 0.9]]), np.log([0.5, 0.5])))
    np.testing.assert_allclose(fused, [[0.5, 0.5]])
    prior = np.array([0.6, 0.3, 0.1])
    pv, pt = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.2, 0.6])
    expected = pv * pt / prior
    fused = fusion.product_of_experts(np.log(pv) + 3.0, np.log(pt) - 1.0, np.log(prior))
    np.testing.assert_allclose(np.exp(fused), expected / expected.sum())


def test_mixture_gaussians_entropy_nll_ece() -> None:
    pv, pt = np.array([[0.8, 0.2]]), np.array([[0.4, 0.6]])
    np.testing.assert_allclose(fusion.mixture_of_experts(pv, pt, 1.0), pv)
    np.testing.assert_allclose(fusion.mixture_of_experts(pv, pt, 0.25), [[0.5, 0.5]])
    mean, var = fusion.gaussian_product(np.array([0.0, 2.0]), np.array([1.0, 0.5]))
    assert math.isclose(var, 1 / 3) and math.isclose(mean, 4 / 3)
    mix_mean, mix_var = fusion.gaussian_mixture_moments(np.array([0.0, 2.0]), np.array([1.0, 0.5]),
                                                        np.array([0.5, 0.5]))
    samples = np.where(np.random.default_rng(0).random(400_000) < 0.5,
                       np.random.default_rng(1).normal(0, 1, 400_000),
                       np.random.default_rng(2).normal(2, np.sqrt(0.5), 400_000))
    assert abs(mix_mean - samples.mean()) < 0.01 and abs(mix_var - samples.var()) < 0.02
    np.testing.assert_allclose(fusion.entropy(np.array([[0.25] * 4, [1.0, 0, 0, 0]])), [np.log(4), 0.0])
    assert math.isclose(fusion.negative_log_likelihood(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 1])),
                        -(np.log(0.5) + np.log(0.1)) / 2)
    # 10 predictions at confidence 0.8 of which 8 right: calibrated; at 0.9 with 5 right: ECE 0.4
    probs = np.tile([0.8, 0.2], (10, 1))
    labels = np.array([0] * 8 + [1] * 2)
    assert math.isclose(fusion.expected_calibration_error(probs, labels), 0.0, abs_tol=1e-12)
    probs = np.tile([0.9, 0.1], (10, 1))
    assert math.isclose(fusion.expected_calibration_error(probs, np.array([0] * 5 + [1] * 5)), 0.4)


def test_corrupt_expert() -> None:
    probs = np.full((50, 3), 1 / 3)
    labels = np.arange(50) % 3
    assert np.array_equal(fusion.corrupt_expert(probs, labels, 0.0), probs)
    bad = fusion.corrupt_expert(probs, labels, 1.0, confidence=0.9)
    assert np.all(bad.argmax(1) != labels) and np.allclose(bad.max(1), 0.9) and np.allclose(bad.sum(1), 1)


# --- generators ---------------------------------------------------------------------------


def test_aligned_sequences_hide_the_label_from_every_average() -> None:
    seqs = data.make_aligned_sequences(300, seed=3)
    flags = seqs.audio[:, :, -1]
    n_t = seqs.text_lengths
    assert np.array_equal(flags.sum(1), n_t), "every audio sequence holds exactly n_t flagged frames"
    assert np.array_equal(seqs.audio_mask.sum(1), 2 * n_t)
    for i in range(300):
        words = seqs.text[i, :n_t[i]].argmax(1)
        assert np.array_equal(seqs.audio_words[i, seqs.match[i, :n_t[i]]], words)
        matched = flags[i, seqs.match[i, :n_t[i]]]
        assert seqs.labels[i] == int(matched.sum() > n_t[i] / 2)
    x_v, x_t, y = data.make_interaction_views(50, seed=1)
    assert np.array_equal(y, (x_v[:, 0] * x_t[:, 0] > 0).astype(int))


def test_class_conditional_views_follow_the_prior() -> None:
    views = data.make_class_conditional_views(20000, [0.7, 0.2, 0.1], seed=0)
    np.testing.assert_allclose(np.bincount(views.y) / 20000, [0.7, 0.2, 0.1], atol=0.01)
    assert views.x_v.shape == (20000, 2) and views.means_t.shape == (3, 2)


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize("call, match", [
    (lambda: fusion.EarlyFusion([], 4, 2), "input_dims"),
    (lambda: fusion.EarlyFusion([3, 0], 4, 2), r"input_dims\[1\]"),
    (lambda: fusion.EarlyFusion([3, 4], 4, 2)(torch.randn(2, 3)), "2 modality tensors"),
    (lambda: fusion.EarlyFusion([3, 4], 4, 2)(torch.randn(2, 3), torch.randn(2, 5)), r"xs\[1\].*\(n, 4\)"),
    (lambda: fusion.EarlyFusion([3, 4], 4, 2)(torch.randn(2, 3), torch.randn(3, 4)), "same number of rows"),
    (lambda: fusion.LateFusion([3], 4, 2, combine="vote"), "combine"),
    (lambda: fusion.CrossAttentionFusion(4, 4, 6, 2, n_heads=4), "divisible"),
    (lambda: fusion.CrossAttentionFusion(4, 5, 4, 2)(torch.randn(2, 3, 4), torch.randn(2, 3, 4)), "context"),
    (lambda: fusion.CrossAttentionFusion(4, 5, 4, 2)(torch.randn(2, 3, 4), torch.randn(2, 3, 5), None,
                                                   torch.tensor([[True] * 3, [False] * 3])),
     "at least one real"),
    (lambda: fusion.scaled_dot_product_attention(torch.randn(2, 3), torch.randn(2, 4), torch.randn(3, 4)),
     "do not fit"),
    (lambda: fusion.product_of_experts(np.zeros((2, 3)), np.zeros((2, 4)), np.zeros(3)), "same shape"),
    (lambda: fusion.product_of_experts(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros(4)),
     "log_prior|logits_v"),
    (lambda: fusion.product_of_experts(np.full((1, 2), np.nan), np.zeros((1, 2)), np.zeros(2)), "finite"),
    (lambda: fusion.mixture_of_experts([[0.5, 0.5]], [[0.5, 0.5]], 1.5), "weight"),
    (lambda: fusion.mixture_of_experts([[0.7, 0.5]], [[0.5, 0.5]], 0.5), "probs_v"),
    (lambda: fusion.gaussian_product([0.0, 1.0], [1.0, -1.0]), "variances"),
    (lambda: fusion.entropy([0.2, 0.2]), "sum to 1"),
    (lambda: fusion.negative_log_likelihood([[0.5, 0.5]], [2]), "labels"),
    (lambda: fusion.expected_calibration_error([[0.5, 0.5]], [0], n_bins=0), "n_bins"),
    (lambda: fusion.corrupt_expert(np.full((2, 2), 0.5), np.array([0, 1]), 2.0), "rate"),
    (lambda: fusion.masked_mean(torch.randn(2, 3, 4), torch.ones(2, 5, dtype=torch.bool)),
     r"mask must be an \(n, L\) = \(2, 3\)"),
    (lambda: fusion.masked_mean(torch.randn(2, 3), torch.ones(2, 3, dtype=torch.bool)),
     r"x must be an \(n, L, d\)"),
    (lambda: data.make_aligned_sequences(10, lengths=(2, 3)), "odd"),
    (lambda: data.make_aligned_sequences(10, lengths=(5,), vocab=8), "vocab"),
    (lambda: data.make_class_conditional_views(10, [0.5, 0.6]), "prior"),
])
def test_bad_input_raises_a_clear_value_error(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


# --- the chapter's claims, with the chapter's seeds ----------------------------------------


def test_c7a_early_fusion_and_a_learned_combiner_learn_the_interaction_a_fixed_sum_cannot() -> None:
    """Over seeds the chapter does not use (it uses 0–4): early fusion and late fusion with a learned
    combiner solve the XOR of signs on every seed, late fusion with a fixed logit sum never does."""
    x_v, x_t, y = data.make_interaction_views(1000, seed=0)
    test_v, test_t, test_y = as_tensors(*data.make_interaction_views(1000, seed=1))
    for seed in range(5, 10):
        with seeded(seed):
            models = {"early": fusion.EarlyFusion([4, 4], hidden=32, n_classes=2),
                      "sum": fusion.LateFusion([4, 4], hidden=32, n_classes=2, combine="logit_sum"),
                      "combiner": fusion.LearnedCombiner([4, 4], hidden=32, n_classes=2)}
        acc = {}
        for name, model in models.items():
            fusion.train_classifier(model, as_tensors(x_v, x_t), torch.as_tensor(y), epochs=10, lr=0.01,
                                    seed=seed, progress=False)
            acc[name] = accuracy(predict(model, test_v, test_t), test_y)
        assert acc["early"] > 0.95 and acc["combiner"] > 0.93 and acc["sum"] < 0.58, (seed, acc)


def test_learned_combiner_on_hidden_features_and_bad_input() -> None:
    model = fusion.LearnedCombiner([3, 5], hidden=8, n_classes=4, on="hidden")
    assert model(torch.zeros(2, 3), torch.zeros(2, 5)).shape == (2, 4)
    with pytest.raises(ValueError, match="on"):
        fusion.LearnedCombiner([3, 5], hidden=8, n_classes=4, on="middle")
    with pytest.raises(ValueError, match="probs"):
        fusion.error_correlations({"a": np.ones((2, 2)) / 2}, np.zeros(2))
    with pytest.raises(ValueError, match="experts"):
        fusion.fuse_experts({"a": np.ones((2, 2)) / 2})


@pytest.fixture(scope="module")
def sequence_models():
    train_seq = data.make_aligned_sequences(1500, seed=0)
    text, audio, text_mask, audio_mask, labels = train_seq.tensors()
    vocab, frame_dim = text.shape[2], audio.shape[2]
    with seeded(0):
        pooled = fusion.PooledEarlyFusion(vocab, frame_dim, hidden=32, n_classes=2)
        flat = fusion.EarlyFusion([t.shape[1] for t in train_seq.flattened()], hidden=32, n_classes=2)
        cross = fusion.CrossAttentionFusion(vocab, frame_dim, d_model=128, n_heads=8, n_classes=2, hidden=32)
    for model, inputs in ((pooled, (text, audio, text_mask, audio_mask)), (flat, train_seq.flattened()),
                          (cross, (text, audio, text_mask, audio_mask))):
        fusion.train_classifier(model, inputs, labels, epochs=12, lr=0.01, progress=False)
    return pooled, flat, cross


def test_c7b_cross_attention_finds_the_alignment_pooling_loses_it(sequence_models) -> None:
    pooled, flat, cross = sequence_models
    test_seq = data.make_aligned_sequences(1000, seed=1)
    long_seq = data.make_aligned_sequences(1000, lengths=(7,), seed=2)
    inputs, long_inputs = test_seq.tensors(), long_seq.tensors()
    pooled_acc = accuracy(predict(pooled, *inputs[:4]), inputs[4])
    flat_acc = accuracy(predict(flat, *test_seq.flattened()), inputs[4])
    cross_acc = accuracy(predict(cross, *inputs[:4]), inputs[4])
    assert pooled_acc < 0.56, "pooled early fusion sees nothing that depends on the label"
    assert cross_acc > 0.95 and cross_acc > flat_acc + 0.2
    assert accuracy(predict(cross, *long_inputs[:4]), long_inputs[4]) > 0.9, \
        "cross-attention carries over to n_t = 7"
    with pytest.raises(ValueError, match="xs"):
        flat(*long_seq.flattened())  # a longer sequence does not fit the flattened input layer
    train_seq = data.make_aligned_sequences(1500, seed=0)
    assert accuracy(predict(flat, *train_seq.flattened()), train_seq.tensors()[4]) > 0.95
    right = predict(flat, *test_seq.flattened()).argmax(1).numpy() == test_seq.labels
    assert right[test_seq.text_lengths == 1].mean() > 0.65
    assert all(right[test_seq.text_lengths == n].mean() < 0.6 for n in (3, 5)), \
        "flattened memorises positions"
    heads = fusion.attention_alignment(cross, *inputs[:4], test_seq.match)
    best = int(heads["aligned"].argmax())
    example = int(np.flatnonzero(test_seq.text_lengths == 5)[0])
    weights = fusion.example_attention(cross, *inputs[:4], example, head=best)
    assert np.array_equal(weights.argmax(1), test_seq.match[example, :5]), \
        "each token attends to its own frame"
    own = weights[np.arange(5), test_seq.match[example, :5]]
    assert own.min() > 0.5, "the shown head puts most of each token's weight on its own frame"


def test_c7b_several_heads_succeed_on_seeds_the_chapter_does_not_use() -> None:
    """The chapter shows seeds 0–9 (precomputed). On seeds 10–14 the 8-head model reaches test accuracy
    >= 0.95 with an aligned head on every seed but at most one; the 1-head constant of seed 0 reproduces."""
    train, test = data.make_aligned_sequences(1500, seed=0), data.make_aligned_sequences(1000, seed=1)
    many = fusion.cross_attention_seed_sweep(train, test, range(10, 15), n_heads=8, d_model=128)
    ok = (many["accuracy"] >= 0.95) & (many["aligned"] > 0.9)
    assert ok.sum() >= 4, many
    one = fusion.cross_attention_seed_sweep(train, test, [0], n_heads=1, d_model=16)
    stored = fusion.CROSS_ATTENTION_SEED_RESULTS["1 head, d = 16"]
    assert abs(one["accuracy"][0] - stored["accuracy"][0]) < 0.01
    single = np.array(stored["accuracy"]) >= 0.95
    assert 0 < single.sum() < len(single), "one head succeeds on some seeds only"
    failed = ~single
    assert np.all(np.array(stored["avoided"])[failed] > 0.4), "failing heads look away from the own frame"


@pytest.fixture(scope="module")
def generative():
    prior = np.array([0.7, 0.2, 0.1])
    gen = data.make_class_conditional_views(20000, prior, dim=2, sigma=1.0, seed=0)
    log_p_v = fusion.gaussian_class_log_posterior(gen.x_v, gen.means_v, gen.sigma, np.log(prior))
    log_p_t = fusion.gaussian_class_log_posterior(gen.x_t, gen.means_t, gen.sigma, np.log(prior))
    exact = fusion.gaussian_class_log_posterior(np.hstack([gen.x_v, gen.x_t]),
                                                np.hstack([gen.means_v, gen.means_t]), gen.sigma,
                                                np.log(prior))
    return prior, gen, log_p_v, log_p_t, exact


def test_c8_prior_corrected_poe_is_the_bayes_posterior(generative) -> None:
    prior, gen, log_p_v, log_p_t, exact = generative
    corrected = fusion.product_of_experts(log_p_v, log_p_t, np.log(prior))
    uncorrected = np.exp(fusion.product_of_experts(log_p_v, log_p_t, np.zeros(3)))
    average = fusion.mixture_of_experts(np.exp(log_p_v), np.exp(log_p_t), 0.5)
    assert np.abs(np.exp(corrected) - np.exp(exact)).max() < 1e-12
    # the logit form: joint logit = sum of logits - log prior, up to a per-row constant
    shift = (log_p_v + log_p_t - np.log(prior)) - exact
    assert np.allclose(shift, shift[:, :1])
    assert np.abs(uncorrected - np.exp(exact)).max() > 0.1
    assert uncorrected[:, 2].mean() < 0.6 * prior[2], \
        "without the correction the rare class is under-predicted"
    nll = {name: fusion.negative_log_likelihood(p, gen.y) for name, p in
           {"exact": np.exp(exact), "corrected": np.exp(corrected), "uncorrected": uncorrected,
            "average": average}.items()}
    assert math.isclose(nll["exact"], nll["corrected"], rel_tol=1e-12)
    assert nll["corrected"] < nll["uncorrected"] < nll["average"]


def test_c9_poe_sharpens_agreement_is_vetoed_moe_is_robust(generative) -> None:
    prior, gen, log_p_v, log_p_t, _ = generative
    means, variances = np.array([0.0, 2.0]), np.array([1.0, 0.5])
    _, poe_var = fusion.gaussian_product(means, variances)
    _, moe_var = fusion.gaussian_mixture_moments(means, variances, np.array([0.5, 0.5]))
    assert poe_var < variances.min() and moe_var > variances.max()
    uniform = np.log([0.5, 0.5])
    agree = np.exp(fusion.product_of_experts(np.log([0.8, 0.2]), np.log([0.7, 0.3]), uniform))
    assert fusion.entropy(agree) < min(fusion.entropy(np.array([0.8, 0.2])),
                                       fusion.entropy(np.array([0.7, 0.3])))
    conflict = np.exp(fusion.product_of_experts(np.log([0.9, 0.1]), np.log([0.1, 0.9]), uniform))
    assert math.isclose(fusion.entropy(conflict), np.log(2))
    p_v, p_t = np.exp(log_p_v), np.exp(log_p_t)
    poe = np.exp(fusion.product_of_experts(log_p_v, log_p_t, np.log(prior)))
    assert fusion.entropy(poe).mean() < min(fusion.entropy(p_v).mean(), fusion.entropy(p_t).mean())
    rates = np.linspace(0.0, 0.5, 6)
    sweep = fusion.corruption_sweep(p_v, p_t, gen.y, prior, rates, weight=0.5, seed=0)
    assert sweep["poe"]["nll"][0] < sweep["moe"]["nll"][0]
    assert sweep["poe"]["accuracy"][0] > sweep["moe"]["accuracy"][0]
    assert np.all(sweep["moe"]["nll"][1:] < sweep["poe"]["nll"][1:])
    assert np.all(sweep["moe"]["ece"][1:] < sweep["poe"]["ece"][1:])
    assert np.all(np.diff(sweep["poe"]["nll"]) > 0) and sweep["poe"]["nll"][-1] > 2 * sweep["moe"]["nll"][-1]
    bad_t = fusion.corrupt_expert(p_t, gen.y, rate=0.5, seed=0)
    rows = np.arange(len(gen.y))
    vetoed = np.flatnonzero((p_v[rows, gen.y] > 0.85) & (bad_t.argmax(1) != gen.y))[:3]
    assert len(vetoed) == 3
    poe_bad = np.exp(fusion.product_of_experts(np.log(p_v), np.log(bad_t), np.log(prior)))
    moe_bad = fusion.mixture_of_experts(p_v, bad_t, 0.5)
    assert np.all(poe_bad[vetoed, gen.y[vetoed]] < 0.2) and np.all(moe_bad[vetoed, gen.y[vetoed]] > 0.4)
    every = np.flatnonzero((p_v[rows, gen.y] > 0.85) & (bad_t.argmax(1) != gen.y))
    assert (moe_bad[every].argmax(1) != gen.y[every]).mean() > 0.95, \
        "MoE picks the wrong class there too"
    assert fusion.negative_log_likelihood(moe_bad[every], gen.y[every]) < \
        fusion.negative_log_likelihood(poe_bad[every], gen.y[every]) / 2, \
        "but keeps the true class's probability"


def test_fusion_of_six_digit_views_beats_the_best_view() -> None:
    results = fusion.fuse_digit_views(n_train=1000, hidden=32, epochs=10, seed=0, progress=False)
    best_view = max(results[view]["accuracy"] for view in data.DIGIT_VIEWS)
    assert results["poe"]["accuracy"] > best_view and results["moe"]["accuracy"] > best_view
    assert results["poe"]["nll"] < results["moe"]["nll"]


@pytest.mark.parametrize("seed", [1, 2])
def test_digit_views_errors_are_correlated_and_poe_is_over_confident(seed: int) -> None:
    """On splits the chapter does not use (it uses 0)."""
    experts, labels = fusion.digit_view_experts(n_train=1000, hidden=32, epochs=10, seed=seed)
    corr = fusion.error_correlations(experts, labels)
    assert corr[("fac", "pix")] > 0.3 and corr[("kar", "pix")] > 0.3
    fused = fusion.fuse_experts(experts)
    for rule, sign in (("poe", 1), ("moe", -1)):
        q = fused[rule]
        gap = q.max(1).mean() - fusion.accuracy_of(q, labels)
        assert sign * gap > 0, (rule, gap)
    wrong = fused["poe"].argmax(1) != labels
    assert fused["poe"][wrong].max(1).mean() > 0.8, "PoE is confident on its errors"
    pix = experts["pix"]
    copy = fusion.fuse_experts({"pix": pix, "copy": pix})["poe"]
    assert fusion.accuracy_of(copy, labels) == fusion.accuracy_of(pix, labels)
    assert fusion.expected_calibration_error(copy, labels) > fusion.expected_calibration_error(pix, labels)
    assert fusion.negative_log_likelihood(copy, labels) > fusion.negative_log_likelihood(pix, labels)


def test_figures_and_widget_draw() -> None:
    from helpers import plots, widgets

    assert len(plots.poe_vs_moe_binary(0.9, 0.1, 0.5).axes) == 1
    assert len(plots.gaussian_experts([0.0, 2.0], [1.0, 0.5]).axes) == 1
    box = widgets.poe_vs_moe()
    box.children[0].children[2].value = 0.2  # moving the weight redraws without error
    box.redraw()


def test_cross_attention_seed_widget_redraws_for_each_seed() -> None:
    """(How fast it redraws is measured by ``make bench``, not asserted here.)"""
    from helpers import widgets

    shown = shown_for_each(widgets.cross_attention_seeds(seed=3), list((0, 5, 9)))
    assert all(shown), shown
    with pytest.raises(ValueError, match="seed"):
        widgets.cross_attention_seeds(seed=10)
    from helpers import plots
    with pytest.raises(ValueError, match="values"):
        plots.seed_dots({}, ylabel="x")


# --- the exercise set: every graded test catches a plausible wrong implementation -------------


def _attention_no_scaling(queries, keys, values, key_mask):
    scores = np.where(key_mask[:, None, :], queries @ np.swapaxes(keys, -1, -2), -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ values, weights


def _attention_mask_after_softmax(queries, keys, values, key_mask):
    scores = queries @ np.swapaxes(keys, -1, -2) / np.sqrt(queries.shape[-1])
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights = weights / weights.sum(-1, keepdims=True) * key_mask[:, None, :]
    return weights @ values, weights


def _attention_unstable(queries, keys, values, key_mask):
    scores = np.where(key_mask[:, None, :], queries @ np.swapaxes(keys, -1, -2) / np.sqrt(queries.shape[-1]),
                      -np.inf)
    with np.errstate(all="ignore"):
        weights = np.exp(scores)
        weights = weights / weights.sum(-1, keepdims=True)
    return weights @ values, weights


def _poe_k_minus_one(log_probs, present, log_prior):
    joint = np.where(present[:, :, None], log_probs, 0.0).sum(0) - (len(log_probs) - 1) * log_prior
    return joint - logsumexp(joint, axis=1, keepdims=True)


def _poe_no_correction(log_probs, present, log_prior):
    joint = np.where(present[:, :, None], log_probs, 0.0).sum(0)
    return joint - logsumexp(joint, axis=1, keepdims=True)


def _poe_mask_by_multiplying(log_probs, present, log_prior):
    joint = (log_probs * present[:, :, None]).sum(0) - (present.sum(0)[:, None] - 1) * log_prior
    return joint - logsumexp(joint, axis=1, keepdims=True)


def _poe_in_probability_space(log_probs, present, log_prior):
    probs = np.where(present[:, :, None], np.exp(log_probs), 1.0).prod(0)
    probs = probs / np.exp(log_prior) ** (present.sum(0)[:, None] - 1)
    with np.errstate(all="ignore"):
        return np.log(probs / probs.sum(1, keepdims=True))


def _moe_softmax_of_sums(val_probs, val_labels, test_probs):
    ll = np.log(np.maximum(val_probs[:, np.arange(len(val_labels)), val_labels], 1e-12)).sum(1)
    w = np.exp(ll - ll.max())
    w /= w.sum()
    return w, np.tensordot(w, test_probs, axes=1)


def _moe_mean_likelihood(val_probs, val_labels, test_probs):
    w = val_probs[:, np.arange(len(val_labels)), val_labels].mean(1)
    w = w / w.sum()
    return w, np.tensordot(w, test_probs, axes=1)


def _moe_no_floor(val_probs, val_labels, test_probs):
    with np.errstate(all="ignore"):
        ll = np.log(val_probs[:, np.arange(len(val_labels)), val_labels]).mean(1)
        w = np.exp(ll - ll.max())
        w = w / w.sum()
    return w, np.tensordot(w, test_probs, axes=1)


class _GatedSwapped(nn.Module):
    def __init__(self, d_v, d_t, hidden, n_classes):
        super().__init__()
        self.vision, self.text = nn.Linear(d_v, hidden), nn.Linear(d_t, hidden)
        self.gate, self.out = nn.Linear(d_v + d_t, hidden), nn.Linear(hidden, n_classes)

    def forward(self, x_v, x_t):
        z = torch.sigmoid(self.gate(torch.cat([x_v, x_t], dim=1)))
        return self.out((1 - z) * torch.tanh(self.vision(x_v)) + z * torch.tanh(self.text(x_t)))


class _GatedNoTanh(_GatedSwapped):
    def forward(self, x_v, x_t):
        z = torch.sigmoid(self.gate(torch.cat([x_v, x_t], dim=1)))
        return self.out(z * self.vision(x_v) + (1 - z) * self.text(x_t))


class _GatedTanhGate(_GatedSwapped):
    def forward(self, x_v, x_t):
        z = torch.tanh(self.gate(torch.cat([x_v, x_t], dim=1)))
        return self.out(z * torch.tanh(self.vision(x_v)) + (1 - z) * torch.tanh(self.text(x_t)))


def _count_without_biases(d_v, d_t, hidden, n_classes):
    return d_v * hidden + d_t * hidden + (d_v + d_t) * hidden + hidden * n_classes


def _count_without_gate(d_v, d_t, hidden, n_classes):
    return (d_v + 1) * hidden + (d_t + 1) * hidden + (hidden + 1) * n_classes


WRONG = [
    ("test_masked_cross_attention", "masked_cross_attention", _attention_no_scaling),
    ("test_masked_cross_attention", "masked_cross_attention", _attention_mask_after_softmax),
    ("test_masked_cross_attention", "masked_cross_attention", _attention_unstable),
    ("test_product_of_k_experts", "product_of_k_experts", _poe_k_minus_one),
    ("test_product_of_k_experts", "product_of_k_experts", _poe_no_correction),
    ("test_product_of_k_experts", "product_of_k_experts", _poe_mask_by_multiplying),
    ("test_product_of_k_experts", "product_of_k_experts", _poe_in_probability_space),
    ("test_validation_weighted_moe", "validation_weighted_moe", _moe_softmax_of_sums),
    ("test_validation_weighted_moe", "validation_weighted_moe", _moe_mean_likelihood),
    ("test_validation_weighted_moe", "validation_weighted_moe", _moe_no_floor),
    ("test_gated_fusion", "GatedFusion", _GatedSwapped),
    ("test_gated_fusion", "GatedFusion", _GatedNoTanh),
    ("test_gated_fusion", "GatedFusion", _GatedTanhGate),
    ("test_gated_fusion_parameter_count", "gated_fusion_parameter_count", _count_without_biases),
    ("test_gated_fusion_parameter_count", "gated_fusion_parameter_count", _count_without_gate),
]


@pytest.mark.parametrize("grade_id, name, wrong", WRONG, ids=[w[2].__name__.strip("_") for w in WRONG])
def test_exercise_tests_catch_a_wrong_implementation(grade_id: str, name: str, wrong) -> None:
    with pytest.raises(AssertionError):
        run_test_cell(EXERCISE, grade_id, replace={name: wrong})


@pytest.mark.parametrize("grade_id", sorted({w[0] for w in WRONG}))
def test_exercise_tests_pass_for_the_solution(grade_id: str) -> None:
    run_test_cell(EXERCISE, grade_id)


def _judged(grade_id: str, replace: dict | None, seed: int = 0):
    """The judge's verdict alone, without the visible asserts: points come only from the judge."""
    from conftest import _cells, _namespace_before

    from coursetools import judge

    cell = next(c for c in _cells(EXERCISE) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    student, reference = (_namespace_before(EXERCISE, grade_id, r) for r in (replace, None))
    return judge.judge_in_process(judge.setup_code(EXERCISE), judge.hidden_code(cell), student, reference,
                                  seed)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("grade_id, name, wrong", WRONG, ids=[w[2].__name__.strip("_") for w in WRONG])
def test_exercise_judge_alone_fails_a_wrong_implementation(grade_id: str, name: str, wrong,
                                                           seed: int) -> None:
    result = _judged(grade_id, {name: wrong}, seed)
    assert not result.passed and "failed" in result.message


def test_exercise_tests_refuse_delegating_to_helpers() -> None:
    """Attention that calls the helpers reference passes the visible asserts; the judge gives it nothing."""
    def delegating(queries, keys, values, key_mask):
        q, k, v = (torch.as_tensor(a) for a in (queries, keys, values))
        out, weights = fusion.scaled_dot_product_attention(q, k, v, torch.as_tensor(key_mask))
        return out.numpy(), weights.numpy()

    with pytest.raises(AssertionError, match="switched off"):
        run_test_cell(EXERCISE, "test_masked_cross_attention", replace={"masked_cross_attention": delegating})


def test_prior_and_corruption_widgets_redraw(generative) -> None:
    from helpers import plots, widgets

    box = widgets.prior_correction(p_v=0.6, p_t=0.6, prior=0.8)
    box.children[0].children[2].value = 0.3
    with pytest.raises(ValueError, match="prior"):
        plots.prior_correction(0.6, 0.6, 1.0)
    prior, gen, log_p_v, log_p_t, _ = generative
    rates = np.linspace(0.0, 0.5, 6)
    sweep = fusion.corruption_sweep(np.exp(log_p_v), np.exp(log_p_t), gen.y, prior, rates, seed=0)
    box = widgets.corruption_rate(rates, sweep, rate=0.2)
    box.children[0].children[0].value = 0.4
    with pytest.raises(ValueError, match="rate"):
        widgets.corruption_rate(rates, sweep, rate=0.9)


# --- hybrid fusion and the learned gate (chapter 03) -------------------------------------------


@pytest.mark.parametrize("dims, hidden, rank, k", [((4, 4), 32, 16, 2), ((3, 7), 5, 2, 4)])
def test_hybrid_fusion_parameter_count_equals_layer_sizes(dims, hidden, rank, k) -> None:
    model = fusion.HybridFusion(dims, hidden, k, rank=rank)
    expected = (sum(_linear(d, hidden) for d in dims) + 2 * _linear(hidden, rank)
                + _linear(rank, hidden) + _linear(hidden, k))
    assert fusion.count_parameters(model) == expected == model.expected_parameter_count()
    assert model(torch.zeros(3, dims[0]), torch.zeros(3, dims[1])).shape == (3, k)


def test_hybrid_fusion_learns_the_interaction_on_seeds_the_chapter_does_not_use() -> None:
    """Chapter 03 uses seeds 0–4: on seeds 5–9 the hybrid model (interaction on hidden features) is as
    accurate as early fusion, within 0.03, on every seed, and far above the late logit sum."""
    x_v, x_t, y = data.make_interaction_views(1000, seed=0)
    test_v, test_t, test_y = as_tensors(*data.make_interaction_views(1000, seed=1))
    builders = {"early": lambda: fusion.EarlyFusion([4, 4], hidden=32, n_classes=2),
                "sum": lambda: fusion.LateFusion([4, 4], hidden=32, n_classes=2),
                "hybrid": lambda: fusion.HybridFusion([4, 4], hidden=32, n_classes=2, rank=16)}
    acc, _ = fusion.accuracy_over_seeds(builders, as_tensors(x_v, x_t), torch.as_tensor(y), (test_v, test_t),
                                        test_y, range(5, 10))
    assert np.all(acc["hybrid"] > 0.94) and np.all(acc["hybrid"] > acc["early"] - 0.03), acc
    assert np.all(acc["sum"] < 0.58), acc


def test_gate_weights_sum_to_one_and_the_input_free_gate_is_constant() -> None:
    inputs, experts, labels = fusion.regional_experts(300, [0.5, 0.3, 0.2], seed=3)
    assert inputs.shape == (300, 5) and experts.shape == (2, 300, 3) and labels.shape == (300,)
    for use_input in (True, False):
        gate = fusion.fit_expert_gate(inputs, experts, labels, use_input=use_input, epochs=2)
        weights = fusion.gate_weights(gate, inputs)
        np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)
        if not use_input:
            np.testing.assert_allclose(weights, weights[:1].repeat(len(weights), 0), atol=1e-6)
        mixed = fusion.gated_mixture(gate, inputs, experts)
        expected = weights[:, :1] * experts[0] + weights[:, 1:] * experts[1]
        np.testing.assert_allclose(mixed, expected, atol=1e-6)


def test_each_regional_expert_is_wrong_only_in_its_own_region() -> None:
    inputs, experts, labels = fusion.regional_experts(4000, [0.7, 0.2, 0.1], rate=1.0, seed=1)
    context = inputs[:, 0]
    confident_wrong = (experts.max(2) >= 0.95 - 1e-9) & (experts.argmax(2) != labels)
    assert confident_wrong[0][context < 0].all() and confident_wrong[1][context >= 0].all()
    clean = fusion.regional_experts(4000, [0.7, 0.2, 0.1], rate=0.0, seed=1)[1]
    np.testing.assert_array_equal(experts[0][context >= 0], clean[0][context >= 0])
    np.testing.assert_array_equal(experts[1][context < 0], clean[1][context < 0])


@pytest.fixture(scope="module")
def gate_results():
    """Chapter 03 shows seeds 0–4; these are seeds it does not use."""
    return fusion.gate_over_seeds(range(5, 11), [0.7, 0.2, 0.1])


def test_learned_gate_beats_the_fixed_mixture_on_every_seed(gate_results) -> None:
    acc, nll = gate_results["accuracy"], gate_results["nll"]
    assert np.all(acc["learned gate"] - acc["w = 0.5"] > 0.05), acc
    assert np.all(nll["w = 0.5"] - nll["learned gate"] > 0.1), nll
    assert np.all(acc["learned gate"] > np.maximum(acc["expert v"], acc["expert t"])), acc


def test_gate_ablation_credits_the_gain_to_the_input(gate_results) -> None:
    """With its input switched off the gate is a fitted constant weight: no better in NLL than w = 0.5
    (within 0.02), and clearly below the learned gate on every seed."""
    acc, nll = gate_results["accuracy"], gate_results["nll"]
    assert np.all(np.abs(nll["gate, no input"] - nll["w = 0.5"]) < 0.02), nll
    assert np.all(acc["learned gate"] - acc["gate, no input"] > 0.05), acc
    assert np.all(nll["gate, no input"] - nll["learned gate"] > 0.1), nll


def test_gate_figure_draws() -> None:
    from helpers import plots

    assert len(plots.gate_weight_panel(np.linspace(-1, 1, 5), np.linspace(0, 1, 5)).axes) == 1
    with pytest.raises(ValueError, match="weight_v"):
        plots.gate_weight_panel(np.zeros(3), np.zeros(4))
