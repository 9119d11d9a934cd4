"""run_video.py on a generated video file (MJPG .avi in, mp4v .mp4 out)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import _evalkit as ek

N = 25


def _make_video(path, n=N):
    rng = np.random.default_rng(3)
    bg, ob = ek.textured(rng, 120, 160, 2.0), ek.textured(rng, 24, 30, 1.0)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (160, 120))
    assert w.isOpened()
    truth = []
    for k in range(n):
        x, y = 20 + 3 * k, 40 + int(round(15 * np.sin(k / 4)))
        f = bg.copy()
        f[y:y + 24, x:x + 30] = ob
        w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        truth.append([x, y, 30, 24])
    w.release()
    return np.asarray(truth, dtype=float)


def test_tracks_video_and_writes_boxes_and_annotated_mp4(tmp_path, capsys):
    from tracking.run_video import main

    truth = _make_video(tmp_path / "in.avi")
    box = ",".join(str(v) for v in truth[0])
    rc = main(["ncc", "default", str(tmp_path / "in.avi"), "--box", box, "--save", str(tmp_path / "out.mp4"),
               "--out", str(tmp_path / "boxes.txt"), "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    boxes = np.loadtxt(tmp_path / "boxes.txt", delimiter=",")
    assert boxes.shape == (N, 4)
    np.testing.assert_allclose(boxes[0], truth[0])
    ious = [ek.iou_xywh(b, t) for b, t in zip(boxes, truth)]
    assert min(ious) > 0.7, ious
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == N


def test_no_box_without_display_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from tracking.run_video import main

    _make_video(tmp_path / "in.avi", 3)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["ncc", "default", str(tmp_path / "in.avi")]) == 2
    assert "pass --box" in capsys.readouterr().err
    assert main(["ncc", "default", str(tmp_path / "missing.avi"), "--box", "1,2,3,4"]) == 2
    assert "video file not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ncc", "default", str(tmp_path / "in.avi"), "--box", "1,2,0,4"])
