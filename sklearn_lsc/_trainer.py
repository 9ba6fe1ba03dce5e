"""Training, the part of every learned encoder that ``fit`` and ``partial_fit`` run.

Epochs of minibatches (or Armijo steps), the dictionary step, input noise,
early stopping on set-aside rows, the best-epoch and untrained-network
guards, and the ``"auto"`` budget rules. A mixin of
:class:`~sklearn_lsc._base.BaseLearnedEncoder`: it reads the estimator's
parameters and its network, optimizer and dictionary-step state.
"""

import copy
import math
import time
from typing import NamedTuple

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._sets import compact_labels, set_batches, split_sets
from ._torch_utils import resolve_device, to_numpy, to_tensor
from ._training import (
    ArmijoDescent,
    NoImprovementStopper,
    cosine_learning_rate,
    minibatch_epoch,
    set_learning_rate,
)
from ._transaction import Undone
from ._warnings import warn

# ``fit`` ending with a training loss above its best epoch's by more than this
# many times the best's magnitude has blown up (a too large learning rate): it
# restores the best epoch's network. Magnitudes, as losses can be negative
# (the discriminative objective rewards energy in known-active groups).
_BLOW_UP = 1.0

# ``partial_fit`` undoes its pass when the chunk's noise-free loss ends more
# than this fraction above both the network's of before the call and the
# untrained network's. Looser than fit's guards: on chunks of a few rows a
# chunk's loss moves from pass to pass (LCoD's most, and early on with the
# dictionary learned) without anything having gone wrong.
_STEP_RISE = 0.25
# The sparse-coding objectives' loss is mostly the optimum's, which no
# network goes below: a pass that multiplies the codes' gap several times
# moves that loss by a small fraction. ``partial_fit`` also undoes a pass
# that leaves the watched rows' excess over their optimum above this many
# times both the excess before the pass and the untrained network's, each
# taken at least _GAP_FLOOR of the optimum (no alarm over gaps that small);
# on a given dictionary, where the optimum stays put.
_GAP_RISE = 2.0
_GAP_FLOOR = 0.01

# ``early_stopping="auto"`` sets rows aside only when at least this many would
# be: fewer make a validation loss too noisy to pick an epoch by.
AUTO_EARLY_STOPPING_MIN_ROWS = 50

# ``input_noise="auto"``: AUTO_NOISE up to AUTO_NOISE_ROWS training rows, then
# falling as one over the square root of the rows (0.1 at 50,000): the noise
# regularises small training sets and only blurs the objective of large ones.
AUTO_NOISE = 0.5
AUTO_NOISE_ROWS = 2000

# ``max_iter="auto"`` and ``n_iter_no_change="auto"``: AUTO_MAX_ITER epochs
# and a patience of AUTO_PATIENCE epochs, raised with early stopping on a given
# dictionary and minibatches (Adam, SGD) to at least AUTO_STEPS optimizer steps
# and a patience of AUTO_PATIENCE_STEPS steps: a small training set takes few
# steps per epoch, and a fixed number of epochs under-trains it. From about 1,300 training rows
# (batches of 100) the epoch counts rule. Without early stopping nothing guards
# longer training against overfitting, and with a learned dictionary longer
# training made both the codes and the atoms worse on small sets: there the
# epoch counts stand.
AUTO_MAX_ITER = 150
AUTO_PATIENCE = 20
AUTO_STEPS = 2000
AUTO_PATIENCE_STEPS = 270

# ``fit`` keeps the untrained network when training ends with a noise-free
# loss above the untrained one's by more than this fraction of its magnitude
# (a margin for rounding: a learning rate of 1e-12 changes nothing).
_UNTRAINED_MARGIN = 1e-6


class Checkpoint(NamedTuple):
    """A network worth going back to: its watched loss, epoch and snapshot (None: none)."""

    loss: float
    epoch: int | None
    snapshot: dict | None


