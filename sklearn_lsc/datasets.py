"""Data for sparse coding: synthetic signals with known structure, and real ones."""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from ._sklearn_compat import Interval, validate_params

__all__ = ["load_digits_problem", "load_texture_patches", "make_group_sparse_signals"]


@validate_params(
    {
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_features": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_groups": [Interval(numbers.Integral, 1, None, closed="left")],
        "group_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_active_groups": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_nonzero_per_group": [Interval(numbers.Integral, 1, None, closed="left")],
        "noise": [Interval(numbers.Real, 0, None, closed="left")],
        "set_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_group_sparse_signals(
    n_samples=1000,
    n_features=64,
    n_groups=8,
    group_size=16,
    n_active_groups=2,
    n_nonzero_per_group=4,
    noise=0.01,
    set_size=1,
    random_state=None,
):
    """Generate signals that are group-sparse under a random dictionary.

    Each signal combines ``n_nonzero_per_group`` random atoms from each of
    ``n_active_groups`` random groups, with standard normal coefficients, plus
    Gaussian noise of standard deviation ``noise`` (the setting of Figure 3 of
    Sprechmann et al. 2012). Groups are contiguous blocks of ``group_size``
    atoms. With ``set_size > 1``, runs of ``set_size`` consecutive signals
    share their active groups (each signal drawing its own atoms and
    coefficients in them): the setting of collaborative HiLasso, whose
    ``sets`` are then ``np.arange(n_samples) // set_size``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of signals.

    n_features : int, default=64
        Dimension of the signals.

    n_groups : int, default=8
        Number of groups of atoms.

    group_size : int, default=16
        Atoms per group.

    n_active_groups : int, default=2
        Groups active in each signal (at most ``n_groups``).

    n_nonzero_per_group : int, default=4
        Nonzero coefficients in each active group (at most ``group_size``).

    noise : float, default=0.01
        Standard deviation of the additive Gaussian noise.

    set_size : int, default=1
        Consecutive signals sharing their active groups (the last run may
        be shorter).

    random_state : int, RandomState instance or None, default=None
        Seeds the dictionary, the supports, the coefficients and the noise.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The signals.

    dictionary : ndarray of shape (n_groups * group_size, n_features)
        The dictionary, atoms of unit norm; group ``g`` is atoms
        ``g * group_size`` to ``(g + 1) * group_size - 1``.

    code : ndarray of shape (n_samples, n_groups * group_size)
        The true codes: ``X = code @ dictionary + noise``.

    active_groups : ndarray of shape (n_samples, n_groups)
        1 where a group is active in a signal, else 0.

    Examples
    --------
    >>> from sklearn_lsc.datasets import make_group_sparse_signals
    >>> X, dictionary, code, active = make_group_sparse_signals(
    ...     n_samples=5, random_state=0
    ... )
    >>> X.shape, dictionary.shape, code.shape, active.sum(axis=1).tolist()
    ((5, 64), (128, 64), (5, 128), [2, 2, 2, 2, 2])
    """
    if n_active_groups > n_groups:
        raise ValueError(
            f"The 'n_active_groups' parameter ({n_active_groups}) exceeds n_groups ({n_groups})."
        )
    if n_nonzero_per_group > group_size:
        raise ValueError(
            f"The 'n_nonzero_per_group' parameter ({n_nonzero_per_group}) exceeds "
            f"group_size ({group_size})."
        )
    rng = check_random_state(random_state)
    n_components = n_groups * group_size
    dictionary = rng.standard_normal((n_components, n_features))
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)

    # Random subsets without loops: the first k of a random permutation per row.
    n_sets = -(-n_samples // set_size)
    groups = np.argsort(rng.random_sample((n_sets, n_groups)), axis=1)[:, :n_active_groups]
    groups = np.repeat(groups, set_size, axis=0)[:n_samples]
    within = np.argsort(rng.random_sample((n_samples, n_active_groups, group_size)), axis=2)
    atoms = groups[:, :, None] * group_size + within[:, :, :n_nonzero_per_group]
    atoms = atoms.reshape(n_samples, -1)

    code = np.zeros((n_samples, n_components))
    np.put_along_axis(code, atoms, rng.standard_normal(atoms.shape), axis=1)
    active_groups = np.zeros((n_samples, n_groups), dtype=np.int64)
    np.put_along_axis(active_groups, groups, 1, axis=1)
    X = code @ dictionary + noise * rng.standard_normal((n_samples, n_features))
    return X, dictionary, code, active_groups


@validate_params(
    {
        "textures": ["array-like", str],
        "n_patches": [Interval(numbers.Integral, 1, None, closed="left")],
        "patch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_texture_patches(
    textures=("brick", "grass", "gravel"), n_patches=10_000, patch_size=8, random_state=None
):
    """Load randomly located patches of texture images, one texture after another.

    The images are the grayscale textures bundled with scikit-image (no
    download; scikit-image is an optional dependency, in the ``examples``
    extra). Patches come in blocks, ``n_patches`` from each texture in the
    order given: a stream whose character changes at each block (the setting
    of Figure 2 of Sprechmann et al. 2012, with Brodatz textures there).

    Parameters
    ----------
    textures : str or sequence of str, default=("brick", "grass", "gravel")
        Names of grayscale images of ``skimage.data``.

    n_patches : int, default=10_000
        Patches per texture.

    patch_size : int, default=8
        Side of the square patches, in pixels.

    random_state : int, RandomState instance or None, default=None
        Seeds the patch locations.

    Returns
    -------
    X : ndarray of shape (n_textures * n_patches, patch_size ** 2)
        The patches, flattened, intensities in [0, 1] (not centred).

    texture : ndarray of shape (n_textures * n_patches,)
        The index in ``textures`` of each patch's image.

    Examples
    --------
    >>> from sklearn_lsc.datasets import load_texture_patches
    >>> X, texture = load_texture_patches(n_patches=5, random_state=0)
    >>> X.shape, texture.tolist()
    ((15, 64), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    """
    try:
        from skimage import data
    except ImportError:
        raise ImportError(
            "load_texture_patches needs scikit-image: pip install scikit-image "
            '(or pip install "sklearn-lsc[examples]").'
        ) from None
    from sklearn.feature_extraction.image import extract_patches_2d

    names = [textures] if isinstance(textures, str) else list(textures)
    rng = check_random_state(random_state)
    blocks = []
    for name in names:
        known = isinstance(name, str) and name in data.__all__
        image = getattr(data, name) if known else None
        if not callable(image) or "download" in name or "filename" in name:
            raise ValueError(f"The 'textures' parameter names no image of skimage.data: {name!r}.")
        pixels = np.asarray(image(), dtype=np.float64)
        if pixels.ndim != 2:
            raise ValueError(f"The 'textures' parameter names {name!r}, which is not grayscale.")
        patches = extract_patches_2d(
            pixels / 255.0, (patch_size, patch_size), max_patches=n_patches, random_state=rng
        )
        blocks.append(patches.reshape(n_patches, -1))
    texture = np.repeat(np.arange(len(names)), n_patches)
    return np.concatenate(blocks), texture


def _normalized_digits():
    """scikit-learn's digits, each row centred and scaled to unit norm (flat rows stay zero)."""
    from sklearn.datasets import load_digits

    X = load_digits().data
    X = X - X.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


@validate_params(
    {
        "n_train": [Interval(numbers.Integral, 1, 1796, closed="both")],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_problem(*, n_train=1500, n_components=128, random_state=None):
    """Load a sparse-coding problem on scikit-learn's digits: the demo's data.

    The 1,797 digits (8x8 images, 64 features), each row centred and scaled
    to unit norm, in a random order: the first ``n_train`` rows train, the
    rest are held out, and the dictionary is ``n_components`` training rows
    drawn at random (of unit norm, never a flat all-zero row). With
    ``alpha=0.1`` this is the problem of ``python -m sklearn_lsc demo``
    (``random_state=0``).

    Parameters
    ----------
    n_train : int, default=1500
        Training rows, at most 1,796 (at least one row is held out).

    n_components : int, default=128
        Atoms drawn from the training rows.

    random_state : int, RandomState instance or None, default=None
        Seeds the order of the rows and the draw of the atoms.

    Returns
    -------
    X_train : ndarray of shape (n_train, 64), dtype float32
        Training rows.

    X_test : ndarray of shape (1797 - n_train, 64), dtype float32
        Held-out rows.

    dictionary : ndarray of shape (n_components, 64), dtype float32
        Atoms, one per row.

    Examples
    --------
    >>> from sklearn_lsc.datasets import load_digits_problem
    >>> X_train, X_test, dictionary = load_digits_problem(random_state=0)
    >>> X_train.shape, X_test.shape, dictionary.shape
    ((1500, 64), (297, 64), (128, 64))
    """
    rng = check_random_state(random_state)
    X = _normalized_digits()
    X = X[rng.permutation(X.shape[0])].astype(np.float32)
    X_train, X_test = X[:n_train], X[n_train:]
    usable = np.flatnonzero(np.linalg.norm(X_train, axis=1) > 0)
    if n_components > usable.size:
        raise ValueError(
            f"The 'n_components' parameter ({n_components}) exceeds the {usable.size} "
            "non-flat training rows the atoms are drawn from: lower it or raise n_train."
        )
    dictionary = X_train[rng.choice(usable, n_components, replace=False)]
    return X_train, X_test, dictionary
