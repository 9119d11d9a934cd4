"""Fixture for the VOT integration tests: a few tiny sequences in GOT-10k layout
(which is also the VOT toolkit's legacy layout: ``groundtruth.txt`` + ``%08d.jpg``)."""
from __future__ import annotations

import pytest

from _votkit import JUMP_FRAME, make_toy_sequence
from tracking.evaluation.data import SequenceList


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory) -> SequenceList:
    """Three 30-frame sequences; ``toy_jump`` has a teleport at :data:`JUMP_FRAME`.
    ``root/list.txt`` makes the folder a VOT (legacy-format) dataset too."""
    root = tmp_path_factory.mktemp("vot_toy")
    seqs = SequenceList([make_toy_sequence(root, "toy_a", 1), make_toy_sequence(root, "toy_jump", 2, jump_at=JUMP_FRAME),
                         make_toy_sequence(root, "toy_b", 3)])
    (root / "list.txt").write_text("\n".join(s.name for s in seqs) + "\n")
    seqs.root = root  # type: ignore[attr-defined]
    return seqs