class TrainerMixin:
    """``_train`` and what it needs: one job, the training loop of ``fit`` and ``partial_fit``."""

    def _train(self, X, y, *, n_epochs, anneal, labels=None, input_noise=None):
        """Run up to ``n_epochs`` epochs; ``anneal`` adds the schedule and early stop.

        Returns whether ``fit`` kept the untrained network (below). ``input_noise``:
        the noise level to train with, in place of ``input_noise`` resolved.

        ``labels``: the rows' set labels (collaborative HiLasso) or None;
        minibatches and the set-aside rows then hold whole sets.

        ``n_epochs=None`` (``fit``): ``max_iter`` resolved (``max_iter_``),
        with the patience ``n_iter_no_change_``.

        With ``early_stopping`` (and ``anneal``: ``fit``, not ``partial_fit``),
        ``validation_fraction`` of the rows are set aside: the network trains
        on the others, the stopping rule watches the loss of the set-aside
        rows (noise-free), and the network of the best such epoch is kept.
        ``fit`` never keeps a network whose noise-free loss is worse than the
        untrained one's (a few iterations of its algorithm): it restores that
        one and warns. A non-finite loss, at any step, raises. Without
        ``anneal`` (``partial_fit``) a pass that blew up may raise
        :class:`Undone`: the caller must be :func:`transactional`.
        """
        device = resolve_device(self.device)
        self._move_to(device)
        dtype = self._network_dtype()
        early_stopping = anneal and self._uses_early_stopping(X.shape[0])
        if input_noise is None:
            input_noise = self._resolved_input_noise(X.shape[0])
        X, y, labels, X_validation, y_validation, labels_validation = self._validation_split(
            X, y, labels, early_stopping
        )
        self.early_stopping_, self.input_noise_ = early_stopping, input_noise
        patience = None
        if n_epochs is None:
            n_epochs, patience = self._resolved_budget(X.shape[0], early_stopping)
            self.max_iter_, self.n_iter_no_change_ = n_epochs, patience
        # Trained in the units of X / signal_scale_ (exact: a power of two);
        # losses are reported in those of X (times the scale squared).
        scale = self.signal_scale_
        units = scale * scale
        if scale != 1.0:
            X = X / scale
            X_validation = None if X_validation is None else X_validation / scale
        X_tensor = to_tensor(X, device=device, dtype=dtype)
        dictionary = to_tensor(self.components_, device=device, dtype=dtype)
        y_tensor = None if y is None else to_tensor(y, device=device, dtype=dtype)
        sets = None if labels is None else torch.as_tensor(labels, device=device)
        perturb = self._input_perturbation(X, X_tensor)
        targets = None
        if self.objective == "regression" and not self._fit_dictionary and perturb is None:
            whole = None if sets is None else compact_labels(sets)
            targets = self._exact_codes(X_tensor, dictionary, init=None, sets=whole)
        objective = self._training_objective(device, dtype)
        if not anneal and not isinstance(self._optimizer, ArmijoDescent):
            # partial_fit: the learning rate as set now, not as fit's schedule left it.
            set_learning_rate(self._optimizer, self.learning_rate)
        # fit's guard: the noise-free loss of rows the network does not train
        # on (early stopping) or of the training rows, untrained and at the end.
        # (Not against regression targets that move with the dictionary: its
        # loss then compares with different codes at each epoch.)
        moving_targets = self.objective == "regression" and self._fit_dictionary
        check_untrained = anneal and not moving_targets
        # partial_fit's guard: the chunk's noise-free loss before and after its pass.
        check_step = not anneal and not moving_targets
        guard = None
        if early_stopping or check_untrained or check_step:
            guard_rows, guard_targets = (X, y, labels), targets
            if early_stopping:
                guard_rows, guard_targets = (X_validation, y_validation, labels_validation), None
            elif check_step and labels is None and X.shape[0] > self.batch_size:
                # partial_fit watches at most a minibatch's worth of the chunk's
                # rows, spread over it: enough to see a blow-up, at a bounded cost.
                picked = np.linspace(0, X.shape[0] - 1, self.batch_size).round().astype(np.intp)
                guard_rows = (X[picked], None if y is None else y[picked], None)
                if targets is not None:
                    guard_targets = targets[torch.from_numpy(picked).to(targets.device)]
            noise_free_loss = self._noise_free_loss_function(
                *guard_rows, dictionary, objective, device, dtype, targets=guard_targets
            )

            def guard():
                return noise_free_loss() * units

        optimum = None
        # (Not with the dictionary learned: a pass moves the rows' optimum,
        # and the loss before it is not comparable with the excess after it.)
        if check_step and self.objective in ("lasso", "hilasso") and not self._fit_dictionary:
            optimal_loss = self._optimal_loss_function(
                guard_rows[0], guard_rows[2], dictionary, objective, device, dtype
            )

            def optimum():
                return optimal_loss() * units

        self.validation_loss_curve_ = [] if early_stopping else None
        stopper = NoImprovementStopper(self.tol, patience)
        # The best network so far and the untrained one (epoch 0), to go back to.
        untrained = best = Checkpoint(math.inf, None, None)
        if check_untrained:
            untrained = Checkpoint(guard(), 0, self._snapshot(dictionary))
        before = guard() if check_step else None
        # A first call's untrained network, to go back to (cheap: no optimizer state yet).
        initial = self._snapshot(dictionary) if check_step and self.n_iter_ == 0 else None
        for epoch in range(n_epochs):
            if anneal and not isinstance(self._optimizer, ArmijoDescent):
                rate = cosine_learning_rate(self.learning_rate, epoch, n_epochs)
                set_learning_rate(self._optimizer, rate)
            start = time.perf_counter()
            loss = self._train_epoch(
                X_tensor, y_tensor, dictionary, objective, targets, perturb, sets
            )
            # (Checked in the internal units: times the scale squared, a huge
            # but finite loss could overflow.)
            if not (math.isfinite(loss) and self._state_is_finite(dictionary)):
                raise ValueError(
                    f"Training diverged (the loss became {loss}, or the network's "
                    f"weights non-finite) at epoch {self.n_iter_ + 1}; lower the "
                    f"'learning_rate' parameter (now {self.learning_rate}), or scale X."
                )
            loss *= units
            self.loss_curve_.append(loss)
            self.n_iter_ += 1
            watched = loss
            if early_stopping:
                watched = guard()
                if not math.isfinite(watched):
                    raise ValueError(
                        f"Training diverged (the validation loss became {watched}) at "
                        f"epoch {self.n_iter_}; lower the 'learning_rate' parameter (now "
                        f"{self.learning_rate}), or scale X."
                    )
                self.validation_loss_curve_.append(watched)
            if anneal and watched < best.loss:
                best = Checkpoint(watched, self.n_iter_, self._snapshot(dictionary))
            if self.verbose:
                shown = f", validation loss {watched:.6g}" if early_stopping else ""
                print(
                    f"[{type(self).__name__}] epoch {self.n_iter_}: loss {loss:.6g}{shown}, "
                    f"{time.perf_counter() - start:.2f} s"
                )
            if anneal and stopper.update(watched):
                if self.verbose:
                    print(
                        f"[{type(self).__name__}] no relative improvement of "
                        f"{self.tol} in {patience} epochs: stopping."
                    )
                break
        self.best_validation_loss_ = best.loss if early_stopping else None
        kept_untrained = False
        if anneal:
            kept_untrained = self._keep_best(
                best, watched, untrained, guard, dictionary, early_stopping, units
            )
        if before is not None:
            self._undo_blown_up_pass(before, guard(), guard, optimum, dictionary, units, initial)
        self.components_ = to_numpy(dictionary, self.components_.dtype)
        return kept_untrained

    def _undo_blown_up_pass(self, before, after, guard, optimum, dictionary, units, initial):
        """End of ``partial_fit``: undo the pass, with a ``ConvergenceWarning``,
        where it left the noise-free loss of the chunk's watched rows
        (``guard()``: ``before`` the pass, ``after`` it) not finite, or
        exceeding both references, the loss before the pass and the
        untrained network's (a few iterations of its algorithm, on the
        dictionary as it is now). ``after`` exceeds a reference when it is
        above it by more than ``_STEP_RISE`` of it or, where ``optimum()``
        gives the rows' optimal loss (the sparse-coding objectives on a
        given dictionary; None otherwise), when its excess over that is
        more than ``_GAP_RISE`` times the reference's. The first call
        (``initial``, its snapshot after the initialization) keeps its
        untrained network; a later call is undone whole (:class:`Undone`:
        the estimator as it was)."""
        margin = 1e-12 * units
        best = None  # the rows' optimal loss, solved only once the loss rose

        def exceeds(reference):
            if after - reference > max(_STEP_RISE * abs(reference), margin):
                return True
            if best is None:
                return False
            floor = _GAP_FLOOR * abs(best)
            return after - best > _GAP_RISE * max(reference - best, floor) + margin

        compared = ""
        if math.isfinite(after):
            if after - before <= margin:
                return
            if optimum is not None:
                best = optimum()
            if not exceeds(before):
                return
            trained = self.network_
            self.network_ = self._build_network(dictionary.detach().clone())
            try:
                untrained = guard()
            finally:
                self.network_ = trained
            if not exceeds(untrained):
                return
            compared = f", against {untrained:.4g} for the untrained network"
            if best is not None:
                compared += f" and {best:.4g} at the exact codes"
        message = (
            f"partial_fit's pass made the chunk's noise-free loss {after:.4g}, from "
            f"{before:.4g} before it{compared}: training blew up, and {{kept}}. Lower the "
            f"'learning_rate' parameter (now {self.learning_rate})."
        )
        if initial is None:
            raise Undone(message.format(kept="the call was undone"), ConvergenceWarning)
        self._restore(initial, dictionary)
        warn(message.format(kept="the untrained network was kept"), ConvergenceWarning)

    def _keep_best(self, best, last, untrained, guard, dictionary, early_stopping, units):
        """End of ``fit``: restore the best epoch's network, or the untrained one.

        ``best`` and ``untrained`` are :class:`Checkpoint`; ``last`` is
        the last epoch's watched loss; ``guard()`` the current network's
        noise-free loss. Warns (``ConvergenceWarning``) when training blew up
        or ended worse than the untrained network. ``units``: the losses' scale
        (the signal scale squared). Returns whether the untrained network was kept.
        """
        rise = last - best.loss if best.snapshot is not None else 0.0
        blew_up = rise > max(_BLOW_UP * abs(best.loss), 1e-12 * units)
        if blew_up or (early_stopping and best.epoch != self.n_iter_):
            self._restore(best.snapshot, dictionary)
        if blew_up:
            watched_name = "validation loss" if early_stopping else "training loss"
            warn(
                f"The {watched_name} rose from {best.loss:.4g} (epoch {best.epoch}) to "
                f"{last:.4g} (epoch {self.n_iter_}): training blew up, and the "
                f"network of epoch {best.epoch} was restored. Lower the 'learning_rate' "
                f"parameter (now {self.learning_rate}).",
                ConvergenceWarning,
            )
        if untrained.snapshot is None:
            return False
        # Early stopping's best epoch is already the network's noise-free loss.
        final = best.loss if early_stopping else guard()
        if final > untrained.loss + _UNTRAINED_MARGIN * abs(untrained.loss):
            self._restore(untrained.snapshot, dictionary)
            if early_stopping:
                self.best_validation_loss_ = untrained.loss
            warn(
                f"Training did not improve on the untrained network (noise-free loss "
                f"{untrained.loss:.4g}, after {self.n_iter_} epoch(s) {final:.4g}): the "
                "untrained network (a few iterations of its algorithm) was kept. Lower "
                f"the 'learning_rate' parameter (now {self.learning_rate}) or raise "
                f"'max_iter' (now {self.max_iter!r}: {self.max_iter_} epochs).",
                ConvergenceWarning,
            )
            return True
        return False

    def _uses_early_stopping(self, n_samples):
        """``early_stopping`` resolved: ``"auto"`` is on when enough rows would be set aside."""
        if self.early_stopping != "auto":
            return bool(self.early_stopping)
        return self.validation_fraction * n_samples >= AUTO_EARLY_STOPPING_MIN_ROWS

    def _resolved_budget(self, n_train, early_stopping):
        """``(max_iter, n_iter_no_change)`` resolved for ``n_train`` training rows.

        ``"auto"``: the rule above; an explicit value is used as given.
        """
        steps_per_epoch = math.ceil(n_train / self.batch_size)
        max_iter, patience = AUTO_MAX_ITER, AUTO_PATIENCE
        minibatches = self.solver != "armijo"  # Armijo takes one full-batch step per epoch
        if early_stopping and minibatches and not self._fit_dictionary:
            max_iter = max(max_iter, math.ceil(AUTO_STEPS / steps_per_epoch))
            patience = max(patience, math.ceil(AUTO_PATIENCE_STEPS / steps_per_epoch))
        if self.max_iter != "auto":
            max_iter = self.max_iter
        if self.n_iter_no_change != "auto":
            patience = self.n_iter_no_change
        return max_iter, patience

    def _resolved_input_noise(self, n_samples):
        """``input_noise`` resolved for ``n_samples`` training rows ("auto": the rule above)."""
        if self.input_noise != "auto":
            return float(self.input_noise)
        return AUTO_NOISE * min(1.0, math.sqrt(AUTO_NOISE_ROWS / n_samples))

    def _validation_split(self, X, y, labels, early_stopping):
        """``(X, y, labels, X_validation, y_validation, labels_validation)``:
        rows set aside for early stopping (whole sets, with ``labels``).

        Without early stopping, all rows train and the validation ones are
        None (the random generator is then not drawn from: results stay as
        they were without the option).
        """
        if not early_stopping:
            return X, y, labels, None, None, None
        n_samples = X.shape[0]
        n_validation = math.ceil(self.validation_fraction * n_samples)
        if n_validation >= n_samples:
            raise ValueError(
                f"early_stopping sets aside validation_fraction={self.validation_fraction} "
                f"of the n_samples={n_samples} rows, leaving none to train on; lower "
                "'validation_fraction' or pass more rows."
            )
        if labels is None:
            order = self._rng.permutation(n_samples)
            validation, training = np.sort(order[:n_validation]), np.sort(order[n_validation:])
        else:
            validation, training = split_sets(labels, n_validation, self._rng)
            if training.size == 0:
                raise ValueError(
                    f"early_stopping sets aside validation_fraction={self.validation_fraction} "
                    f"of the rows in whole sets, and the sets of X leave none to train on; "
                    "pass more sets or set early_stopping=False."
                )

        def rows_of(values, rows):
            return None if values is None else values[rows]

        return (
            *(rows_of(values, training) for values in (X, y, labels)),
            *(rows_of(values, validation) for values in (X, y, labels)),
        )

    def _noise_free_loss_function(
        self, X, y, labels, dictionary, objective, device, dtype, *, targets
    ):
        """A callable returning the mean training loss of the rows ``X`` (numpy).

        Noise-free, without gradients, in minibatches of ``batch_size`` (the
        similarity objective compares every pair of rows of a batch; with
        set ``labels``, whole sets); the regression objective's exact codes
        (``targets`` when already solved) follow the dictionary when it moves.
        """
        X_tensor = to_tensor(X, device=device, dtype=dtype)
        y_tensor = None if y is None else to_tensor(y, device=device, dtype=dtype)
        if labels is None:
            n_samples, size = X_tensor.shape[0], self.batch_size
            batches = [slice(start, start + size) for start in range(0, n_samples, size)]
        else:
            batches = [
                torch.as_tensor(rows, device=device)
                for rows in set_batches(labels, self.batch_size)
            ]
        sets = None if labels is None else torch.as_tensor(labels, device=device)
        if self.objective == "regression" and not self._fit_dictionary and targets is None:
            whole = None if sets is None else compact_labels(sets)
            targets = self._exact_codes(X_tensor, dictionary, init=None, sets=whole)
        elif self._fit_dictionary:
            targets = None

        def noise_free_loss():
            total = 0.0
            with torch.no_grad():
                for rows in batches:
                    X_rows = X_tensor[rows]
                    y_rows = None if y_tensor is None else y_tensor[rows]
                    target_rows = None if targets is None else targets[rows]
                    set_rows = None if sets is None else compact_labels(sets[rows])
                    loss, _ = self._batch_loss(
                        X_rows, y_rows, dictionary, objective, target_rows, set_rows
                    )
                    total += float(loss) * X_rows.shape[0]
            return total / X_tensor.shape[0]

        return noise_free_loss

    def _optimal_loss_function(self, X, labels, dictionary, objective, device, dtype):
        """A callable returning the mean loss of the rows ``X`` (numpy) at
        their exact codes on the dictionary as it is then: the sparse-coding
        objectives' optimum (``labels``: the rows' set labels, or None).
        Nothing is made before the first call (most passes need none)."""

        def optimal_loss():
            X_tensor = to_tensor(X, device=device, dtype=dtype)
            sets = None
            if labels is not None:
                sets = compact_labels(torch.as_tensor(labels, device=device))
            code = self._exact_codes(X_tensor, dictionary, init=None, sets=sets)
            with torch.no_grad():
                return float(objective(X_tensor, code, dictionary, None, sets).mean())

        return optimal_loss

    def _snapshot(self, dictionary):
        """Copies of the network, the atoms, the optimizer's and the dictionary step's state.

        Cheap: the networks are small. Restoring all four lets a later
        ``partial_fit`` continue from the kept epoch, not from the discarded ones.
        """
        state = {key: value.detach().clone() for key, value in self.network_.state_dict().items()}
        if isinstance(self._optimizer, ArmijoDescent):
            optimizer = self._optimizer.step_size
        else:
            optimizer = copy.deepcopy(self._optimizer.state_dict())
        update = None
        if self._dictionary_update is not None:
            statistics = self._dictionary_update
            update = (statistics.A.clone(), statistics.B.clone(), statistics.n_steps)
        return state, dictionary.detach().clone(), optimizer, update

    def _restore(self, snapshot, dictionary):
        state, atoms, optimizer, update = snapshot
        self.network_.load_state_dict(state)
        dictionary.copy_(atoms)
        if isinstance(self._optimizer, ArmijoDescent):
            self._optimizer.step_size = optimizer
        else:  # a copy: the snapshot may be restored again
            self._optimizer.load_state_dict(copy.deepcopy(optimizer))
        if update is not None:
            statistics = self._dictionary_update
            statistics.A.copy_(update[0])
            statistics.B.copy_(update[1])
            statistics.n_steps = update[2]

    def _input_perturbation(self, X, X_tensor):
        """``input_noise``'s perturbation of training signals (a callable), or None.

        The noise's standard deviation on each row is ``input_noise`` times
        that row's root mean square: on data whose rows differ in norm, one
        level for all would drown the small rows and barely touch the large
        ones, which carry the objective (rows of one norm get the same noise
        either way). Its generator is seeded from ``random_state`` (drawn
        only when there is noise, so noise-free training is unchanged).
        """
        if self.input_noise_ == 0:
            return None
        level = self.input_noise_ / math.sqrt(X.shape[1])
        generator = torch.Generator(device=X_tensor.device)
        generator.manual_seed(int(self._rng.randint(np.iinfo(np.int32).max)))

        def perturb(rows):
            noise = torch.randn(
                rows.shape, generator=generator, device=rows.device, dtype=rows.dtype
            )
            scale = level * torch.linalg.vector_norm(rows, dim=1, keepdim=True)
            return rows + scale * noise

        return perturb

    def _batch_loss(self, X, y, dictionary, objective, targets, sets=None):
        """``(mean loss, codes)`` of the rows ``X`` (targets: regression's exact codes).

        ``sets``: the rows' compact set labels, or None. Regression without
        ``targets`` (the dictionary moves) solves for the current
        dictionary's exact codes, warm-started from the network's.
        """
        code = self._network_codes(X, sets)
        if self.objective != "regression":
            if sets is None:
                return objective(X, code, dictionary, y).mean(), code
            return objective(X, code, dictionary, y, sets).mean(), code
        if targets is None:
            targets = self._exact_codes(X, dictionary, init=code.detach(), sets=sets)
        return (code - targets).pow(2).sum(dim=1).mean(), code

    def _train_epoch(self, X, y, dictionary, objective, targets, perturb=None, sets=None):
        """One epoch (one step for Armijo); returns the mean training loss.

        ``perturb`` (from :meth:`_input_perturbation`) adds fresh noise to each
        minibatch; Armijo's line search sees one noisy copy for its whole step.
        ``sets``: the rows' set labels (a tensor) or None; minibatches then
        hold whole sets.
        """
        network = self.network_
        last_code = {}
        if perturb is not None and isinstance(self._optimizer, ArmijoDescent):
            X, perturb = perturb(X), None

        def loss_of(rows):
            X_rows = X if rows is None else X[rows]
            if perturb is not None:
                X_rows = perturb(X_rows)
            y_rows = y if (y is None or rows is None) else y[rows]
            target_rows = targets if (targets is None or rows is None) else targets[rows]
            set_rows = None
            if sets is not None:
                set_rows = compact_labels(sets if rows is None else sets[rows])
            loss, code = self._batch_loss(
                X_rows, y_rows, dictionary, objective, target_rows, set_rows
            )
            last_code["value"] = code.detach()
            last_code["signals"] = X_rows
            return loss

        def dictionary_step(rows):
            # The signals the codes were computed from (noisy under input_noise).
            self._dictionary_update.step(dictionary, last_code["signals"], last_code["value"])
            network.set_dictionary(dictionary)

        after_step = dictionary_step if self._fit_dictionary else None
        if isinstance(self._optimizer, ArmijoDescent):
            loss = self._optimizer.step(lambda: loss_of(None))
            if after_step is not None:
                with torch.no_grad():
                    whole = None if sets is None else compact_labels(sets)
                    last_code["value"], last_code["signals"] = self._network_codes(X, whole), X
                after_step(None)
            return loss
        batches = None
        if sets is not None:
            labels = sets.cpu().numpy()
            batches = [
                torch.as_tensor(rows, device=X.device)
                for rows in set_batches(labels, self.batch_size, self._rng)
            ]
        return minibatch_epoch(
            loss_of,
            X.shape[0],
            batch_size=self.batch_size,
            optimizer=self._optimizer,
            rng=self._rng,
            device=X.device,
            after_step=after_step,
            batches=batches,
        )
