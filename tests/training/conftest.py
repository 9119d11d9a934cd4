"""Fixtures shared by the trainer tests: the registered tiny test tracker and a small GOT-10k tree."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _training_fixtures import make_got10k, register_tiny, unregister_tiny  # noqa: E402


@pytest.fixture(scope="module")
def tiny_registered():
    """Registers the ``_tiny_test`` tracker for one test module (opt in: ``pytestmark = usefixtures(...)``)."""
    register_tiny()
    yield
    unregister_tiny()


@pytest.fixture(scope="module")
def got_root(tmp_path_factory):
    """3 sequences x 8 frames in the GOT-10k train layout."""
    root = tmp_path_factory.mktemp("got")
    make_got10k(root, "train", nseq=3, nframes=8)
    return root
