"""The TraX server driven by a bare vot-trax 4.x client (no toolkit): polygon initialisation,
confidence reporting, clean quit, and a setup error delivered as a TraX quit reason."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from _votkit import REPO, toolkit_available
from tracking.votkit.server import polygon_to_box

pytestmark = pytest.mark.skipif(not toolkit_available(), reason="vot-trax not installed")


def _start(args, tmp_path):
    from trax.client import Client

    env = dict(os.environ, TRAX="1", PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-c", f"from tracking.votkit.server import main; raise SystemExit(main({args!r}))"]
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=env, bufsize=0, cwd=tmp_path)
    log = []
    return p, Client(stream=(p.stdin.fileno(), p.stdout.fileno()), log=log.append), log


def _image(path):
    from trax.image import FileImage

    return {"color": FileImage.create(str(path))}


def test_polygon_init_confidence_and_quit(toy_dataset, tmp_path):
    from trax.region import Polygon

    seq = toy_dataset["toy_a"]
    p, client, _ = _start(["ncc", "default", "--device", "cpu", "--threads", "1"], tmp_path)
    try:
        assert client.get("sotlab.tracker") == "ncc" and client.get("vot") is None  # no per-init restarts
        assert set(client.region_formats) == {"rectangle", "polygon"}
        x, y, w, h = seq.ground_truth[0]
        poly = [(x, y + h / 2), (x + w / 2, y), (x + w, y + h / 2), (x + w / 2, y + h)]  # a diamond
        state, _ = client.initialize(_image(seq.frames[0]), [(Polygon.create(poly), {})], {})
        np.testing.assert_allclose(state[0][0].bounds(), polygon_to_box(poly, "minmax"), atol=1e-3)  # 4 decimals
        np.testing.assert_allclose(polygon_to_box(poly, "minmax"), [x, y, w, h], atol=1e-9)
        for f in seq.frames[1:4]:
            state, _ = client.frame(_image(f), {}, [])
            region, props = state[0]
            assert region.type == "rectangle" and -1.0 <= float(props["confidence"]) <= 1.0
        client.quit()
        assert p.wait(timeout=60) == 0
    finally:
        if p.poll() is None:
            p.kill()


def test_setup_error_is_a_trax_quit_reason(toy_dataset, tmp_path):
    from trax import TraxException
    from trax.region import Rectangle

    seq = toy_dataset["toy_a"]
    p, client, _ = _start(["ncc", "nosuchconfig"], tmp_path)
    try:
        with pytest.raises(TraxException, match=r"could not be set up: ConfigError: no config 'nosuchconfig'"):
            client.initialize(_image(seq.frames[0]), [(Rectangle.create(*seq.ground_truth[0]), {})], {})
        assert p.wait(timeout=60) == 1
    finally:
        if p.poll() is None:
            p.kill()
