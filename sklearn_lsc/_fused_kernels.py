"""The numba kernels of :mod:`sklearn_lsc._fused`, :mod:`sklearn_lsc._fused_lista`,
:mod:`sklearn_lsc._fused_lbcofb`, :mod:`sklearn_lsc._fused_analytic` and the
dictionary step (imported only when numba is installed)."""

import numba
import numpy as np

# Not "fast" in full: no-NaN/no-inf assumptions would hide an overflow that
# the transform must report; reassociation vectorizes the sums.
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_OPTIONS = dict(parallel=True, cache=True, fastmath=_FASTMATH)


# Rows of a parallel task in the sparse product: each task allocates one
# list of active atoms, reused for its rows; small, so that a short batch
# still makes tasks for every thread.
_ROWS_PER_TASK = 16


@numba.njit(inline="always", fastmath=_FASTMATH)
def _shrunk(value, t, positive, zero):
    """The l1 shrink of ``value`` by ``t >= 0``, one-sided with ``positive``."""
    if positive:
        return max(value - t, zero)
    return value - min(max(value, -t), t)


@numba.njit(**_OPTIONS)
def threshold(B, thresholds, code, l1, slope, positive, counts):
    """``B <- soft(B, t)`` in place; each row's l1 norm into ``l1``, ``<s, code>`` into ``slope``,
    its number of nonzero entries into ``counts``.

    ``positive``: the one-sided shrink ``max(B - t, 0)`` (nonnegative codes).

    ``s`` is the sign of the thresholded ``B``, or of ``code`` where it is
    zero (the linearised penalty of :class:`RescaledLISTA`). The first layer,
    which has no previous code, passes ``B`` as ``code`` and ignores ``slope``.
    """
    n_samples, n_components = B.shape
    for i in numba.prange(n_samples):
        total = l1.dtype.type(0)
        along = l1.dtype.type(0)
        count = 0
        for j in range(n_components):
            shrunk = _shrunk(B[i, j], thresholds[j], positive, B.dtype.type(0))
            B[i, j] = shrunk
            total += abs(shrunk)
            count += shrunk != 0
            z = code[i, j]
            along += abs(z) if shrunk * z >= 0 else -abs(z)
        l1[i] = total
        slope[i] = along
        counts[i] = count


@numba.njit(**_OPTIONS)
def shrink(B, thresholds, positive, counts):
    """``B <- soft(B, t)`` in place (one-sided with ``positive``); each row's
    number of nonzero entries into ``counts``."""
    n_samples, n_components = B.shape
    for i in numba.prange(n_samples):
        count = 0
        for j in range(n_components):
            shrunk = _shrunk(B[i, j], thresholds[j], positive, B.dtype.type(0))
            B[i, j] = shrunk
            count += shrunk != 0
        counts[i] = count


