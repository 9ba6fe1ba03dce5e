"""Input checks shared by the public functions and the estimators."""

import numpy as np
from sklearn.utils import check_array

# An entry of an atom below 2**-_NEGLIGIBLE_EXPONENT times its largest is zeroed.
_NEGLIGIBLE_EXPONENT = 100


def check_dictionary(
    dictionary, *, n_features=None, n_components=None, dtype=None, name="dictionary"
):
    """Validate a dictionary: 2-D, finite, no atom of zero norm.

    Returns a new array (never the caller's) of ``dtype`` when given, its
    negligible entries zeroed (see below). ``name`` is the parameter the
    errors name.
    """
    dictionary = check_array(
        dictionary,
        dtype=[np.float64, np.float32] if dtype is None else dtype,
        input_name=name,
        copy=True,
    )
    if n_features is not None and dictionary.shape[1] != n_features:
        raise ValueError(
            f"The '{name}' parameter has {dictionary.shape[1]} features per atom, "
            f"but X has {n_features} features."
        )
    if n_components is not None and dictionary.shape[0] != n_components:
        raise ValueError(
            f"The '{name}' parameter has {dictionary.shape[0]} atoms, but "
            f"n_components={n_components}."
        )
    zero = ~np.any(dictionary != 0, axis=1)  # (not norms: they overflow for huge atoms)
    if np.any(zero):
        raise ValueError(
            f"The '{name}' parameter has atoms of zero norm (rows "
            f"{np.flatnonzero(zero)[:10].tolist()}); every atom must be nonzero. A "
            "zero atom's coefficient is zero in every optimal code (a regularized "
            "NMF leaves such components): drop those rows, e.g. "
            f"{name}[np.any({name} != 0, axis=1)], and read their codes as zeros."
        )
    # Entries below 2**-100 of their atom's largest are zeroed: they change no
    # product by more than rounding does, but multiplicative updates (NMF)
    # leave such entries subnormal, and arithmetic on subnormal numbers is
    # very slow on x86 CPUs.
    peak = np.max(np.abs(dictionary), axis=1, keepdims=True)
    dictionary[np.abs(dictionary) < np.ldexp(peak, -_NEGLIGIBLE_EXPONENT)] = 0.0
    return dictionary


def stable_row_norms(X):
    """Euclidean norms of the rows of ``X`` in float64, without overflow or underflow."""
    X = np.asarray(X, dtype=np.float64)
    peak = np.max(np.abs(X), axis=1) if X.shape[1] else np.zeros(X.shape[0])
    safe = np.where(peak > 0, peak, 1.0)
    return peak * np.linalg.norm(X / safe[:, None], axis=1)


def check_code(code, *, n_samples, n_components, dtype, name):
    """Validate a code matrix (warm start, inverse_transform input)."""
    code = check_array(code, dtype=dtype, input_name=name)
    if code.shape != (n_samples, n_components):
        raise ValueError(
            f"The '{name}' parameter must have shape ({n_samples}, {n_components}); "
            f"got {code.shape}."
        )
    return code
