"""LBCoFB: learned block-coordinate forward-backward (Sprechmann et al. 2012)."""

import torch
from torch import nn

from .. import _fused_lbcofb as fused_lbcofb
from .._penalties import grouped_penalty_like
from .._prox import (
    group_norms,
    group_shrink_factor,
    keep_group,
)
from ..solvers import (
    bcofb_operators,
)
from ._common import GroupedNetwork, records_constructor_arguments

# In :meth:`LBCoFB._forward_in_place_by_atom`, every group's move comes from
# the full arrays once the code holds at least n_groups / 5 groups (from there
# gathering the held blocks costs more on a GPU).
_FULL_MOVES_PER_GROUP = 5


@records_constructor_arguments
class LBCoFB(GroupedNetwork, nn.Module):
    """Learned block-coordinate forward-backward (Sprechmann et al. 2012).

    Each layer computes ``Zt = prox_{t, s}(B)``, selects per sample the group
    ``r`` where ``Zt`` moves most (l2 norm of the change), sets ``Z_r = Zt_r``
    and updates ``B``; the output is ``prox_{t, s}(B)``. The selected group's
    change is a masked row vector, so a layer is a few batched products, with
    no loop over samples or groups.

    ``B`` is updated as ``B = Z + (X - Z D) W_t``, i.e. the paper's
    ``B += (Zt_r - Z_r) S_t`` with ``S_t = I - D W_t``: the update matrix is
    coupled to the dictionary as in :class:`LISTA`. With a free ``S_t`` the
    network overfits a few thousand training signals; coupled it
    generalizes, at the same cost per layer once atoms number at least
    twice the features.

    Untrained (``W_t = D^T / mu``) it equals ``n_layers`` block updates of
    BCoFB followed by the final prox.

    Inference on the CPU (no autograd, rows coded alone) runs a fused numba
    kernel where numba is installed (:mod:`sklearn_lsc._fused_lbcofb`: the
    prox and the block selection row by row between the products, any
    partition or tree); the torch passes below are the fallback and the
    other devices' passes. Inference over a tree of groups whose roots are
    equal contiguous blocks runs in reused buffers too
    (:meth:`_forward_in_place_whole_prox`).
    Inference with contiguous groups (no autograd) runs in reused buffers and
    forms only the selected group's proximal point, same codes up to rounding:
    on the CPU without numba eagerly (:meth:`_forward_in_place`; compiled for
    a CPU the plain forward is faster), on GPUs eagerly with atoms along rows
    (:meth:`_forward_in_place_by_atom`) and compiled row-major, the fastest
    torch pass of each case (``benchmarks/throughput.py``).

    Built as every network is (see :mod:`sklearn_lsc._networks`), with a
    penalty that has groups. With ``sets`` (collaborative HiLasso) the rows
    of a set select one group per layer, by the joint norm of their
    changes, and shrink with the set's joint norms (the plain forward):
    untrained it equals collaborative BCoFB.
    """

    def __init__(self, dictionary, penalty, n_layers):
        super().__init__()
        self.penalty = grouped_penalty_like(penalty, dictionary, type(self).__name__)
        W, _, step = bcofb_operators(dictionary, self.block_index, self.penalty.n_blocks)
        self.register_buffer("dictionary", dictionary.detach().clone())
        self.W = nn.Parameter(W.expand(n_layers + 1, -1, -1).clone())
        thresholds, group_thresholds = self.penalty.thresholds(step)
        self.t = nn.Parameter(
            torch.full(
                (n_layers + 1, W.shape[1]), float(thresholds), dtype=W.dtype, device=W.device
            )
        )
        self.s = nn.Parameter(group_thresholds.expand(n_layers + 1, -1).clone())

    # The axes of each parameter that run over the atoms (see reset_atoms).
    atom_axes = {"W": (2,), "t": (1,)}
    # How each parameter scales with the atoms' norms (see LISTA): W is
    # D^T / mu, the thresholds alpha / mu and group_alpha / mu.
    dictionary_powers = {"W": 1, "t": 1, "s": 1}

    @property
    def n_layers(self):
        return self.t.shape[0] - 1

    def set_dictionary(self, dictionary):
        """Follow a dictionary update: the layers' residuals use the new atoms."""
        self.dictionary.copy_(dictionary)

    def forward(self, X, sets=None):
        """Codes of ``X``; rows of one of ``sets`` (compact labels) select and shrink as one."""
        if sets is not None:
            return self._forward_dense(X, self.penalty.with_sets(sets))
        if not torch.is_grad_enabled():
            if fused_lbcofb.applies(self, X):
                code = fused_lbcofb.lbcofb_forward(self, X)
                if code is not None:
                    return code
            compiling = torch.compiler.is_compiling()
            # Compiled for a CPU, the in-place passes (gathers and scatters in
            # reused buffers) run slower than the plain one, which the
            # compiler fuses; compiled for a GPU they are the fastest.
            in_place = not (compiling and X.device.type == "cpu")
            if self.group_size is not None:
                if X.device.type == "cuda" and not compiling:
                    return self._forward_in_place_by_atom(X)
                if in_place:
                    return self._forward_in_place(X)
            elif self.penalty.block_size is not None and in_place:
                return self._forward_in_place_whole_prox(X)
        return self._forward_dense(X)

    def _forward_dense(self, X, penalty=None):
        # Block updates: over the groups of a partition, the root groups of a tree.
        penalty = self.penalty if penalty is None else penalty
        n_groups, group_index = penalty.n_blocks, self.block_index
        group_size = penalty.block_size
        W = self.W.unbind()  # (one backward for all layers: see LISTA.forward)
        B = X @ W[0]
        code = torch.zeros_like(B)
        for layer in range(self.n_layers):
            change = penalty.shrink(B, self.t[layer], self.s[layer]) - code
            moves = group_norms(change, group_index, n_groups, group_size)
            if penalty.sets is not None:  # a set moves the block its rows move most, as one
                moves = penalty.joint(moves * moves)
            selected = moves.argmax(1, True)
            code = code + keep_group(change, group_index, selected, group_size)
            residual = torch.addmm(X, code, self.dictionary, alpha=-1.0)
            B = torch.addmm(code, residual, W[layer + 1])
        return penalty.shrink(B, self.t[-1], self.s[-1])

    def _forward_in_place(self, X):
        """The forward pass for inference, in reused buffers (same codes up to rounding).

        A layer touches the full ``(n_samples, n_components)`` arrays only to
        soft-threshold ``B`` in place, take its group norms and form the two
        products; the group shrink and the moves are worked out per group:

        - a group the code does not hold moves by the norm of its proximal
          point, the shrink factor times the soft-thresholded norm;
        - the groups it holds (at most one per earlier layer, remembered)
          move by ``||prox(B)_g - Z_g||``, computed on their gathered blocks;
        - only the selected group's proximal point is formed and written.

        Autograd takes the plain forward, which forms every group's proximal
        point and change (twice the full-size passes per layer). On GPUs,
        where those passes bound the layer, this is faster than forming
        them in place; on the CPU the products bound it (same time).
        """
        n_samples, n_groups, size = X.shape[0], self.s.shape[1], self.group_size
        code = torch.zeros(n_samples, n_groups * size, dtype=X.dtype, device=X.device)
        residual = torch.empty_like(X)
        B, scratch = torch.empty_like(code), torch.empty_like(code)
        # Blocks are addressed as rows of the (n_samples * n_groups, size)
        # views: `index_select` and `index_copy_` there are faster on the CPU
        # than advanced indexing of the (n_samples, n_groups, size) views.
        B_blocks, code_blocks = B.view(-1, size), code.view(-1, size)
        first_block = torch.arange(0, n_samples * n_groups, n_groups, device=X.device)
        held = torch.empty(self.n_layers, n_samples, dtype=torch.long, device=X.device)
        torch.mm(X, self.W[0], out=B)
        for layer in range(self.n_layers):
            self.penalty.shrink_in_place(B, self.t[layer], scratch)
            norms = torch.linalg.vector_norm(B_blocks, dim=1).view(n_samples, n_groups)
            factor = group_shrink_factor(norms, self.s[layer]).view(-1)
            moves = norms.view(-1).mul_(factor)
            if layer:
                earlier = held[:layer].view(-1)
                point = B_blocks.index_select(0, earlier)
                point.mul_(factor.index_select(0, earlier).unsqueeze(1))
                point -= code_blocks.index_select(0, earlier)
                # A group held twice gets the same value twice.
                moves.index_copy_(0, earlier, torch.linalg.vector_norm(point, dim=1))
            # torch's CPU `argmax` is slower than `max`; both name the first
            # of tied maxima.
            selected = moves.view(n_samples, n_groups).max(dim=1).indices.add_(first_block)
            held[layer] = selected
            point = B_blocks.index_select(0, selected)
            code_blocks.index_copy_(
                0, selected, point.mul_(factor.index_select(0, selected).unsqueeze(1))
            )
            torch.addmm(X, code, self.dictionary, alpha=-1.0, out=residual)
            torch.addmm(code, residual, self.W[layer + 1], out=B)
        return self._prox_in_place(B, self.n_layers, scratch)

    def _forward_in_place_whole_prox(self, X):
        """The forward pass for inference when blocks are equal contiguous runs of atoms
        but the prox is not a partition's (a tree of groups whose roots are such blocks).

        As :meth:`_forward_in_place`, in reused buffers, except that each
        layer forms the whole proximal point in place (the tree's nested
        shrinks are not a per-block factor): a block the code does not hold
        moves by the norm of its proximal point, a held one by
        ``||prox(B)_r - Z_r||`` on its gathered block. Same codes as the
        plain forward up to rounding.
        """
        n_samples, n_blocks = X.shape[0], self.penalty.n_blocks
        size = self.penalty.block_size
        code = torch.zeros(n_samples, n_blocks * size, dtype=X.dtype, device=X.device)
        residual = torch.empty_like(X)
        B, scratch = torch.empty_like(code), torch.empty_like(code)
        B_blocks, code_blocks = B.view(-1, size), code.view(-1, size)
        first_block = torch.arange(0, n_samples * n_blocks, n_blocks, device=X.device)
        held = torch.empty(self.n_layers, n_samples, dtype=torch.long, device=X.device)
        torch.mm(X, self.W[0], out=B)
        for layer in range(self.n_layers):
            self._prox_in_place(B, layer, scratch)  # B holds the proximal point
            moves = torch.linalg.vector_norm(B_blocks, dim=1)
            if layer:
                earlier = held[:layer].view(-1)
                point = B_blocks.index_select(0, earlier) - code_blocks.index_select(0, earlier)
                moves.index_copy_(0, earlier, torch.linalg.vector_norm(point, dim=1))
            selected = moves.view(n_samples, n_blocks).max(dim=1).indices.add_(first_block)
            held[layer] = selected
            code_blocks.index_copy_(0, selected, B_blocks.index_select(0, selected))
            torch.addmm(X, code, self.dictionary, alpha=-1.0, out=residual)
            torch.addmm(code, residual, self.W[layer + 1], out=B)
        return self._prox_in_place(B, self.n_layers, scratch)

    def _forward_in_place_by_atom(self, X):
        """:meth:`_forward_in_place` on ``(n_components, n_samples)`` arrays (GPUs).

        With atoms along rows a group is a block of rows, so its norms reduce
        over a middle dimension, which GPUs read coalesced: faster there
        than the row-major pass's runs of ``group_size`` values. The
        products take transposed operands at no cost. Gathering a block per
        sample is the costly part here (the samples' blocks lie in different
        rows), so once the code holds a few groups every group's move is
        computed at once, from the full arrays. On the CPU this layout is
        slower than the row-major pass (gathers along the outer dimension);
        the dense forward remains the reference (same codes up to
        rounding).
        """
        n_samples, n_groups, size = X.shape[0], self.s.shape[1], self.group_size
        X_by_feature = X.T.contiguous()
        code_blocks = torch.zeros(n_groups, size, n_samples, dtype=X.dtype, device=X.device)
        code = code_blocks.view(n_groups * size, n_samples)
        B, scratch = torch.empty_like(code), torch.empty_like(code)
        B_blocks, changes = B.view(n_groups, size, n_samples), scratch.view_as(code_blocks)
        residual = torch.empty_like(X_by_feature)
        held = torch.empty(self.n_layers, n_samples, dtype=torch.long, device=X.device)
        torch.mm(self.W[0].T, X_by_feature, out=B)
        for layer in range(self.n_layers):
            self.penalty.shrink_in_place(B, self.t[layer].unsqueeze(1), scratch)
            norms = torch.linalg.vector_norm(B_blocks, dim=1)
            factor = group_shrink_factor(norms, self.s[layer].unsqueeze(1))
            if layer * _FULL_MOVES_PER_GROUP >= n_groups:
                # Gathering the held blocks of B and of the code would read
                # 2 * layer of the n_groups blocks per sample, uncoalesced (a
                # gathered block costs more than half a full pass on a GPU); one
                # fused pass forms every group's change (where the code is
                # zero, the proximal point).
                torch.addcmul(code_blocks, B_blocks, factor.unsqueeze(1), value=-1.0, out=changes)
                moves = torch.linalg.vector_norm(changes, dim=1)
            else:
                moves = norms.mul_(factor)
                if layer:
                    earlier = held[:layer]
                    blocks = earlier.unsqueeze(1).expand(layer, size, n_samples)
                    point = torch.gather(B_blocks, 0, blocks)
                    point.mul_(torch.gather(factor, 0, earlier).unsqueeze(1))
                    point -= torch.gather(code_blocks, 0, blocks)
                    # A group held twice gets the same value twice.
                    moves.scatter_(0, earlier, torch.linalg.vector_norm(point, dim=1))
            selected = moves.max(dim=0, keepdim=True).indices  # first of tied maxima
            held[layer] = selected[0]
            block = selected.unsqueeze(1).expand(1, size, n_samples)
            point = torch.gather(B_blocks, 0, block)
            point.mul_(torch.gather(factor, 0, selected).unsqueeze(1))
            code_blocks.scatter_(0, block, point)
            torch.addmm(X_by_feature, self.dictionary.T, code, alpha=-1.0, out=residual)
            torch.addmm(code, self.W[layer + 1].T, residual, out=B)
        self.penalty.shrink_in_place(B, self.t[-1].unsqueeze(1), scratch)
        norms = torch.linalg.vector_norm(B_blocks, dim=1)
        factor = group_shrink_factor(norms, self.s[-1].unsqueeze(1)).unsqueeze(1)
        # The last group shrink writes the codes in the caller's layout, in the
        # memory the code and scratch arrays free.
        del code_blocks, code, changes, scratch
        codes = torch.empty(n_samples, n_groups * size, dtype=X.dtype, device=X.device)
        torch.mul(B_blocks, factor, out=codes.T.view(n_groups, size, n_samples))
        return codes

    def _prox_in_place(self, B, layer, scratch):
        """The penalty's prox with layer ``layer``'s thresholds, overwriting ``B``."""
        return self.penalty.shrink_in_place(B, self.t[layer], scratch, self.s[layer])
