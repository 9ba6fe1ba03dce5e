"""``input_noise="auto"``: a fit that the noise stalled trains again without it.

Noise of half each row's root mean square regularises the networks on small
training sets (the held-out gaps of ``python -m benchmarks --suite
defaults``). On rows that share a large common part (raw image patches,
whose mean brightness outweighs their texture) noise of that size drowns
the part the codes must resolve: the set-aside rows' loss stops improving
within the first few epochs, or never improves on the untrained network
(which ``fit`` then keeps), and a learned dictionary ends worse too. So
where the automatic noise stalled a fit that way (its best epoch within its
first patience, ``n_iter_no_change_`` epochs, and training stopped short of
its budget; or the untrained network kept), ``fit`` trains again without
noise, from the same random draws (the same rows set aside), and keeps the
fit whose set-aside rows' noise-free loss is lower (the noisy one on a tie,
or where the noise-free one fails); ``input_noise_`` says which level it
was. Only the kept fit's warnings are given. Nothing changes for fits the
noise did not stall, nor for an ``input_noise`` given explicitly
(``python -m benchmarks.common_part`` measures both kinds of rows).
"""

from ._trials import keep, run_trial, shared_seed


def applies(estimator, n_samples):
    """Whether a ``fit`` on ``n_samples`` rows may train again without noise."""
    return (
        estimator.input_noise == "auto"
        and estimator._uses_early_stopping(n_samples)
        and estimator._resolved_input_noise(n_samples) > 0
    )


def _stalled(state):
    """Whether the stopping rule ended a fit at its first chance: its set-aside
    rows' loss stopped improving within the first patience
    (``n_iter_no_change_`` epochs), and training ended short of its budget."""
    curve = state["validation_loss_curve_"]
    if not curve:
        return False
    best_epoch = min(range(len(curve)), key=curve.__getitem__) + 1
    return best_epoch <= state["n_iter_no_change_"] and state["n_iter_"] < state["max_iter_"]


def fit(estimator, n_samples, train, seed=None):
    """``train(seed, input_noise)`` (None: ``input_noise`` resolved), again at
    zero noise where the noise stalled the first (see above).

    ``train`` initializes and trains the estimator, drawing from ``seed``,
    and returns whether it kept the untrained network. ``seed``: the draws'
    int (None: from ``random_state``, as :func:`shared_seed`).
    """
    if not applies(estimator, n_samples):
        train(seed, None)
        return
    seed = shared_seed(estimator.random_state) if seed is None else seed
    before = dict(vars(estimator))
    kept_untrained, noisy, noisy_warnings = run_trial(estimator, before, lambda: train(seed, None))
    if not (kept_untrained or _stalled(noisy)):
        keep(estimator, noisy, noisy_warnings)
        return
    try:
        _, quiet, quiet_warnings = run_trial(estimator, before, lambda: train(seed, 0.0))
    except ValueError:  # diverged: the noisy fit stands
        keep(estimator, noisy, noisy_warnings)
        return
    if quiet["best_validation_loss_"] < noisy["best_validation_loss_"]:
        keep(estimator, quiet, quiet_warnings, [noisy_warnings])
    else:
        keep(estimator, noisy, noisy_warnings, [quiet_warnings])
    if estimator.verbose:
        print(
            f"[{type(estimator).__name__}] input_noise='auto': training with noise "
            f"{noisy['input_noise_']:.3g} stalled; without noise, "
            f"validation loss {quiet['best_validation_loss_']:.6g} against "
            f"{noisy['best_validation_loss_']:.6g}: kept input_noise_="
            f"{estimator.input_noise_:.3g}."
        )
