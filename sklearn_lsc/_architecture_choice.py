"""``architecture="auto"``: the network a fit keeps, chosen by its set-aside rows.

Step LISTA (analytic matrices, a few learned steps and thresholds) codes
signals on an incoherent dictionary as closely as rescaled LISTA, or more
closely from few training rows, and transforms and fits faster; on a
coherent dictionary (image patches, digits) it stays far further from the
optimum (``python -m benchmarks.architectures`` and ``benchmarks.transform``
measure both). Which one a dictionary is
shows in the held-out objective, so ``fit`` trains both, from the same
random draws (the same rows set aside), and keeps step LISTA, the cheaper,
unless rescaled LISTA's set-aside rows' noise-free objective is lower by
more than :data:`TOLERANCE` of it. On incoherent dictionaries the two then
differ by far less than that while step LISTA transforms several times
faster; where rescaled LISTA wins (digits, image patches), it wins by far
more (the benchmark history's "Defaults on untuned problems" has the
measurements).

The trial needs a held-out objective of one problem: the Lasso objective on
a given dictionary kept fixed, with early stopping's set-aside rows.
Elsewhere (a learned dictionary, another objective, too few rows to set
any aside, a first ``partial_fit``) ``"auto"`` is rescaled LISTA; a
``partial_fit`` after ``fit`` goes on with the network ``fit`` kept.
"""

from ._trials import keep, run_trial, set_state, shared_seed

# Tried in this order, cheapest transform first.
CANDIDATES = ("step_lista", "rescaled_lista")
FALLBACK = "rescaled_lista"
# A candidate is kept when its set-aside objective is at most this fraction
# above the lowest (the first such in CANDIDATES): about 0.1 percentage point
# of held-out gap, a tenth of the defaults' 1% target.
TOLERANCE = 1e-3


def resolved_architecture(estimator):
    """``architecture`` as a fit without a trial builds it: ``"auto"`` is :data:`FALLBACK`."""
    return FALLBACK if estimator.architecture == "auto" else estimator.architecture


def trial_applies(estimator, n_samples):
    """Whether ``fit`` on ``n_samples`` rows compares :data:`CANDIDATES`."""
    fixed_dictionary = estimator.dictionary is not None and not estimator._learns_dictionary()
    return (
        estimator.architecture == "auto"
        and estimator.objective == "lasso"
        and fixed_dictionary
        and estimator._uses_early_stopping(n_samples)
    )


def cheapest_within_tolerance(tried):
    """The first of ``tried`` (``(loss, ...)`` tuples in :data:`CANDIDATES`'s order) whose
    loss is within :data:`TOLERANCE` of the lowest."""
    lowest = min(candidate[0] for candidate in tried)
    return next(candidate for candidate in tried if candidate[0] <= lowest * (1.0 + TOLERANCE))


def fit_candidates(estimator, train):
    """Fit each candidate by ``train(architecture, seed)``; keep the cheapest within
    :data:`TOLERANCE` of the best on the set-aside rows.

    ``train`` initializes and trains the estimator's network of the given
    architecture, drawing from ``seed``: one int for every candidate, so that
    they set the same rows aside (``random_state`` itself when it is an int,
    so that the kept network is the one that architecture given explicitly
    fits). Each candidate's warnings are held back and only the kept one's
    are given. A candidate whose training fails (diverges) is passed over;
    when every one fails, the last one's error is raised. Sets
    ``architecture_validation_losses_``.
    """
    seed = shared_seed(estimator.random_state)
    before = dict(vars(estimator))
    tried = []
    error = None
    for architecture in CANDIDATES:
        # Each from the estimator as the fit found it (no cache of another's network).
        try:
            _, state, caught = run_trial(
                estimator, before, lambda architecture=architecture: train(architecture, seed)
            )
        except ValueError as failure:
            error = failure
            continue
        tried.append((state["best_validation_loss_"], architecture, state, caught))
    if not tried:
        set_state(estimator, before)
        raise error
    _, architecture, state, caught = cheapest_within_tolerance(tried)
    others = [other for _, name, _, other in tried if name != architecture]
    keep(estimator, state, caught, others)
    estimator.architecture_validation_losses_ = {name: value for value, name, _, _ in tried}
    if estimator.verbose:
        losses = ", ".join(f"{name} {value:.6g}" for value, name, _, _ in tried)
        print(
            f"[{type(estimator).__name__}] architecture='auto': validation loss {losses}; "
            f"kept {architecture}."
        )
