"""Proximal operators used by the exact solvers and the unrolled networks.

Group operations take the atom-to-group map ``group_index`` and, when every
group is a contiguous block of the same size, that ``group_size``: then they
work on a ``(n_samples, n_groups, group_size)`` view, with no scatter or
gather (faster on the CPU for the usual layouts).
"""

import torch


def contiguous_group_size(group_index, n_groups):
    """``m`` when group ``g`` is exactly atoms ``[g m, (g + 1) m)`` for all ``g``, else None."""
    n_components = group_index.shape[0]
    if n_components % n_groups:
        return None
    size = n_components // n_groups
    blocks = torch.arange(n_components, device=group_index.device) // size
    return size if torch.equal(group_index, blocks) else None


class _SoftThreshold(torch.autograd.Function):
    """``v - clamp(v, -t, t)`` with a hand-written backward.

    Autograd's own backward of a clamp with tensor bounds builds several
    masks per call; this one needs only the sign of the output, which makes
    a training step faster.
    """

    @staticmethod
    def forward(ctx, values, threshold):
        out = values - torch.clamp(values, -threshold, threshold)
        ctx.save_for_backward(out)
        ctx.threshold_shape = threshold.shape
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        direction = torch.sign(out)  # zero where the output is thresholded to zero
        grad_values = grad_threshold = None
        if ctx.needs_input_grad[0]:
            grad_values = grad * direction.abs()
        if ctx.needs_input_grad[1]:
            grad_threshold = (-grad * direction).sum_to_size(ctx.threshold_shape)
        return grad_values, grad_threshold


def soft_threshold(values, threshold):
    """Element-wise soft threshold ``sign(v) * max(|v| - t, 0)``.

    ``threshold`` (a float or a tensor broadcasting against ``values``) must
    be nonnegative; a learned threshold that goes negative acts as zero.
    Computed as ``v - clamp(v, -t, t)``: two passes over memory.
    """
    if not isinstance(threshold, torch.Tensor):
        threshold = max(float(threshold), 0.0)
        return values - torch.clamp(values, -threshold, threshold)
    threshold = threshold.clamp_min(0.0)
    if torch.is_grad_enabled() and (values.requires_grad or threshold.requires_grad):
        return _SoftThreshold.apply(values, threshold)
    return values - torch.clamp(values, -threshold, threshold)


def soft_threshold_in_place(values, threshold, scratch):
    """:func:`soft_threshold` overwriting ``values``; ``scratch`` (same shape) holds the clamp.

    For inference and exact solvers (no autograd): fresh full-size
    temporaries cost page faults on the CPU, more than the arithmetic.
    """
    if isinstance(threshold, torch.Tensor):
        threshold = threshold.clamp_min(0.0)
    else:
        threshold = max(float(threshold), 0.0)
    return values.sub_(torch.clamp(values, -threshold, threshold, out=scratch))


def one_sided_shrink(values, threshold):
    """``max(v - t, 0)``: the prox of ``t ||z||_1`` restricted to ``z >= 0``.

    ``threshold`` as in :func:`soft_threshold` (negative acts as zero).
    """
    if not isinstance(threshold, torch.Tensor):
        return torch.relu(values - max(float(threshold), 0.0))
    return torch.relu(values - threshold.clamp_min(0.0))


def one_sided_shrink_in_place(values, threshold):
    """:func:`one_sided_shrink` overwriting ``values``."""
    if isinstance(threshold, torch.Tensor):
        return values.sub_(threshold.clamp_min(0.0)).relu_()
    return values.sub_(max(float(threshold), 0.0)).relu_()


def group_shrink_factor(norms, group_thresholds):
    """Each group's factor ``max(0, 1 - s_g / ||z_g||)`` in the group shrink, from its norms."""
    return torch.relu(1.0 - group_thresholds / norms.clamp_min(1e-15))  # as in group_norms


def group_shrink_in_place(values, group_thresholds, group_size):
    """:func:`group_shrink` of contiguous groups of ``group_size`` atoms, in place."""
    blocks = values.view(values.shape[0], -1, group_size)
    norms = torch.linalg.vector_norm(blocks, dim=2)
    blocks.mul_(group_shrink_factor(norms, group_thresholds).unsqueeze(2))
    return values


def group_sums(values, group_index, n_groups, group_size=None):
    """Per-sample sum of each group of ``values``: shape ``(n_samples, n_groups)``."""
    if group_size is not None:
        return values.reshape(values.shape[0], n_groups, group_size).sum(dim=2)
    return values.new_zeros(values.shape[0], n_groups).index_add_(1, group_index, values)


def group_norms(code, group_index, n_groups, group_size=None):
    """Per-sample l2 norm of each group of ``code``: shape ``(n_samples, n_groups)``.

    The squared norms are clamped away from zero before the square root so
    that the gradient at an all-zero group is finite (zero), not NaN.
    """
    squares = group_sums(code * code, group_index, n_groups, group_size)
    return torch.sqrt(squares.clamp_min(1e-30))


def scale_groups(code, group_index, scale, group_size=None):
    """Multiply each group of ``code`` by its per-sample factor ``scale`` (n_samples, n_groups)."""
    if group_size is not None:
        n_samples, n_groups = scale.shape
        blocks = code.reshape(n_samples, n_groups, group_size) * scale.unsqueeze(2)
        return blocks.reshape(code.shape)
    return code * per_atom(scale, group_index)


# Up to this many entries (groups times atoms), per_atom multiplies by the
# one-hot membership instead of gathering columns.
_ONE_HOT_ENTRIES = 1 << 16


def per_atom(per_group, group_index):
    """``per_group[:, group_index]``: each atom's column of its group's values.

    On CPUs a gather of columns is slower than a product with
    the one-hot membership matrix, which gives the same values exactly for
    finite ones (each sum has one nonzero term; a NaN factor reaches every
    atom of its row). Large memberships, other devices, float32 when
    torch's float32 products may round (``set_float32_matmul_precision``
    other than "highest") and integers gather.
    """
    n_groups, n_components = per_group.shape[1], group_index.shape[0]
    if (
        n_groups * n_components > _ONE_HOT_ENTRIES
        or per_group.device.type != "cpu"
        or per_group.dtype not in (torch.float32, torch.float64)
        or (per_group.dtype == torch.float32 and torch.get_float32_matmul_precision() != "highest")
    ):
        return per_group.index_select(1, group_index)
    one_hot = per_group.new_zeros(n_groups, n_components)
    one_hot[group_index, torch.arange(n_components, device=group_index.device)] = 1.0
    return per_group @ one_hot


def keep_group(code, group_index, selected, group_size=None):
    """``code`` with every group but ``selected`` (n_samples, 1) of each sample zeroed."""
    if group_size is not None:
        n_groups = code.shape[1] // group_size
        one_hot = code.new_zeros(code.shape[0], n_groups).scatter_(1, selected, 1.0)
        return scale_groups(code, group_index, one_hot, group_size)
    return code * (group_index == selected)


def group_shrink(code, group_index, group_thresholds, group_size=None):
    """Scale each group ``z_g`` by ``max(0, 1 - s_g / ||z_g||)`` (block soft threshold)."""
    norms = group_norms(code, group_index, group_thresholds.shape[-1], group_size)
    scale = torch.relu(1.0 - group_thresholds / norms)
    return scale_groups(code, group_index, scale, group_size)
