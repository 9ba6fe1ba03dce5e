"""``device``: "auto", any accelerator torch names, clear errors; resolved without one."""

import numpy as np
import pytest
import torch

import sklearn_lsc._torch_utils as torch_utils
from sklearn_lsc import LearnedLassoEncoder, sparse_encode
from sklearn_lsc._torch_utils import exact_device, resolve_device, to_tensor


@pytest.fixture
def accelerator(monkeypatch):
    """Pretend torch can use ``(type, count)`` devices (current index 0)."""

    def pretend(kind, count):
        monkeypatch.setattr(torch_utils, "available_accelerator", lambda: (kind, count))
        monkeypatch.setattr(torch_utils, "_current_index", lambda device_type: 0)

    return pretend


@pytest.fixture
def no_accelerator(monkeypatch):
    monkeypatch.setattr(torch_utils, "available_accelerator", lambda: None)


def test_auto_is_the_cpu_without_an_accelerator(no_accelerator):
    assert resolve_device("auto") == torch.device("cpu")


@pytest.mark.parametrize("kind", ["cuda", "mps", "xpu"])
def test_auto_is_the_accelerator_torch_can_use(accelerator, kind):
    accelerator(kind, 2)
    assert resolve_device("auto") == torch.device(kind, 0)
    assert resolve_device(kind) == torch.device(kind, 0)
    assert resolve_device(f"{kind}:1") == torch.device(kind, 1)
    assert resolve_device(torch.device(kind, 1)) == torch.device(kind, 1)


def test_a_device_index_beyond_the_machines_is_refused(accelerator):
    accelerator("mps", 1)
    with pytest.raises(ValueError, match=r"'device' parameter asks for 'mps:1'.*1 mps device"):
        resolve_device("mps:1")


@pytest.mark.parametrize("asked", ["cuda", "xpu:0", "mps"])
def test_another_accelerator_than_the_available_one_is_refused(accelerator, asked):
    accelerator("hpu", 1)
    with pytest.raises(ValueError, match=r"the CPU and 'hpu'.*device='auto'"):
        resolve_device(asked)


def test_an_accelerator_is_refused_on_a_cpu_only_machine(no_accelerator):
    with pytest.raises(ValueError, match="the CPU only"):
        resolve_device("mps", param_name="device")
    with pytest.raises(ValueError, match="the CPU only"):
        sparse_encode(np.ones((2, 3)), np.eye(3), device="xpu")


@pytest.mark.parametrize("device", ["meta", "gpu please", "cuda:x", ""])
def test_names_that_are_not_a_compute_device_are_refused(device):
    with pytest.raises(ValueError, match="'device' parameter must be 'auto'"):
        resolve_device(device)


def test_a_device_of_the_wrong_type_is_refused():
    with pytest.raises(TypeError, match="'device' parameter"):
        resolve_device(0)


def test_float64_sums_run_where_exact_device_says(monkeypatch):
    # The objective of score and score_samples (float64) is computed on
    # exact_device(device): the CPU for a device without float64.
    import sklearn_lsc._inference as inference

    seen = []

    def spy(device):
        seen.append(device)
        return torch.device("cpu")

    monkeypatch.setattr(inference, "exact_device", spy)
    X = np.random.default_rng(1).standard_normal((40, 6)).astype(np.float32)
    encoder = LearnedLassoEncoder(n_components=8, alpha=0.1, max_iter=2).fit(X)
    encoder.score(X)
    assert seen == [torch.device("cpu")]


def test_estimators_and_the_solver_accept_auto():
    # Whatever this machine has: codes agree with the CPU's.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 6)).astype(np.float32)
    D = rng.standard_normal((8, 6)).astype(np.float32)
    on_auto = sparse_encode(X, D, alpha=0.1, device="auto")
    np.testing.assert_allclose(on_auto, sparse_encode(X, D, alpha=0.1), atol=1e-4)
    params = dict(dictionary=D, alpha=0.1, max_iter=2, random_state=0)
    encoder = LearnedLassoEncoder(**params, device="auto").fit(X)
    assert encoder.device == "auto"  # the parameter as given, resolved at each call
    assert encoder.transform(X).dtype == np.float32


def test_float64_on_a_device_without_it_is_refused_before_any_transfer():
    array = np.ones((2, 2))
    with pytest.raises(ValueError, match=r"'mps' device has no float64.*float32"):
        to_tensor(array, device=torch.device("mps"), dtype=torch.float64)


def test_float64_work_of_a_device_without_it_runs_on_the_cpu():
    assert exact_device(torch.device("mps", 0)) == torch.device("cpu")
    assert exact_device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert exact_device(torch.device("cpu")) == torch.device("cpu")
