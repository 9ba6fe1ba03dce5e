"""The numba kernels of :mod:`sklearn_lsc._fused` (imported only when numba is installed)."""

import numba

# Not "fast" in full: no-NaN/no-inf assumptions would hide an overflow that
# the transform must report; reassociation vectorizes the sums.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_OPTIONS = dict(parallel=True, cache=True, fastmath=_FASTMATH)


@numba.njit(**_OPTIONS)
def threshold(B, thresholds, code, l1, slope, positive):
    """``B <- soft(B, t)`` in place; each row's l1 norm into ``l1``, ``<s, code>`` into ``slope``.

    ``positive``: the one-sided shrink ``max(B - t, 0)`` (nonnegative codes).

    ``s`` is the sign of the thresholded ``B``, or of ``code`` where it is
    zero (the linearised penalty of :class:`RescaledLISTA`). The first layer,
    which has no previous code, passes ``B`` as ``code`` and ignores ``slope``.
    """
    n_samples, n_components = B.shape
    for i in numba.prange(n_samples):
        total = l1.dtype.type(0)
        along = l1.dtype.type(0)
        for j in range(n_components):
            value, t = B[i, j], thresholds[j]
            if positive:
                shrunk = max(value - t, B.dtype.type(0))
            else:
                shrunk = value - min(max(value, -t), t)
            B[i, j] = shrunk
            total += abs(shrunk)
            z = code[i, j]
            along += abs(z) if shrunk * z >= 0 else -abs(z)
        l1[i] = total
        slope[i] = along


@numba.njit(**_OPTIONS)
def first_plane(X, G, image, alpha, l1, tiny, weight, gain, Y, B, residual, fits, energies):
    """The first layer: ``G`` to its best multiple (``image = G D`` too), then the point ahead.

    ``weight`` is the second layer's ``1 + momentum`` (``Y = weight G``).
    The output's ``<x, Z D>`` and ``||Z D||^2`` go to ``fits`` and
    ``energies`` (float64), for the next layer.
    """
    n_samples, n_components = G.shape
    for i in numba.prange(n_samples):
        fit, energy = 0.0, 0.0
        for j in range(X.shape[1]):
            fit += X[i, j] * image[i, j]
            energy += image[i, j] * image[i, j]
        factor = G.dtype.type(max((fit - alpha * l1[i]) / max(energy, tiny), 0.0))
        # Y = lerp(0, G, weight): "previous" is zero before the first layer.
        for j in range(n_components):
            z = factor * G[i, j]
            G[i, j] = z
            y = weight * z
            Y[i, j] = y
            B[i, j] = y * gain[j]
        fit, energy = 0.0, 0.0
        for j in range(X.shape[1]):
            z_d = factor * image[i, j]
            image[i, j] = z_d
            fit += X[i, j] * z_d
            energy += z_d * z_d
            residual[i, j] = X[i, j] - weight * z_d
        fits[i], energies[i] = fit, energy


@numba.njit(**_OPTIONS)
def plane(X, G, image, code, approximation, alpha, l1, slope, condition, tiny, weight, gain, Y,
          residual, fits, energies, last, positive):  # fmt: skip
    """A later layer's output, ``a G + b Z``, into ``G`` (and ``image``); then the point ahead.

    :meth:`RescaledLISTA._coefficients` per row: the best multiple of
    ``G``, or the rescaled minimiser of the linearised model on the plane
    of ``G`` and ``Z`` (``code``) when its exact objective is lower.
    ``fits`` and ``energies`` hold ``<x, Z D>`` and ``||Z D||^2`` and
    receive the output's. Unless ``last``, the next layer's ``Y g``
    overwrites ``code``. ``positive``: a point of the plane with a negative
    entry is not taken (nonnegative codes).
    """
    n_samples, n_components = G.shape
    for i in numba.prange(n_samples):
        fit, energy, cross = 0.0, 0.0, 0.0
        for j in range(X.shape[1]):
            g_d = image[i, j]
            fit += X[i, j] * g_d
            energy += g_d * g_d
            cross += g_d * approximation[i, j]
        fit_code, energy_code = fits[i], energies[i]
        penalty = alpha * l1[i]
        factor = max((fit - penalty) / max(energy, tiny), 0.0)
        a_out, b_out = factor, 0.0
        determinant = energy * energy_code - cross * cross
        if determinant > condition * energy * energy_code:
            linear = alpha * slope[i]
            inverse = 1.0 / determinant
            a = (energy_code * (fit - penalty) - cross * (fit_code - linear)) * inverse
            b = (energy * (fit_code - linear) - cross * (fit - penalty)) * inverse
            a_cast, b_cast = G.dtype.type(a), G.dtype.type(b)
            magnitude = G.dtype.type(0)
            lowest = G.dtype.type(0)
            # Two loops: a min reduction would stop the first one vectorizing.
            for j in range(n_components):
                magnitude += abs(a_cast * G[i, j] + b_cast * code[i, j])
            if positive:
                for j in range(n_components):
                    lowest = min(lowest, a_cast * G[i, j] + b_cast * code[i, j])
            planar_penalty = alpha * magnitude
            planar_fit = a * fit + b * fit_code
            planar_energy = a * a * energy + 2 * a * b * cross + b * b * energy_code
            rescale = max((planar_fit - planar_penalty) / max(planar_energy, tiny), 0.0)
            planar = rescale * (0.5 * rescale * planar_energy - planar_fit + planar_penalty)
            scaled = factor * (0.5 * factor * energy - fit + penalty)
            if planar < scaled and not (positive and lowest < 0):
                a_out, b_out = rescale * a, rescale * b
        a_cast, b_cast = G.dtype.type(a_out), G.dtype.type(b_out)
        if last:
            for j in range(n_components):
                new = a_cast * G[i, j] + b_cast * code[i, j]
                G[i, j] = max(new, G.dtype.type(0)) if positive else new
            continue  # the last layer's image is not needed
        # The output, and from it and Z the next layer's Y = lerp(Z, output,
        # weight), Y g (into ``code``: each entry read before it is written)
        # and X - Y D; the output's fit and energy.
        for j in range(n_components):
            old = code[i, j]
            new = a_cast * G[i, j] + b_cast * old
            if positive:  # checked above, but the products may round differently here
                new = max(new, G.dtype.type(0))
            G[i, j] = new
            y = old + weight * (new - old)
            Y[i, j] = y
            code[i, j] = y * gain[j]
        fit, energy = 0.0, 0.0
        for j in range(X.shape[1]):
            old = approximation[i, j]
            new = a_cast * image[i, j] + b_cast * old
            image[i, j] = new
            fit += X[i, j] * new
            energy += new * new
            residual[i, j] = X[i, j] - (old + weight * (new - old))
        fits[i], energies[i] = fit, energy
