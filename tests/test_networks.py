"""Untrained networks equal their algorithms; gradients reach every parameter."""

import numpy as np
import pytest
import torch
from _reference import cod_reference, ista_reference

from sklearn_lsc._networks import LISTA, LCoD


def problem(seed=0, n_samples=12, n_components=16, n_features=10):
    rng = np.random.default_rng(seed)
    D = rng.standard_normal((n_components, n_features))
    D *= rng.uniform(0.5, 2.0, size=(n_components, 1))  # atoms of unequal norms
    X = rng.standard_normal((n_samples, n_features))
    return X, D


@pytest.mark.parametrize("n_layers", [1, 2, 5])
def test_untrained_lista_equals_ista_iterations(n_layers):
    X, D = problem()
    network = LISTA(torch.tensor(D), alpha=0.3, n_layers=n_layers).double()
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    np.testing.assert_allclose(code, ista_reference(X, D, 0.3, n_layers), atol=1e-12)


@pytest.mark.parametrize("n_layers", [1, 3, 8])
def test_untrained_lcod_equals_coordinate_descent_updates(n_layers):
    X, D = problem(1)
    network = LCoD(torch.tensor(D), alpha=0.3, n_layers=n_layers).double()
    with torch.no_grad():
        code = network(torch.tensor(X)).numpy()
    np.testing.assert_allclose(code, cod_reference(X, D, 0.3, n_layers), atol=1e-12)


@pytest.mark.parametrize("network_class", [LISTA, LCoD])
def test_rows_are_coded_independently_of_the_batch(network_class):
    X, D = problem(2)
    network = network_class(torch.tensor(D), alpha=0.3, n_layers=4)
    with torch.no_grad():
        whole = network(torch.tensor(X))
        one_by_one = torch.cat([network(torch.tensor(X[i : i + 1])) for i in range(len(X))])
    torch.testing.assert_close(whole, one_by_one)


@pytest.mark.parametrize("network_class", [LISTA, LCoD])
def test_gradients_reach_every_parameter(network_class):
    X, D = problem(3)
    network = network_class(torch.tensor(D), alpha=0.1, n_layers=3)
    X_tensor = torch.tensor(X)
    loss = 0.5 * (X_tensor - network(X_tensor) @ torch.tensor(D)).pow(2).sum()
    loss.backward()
    for name, parameter in network.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_lista_gradient_matches_finite_differences():
    X, D = problem(4, n_samples=4, n_components=6, n_features=5)
    network = LISTA(torch.tensor(D), alpha=0.1, n_layers=3)
    X_tensor, D_tensor = torch.tensor(X), torch.tensor(D)

    def loss():
        code = network(X_tensor)
        return 0.5 * (X_tensor - code @ D_tensor).pow(2).sum() + 0.1 * code.abs().sum()

    loss().backward()
    analytic = network.W.grad[1, 2, 3].item()
    step = 1e-6
    with torch.no_grad():
        network.W[1, 2, 3] += step
        plus = loss().item()
        network.W[1, 2, 3] -= 2 * step
        minus = loss().item()
    assert analytic == pytest.approx((plus - minus) / (2 * step), rel=1e-5, abs=1e-8)


def test_lista_follows_a_new_dictionary():
    X, D = problem(5)
    network = LISTA(torch.tensor(D), alpha=0.3, n_layers=3)
    new_D = D[::-1].copy()
    network.set_dictionary(torch.tensor(new_D))
    np.testing.assert_array_equal(network.dictionary.numpy(), new_D)
