"""The training loop: minibatch epochs, optimizers, Armijo line search, stopping.

Nothing here knows about estimators or objectives: a loss is a callable that
maps a tensor of row indices to a scalar (the mean loss over those rows).
"""

import math

import torch

from ._torch_utils import exact_device, optimizer_state_on_cpu

# Armijo sufficient-decrease constant and step-size factors.
_ARMIJO_C = 1e-4
_ARMIJO_SHRINK = 0.5
_ARMIJO_GROW = 2.0
_ARMIJO_MAX_BACKTRACKS = 30


def make_optimizer(solver, network, learning_rate, *, atom_scale=1.0, by_power=True):
    """The torch optimizer of a minibatch ``solver`` for ``network``; None for ``"armijo"``.

    A network whose parameters are a few multiples of order one (analytic
    weights: steps, threshold ratios) declares a ``learning_rate_scale``: Adam
    moves each parameter by about the learning rate per step, and those must
    move by order one within a training budget sized for full matrices.
    For the same reason the rates follow the atoms' scale ``atom_scale``
    (see :func:`parameter_groups`). ``by_power=False``: one group, as
    optimizers were saved before the groups existed.
    """
    scale = float(getattr(network, "learning_rate_scale", 1.0))
    if by_power:
        groups = parameter_groups(network, scale, atom_scale)
    else:
        groups = [{"params": list(network.parameters()), "lr_scale": scale}]
    for group in groups:
        group["lr"] = learning_rate * group["lr_scale"]
    if solver == "adam":
        return torch.optim.Adam(groups, lr=learning_rate * scale)
    if solver == "sgd":
        return torch.optim.SGD(groups, lr=learning_rate * scale, momentum=0.9, nesterov=True)
    return None


def parameter_groups(network, scale, atom_scale):
    """The optimizer's parameter groups: rates that follow the size of the atoms.

    The same problem with atoms ``c`` times larger (and ``alpha`` with
    them, as ``alpha_max`` grows) has codes ``c`` times smaller, and so are
    the parameters in the codes' units, a network's weights on the residual
    and its thresholds (the network lists their powers of ``1 / c`` in
    ``dictionary_powers``). Adam moves a parameter by about its rate
    whatever the parameter's size, so those parameters get ``1 / c`` times
    the rate, and training goes as with unit-norm atoms (exactly so for
    Adam, up to its ``eps``). One group per power, whatever ``c`` (a saved
    optimizer's groups must not depend on the atoms); each at the given
    rate when ``c`` is 1.
    """
    powers = getattr(network, "dictionary_powers", {})
    by_power = {}
    for name, parameter in network.named_parameters():
        by_power.setdefault(powers.get(name, 0), []).append(parameter)
    return [
        {"params": parameters, "lr_scale": scale / float(atom_scale) ** power}
        for power, parameters in sorted(by_power.items())
    ]


def cosine_learning_rate(base_rate, epoch, n_epochs):
    """Cosine annealing from ``base_rate`` (epoch 0) towards zero (last epoch)."""
    return 0.5 * base_rate * (1.0 + math.cos(math.pi * epoch / n_epochs))


def set_learning_rate(optimizer, learning_rate):
    """Set every group's rate: ``learning_rate`` times the group's ``lr_scale``."""
    for group in optimizer.param_groups:
        group["lr"] = learning_rate * group.get("lr_scale", 1.0)


def minibatch_epoch(
    loss_of_rows, n_samples, *, batch_size, optimizer, rng, device, after_step, batches=None
):
    """One pass over shuffled minibatches; returns the mean loss over the rows.

    ``batches``: the minibatches' row indices (tensors) when the caller
    chooses them (whole sets), else shuffled runs of ``batch_size`` rows.
    ``after_step(rows)`` runs after each optimizer step (the dictionary step).
    A non-finite minibatch loss ends the epoch at once, before its step, and
    is returned: a diverging network is caught at the step it diverged.
    """
    if batches is None:
        order = torch.from_numpy(rng.permutation(n_samples)).to(device)
        batches = (order[start : start + batch_size] for start in range(0, n_samples, batch_size))
    # A float64 sum where the device has float64 (MPS has none).
    total_dtype = torch.float64 if exact_device(device) == device else torch.float32
    total = torch.zeros((), dtype=total_dtype, device=device)
    for rows in batches:
        loss = loss_of_rows(rows)
        if not bool(torch.isfinite(loss)):
            return float(loss.detach())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        with optimizer_state_on_cpu():
            optimizer.step()
        total += loss.detach().to(total_dtype) * rows.shape[0]
        if after_step is not None:
            after_step(rows)
    return float(total) / n_samples


class ArmijoDescent:
    """Full-batch gradient descent with Armijo backtracking (the paper's solver).

    Each step starts from the last accepted step size times two and halves it
    until ``f(p - t g) <= f(p) - c t ||g||^2``.
    """

    def __init__(self, parameters, initial_step):
        self.parameters = list(parameters)
        self.step_size = initial_step

    def step(self, loss_fn):
        """Take one descent step on ``loss_fn()``; returns the loss it reached."""
        loss = loss_fn()
        grads = torch.autograd.grad(loss, self.parameters)
        grad_norm2 = float(sum(g.pow(2).sum() for g in grads))
        start = [p.detach().clone() for p in self.parameters]
        step = self.step_size * _ARMIJO_GROW
        with torch.no_grad():
            for _ in range(_ARMIJO_MAX_BACKTRACKS):
                for p, p0, g in zip(self.parameters, start, grads, strict=True):
                    p.copy_(p0 - step * g)
                new_loss = float(loss_fn())
                if new_loss <= float(loss) - _ARMIJO_C * step * grad_norm2:
                    self.step_size = step
                    return new_loss
                step *= _ARMIJO_SHRINK
            # No decrease found (a flat or non-smooth point): stay where we were.
            for p, p0 in zip(self.parameters, start, strict=True):
                p.copy_(p0)
        return float(loss)


class NoImprovementStopper:
    """Stop after ``patience`` epochs without a relative improvement of ``tol``."""

    def __init__(self, tol, patience):
        self.tol = tol
        self.patience = patience
        self.best = math.inf
        self.epochs_without_improvement = 0

    def update(self, loss):
        """Record one epoch's loss; True when training should stop."""
        if math.isinf(self.best) or loss < self.best - self.tol * abs(self.best):
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        self.best = min(self.best, loss)
        return self.epochs_without_improvement >= self.patience