@numba.njit(**_OPTIONS)
def sparse_product(code, matrix, start, out, subtract, limit):
    """``out <- start - code @ matrix`` (``subtract``) or ``out <- code @ matrix``
    for each row of ``code`` with at most ``limit`` nonzero entries, reading
    only the rows of ``matrix`` that they select; rows with more are left.

    Each row first lists its nonzero entries (:func:`_list_nonzero`), then
    adds their rows of ``matrix`` (:func:`_add_rows`). With ``subtract``
    false, ``start`` is not read. Zero codes are skipped, not multiplied: a
    non-finite entry of ``matrix`` that a row does not select does not reach
    it (BLAS would make it a NaN).
    """
    n_samples, n_components = code.shape
    sign = code.dtype.type(-1) if subtract else code.dtype.type(1)
    for task in numba.prange((n_samples + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK):
        active = np.empty(n_components, np.uintp)
        first = task * _ROWS_PER_TASK
        for i in range(first, min(n_samples, first + _ROWS_PER_TASK)):
            count = _list_nonzero(code, i, active)
            if count > limit:
                continue
            if subtract:
                for f in range(out.shape[1]):
                    out[i, f] = start[i, f]
            else:
                for f in range(out.shape[1]):
                    out[i, f] = 0
            _add_rows(code, i, active, count, sign, matrix, out)


@numba.njit(**_OPTIONS)
def sparse_products(code, matrix, out, extra, extra_out, limit):
    """``out <- code @ matrix`` and ``extra_out <- code @ extra``, as
    :func:`sparse_product` does one product: rows of ``code`` with at most
    ``limit`` nonzero entries, listed once for both."""
    n_samples, n_components = code.shape
    one = code.dtype.type(1)
    for task in numba.prange((n_samples + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK):
        active = np.empty(n_components, np.uintp)
        first = task * _ROWS_PER_TASK
        for i in range(first, min(n_samples, first + _ROWS_PER_TASK)):
            count = _list_nonzero(code, i, active)
            if count > limit:
                continue
            for f in range(out.shape[1]):
                out[i, f] = 0
            for f in range(extra_out.shape[1]):
                extra_out[i, f] = 0
            _add_rows(code, i, active, count, one, matrix, out)
            _add_rows(code, i, active, count, one, extra, extra_out)


@numba.njit(inline="always")
def _list_nonzero(code, i, active):
    """Row ``i``'s nonzero entries' indices into ``active``; returns their number.

    Without a branch: every index is written, the count moves on at a nonzero.
    """
    count = 0
    for j in range(code.shape[1]):
        active[count] = j
        count += code[i, j] != 0
    return count


@numba.njit(inline="always", fastmath=_FASTMATH)
def _add_rows(code, i, active, count, sign, matrix, out):
    """``out[i] += sign * code[i, j] * matrix[j]`` for the ``count`` listed ``j``,
    four at a time (one load and store of ``out`` for four rows)."""
    a = 0
    while a + 4 <= count:
        j0, j1, j2, j3 = active[a], active[a + 1], active[a + 2], active[a + 3]
        v0, v1 = sign * code[i, j0], sign * code[i, j1]
        v2, v3 = sign * code[i, j2], sign * code[i, j3]
        for f in range(matrix.shape[1]):
            out[i, f] += (
                v0 * matrix[j0, f] + v1 * matrix[j1, f] + (v2 * matrix[j2, f] + v3 * matrix[j3, f])
            )
        a += 4
    while a < count:
        j = active[a]
        v = sign * code[i, j]
        for f in range(matrix.shape[1]):
            out[i, f] += v * matrix[j, f]
        a += 1


@numba.njit(**_OPTIONS)
def first_plane(X, G, image, alpha, l1, tiny, weight, gain, B, stacked, projected, carried, rank,
                fits, energies):  # fmt: skip
    """The first layer: ``G`` to its best multiple (``image = G D`` too), then the point ahead.

    ``weight`` is the second layer's ``1 + momentum``: the point ahead is
    ``Y = weight Z``, and ``Y g`` goes to ``B``. ``stacked`` receives the
    second layer's ``[X - Y D | Y U]`` (``U`` of ``rank`` columns);
    ``projected`` holds ``G U'``, ``U'`` every later layer's ``U`` side by
    side, and ``carried`` receives the output's ``Z U'`` (see :func:`plane`).
    The output's ``<x, Z D>`` and ``||Z D||^2`` go to ``fits`` and
    ``energies`` (float64), for the next layer.
    """
    n_samples, n_components = G.shape
    n_features = X.shape[1]
    for i in numba.prange(n_samples):
        fit, energy = 0.0, 0.0
        for j in range(n_features):
            fit += X[i, j] * image[i, j]
            energy += image[i, j] * image[i, j]
        factor = G.dtype.type(max((fit - alpha * l1[i]) / max(energy, tiny), 0.0))
        # Y = lerp(0, Z, weight): "previous" is zero before the first layer.
        for j in range(n_components):
            z = factor * G[i, j]
            G[i, j] = z
            B[i, j] = weight * z * gain[j]
        fit, energy = 0.0, 0.0
        for j in range(n_features):
            z_d = factor * image[i, j]
            image[i, j] = z_d
            fit += X[i, j] * z_d
            energy += z_d * z_d
            stacked[i, j] = X[i, j] - weight * z_d
        fits[i], energies[i] = fit, energy
        for c in range(projected.shape[1]):
            carried[i, c] = factor * projected[i, c]
        for c in range(rank):
            stacked[i, n_features + c] = weight * carried[i, c]


@numba.njit(**_OPTIONS)
def plane(X, G, image, code, approximation, alpha, l1, slope, condition, tiny, weight, gain,
          stacked, projected, carried, rank, fits, energies, last, positive):  # fmt: skip
    """A later layer's output, ``a G + b Z``, into ``G`` (and ``image``); then the point ahead.

    :meth:`RescaledLISTA._coefficients` per row: the best multiple of
    ``G``, or the rescaled minimiser of the linearised model on the plane
    of ``G`` and ``Z`` (``code``) when its exact objective is lower.
    ``fits`` and ``energies`` hold ``<x, Z D>`` and ``||Z D||^2`` and
    receive the output's. ``positive``: a point of the plane with a
    negative entry is not taken (nonnegative codes).

    Unless ``last``, the next layer's ``Y g`` overwrites ``code`` and its
    ``[X - Y D | Y U]`` goes to ``stacked``. ``Y U`` is not a product with
    ``Y``: the codes' products with every later layer's ``U`` are carried
    from layer to layer as their images are. ``projected`` holds ``G U'``
    (``U'`` every later layer's ``U`` side by side, the next layer's first);
    ``carried``'s last as many columns hold ``Z U'`` and receive the
    output's, of which the next layer's ``rank`` columns give ``Y U``.
    """
    n_samples, n_components = G.shape
    n_features = X.shape[1]
    offset = carried.shape[1] - projected.shape[1]
    for i in numba.prange(n_samples):
        fit, energy, cross = 0.0, 0.0, 0.0
        for j in range(n_features):
            g_d = image[i, j]
            fit += X[i, j] * g_d
            energy += g_d * g_d
            cross += g_d * approximation[i, j]
        a_cast, b_cast = _plane_point(
            G, code, i, fit, energy, cross, fits[i], energies[i], alpha, l1[i], slope[i],
            condition, tiny, positive,
        )  # fmt: skip
        if last:
            for j in range(n_components):
                new = a_cast * G[i, j] + b_cast * code[i, j]
                G[i, j] = max(new, G.dtype.type(0)) if positive else new
            continue  # the last layer's image is not needed
        # The output, and from it and Z the next layer's Y = lerp(Z, output,
        # weight): Y g (into ``code``: each entry read before it is written),
        # X - Y D and Y U; the output's fit and energy.
        for j in range(n_components):
            old = code[i, j]
            new = a_cast * G[i, j] + b_cast * old
            if positive:  # checked above, but the products may round differently here
                new = max(new, G.dtype.type(0))  # (a rounding: the carried Z U' ignore it)
            G[i, j] = new
            code[i, j] = (old + weight * (new - old)) * gain[j]
        fit, energy = 0.0, 0.0
        for j in range(n_features):
            old = approximation[i, j]
            new = a_cast * image[i, j] + b_cast * old
            image[i, j] = new
            fit += X[i, j] * new
            energy += new * new
            stacked[i, j] = X[i, j] - (old + weight * (new - old))
        fits[i], energies[i] = fit, energy
        for c in range(rank):
            old = carried[i, offset + c]
            new = a_cast * projected[i, c] + b_cast * old
            carried[i, offset + c] = new
            stacked[i, n_features + c] = old + weight * (new - old)
        for c in range(rank, projected.shape[1]):
            carried[i, offset + c] = a_cast * projected[i, c] + b_cast * carried[i, offset + c]


@numba.njit(inline="always", fastmath=_FASTMATH)
def _plane_point(G, code, i, fit, energy, cross, fit_code, energy_code, alpha, l1, slope,
                 condition, tiny, positive):  # fmt: skip
    """Row ``i``'s ``(a, b)``, in ``G``'s dtype: the layer's output is ``a G + b Z``.

    :meth:`RescaledLISTA._coefficients` from the row's inner products (``fit``,
    ``energy``: ``<x, G D>``, ``||G D||^2``; ``cross``: ``<G D, Z D>``; the
    same of ``Z``), ``l1 = ||G||_1`` and ``slope`` the linearised ``<s, Z>``:
    the best multiple of ``G``, or the rescaled minimiser of the linearised
    model on the plane of ``G`` and ``Z`` (``code``) when its exact objective
    is lower. ``positive``: a point with a negative entry is not taken.
    """
    n_components = G.shape[1]
    penalty = alpha * l1
    factor = max((fit - penalty) / max(energy, tiny), 0.0)
    a_out, b_out = factor, 0.0
    determinant = energy * energy_code - cross * cross
    if determinant > condition * energy * energy_code:
        linear = alpha * slope
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
    return G.dtype.type(a_out), G.dtype.type(b_out)


# The same layers in the code's space, for dictionaries with few atoms
# (:func:`sklearn_lsc._fused._uses_gram`): images are ``Z Gram`` (``Gram = D
# D^T``), so ``<x, Z D> = <c, Z>`` (``c = X D^T``), ``||Z D||^2 = <Z, Z Gram>``
# and ``<G D, Z D> = <G Gram, Z>``; every pass is over the atoms, none over
# the features, and the layer's matrix on the point ahead is folded into one
# product (``B = [X | Y] [W_t ; M_t]``).


@numba.njit(**_OPTIONS)
def first_plane_gram(correlations, G, image, alpha, l1, tiny, weight, Y, fits, energies):
    """:func:`first_plane` in the code's space: ``image`` holds ``G Gram``; ``Y``
    receives the point ahead (``weight`` times the output)."""
    n_samples, n_components = G.shape
    for i in numba.prange(n_samples):
        fit, energy = 0.0, 0.0
        for j in range(n_components):
            fit += correlations[i, j] * G[i, j]
            energy += G[i, j] * image[i, j]
        factor = max((fit - alpha * l1[i]) / max(energy, tiny), 0.0)
        factor_cast = G.dtype.type(factor)
        for j in range(n_components):
            z = factor_cast * G[i, j]
            G[i, j] = z
            image[i, j] *= factor_cast
            Y[i, j] = weight * z
        fits[i], energies[i] = factor * fit, factor * factor * energy


@numba.njit(**_OPTIONS)
def plane_gram(correlations, G, image, code, approximation, alpha, l1, slope, condition, tiny,
               weight, Y, fits, energies, last, positive):  # fmt: skip
    """:func:`plane` in the code's space: ``image`` and ``approximation`` hold ``G
    Gram`` and ``Z Gram``; the output goes to ``G`` and its image to ``image``,
    the next layer's point ahead to ``Y``. ``code`` is only read."""
    n_samples, n_components = G.shape
    for i in numba.prange(n_samples):
        fit, energy, cross = 0.0, 0.0, 0.0
        for j in range(n_components):
            g = G[i, j]
            fit += correlations[i, j] * g
            energy += g * image[i, j]
            cross += image[i, j] * code[i, j]
        a_cast, b_cast = _plane_point(
            G, code, i, fit, energy, cross, fits[i], energies[i], alpha, l1[i], slope[i],
            condition, tiny, positive,
        )  # fmt: skip
        if last:
            for j in range(n_components):
                new = a_cast * G[i, j] + b_cast * code[i, j]
                G[i, j] = max(new, G.dtype.type(0)) if positive else new
            continue  # the last layer's image is not needed
        fit, energy = 0.0, 0.0
        for j in range(n_components):
            old = code[i, j]
            new = a_cast * G[i, j] + b_cast * old
            if positive:  # checked above, but the products may round differently here
                new = max(new, G.dtype.type(0))
            G[i, j] = new
            Y[i, j] = old + weight * (new - old)
            new_image = a_cast * image[i, j] + b_cast * approximation[i, j]
            image[i, j] = new_image
            fit += correlations[i, j] * new
            energy += new * new_image
        fits[i], energies[i] = fit, energy


@numba.njit(**_OPTIONS)
def prox_and_select(B, code, thresholds, starts, ends, run_groups, depth_runs, groups_are_runs,
                    group_thresholds, block_starts, block_ends, run_blocks, n_blocks,
                    blocks_are_runs, sums, positive, select, counts):  # fmt: skip
    """A structured network's layer between its products, row by row (:class:`LBCoFB`).

    ``B`` <- its proximal point: the l1 shrink with per-atom ``thresholds``
    (one-sided with ``positive``), then each depth's group shrinks, deepest
    first. A depth is a list of runs of consecutive atoms: run ``r`` spans
    atoms ``starts[r]`` to ``ends[r]`` and belongs to group
    ``run_groups[r]`` (a group may span several runs; atoms in no group of
    the depth are in none of its runs); depth ``d`` holds runs
    ``depth_runs[d]`` to ``depth_runs[d + 1]``. With ``select``, the block
    of ``code`` that the proximal point moves most takes its value; blocks
    are runs too (``block_starts``, ``block_ends``, ``run_blocks``). Of tied
    blocks the first met is taken, in block order (torch's ``max``) or,
    where blocks are runs, in atom order: tied moves that are not zero have
    probability zero, and where every move is zero the code does not change.
    ``groups_are_runs`` (``blocks_are_runs``): each group of a depth (each
    block) is one run, whose norm is then the group's. ``sums`` is scratch,
    a row per sample and a column per group, reused for the blocks (unused
    where groups and blocks are runs). With ``select``, each row's number of
    nonzero entries of the new ``code`` goes to ``counts``.
    """
    n_samples, n_components = B.shape
    n_groups = group_thresholds.shape[0]
    zero, one = B.dtype.type(0), B.dtype.type(1)
    for i in numba.prange(n_samples):
        for j in range(n_components):
            B[i, j] = _shrunk(B[i, j], thresholds[j], positive, zero)
        for depth in range(depth_runs.shape[0] - 1):
            first, last = depth_runs[depth], depth_runs[depth + 1]
            if not groups_are_runs:
                for g in range(n_groups):
                    sums[i, g] = 0
                for r in range(first, last):
                    sums[i, run_groups[r]] += _squares(B, i, starts[r], ends[r])
            for r in range(first, last):
                group = run_groups[r]
                total = _squares(B, i, starts[r], ends[r]) if groups_are_runs else sums[i, group]
                norm = max(np.sqrt(total), B.dtype.type(1e-15))
                factor = max(one - group_thresholds[group] / norm, zero)
                for j in range(starts[r], ends[r]):
                    B[i, j] *= factor
        if not select:
            continue
        best, best_move = np.uintp(0), B.dtype.type(-1)
        if blocks_are_runs:  # one run each, not necessarily in the blocks' order
            for r in range(n_blocks):
                move = _changes(B, code, i, block_starts[r], block_ends[r])
                if move > best_move:
                    best, best_move = run_blocks[r], move
        else:
            for block in range(n_blocks):
                sums[i, block] = 0
            for r in range(block_starts.shape[0]):
                sums[i, run_blocks[r]] += _changes(B, code, i, block_starts[r], block_ends[r])
            for block in range(n_blocks):
                if sums[i, block] > best_move:
                    best, best_move = np.uintp(block), sums[i, block]
        for r in range(block_starts.shape[0]):
            if run_blocks[r] == best:
                for j in range(block_starts[r], block_ends[r]):
                    code[i, j] = B[i, j]
        count = 0
        for j in range(n_components):
            count += code[i, j] != 0
        counts[i] = count


@numba.njit(inline="always", fastmath=_FASTMATH)
def _squares(B, i, start, end):
    total = B.dtype.type(0)
    for j in range(start, end):
        total += B[i, j] * B[i, j]
    return total


@numba.njit(inline="always", fastmath=_FASTMATH)
def _changes(B, code, i, start, end):
    total = B.dtype.type(0)
    for j in range(start, end):
        change = B[i, j] - code[i, j]
        total += change * change
    return total


@numba.njit(cache=True, fastmath={"contract"})
def update_atoms(dictionary, A, B_T, positive, skip):
    """:func:`sklearn_lsc._dictionary.update_atoms` in place, ``skip`` a boolean mask
    (the dictionary step's kernel; one thread).

    The updates are sequential (each atom reads the atoms updated before
    it): one loop, no call per atom. Arrays C-contiguous, float64.
    """
    n_atoms, n_features = dictionary.shape
    atom = np.empty(n_features)
    for k in range(n_atoms):
        a_kk = A[k, k]
        if a_kk <= 1e-12 or skip[k]:
            continue
        # u_k = d_k + (b_k - A_k D) / A_kk
        for f in range(n_features):
            atom[f] = B_T[k, f]
        for j in range(n_atoms):
            weight = A[k, j]
            for f in range(n_features):
                atom[f] -= weight * dictionary[j, f]
        squared = 0.0
        for f in range(n_features):
            value = dictionary[k, f] + atom[f] / a_kk
            if positive:
                value = max(value, 0.0)
            atom[f] = value
            squared += value * value
        scale = max(1.0, np.sqrt(squared))
        for f in range(n_features):
            dictionary[k, f] = atom[f] / scale
    return dictionary


@numba.njit(**_OPTIONS)
def analytic_network(C, K, steps, thresholds, weights, momentum, positive, limit, start, code,
                     previous, stopped):  # fmt: skip
    """The layers after the first of a network on an analytic weight
    (:mod:`sklearn_lsc._fused_analytic`), row by row: a row's data stays in
    cache from its second layer to its last.

    Row ``i`` runs from layer ``start[i]`` (none at or past the last): from
    layer 1, ``code`` holds the first layer's output ``Z`` (``h(steps[0]
    C)``); from a later layer, ``code`` and ``previous`` hold ``Z`` and
    ``Z_prev`` as a stopped row left them (below). Layer ``t``'s output is
    ``h(Y + steps[t] (C - Y K))`` from the point ahead ``Y = lerp(Z_prev,
    Z, weights[t - 1])`` (``Z`` itself without ``momentum``), with ``C = X
    W`` and ``K = D W``: the residual's product ``(X - Y D) W`` without
    forming the residual, ``Y K`` reading only the rows of ``K`` that
    ``Y``'s nonzero entries select. ``h`` is the l1 shrink by
    ``thresholds[t]`` (one-sided with ``positive``). A row that runs every
    layer leaves its output in ``code`` and ``stopped`` at the number of
    layers. A row whose ``Y`` has more than ``limit`` nonzero entries at
    layer ``t`` stops there (BLAS's product may serve it better): ``Z`` into
    ``code``, ``Z_prev`` into ``previous``, ``t`` into ``stopped``.
    ``stopped`` may be ``start`` (a row reads its start before its end).
    """
    n_samples, n_components = C.shape
    n_layers = steps.shape[0]
    zero, one = C.dtype.type(0), C.dtype.type(1)
    for task in numba.prange((n_samples + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK):
        z = np.empty(n_components, C.dtype)
        z_prev = np.empty(n_components, C.dtype)
        ahead = np.empty((1, n_components), C.dtype)
        gradient = np.empty((1, n_components), C.dtype)
        active = np.empty(n_components, np.uintp)
        first = task * _ROWS_PER_TASK
        for i in range(first, min(n_samples, first + _ROWS_PER_TASK)):
            begin = start[i]
            if begin >= n_layers:
                continue
            for j in range(n_components):
                z[j] = code[i, j]
                z_prev[j] = previous[i, j] if begin > 1 else zero
            done = n_layers
            for layer in range(begin, n_layers):
                count = 0
                if momentum:
                    weight = weights[layer - 1]
                    for j in range(n_components):
                        y = z_prev[j] + weight * (z[j] - z_prev[j])
                        ahead[0, j] = y
                        active[count] = j
                        count += y != 0
                else:
                    for j in range(n_components):
                        ahead[0, j] = z[j]
                        active[count] = j
                        count += z[j] != 0
                if count > limit:
                    done = layer
                    break
                for j in range(n_components):
                    gradient[0, j] = C[i, j]
                _add_rows(ahead, 0, active, count, -one, K, gradient)  # C - Y K
                step = steps[layer]
                for j in range(n_components):
                    z_prev[j] = z[j]
                    value = ahead[0, j] + step * gradient[0, j]
                    z[j] = _shrunk(value, thresholds[layer, j], positive, zero)
            stopped[i] = done
            for j in range(n_components):
                code[i, j] = z[j]
            if done < n_layers:
                for j in range(n_components):
                    previous[i, j] = z_prev[j]
