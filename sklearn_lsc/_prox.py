"""Proximal operators used by the exact solvers and the unrolled networks."""

import torch


def soft_threshold(values, threshold):
    """Element-wise soft threshold ``sign(v) * max(|v| - t, 0)``.

    ``threshold`` broadcasts against ``values`` (a scalar, one threshold per
    coefficient, ...). Written with ``relu`` so that autograd sees a plain
    piecewise-linear function.
    """
    return torch.sign(values) * torch.relu(values.abs() - threshold)
