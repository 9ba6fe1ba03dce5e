"""Input checks shared by the public functions and the estimators."""

import numpy as np
from sklearn.utils import check_array


def check_dictionary(
    dictionary, *, n_features=None, n_components=None, dtype=None, name="dictionary"
):
    """Validate a dictionary: 2-D, finite, no atom of zero norm.

    Returns a new array (never the caller's) of ``dtype`` when given. ``name``
    is the parameter the errors name.
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
    norms = np.linalg.norm(dictionary, axis=1)
    if np.any(norms == 0):
        raise ValueError(
            f"The '{name}' parameter has atoms of zero norm (rows "
            f"{np.flatnonzero(norms == 0)[:10].tolist()}); every atom must be nonzero."
        )
    return dictionary


def check_code(code, *, n_samples, n_components, dtype, name):
    """Validate a code matrix (warm start, inverse_transform input)."""
    code = check_array(code, dtype=dtype, input_name=name)
    if code.shape != (n_samples, n_components):
        raise ValueError(
            f"The '{name}' parameter must have shape ({n_samples}, {n_components}); "
            f"got {code.shape}."
        )
    return code
