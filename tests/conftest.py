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
