"""Fixtures shared by the test modules."""

import pytest
import torch


@pytest.fixture
def meta_default_device():
    """torch's default device set to 'meta' (where nothing can be computed) for the test."""
    previous = torch.get_default_device()
    torch.set_default_device("meta")
    try:
        yield
    finally:
        torch.set_default_device(previous)


@pytest.fixture(params=["BLAS products", "sparse products"])
def code_products(request, monkeypatch):
    """Each way of the fused kernels' products with the codes, forced for the test:
    BLAS's dense product or the kernel that skips zero codes
    (:func:`sklearn_lsc._fused.code_product` picks one by the codes' density)."""
    from sklearn_lsc import _fused

    monkeypatch.setattr(_fused, "SPARSE_DENSITY", 0.0 if request.param == "BLAS products" else 2.0)
    return request.param
