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


# SPARSE_DENSITY forcing each way of the products with the codes: every row
# dense (BLAS), every row sparse, and rows of both in one batch.
_PRODUCTS = {"BLAS products": -1.0, "sparse products": 2.0, "mixed products": 0.08}


@pytest.fixture(params=list(_PRODUCTS))
def code_products(request, monkeypatch):
    """Each way of the fused kernels' products with the codes, forced for the test
    (:func:`sklearn_lsc._fused.code_product` picks each row's by its count)."""
    from sklearn_lsc import _fused

    monkeypatch.setattr(_fused, "SPARSE_DENSITY", _PRODUCTS[request.param])
    return request.param
