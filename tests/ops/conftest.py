"""Small-tensor tests run faster single-threaded (thread hand-off dominates on the shared 2-core box)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
