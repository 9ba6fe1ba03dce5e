"""Plain numpy reference algorithms, one sample at a time, written from the papers.

They share no code with the package: the tests compare the package against them.
"""

import numpy as np


def soft(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


def shrink(v, t, positive=False):
    """The prox of ``t |.|``: the soft threshold, or ``max(v - t, 0)`` for codes >= 0."""
    return np.maximum(v - t, 0.0) if positive else soft(v, t)


def per_atom_steps(D, norm_floor):
    """ISTA's steps, one per atom, for atoms taken at norms ``r = max(||d||, norm_floor)``:
    ``1 / (r^2 L_r)``, ``L_r`` the largest eigenvalue of ``G`` with rows and columns
    divided by ``r``. ``norm_floor`` None: ``1 / L`` for every atom."""
    G = D @ D.T
    if norm_floor is None:
        return np.full(D.shape[0], 1.0 / np.linalg.eigvalsh(G).max())
    r = np.maximum(np.sqrt(np.diag(G)), norm_floor)
    return 1.0 / (r**2 * np.linalg.eigvalsh(G / np.outer(r, r)).max())


def ista_reference(X, D, alpha, n_iter, positive=False, norm_floor=None):
    """``n_iter`` ISTA steps from zero, step 1/L (or per atom), for each row separately."""
    steps = per_atom_steps(D, norm_floor)
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        for _ in range(n_iter):
            gradient = (z @ D - x) @ D.T
            z = shrink(z - gradient * steps, alpha * steps, positive)
        codes.append(z)
    return np.array(codes)


def fista_reference(X, D, alpha, n_iter, restart=True, positive=False, norm_floor=None):
    """``n_iter`` FISTA steps from zero for each row separately, with adaptive restart.

    Beck & Teboulle's momentum, reset to 1 (O'Donoghue & Candes) whenever
    ``(y - z_new) . (z_new - z) > 0``: the momentum points uphill (never
    with ``restart=False``). Returns the codes and the number of restarts
    (over all rows).
    """
    steps = per_atom_steps(D, norm_floor)
    codes, restarts = [], 0
    for x in X:
        z = np.zeros(D.shape[0])
        y, t = z.copy(), 1.0
        for _ in range(n_iter):
            z_new = shrink(y - ((y @ D - x) @ D.T) * steps, alpha * steps, positive)
            if restart and (y - z_new) @ (z_new - z) > 0:
                t, restarts = 1.0, restarts + 1
            t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            y = z_new + (t - 1.0) / t_next * (z_new - z)
            z, t = z_new, t_next
        codes.append(z)
    return np.array(codes), restarts


def cod_reference(X, D, alpha, n_updates, positive=False):
    """Greedy coordinate descent: ``n_updates`` exact coordinate minimisations.

    Each update minimises the Lasso objective exactly along the coordinate
    whose minimiser is farthest from its current value; the result is the
    vector of all coordinate-wise minimisers at the end (Gregor & LeCun's
    output ``h(B)``).
    """
    norms2 = (D**2).sum(axis=1)
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        for _ in range(n_updates):
            minimisers = _coordinate_minimisers(x, z, D, norms2, alpha, positive)
            k = np.argmax(np.abs(minimisers - z))
            z[k] = minimisers[k]
        codes.append(_coordinate_minimisers(x, z, D, norms2, alpha, positive))
    return np.array(codes)


def _coordinate_minimisers(x, z, D, norms2, alpha, positive=False):
    """For each j, the minimiser over z_j alone, the other coordinates fixed."""
    residual = x - z @ D
    partial = (residual @ D.T) + z * norms2  # d_j . (x - sum_{i != j} z_i d_i)
    return shrink(partial, alpha, positive) / norms2


def lasso_kkt_violation(X, Z, D, alpha):
    """Largest violation of the Lasso optimality conditions, relative to alpha.

    With ``g = (x - z D) D^T``: ``g_j = alpha sign(z_j)`` where ``z_j != 0`` and
    ``|g_j| <= alpha`` where ``z_j == 0``.
    """
    G = (X - Z @ D) @ D.T
    active = Z != 0
    on_support = np.abs(G - alpha * np.sign(Z))[active]
    off_support = np.maximum(np.abs(G) - alpha, 0.0)[~active]
    worst = max(on_support.max(initial=0.0), off_support.max(initial=0.0))
    return worst / alpha


def positive_hilasso_kkt_violation(X, Z, D, alpha, groups, penalties):
    """Largest violation of the optimality conditions of the nonnegative HiLasso.

    With ``c = (x - z D) D^T``: where ``z_g = 0``, ``||max(c_g - alpha, 0)|| <=
    p_g``; elsewhere ``c_i = alpha + p_g z_i / ||z_g||`` where ``z_i > 0``
    and ``c_i <= alpha`` where ``z_i = 0``. Relative to ``alpha + max(p)``;
    a negative entry of ``Z`` counts as its magnitude.
    """
    worst = max(0.0, float(-Z.min(initial=0.0)))
    for x, z in zip(X, Z, strict=True):
        c = (x - z @ D) @ D.T
        for group, p in zip(groups, penalties, strict=True):
            c_g, z_g = c[group], z[group]
            norm = np.linalg.norm(z_g)
            if norm == 0:
                worst = max(worst, np.linalg.norm(np.maximum(c_g - alpha, 0.0)) - p)
                continue
            active = z_g > 0
            on = np.abs(c_g - alpha - p * z_g / norm)[active]
            off = np.maximum(c_g - alpha, 0.0)[~active]
            worst = max(worst, on.max(initial=0.0), off.max(initial=0.0))
    return worst / (alpha + max(penalties))


def hilasso_prox_reference(v, t, groups, s, positive=False):
    """Soft threshold by ``t``, then shrink group g by ``max(0, 1 - s_g / ||z_g||)``."""
    z = shrink(v, t, positive)
    for group, threshold in zip(groups, s, strict=True):
        norm = np.linalg.norm(z[group])
        z[group] *= max(0.0, 1.0 - threshold / norm) if norm > 0 else 0.0
    return z


def tree_prox_reference(v, t, groups, s, positive=False):
    """Prox of ``t |z|_1 + sum_g s_g ||z_g||`` for nested-or-disjoint groups (Jenatton et al.).

    The l1 shrink, then each group's shrink from the deepest groups up; a
    group's depth is the number of listed groups strictly containing it
    (counted by set inclusion, one pair at a time).
    """
    sets = [set(np.asarray(group).tolist()) for group in groups]
    depth = [sum(1 for other in sets if other > mine) for mine in sets]
    z = shrink(np.asarray(v, dtype=float), t, positive)
    for k in sorted(range(len(groups)), key=lambda k: -depth[k]):
        g = np.asarray(groups[k])
        norm = np.linalg.norm(z[g])
        z[g] *= max(0.0, 1.0 - s[k] / norm) if norm > 0 else 0.0
    return z


def tree_ista_reference(X, D, alpha, groups, penalties, n_iter):
    """``n_iter`` ISTA steps with the tree prox from zero, per row."""
    L = np.linalg.eigvalsh(D @ D.T).max()
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        for _ in range(n_iter):
            z = tree_prox_reference(
                z - (z @ D - x) @ D.T / L, alpha / L, groups, np.asarray(penalties) / L
            )
        codes.append(z)
    return np.array(codes)


def tree_bcofb_reference(X, D, alpha, groups, penalties, n_updates):
    """BCoFB over the root groups of a tree (atoms in no group: blocks of one), per row."""
    sets = [set(np.asarray(group).tolist()) for group in groups]
    roots = [
        np.asarray(groups[k]) for k, mine in enumerate(sets) if not any(o > mine for o in sets)
    ]
    covered = set().union(*sets) if sets else set()
    blocks = roots + [np.array([a]) for a in range(D.shape[0]) if a not in covered]
    mu = max(np.linalg.eigvalsh(D[b] @ D[b].T).max() for b in blocks)
    S = np.eye(D.shape[0]) - D @ D.T / mu
    t, s = alpha / mu, np.asarray(penalties) / mu
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        B = x @ D.T / mu
        for _ in range(n_updates):
            z_tilde = tree_prox_reference(B, t, groups, s)
            r = int(np.argmax([np.linalg.norm(z_tilde[b] - z[b]) for b in blocks]))
            change = z_tilde[blocks[r]] - z[blocks[r]]
            B = B + change @ S[blocks[r]]
            z[blocks[r]] = z_tilde[blocks[r]]
        codes.append(tree_prox_reference(B, t, groups, s))
    return np.array(codes)


def structured_ista_reference(X, D, alpha, groups, penalties, n_iter, positive=False):
    """``n_iter`` ISTA steps on the HiLasso objective from zero, per row."""
    L = np.linalg.eigvalsh(D @ D.T).max()
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        for _ in range(n_iter):
            z = hilasso_prox_reference(
                z - (z @ D - x) @ D.T / L, alpha / L, groups, np.asarray(penalties) / L, positive
            )
        codes.append(z)
    return np.array(codes)


def bcofb_reference(X, D, alpha, groups, penalties, n_updates, positive=False):
    """Algorithm 2 of Sprechmann et al.: ``n_updates`` greedy block updates, per row."""
    mu = max(np.linalg.eigvalsh(D[g] @ D[g].T).max() for g in groups)
    S = np.eye(D.shape[0]) - D @ D.T / mu
    t, s = alpha / mu, np.asarray(penalties) / mu
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        B = x @ D.T / mu
        for _ in range(n_updates):
            z_tilde = hilasso_prox_reference(B, t, groups, s, positive)
            r = int(np.argmax([np.linalg.norm(z_tilde[g] - z[g]) for g in groups]))
            change = z_tilde[groups[r]] - z[groups[r]]
            B = B + change @ S[groups[r]]
            z[groups[r]] = z_tilde[groups[r]]
        codes.append(hilasso_prox_reference(B, t, groups, s, positive))
    return np.array(codes)


def best_multiple(x, z, D, penalty):
    """``c z``, ``c >= 0`` minimising ``0.5 ||x - c z D||^2 + c penalty(z)`` (numerically)."""
    from scipy.optimize import minimize_scalar

    approximation = z @ D
    if not approximation.any():
        return np.zeros_like(z)
    bound = 10.0 * np.linalg.norm(x) / np.linalg.norm(approximation) + 1.0
    result = minimize_scalar(
        lambda c: 0.5 * np.sum((x - c * approximation) ** 2) + c * penalty(z),
        bounds=(0.0, bound), method="bounded", options={"xatol": 1e-13},
    )  # fmt: skip
    return result.x * z


def best_planar_point(x, step, z, D, penalty, subgradient):
    """The better of ``best_multiple(step)`` and the linearised plane's minimiser, rescaled.

    The plane's point ``a step + b z`` minimises ``0.5 ||x - (a step + b z) D||^2
    + <s, a step + b z>`` with ``s = subgradient(step, z)``, found by a
    numerical minimisation (not the network's 2 x 2 solve).
    """
    from scipy.optimize import minimize

    def objective(code):
        return 0.5 * np.sum((x - code @ D) ** 2) + penalty(code)

    multiple = best_multiple(x, step, D, penalty)
    s = subgradient(step, z)

    def model(ab):
        code = ab[0] * step + ab[1] * z
        return 0.5 * np.sum((x - code @ D) ** 2) + s @ code

    ab = minimize(model, [1.0, 0.0], method="BFGS", options={"gtol": 1e-13}).x
    planar = best_multiple(x, ab[0] * step + ab[1] * z, D, penalty)
    return planar if objective(planar) < objective(multiple) else multiple


def rescaled_lista_reference(X, D, parameters, penalty, subgradient):
    """Rescaled LISTA with given parameters, per row: momentum, gain, threshold, best point.

    ``parameters``: ``W, theta, momentum, gain, basis, correction``; a layer's
    step adds ``(ahead @ basis) @ correction`` to the LISTA-like update.
    """
    W, theta, momentum, gain, basis, correction = parameters
    codes = []
    for x in X:
        previous = np.zeros(D.shape[0])
        z = best_multiple(x, soft(x @ W[0], theta[0]), D, penalty)
        for layer in range(1, len(theta)):
            ahead = z + momentum[layer - 1] * (z - previous)
            update = gain[layer - 1] * ahead + (x - ahead @ D) @ W[layer]
            update += (ahead @ basis[layer - 1]) @ correction[layer - 1]
            step = soft(update, theta[layer])
            previous, z = z, best_planar_point(x, step, z, D, penalty, subgradient)
        codes.append(z)
    return np.array(codes)


def analytic_weight_reference(D):
    """ALISTA's weight column by column, each from the KKT system of its problem.

    Column ``j`` minimises ``||D w||^2`` subject to ``d_j . w = 1``: stationarity
    ``2 D^T D w + lambda d_j = 0`` with the constraint, solved as one linear
    system (unique when ``D^T D`` is invertible). Also returns ``1 / L_W``, the
    inverse of the largest eigenvalue of ``D W``.
    """
    n_components, n_features = D.shape
    W = np.zeros((n_features, n_components))
    for j in range(n_components):
        system = np.zeros((n_features + 1, n_features + 1))
        system[:n_features, :n_features] = 2.0 * D.T @ D
        system[:n_features, n_features] = D[j]
        system[n_features, :n_features] = D[j]
        rhs = np.zeros(n_features + 1)
        rhs[n_features] = 1.0
        W[:, j] = np.linalg.solve(system, rhs)[:n_features]
    return W, 1.0 / np.linalg.eigvals(D @ W).real.max()


def _threshold_scales(D):
    """``1 / ||d_j||^2`` per atom, 0 for a zero atom: the analytic networks'
    thresholds are ``alpha`` times the step over the atom's squared norm."""
    squared = np.sum(D * D, axis=1)
    return np.divide(1.0, squared, out=np.zeros_like(squared), where=squared > 0)


def hyper_lista_reference(X, D, alpha, n_layers, c_step, c_threshold, c_residual, c_momentum):
    """HyperLISTA (Lasso form) per row: momentum from the support, threshold from the residual.

    With ``c_residual = c_momentum = 0`` and unit ``c_step``, ``c_threshold``
    this is untrained ALISTA: the analytic update from zero.
    """
    W, step = analytic_weight_reference(D)
    step = c_step * step
    n_components = D.shape[0]
    codes = []
    for x in X:
        z, previous = np.zeros(n_components), np.zeros(n_components)
        for _ in range(n_layers):
            beta = c_momentum * np.count_nonzero(z) / n_components
            y = z + beta * (z - previous)
            g = (x - y @ D) @ W
            floor = c_threshold * alpha * _threshold_scales(D)
            theta = step * (floor + c_residual * np.abs(g).mean())
            previous, z = z, soft(y + step * g, theta)
        codes.append(z)
    return np.array(codes)


def alista_reference(X, D, alpha, step_multiple, threshold_ratio):
    """ALISTA for each row: layer ``t`` steps ``s_t / L_W`` along the analytic weight."""
    W, step = analytic_weight_reference(D)
    codes = []
    for x in X:
        z = np.zeros(D.shape[0])
        for s, rho in zip(step_multiple, threshold_ratio, strict=True):
            theta = s * step * rho * alpha * _threshold_scales(D)
            z = soft(z + s * step * (x - z @ D) @ W, theta)
        codes.append(z)
    return np.array(codes)


def collaborative_prox_reference(V, t, groups, s, positive=False):
    """Prox of the collaborative penalty on one set's block ``V`` (rows: the set's signals).

    The l1 shrink of every entry, then each listed group's block ``V[:, g]``
    scaled by ``max(0, 1 - s_g / ||V[:, g]||_F)``, deepest groups first (for
    a partition, in any order); Sprechmann, Ramirez, Sapiro & Eldar 2011.
    """
    member_sets = [set(np.asarray(group).tolist()) for group in groups]
    depth = [sum(1 for other in member_sets if other > mine) for mine in member_sets]
    Z = shrink(np.array(V, dtype=float), t, positive)
    for k in sorted(range(len(groups)), key=lambda k: -depth[k]):
        g = np.asarray(groups[k])
        norm = np.linalg.norm(Z[:, g])
        Z[:, g] *= max(0.0, 1.0 - s[k] / norm) if norm > 0 else 0.0
    return Z


def collaborative_objective_reference(X, Z, D, alpha, groups, penalties, sets):
    """``sum_rows (0.5 ||x - z D||^2 + alpha ||z||_1) + sum_sets sum_g p_g ||Z_{set,g}||_F``,
    divided by the number of rows."""
    total = 0.5 * np.sum((X - Z @ D) ** 2) + alpha * np.abs(Z).sum()
    for label in np.unique(sets):
        block = Z[sets == label]
        total += sum(
            p * np.linalg.norm(block[:, g]) for g, p in zip(groups, penalties, strict=True)
        )
    return total / X.shape[0]


def collaborative_ista_reference(X, D, alpha, groups, penalties, sets, n_iter, positive=False):
    """``n_iter`` ISTA steps (step 1/L) from zero on each set's block, one set at a time."""
    L = np.linalg.eigvalsh(D @ D.T).max()
    Z = np.zeros((X.shape[0], D.shape[0]))
    for label in np.unique(sets):
        rows = np.flatnonzero(sets == label)
        block = np.zeros((rows.size, D.shape[0]))
        for _ in range(n_iter):
            step = block - (block @ D - X[rows]) @ D.T / L
            block = collaborative_prox_reference(
                step, alpha / L, groups, np.asarray(penalties) / L, positive
            )
        Z[rows] = block
    return Z


def collaborative_bcofb_reference(X, D, alpha, groups, penalties, sets, n_updates):
    """BCoFB on each set's block: each update moves the group whose block moves
    most (Frobenius norm), for all the set's rows; then the final prox."""
    mu = max(np.linalg.eigvalsh(D[g] @ D[g].T).max() for g in groups)
    S = np.eye(D.shape[0]) - D @ D.T / mu
    t, s = alpha / mu, np.asarray(penalties) / mu
    Z = np.zeros((X.shape[0], D.shape[0]))
    for label in np.unique(sets):
        rows = np.flatnonzero(sets == label)
        block = np.zeros((rows.size, D.shape[0]))
        B = X[rows] @ D.T / mu
        for _ in range(n_updates):
            proximal = collaborative_prox_reference(B, t, groups, s)
            r = int(np.argmax([np.linalg.norm(proximal[:, g] - block[:, g]) for g in groups]))
            g = np.asarray(groups[r])
            B = B + (proximal[:, g] - block[:, g]) @ S[g]
            block[:, g] = proximal[:, g]
        Z[rows] = collaborative_prox_reference(B, t, groups, s)
    return Z
