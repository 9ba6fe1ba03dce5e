"""Synthetic group-sparse signals."""

import numpy as np
import pytest

from sklearn_lsc.datasets import load_digits_problem, make_group_sparse_signals


def test_signals_are_group_sparse_under_the_dictionary():
    X, D, code, active = make_group_sparse_signals(
        n_samples=200,
        n_features=64,
        n_groups=8,
        group_size=16,
        n_active_groups=2,
        n_nonzero_per_group=4,
        noise=0.01,
        random_state=0,
    )
    assert X.shape == (200, 64) and D.shape == (128, 64) and code.shape == (200, 128)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    blocks = code.reshape(200, 8, 16)
    np.testing.assert_array_equal((blocks != 0).any(axis=2), active.astype(bool))
    assert np.all(active.sum(axis=1) == 2)
    assert np.all((blocks != 0).sum(axis=2)[active == 1] == 4)
    assert np.all((blocks != 0).sum(axis=2)[active == 0] == 0)
    noise = X - code @ D
    assert 0.005 < noise.std() < 0.02


def test_same_seed_same_data_and_noise_free_signals_are_exact():
    first = make_group_sparse_signals(n_samples=10, noise=0.0, random_state=3)
    second = make_group_sparse_signals(n_samples=10, noise=0.0, random_state=3)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    X, D, code, _ = first
    np.testing.assert_allclose(X, code @ D)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_active_groups": 9}, "n_active_groups"),
        ({"n_nonzero_per_group": 17}, "n_nonzero_per_group"),
        ({"noise": -1.0}, "noise"),
        ({"n_groups": 0}, "n_groups"),
    ],
)
def test_bad_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_group_sparse_signals(**kwargs)


def test_texture_patches_come_in_blocks_from_the_named_images():
    skimage_data = pytest.importorskip("skimage.data")
    from sklearn_lsc.datasets import load_texture_patches

    X, texture = load_texture_patches(("grass", "brick"), n_patches=50, random_state=0)
    assert X.shape == (100, 64) and texture.tolist() == [0] * 50 + [1] * 50
    assert 0.0 <= X.min() and X.max() <= 1.0
    # Every patch is a window of its image.
    grass = skimage_data.grass() / 255.0
    windows = np.lib.stride_tricks.sliding_window_view(grass, (8, 8)).reshape(-1, 64)
    first = X[0]
    assert np.any(np.all(np.isclose(windows, first), axis=1))
    again, _ = load_texture_patches(("grass", "brick"), n_patches=50, random_state=0)
    np.testing.assert_array_equal(X, again)


@pytest.mark.parametrize("textures", ["nope", "data_dir", "download_all", "astronaut"])
def test_bad_texture_names_are_refused(textures):
    pytest.importorskip("skimage")
    from sklearn_lsc.datasets import load_texture_patches

    with pytest.raises(ValueError, match="textures"):
        load_texture_patches(textures, n_patches=2)


def test_digits_problem_is_a_reproducible_disjoint_split():
    X_train, X_test, dictionary = load_digits_problem(
        n_train=1000, n_components=50, random_state=3
    )
    assert X_train.shape == (1000, 64) and X_test.shape == (797, 64)
    assert dictionary.shape == (50, 64) and dictionary.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(dictionary, axis=1), 1.0, rtol=1e-5)
    # Each atom is a training row; held-out rows are not training rows.
    train_rows = {row.tobytes() for row in X_train}
    assert all(atom.tobytes() in train_rows for atom in dictionary)
    assert len(train_rows & {row.tobytes() for row in X_test}) <= 2  # digits repeat rarely
    again = load_digits_problem(n_train=1000, n_components=50, random_state=3)
    for first, second in zip((X_train, X_test, dictionary), again, strict=True):
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(n_train=0), "n_train"),
        (dict(n_train=1797), "n_train"),
        (dict(n_components=0), "n_components"),
        (dict(n_train=10, n_components=11), "n_components"),
    ],
)
def test_digits_problem_refuses_bad_sizes(params, match):
    with pytest.raises(ValueError, match=match):
        load_digits_problem(**params)
