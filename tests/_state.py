"""Snapshots of an estimator's whole state, to check that a failed call changed nothing."""

import numpy as np
import torch


def _frozen(value):
    if isinstance(value, torch.nn.Module):
        return {key: tensor.detach().clone() for key, tensor in value.state_dict().items()}
    if isinstance(value, torch.optim.Optimizer):
        state = value.state_dict()
        return {
            "state": {
                key: {name: _frozen(item) for name, item in entry.items()}
                for key, entry in state["state"].items()
            },
            "param_groups": [dict(group) for group in state["param_groups"]],
        }
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, np.random.RandomState):
        return value.get_state(legacy=False)
    if isinstance(value, list | tuple):
        return type(value)(_frozen(item) for item in value)
    if isinstance(value, dict):
        return {key: _frozen(item) for key, item in value.items()}
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {key: _frozen(item) for key, item in vars(value).items()}
    return value


def snapshot(estimator):
    """Every fitted attribute of ``estimator`` (not its parameters), copied; caches excluded."""
    return {
        key: _frozen(value)
        for key, value in vars(estimator).items()
        if (key.startswith("_") or key.endswith("_"))
        and key not in ("_transform_module", "_auto_precision")
    }


def assert_same(actual, expected, path="state"):
    """Equal snapshots: same keys, arrays and tensors equal (NaN equal to NaN)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), path
        for key in expected:
            assert_same(actual[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list | tuple):
        assert type(actual) is type(expected) and len(actual) == len(expected), path
        for index, (left, right) in enumerate(zip(actual, expected, strict=True)):
            assert_same(left, right, f"{path}[{index}]")
    elif isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor) and actual.dtype == expected.dtype, path
        np.testing.assert_array_equal(
            actual.double().cpu().numpy(), expected.double().cpu().numpy(), err_msg=path
        )
    elif isinstance(expected, np.ndarray):
        np.testing.assert_array_equal(actual, expected, err_msg=path)
    else:
        assert actual == expected, path
