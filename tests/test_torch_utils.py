"""Helpers of ``_torch_utils``: row arg-max, finiteness test, the optimizers' default device."""

import numpy as np
import pytest
import torch

from sklearn_lsc._torch_utils import all_finite, argmax_rows, optimizer_state_on_cpu
from sklearn_lsc._training import minibatch_epoch


@pytest.mark.parametrize("shape", [(1, 1), (7, 1), (300, 256), (50, 1000)])
def test_argmax_rows_equals_torch_argmax(shape):
    generator = torch.Generator().manual_seed(0)
    values = torch.randn(shape, generator=generator)
    scratch = torch.empty_like(values)
    assert torch.equal(argmax_rows(values, scratch), values.argmax(dim=1))
    assert torch.equal(argmax_rows(values.abs(), values.abs()), values.abs().argmax(dim=1))


def test_argmax_rows_names_the_first_of_tied_maxima():
    values = torch.zeros(6, 9)
    values[1, [3, 5]] = 2.0  # a tie inside the row
    values[2] = 1.0  # every column tied
    values[3, 8] = 5.0  # the last column
    values[4, 0] = -1.0  # a negative entry, maxima 0 elsewhere
    values[5] = -torch.arange(9.0)  # all negative: the first column
    expected = torch.tensor([0, 3, 0, 8, 1, 0])
    assert torch.equal(values.argmax(dim=1), expected)  # torch's rule
    assert torch.equal(argmax_rows(values, torch.empty_like(values)), expected)


def test_argmax_rows_stays_a_valid_index_with_nan():
    values = torch.tensor([[0.0, float("nan"), 1.0], [1.0, 2.0, 3.0]])
    selected = argmax_rows(values, torch.empty_like(values))
    assert 0 <= int(selected[0]) < 3 and int(selected[1]) == 2


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_argmax_rows_of_other_dtypes_is_torch_argmax(dtype):
    # bfloat16 cannot hold the reversed index exactly (here 0 .. 299).
    values = torch.randn(20, 300).to(dtype)
    values[0, 260], values[0, 261] = 10.0, 10.0
    assert torch.equal(argmax_rows(values, torch.empty_like(values)), values.argmax(dim=1))


def test_optimizer_state_on_cpu_overrides_a_default_device(meta_default_device):
    assert torch.tensor(0.0).device.type == "meta"
    with optimizer_state_on_cpu():
        assert torch.tensor(0.0).device.type == "cpu"
        assert torch.zeros(3, device="meta").device.type == "meta"  # a named device wins
    assert torch.tensor(0.0).device.type == "meta"


class DevicelessStepAdam(torch.optim.SGD):
    """SGD whose step counter is made as torch 2.11's Adam makes it: with no device."""

    def step(self, closure=None):
        for group in self.param_groups:
            for parameter in group["params"]:
                state = self.state[parameter]
                state.setdefault("step", torch.tensor(0.0))
                state["step"] += 1
                state["step"].item()  # what Adam reads; fails on 'meta'
        return super().step(closure)


def test_minibatch_epoch_trains_under_a_meta_default_device(meta_default_device):
    weight = torch.nn.Parameter(torch.ones(2, device="cpu"))
    optimizer = DevicelessStepAdam([weight], lr=0.1)
    loss = minibatch_epoch(
        lambda rows: (weight * weight).sum(),
        4,
        batch_size=2,
        optimizer=optimizer,
        rng=np.random.RandomState(0),
        device=torch.device("cpu"),
        after_step=None,
    )
    # Two steps of SGD at rate 0.1 on ||w||^2 from w = 1: w = 0.8, then 0.64.
    assert loss == pytest.approx((2.0 * 2 + 2 * 0.8**2 * 2) / 4)
    assert optimizer.state[weight]["step"].device.type == "cpu"
    assert float(optimizer.state[weight]["step"]) == 2
    assert torch.allclose(weight.detach(), torch.full((2,), 0.8**2, device="cpu"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_all_finite_matches_the_elementwise_test(dtype):
    """A finite sum settles it; a sum that overflows from finite entries does not."""
    largest = torch.finfo(dtype).max
    finite = torch.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=dtype)
    overflowing = torch.full((4, 3), largest, dtype=dtype)  # finite, their sum is not
    assert not bool(torch.isfinite(overflowing.sum()))
    for tensor in (finite, overflowing, torch.empty(0, 3, dtype=dtype)):
        assert all_finite(tensor)
    for bad in (float("nan"), float("inf"), -float("inf")):
        for tensor in (finite, overflowing):
            spoiled = tensor.clone()
            spoiled[-1, -1] = bad
            assert not all_finite(spoiled)
