"""Deterministic synthetic tracking benchmark written in the GOT-10k on-disk layout.

Why: SOTLab must train, track and evaluate on a fresh clone without downloading anything. This module
procedurally renders short videos of one textured target among textured clutter and writes them exactly
like GOT-10k, so every GOT-10k reader (ours and the ``got10k`` toolkit's) can use them unchanged::

    <root>/<split>/list.txt
    <root>/<split>/SYN_<split>_000001/00000001.jpg ...     JPEG frames (RGB content)
    <root>/<split>/SYN_<split>_000001/groundtruth.txt      x,y,w,h per frame (0-based float, 4 decimals)
    <root>/<split>/SYN_<split>_000001/absence.label        1 = target not visible at all
    <root>/<split>/SYN_<split>_000001/cover.label          0..8 visible-fraction level (0 invisible, 8 fully visible)
    <root>/<split>/SYN_<split>_000001/cut_by_image.label   1 = box crosses the image border
    <root>/<split>/SYN_<split>_000001/meta_info.ini        [METAINFO] + "key: value" lines

Ground truth exists for every frame: when the target is out of view or fully occluded the row still holds
the box of where the target is (it may lie partly or wholly outside the image) and ``absence.label`` is 1,
as in GOT-10k.

Difficulty factors (all per sequence, drawn from :class:`SyntheticParams`): procedural target textures and
shapes; textured, panning backgrounds with clutter of the target's texture family; smooth motion plus
bursts of fast motion with motion blur; scale and aspect-ratio change; gradual appearance change; partial
and full occlusion by occluders; similar-looking distractors (same texture family and shape, slightly
different colour) that seek the target and pass in front of or behind it; global illumination change;
the target leaving the frame and coming back; sensor noise and JPEG artefacts.

Determinism: every sequence is rendered from ``SeedSequence([split_seed, split_code, index])`` so a single
sequence can be regenerated alone (:func:`regenerate_sequence`), and ground truth / labels are
byte-identical for the same seed. :func:`ensure_synthetic` generates a split once into a temporary folder,
writes a ``.complete`` marker (hash of generator version + parameters) last and renames the folder into
place, so an interrupted generation is never mistaken for a finished one.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

import cv2
import numpy as np

__all__ = [
    "GENERATOR_VERSION",
    "SPLITS",
    "SPLIT_SEEDS",
    "DEFAULT_PARAMS",
    "INI_KEYS",
    "DISTRACTOR_FILE",
    "distractor_lines",
    "parse_distractor_lines",
    "sequence_distractor_boxes",
    "scene_distractor_boxes",
    "SyntheticParams",
    "GeneratedSequence",
    "SyntheticError",
    "cover_level",
    "sequence_name",
    "sequence_seed",
    "generate_sequence",
    "regenerate_sequence",
    "write_sequence",
    "split_hash",
    "is_complete",
    "ensure_synthetic",
]

#: Bump whenever the rendered content or the labels change: it is part of the ``.complete`` hash, so
#: cached splits from an older generator are regenerated automatically.
GENERATOR_VERSION = "1.0"
SPLITS: Tuple[str, ...] = ("train", "val", "test", "hard")
#: Fixed per-split base seeds; sequence ``i`` of split ``s`` uses ``SeedSequence([SPLIT_SEEDS[s], code(s), i])``.
SPLIT_SEEDS: Dict[str, int] = {"train": 7_1001, "val": 7_2002, "test": 7_3003, "hard": 7_4004}
_SPLIT_CODE: Dict[str, int] = {"train": 0, "val": 1, "test": 2, "hard": 3}
COMPLETE_MARKER = ".complete"

#: Order of the ``key: value`` lines in ``meta_info.ini`` (after the ``[METAINFO]`` header).
INI_KEYS: Tuple[str, ...] = (
    "url", "begin", "end", "anno_fps", "object_class", "motion_class", "major_class", "root_class",
    "motion_adverb", "resolution", "num_frames", "generator", "seed",
    "texture", "shape", "scale_change", "aspect_ratio_change", "appearance_change", "texture_rotation",
    "occlusion_frames", "full_occlusion_frames", "out_of_view_frames", "absent_frames", "cut_by_image_frames",
    "occluders", "distractors", "distractors_in_front", "background_clutter",
    "illumination_change", "motion_blur", "fast_motion_frames", "max_speed", "camera_motion",
)


class SyntheticError(RuntimeError):
    """Bad generator parameters or an unusable output folder (message names the split/sequence/path)."""


# --------------------------------------------------------------------------------------------------------------------
# parameters


@dataclass(frozen=True)
class SyntheticParams:
    """Size and difficulty of one split. Rates are per sequence; pixel values refer to a 240-px-high frame and
    are scaled with the frame size, so tiny test frames keep the same character."""

    num_sequences: int = 30
    min_frames: int = 100
    max_frames: int = 300
    width: int = 320
    height: int = 240
    jpeg_quality: int = 90
    #: geometric-mean side of the target in frame 1 (px at 240 high); the shorter side is always >= 16 px
    min_init_size: float = 24.0
    max_init_size: float = 72.0
    #: largest max/min ratio of the target's size goals within a sequence
    max_scale_change: float = 4.0
    #: largest change of log(w/h) from frame 1
    max_aspect_change: float = 0.5
    #: cruise speed range of the target, px/frame
    min_speed: float = 1.0
    max_speed: float = 4.5
    #: expected bursts of fast motion per 100 frames
    fast_motion_rate: float = 0.8
    #: probability that the target leaves the frame and comes back (sequences >= 60 frames)
    p_out_of_view: float = 0.3
    #: expected occluder passes per 100 frames, and the share that fully hide the target
    occlusion_rate: float = 1.0
    p_full_occlusion: float = 0.5
    #: speed range of a full occluder relative to the target (px/frame at 240 high): a slow pass hides the
    #: target for long (30-50 frames at the low end), a fast one briefly, as in short-term benchmarks
    full_occluder_speed: Tuple[float, float] = (1.0, 2.5)
    #: distractors per sequence are uniform in 0..max_distractors
    max_distractors: int = 4
    #: probability of static patches of the target's texture family in the background
    p_clutter: float = 0.4
    #: probability of a global illumination change
    p_illumination: float = 0.5
    #: largest background pan speed, px/frame
    max_pan_speed: float = 3.0
    #: largest blend weight towards a second appearance of the target (gradual appearance change)
    appearance_change: float = 0.7
    #: probability that the target's texture turns inside its silhouette, and the largest swing (degrees)
    p_rotation: float = 0.5
    max_rotation: float = 90.0
    #: Gaussian sensor noise sigma (grey levels)
    noise_sigma: float = 3.0

    def validate(self, where: str = "synthetic params") -> "SyntheticParams":
        problems = []
        if self.num_sequences < 1:
            problems.append(f"num_sequences={self.num_sequences} must be >= 1")
        if not (2 <= self.min_frames <= self.max_frames):
            problems.append(f"need 2 <= min_frames ({self.min_frames}) <= max_frames ({self.max_frames})")
        if min(self.width, self.height) < 64:
            problems.append(f"frame size {self.width}x{self.height} is too small (both sides must be >= 64)")
        if not (1 <= self.jpeg_quality <= 100):
            problems.append(f"jpeg_quality={self.jpeg_quality} must be in 1..100")
        if not (0 < self.min_init_size <= self.max_init_size):
            problems.append(f"need 0 < min_init_size <= max_init_size, got {self.min_init_size}, {self.max_init_size}")
        if self.max_scale_change < 1.0:
            problems.append(f"max_scale_change={self.max_scale_change} must be >= 1")
        if not (0 < self.min_speed <= self.max_speed):
            problems.append(f"need 0 < min_speed <= max_speed, got {self.min_speed}, {self.max_speed}")
        for k in ("p_out_of_view", "p_full_occlusion", "p_clutter", "p_illumination", "appearance_change",
                  "p_rotation"):
            v = getattr(self, k)
            if not (0.0 <= v <= 1.0):
                problems.append(f"{k}={v} must be in [0, 1]")
        for k in ("fast_motion_rate", "occlusion_rate", "max_aspect_change", "max_pan_speed", "noise_sigma",
                  "max_rotation"):
            if getattr(self, k) < 0:
                problems.append(f"{k}={getattr(self, k)} must be >= 0")
        if self.max_distractors < 0:
            problems.append(f"max_distractors={self.max_distractors} must be >= 0")
        lo, hi = self.full_occluder_speed
        if not (0 < lo <= hi):
            problems.append(f"full_occluder_speed={self.full_occluder_speed} must satisfy 0 < low <= high")
        if problems:
            raise SyntheticError(f"{where}: " + "; ".join(problems))
        return self


#: Short-term event rates of val/test, set from the attribute frequencies of OTB-100 (out-of-view in 14 % of
#: the sequences, occlusion mostly partial) and GOT-10k test (few absent frames): fewer exits and full
#: occlusions than the train split, and full occluders that pass in 10-25 frames instead of 30-50.
SHORT_TERM = dict(p_out_of_view=0.15, p_full_occlusion=0.3, full_occluder_speed=(2.5, 5.0))

#: Defaults per split: train 300 x 100 frames (every event at the full rate); val 150 and test 30 sequences of
#: 100-300 frames with the short-term rates (test is the default benchmark, ``--dataset synthetic``); ``hard``
#: 30 sequences of 100-300 frames at the train rates, long full occlusions and exits included
#: (``--dataset synthetic_hard``, closer to LaSOT than to OTB).  val is 5x test because it is what settings
#: and models are chosen on: one sequence of 30 is 3.3 AUC points, and a 30-sequence val (its first 30
#: sequences, unchanged because seeds do not depend on the count) scored SiamCAR tiny 55.4 where the next
#: 120 sequences scored it 47.0, so choices made on it were mostly noise.
DEFAULT_PARAMS: Dict[str, SyntheticParams] = {
    "train": SyntheticParams(num_sequences=300, min_frames=100, max_frames=100),
    "val": SyntheticParams(num_sequences=150, min_frames=100, max_frames=300, **SHORT_TERM),
    "test": SyntheticParams(num_sequences=30, min_frames=100, max_frames=300, **SHORT_TERM),
    "hard": SyntheticParams(num_sequences=30, min_frames=100, max_frames=300),
}


class GeneratedSequence(NamedTuple):
    """One rendered sequence in memory. ``meta`` holds the ``meta_info.ini`` entries (keys :data:`INI_KEYS`)
    plus per-frame arrays ``cut_by_image`` (uint8), ``visible_fraction`` and ``occluded_fraction`` (float64), and
    ``distractor_boxes`` (n, k, 4), the boxes written to :data:`DISTRACTOR_FILE`."""

    frames: List[np.ndarray]
    boxes: np.ndarray
    absence: np.ndarray
    cover: np.ndarray
    meta: Dict[str, Any]


# --------------------------------------------------------------------------------------------------------------------
# labels


def cover_level(visible_fraction: Union[float, np.ndarray], fully_visible: Optional[np.ndarray] = None) -> np.ndarray:
    """GOT-10k-style visibility level: 0 = invisible, 1..7 = visible fraction in (0,15%], (15,30%], ..., (90,100%),
    8 = fully visible. ``fully_visible`` (exact pixel test) overrides a fraction that rounding put just below 1."""
    v = np.clip(np.asarray(visible_fraction, dtype=np.float64), 0.0, 1.0)
    lvl = np.clip(np.ceil(v / 0.15 - 1e-9), 1, 7).astype(np.int64)
    lvl = np.where(v <= 0.0, 0, lvl)
    full = (v >= 1.0) if fully_visible is None else np.asarray(fully_visible, dtype=bool)
    return np.where(full, 8, lvl).astype(np.int64)


# --------------------------------------------------------------------------------------------------------------------
# seeds and names


def sequence_name(split: str, index: int) -> str:
    """``SYN_<split>_<index+1 zero-padded to 6>``, e.g. ``SYN_test_000001``."""
    return f"SYN_{split}_{index + 1:06d}"


def sequence_seed(split: str, index: int, seed: Optional[int] = None) -> np.random.SeedSequence:
    """Seed of sequence ``index`` of ``split``; independent of how many sequences the split has."""
    if split not in _SPLIT_CODE:
        raise SyntheticError(f"unknown synthetic split '{split}'; choose one of {', '.join(SPLITS)}")
    base = SPLIT_SEEDS[split] if seed is None else int(seed)
    if base < 0:
        raise SyntheticError(f"synthetic split '{split}': seed must be >= 0, got {base}")
    return np.random.SeedSequence([base, _SPLIT_CODE[split], int(index)])


def _as_seed_sequence(seed: Union[int, np.random.SeedSequence, np.random.Generator]) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(0, 2**63 - 1)))
    if isinstance(seed, (int, np.integer)) and int(seed) >= 0:
        return np.random.SeedSequence(int(seed))
    raise SyntheticError(f"seed must be a non-negative int, SeedSequence or numpy Generator, got {seed!r}")


# --------------------------------------------------------------------------------------------------------------------
# procedural appearance

TEXTURE_FAMILIES: Tuple[str, ...] = ("noise", "stripes", "checker", "dots", "rings", "blobs")
TARGET_SHAPES: Tuple[str, ...] = ("ellipse", "rectangle", "polygon", "star", "blob")
_TEX = 128  # texture / mask resolution of the finest mip level
_MIPS = (128, 64, 32, 16)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """(k,3) OpenCV HSV (H in 0..180) -> (k,3) float32 RGB."""
    h = np.asarray(hsv, dtype=np.float64).reshape(-1, 3)
    u8 = np.stack([np.mod(h[:, 0], 180.0), np.clip(h[:, 1], 0, 255), np.clip(h[:, 2], 0, 255)], 1)
    return cv2.cvtColor(np.round(u8).astype(np.uint8)[None], cv2.COLOR_HSV2RGB)[0].astype(np.float32)


@dataclass
class _TexSpec:
    """Everything that defines a texture family member except its noise realisation."""

    family: str
    hsv: np.ndarray  # (3,3) HSV colours
    freq: float
    angle: float
    sharp: float
    grain: float
    cells: int

    def variant(self, rng: np.random.Generator, hue_shift: float, value_scale: float, geo_jitter: float) -> "_TexSpec":
        """A similar-looking member: colours shifted in hue/value, pattern geometry jittered slightly."""
        hsv = self.hsv.copy()
        hsv[:, 0] = hsv[:, 0] + hue_shift
        hsv[:, 2] = hsv[:, 2] * value_scale
        return _TexSpec(self.family, hsv, self.freq * float(np.exp(rng.normal(0, geo_jitter))),
                        self.angle + float(rng.normal(0, geo_jitter)), self.sharp, self.grain, self.cells)


def _random_spec(rng: np.random.Generator, family: Optional[str] = None, dull: bool = False) -> _TexSpec:
    fam = family or TEXTURE_FAMILIES[int(rng.integers(len(TEXTURE_FAMILIES)))]
    h0 = rng.uniform(0, 180)
    hues = h0 + rng.choice([-1, 1], 3) * rng.uniform(15, 70, 3) * np.array([0, 1, 1])
    sat = rng.uniform(30, 140, 3) if dull else rng.uniform(90, 255, 3)
    val = rng.uniform(60, 230, 3)
    val[1] = np.clip(val[0] + rng.choice([-1, 1]) * rng.uniform(60, 120), 40, 250)  # guarantee contrast
    return _TexSpec(fam, np.stack([hues, sat, val], 1), freq=float(rng.uniform(2.0, 6.0)),
                    angle=float(rng.uniform(0, np.pi)), sharp=float(rng.uniform(1.0, 6.0)),
                    grain=float(rng.uniform(4, 14)), cells=int(rng.integers(3, 9)))


def _lowfreq(rng: np.random.Generator, size: Tuple[int, int], grid: int, channels: int = 1) -> np.ndarray:
    """Smooth noise in [0,1]: a small random grid upsampled bicubically (cheap Perlin-like noise)."""
    h, w = size
    g = rng.random((grid, max(2, int(round(grid * w / h))), channels)).astype(np.float32)
    out = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    out = out.reshape(h, w, channels)
    lo, hi = out.min(), out.max()
    return (out - lo) / max(hi - lo, 1e-6)


def _make_texture(spec: _TexSpec, rng: np.random.Generator, size: Tuple[int, int] = (_TEX, _TEX)) -> np.ndarray:
    """Render ``spec`` as an (h,w,3) float32 RGB image in [0,255]; ``rng`` supplies the noise realisation."""
    h, w = size
    cols = _hsv_to_rgb(spec.hsv)  # (3,3)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    s = float(max(h, w))
    xx /= s
    yy /= s
    ca, sa = math.cos(spec.angle), math.sin(spec.angle)
    u = xx * ca + yy * sa
    v = -xx * sa + yy * ca
    fam = spec.family
    if fam == "stripes":
        t = np.sin(2 * np.pi * spec.freq * u + rng.uniform(0, 2 * np.pi))
        wgt = 0.5 + 0.5 * np.tanh(spec.sharp * t)
        img = cols[0] * (1 - wgt)[..., None] + cols[1] * wgt[..., None]
    elif fam == "checker":
        cell = 1.0 / max(spec.freq, 1.0)
        wgt = (np.floor(u / cell) + np.floor(v / cell)) % 2
        img = cols[0] * (1 - wgt)[..., None] + cols[1] * wgt[..., None]
    elif fam == "rings":
        cx, cy = rng.uniform(0.2, 0.8, 2)
        r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        wgt = 0.5 + 0.5 * np.tanh(spec.sharp * np.sin(2 * np.pi * spec.freq * r + rng.uniform(0, 2 * np.pi)))
        img = cols[0] * (1 - wgt)[..., None] + cols[1] * wgt[..., None]
    elif fam == "dots":
        img8 = np.empty((h, w, 3), np.float32)
        img8[:] = cols[0]
        n = int(spec.cells * spec.cells * 0.8) + 3
        r0 = max(2.0, s / (spec.cells * 2.2))
        for _ in range(n):
            c = cols[1] if rng.random() < 0.65 else cols[2]
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            rad = max(1, int(round(r0 * rng.uniform(0.5, 1.3))))
            cv2.circle(img8, (int(cx), int(cy)), rad, tuple(float(x) for x in c), -1, cv2.LINE_AA)
        img = img8
    elif fam == "blobs":
        n = _lowfreq(rng, (h, w), spec.cells)[..., 0]
        q1, q2 = np.quantile(n, [0.4, 0.7])
        soft = 0.02 + 0.1 / spec.sharp
        w1 = 1 / (1 + np.exp(-(n - q1) / soft))
        w2 = 1 / (1 + np.exp(-(n - q2) / soft))
        img = cols[0] * (1 - w1)[..., None] + cols[1] * (w1 - w2)[..., None] + cols[2] * w2[..., None]
    else:  # "noise": two smooth fields mix three colours
        n = _lowfreq(rng, (h, w), spec.cells, 2)
        a, b = n[..., 0:1], n[..., 1:2]
        img = cols[0] * (1 - a) + cols[1] * a
        img = img * (1 - 0.5 * b) + cols[2] * (0.5 * b)
    shade = 0.8 + 0.4 * _lowfreq(rng, (h, w), 2)  # soft shading so the pattern is not perfectly periodic
    img = img * shade + rng.normal(0.0, spec.grain, (h, w, 1)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.float32)


def _shape_mask(rng: np.random.Generator, shape: str) -> np.ndarray:
    """(128,128) float32 alpha in [0,1] whose shape touches all four borders, so the box is the texture square."""
    S = _TEX
    if shape == "ellipse":
        yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
        r = np.sqrt(((xx + 0.5 - S / 2) / (S / 2)) ** 2 + ((yy + 0.5 - S / 2) / (S / 2)) ** 2)
        return np.clip((1.0 - r) * (S / 2) + 0.5, 0.0, 1.0).astype(np.float32)
    if shape == "rectangle":
        m = np.ones((S, S), np.float32)
        c = int(rng.integers(0, S // 6))  # rounded corners; edges still touch the box
        if c > 1:
            yy, xx = np.mgrid[0:S, 0:S].astype(np.float32) + 0.5
            for cx, cy in ((c, c), (S - c, c), (c, S - c), (S - c, S - c)):
                inx = (xx < c) if cx == c else (xx > S - c)
                iny = (yy < c) if cy == c else (yy > S - c)
                d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
                m = np.where(inx & iny, np.clip(c - d + 0.5, 0, 1), m)
        return m.astype(np.float32)
    if shape == "star":
        k = int(rng.integers(4, 8))
        ang = np.arange(2 * k) * np.pi / k + rng.uniform(0, np.pi)
        rad = np.where(np.arange(2 * k) % 2 == 0, 1.0, rng.uniform(0.45, 0.7))
    elif shape == "blob":
        ang = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        rad = np.ones_like(ang)
        for harm in (2, 3, 4):
            rad += rng.uniform(0.03, 0.15) * np.cos(harm * ang + rng.uniform(0, 2 * np.pi))
    else:  # convex-ish polygon
        k = int(rng.integers(5, 10))
        ang = np.sort(rng.uniform(0, 2 * np.pi, k))
        rad = rng.uniform(0.75, 1.0, k)
    pts = np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1)
    pts = (pts - pts.min(0)) / np.maximum(pts.max(0) - pts.min(0), 1e-6)  # span exactly [0,1]^2
    up = 4
    big = np.zeros((S * up, S * up), np.uint8)
    shift = 4
    poly = np.round(pts * S * up * (1 << shift)).astype(np.int32)
    cv2.fillPoly(big, [poly], 255, cv2.LINE_AA, shift)
    return (cv2.resize(big, (S, S), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0)


def _mips(img: np.ndarray) -> List[np.ndarray]:
    out = [img]
    for s in _MIPS[1:]:
        out.append(cv2.resize(out[-1], (s, s), interpolation=cv2.INTER_AREA))
    return out


@dataclass
class _Appearance:
    """Mip pyramids of an object's texture (optionally a second texture to blend towards) and alpha mask."""

    tex: List[np.ndarray]
    alpha: List[np.ndarray]
    tex_b: Optional[List[np.ndarray]] = None
    shape: str = "ellipse"
    family: str = "noise"

    def at(self, size: float, beta: float) -> Tuple[np.ndarray, np.ndarray]:
        lvl = 0
        for i, s in enumerate(_MIPS):
            if s >= size:
                lvl = i
        t = self.tex[lvl]
        if self.tex_b is not None and beta > 1e-3:
            t = cv2.addWeighted(t, 1.0 - beta, self.tex_b[lvl], beta, 0.0)
        return t, self.alpha[lvl]


def _appearance(rng: np.random.Generator, spec: _TexSpec, shape: str, spec_b: Optional[_TexSpec] = None,
                mask: Optional[np.ndarray] = None) -> _Appearance:
    tex = _make_texture(spec, rng)
    alpha = _shape_mask(rng, shape) if mask is None else mask
    tb = _mips(_make_texture(spec_b, rng)) if spec_b is not None else None
    return _Appearance(_mips(tex), _mips(alpha), tb, shape, spec.family)


# --------------------------------------------------------------------------------------------------------------------
# motion


def _piecewise_goals(rng: np.random.Generator, n: int, seg: Tuple[int, int], sample: Callable[[int], np.ndarray],
                     first: np.ndarray) -> np.ndarray:
    """(n, d) goal schedule: constant on random-length segments; ``sample(t)`` draws the goal of a segment."""
    first = np.atleast_1d(np.asarray(first, dtype=np.float64))
    goals = np.empty((n, first.size))
    t = 0
    g = first
    while t < n:
        L = int(rng.integers(seg[0], seg[1] + 1))
        goals[t:t + L] = g
        t += L
        if t < n:
            g = np.atleast_1d(sample(t))
    return goals


def _spring(rng: np.random.Generator, p0: np.ndarray, goals: np.ndarray, cap: np.ndarray, k: float, damp: float,
            jitter: float, forced: Optional[Dict[int, np.ndarray]] = None) -> np.ndarray:
    """Second-order motion towards piecewise-constant goals with a per-frame speed cap; ``forced`` fixes the
    velocity on given frames (fast-motion bursts). Returns (n, d) positions."""
    n, d = goals.shape
    pos = np.empty((n, d))
    p = np.asarray(p0, dtype=np.float64).copy()
    vel = np.zeros(d)
    noise = rng.normal(0.0, jitter, (n, d))
    forced = forced or {}
    for t in range(n):
        pos[t] = p
        if t in forced:
            vel = forced[t].copy()
        else:
            vel = vel + k * (goals[t] - p) - damp * vel + noise[t]
            sp = float(np.sqrt(np.sum(vel * vel)))
            if sp > cap[t]:
                vel *= cap[t] / sp
        p = p + vel
    return pos


def _box_overlap(a: np.ndarray, b: np.ndarray, margin: float = 0.0) -> bool:
    return not (a[0] + a[2] + margin <= b[0] or b[0] + b[2] + margin <= a[0]
                or a[1] + a[3] + margin <= b[1] or b[1] + b[3] + margin <= a[1])


def _line_kernel(vx: float, vy: float) -> Optional[np.ndarray]:
    """Normalised line kernel along (vx, vy) (length = motion during a 0.8 exposure)."""
    L = 0.8 * math.hypot(vx, vy)
    if L < 3.0:
        return None
    L = min(L, 31.0)
    r = int(math.ceil(L / 2))
    k8 = np.zeros((2 * r + 1, 2 * r + 1), np.uint8)
    ux, uy = vx / math.hypot(vx, vy), vy / math.hypot(vx, vy)
    p0 = (int(round((r - ux * L / 2) * 16)), int(round((r - uy * L / 2) * 16)))
    p1 = (int(round((r + ux * L / 2) * 16)), int(round((r + uy * L / 2) * 16)))
    cv2.line(k8, p0, p1, 255, 1, cv2.LINE_AA, 4)
    k = k8.astype(np.float32)
    s = float(k.sum())
    return k / s if s > 0 else None


# --------------------------------------------------------------------------------------------------------------------
# scene


@dataclass
class _Actor:
    kind: str  # "target" | "distractor" | "occluder" | "clutter"
    app: _Appearance
    boxes: np.ndarray  # (n,4) xywh
    alive: np.ndarray  # (n,) bool
    front: bool = False
    beta: Optional[np.ndarray] = None  # (n,) appearance blend weight
    angle: Optional[np.ndarray] = None  # (n,) texture rotation (radians)
    blur: Optional[np.ndarray] = None  # (n,2) velocity used for motion blur (None: no blur)


@dataclass
class _Scene:
    n: int
    W: int
    H: int
    canvas: np.ndarray  # float32 background canvas, larger than the frame
    pan: np.ndarray  # (n,2) top-left of the frame in canvas coordinates
    behind: List[_Actor]
    target: _Actor
    front: List[_Actor]
    gain: np.ndarray  # (n,3) per-channel illumination gain
    noise: Optional[np.ndarray]  # int16 noise field larger than the frame
    noise_off: np.ndarray  # (n,2) offsets into the noise field
    info: Dict[str, Any] = field(default_factory=dict)


def _rotation(rng: np.random.Generator, n: int, p: SyntheticParams) -> np.ndarray:
    """Texture angle per frame (radians, 0 at frame 1): a swing back and forth or a steady spin."""
    t = np.arange(n, dtype=np.float64)
    if rng.random() < 0.5:
        amp = np.radians(rng.uniform(min(15.0, p.max_rotation), p.max_rotation))
        per = rng.uniform(40, 150)
        ph = rng.uniform(0, 2 * np.pi)
        return amp * (np.sin(2 * np.pi * t / per + ph) - math.sin(ph))
    omega = np.radians(rng.uniform(0.3, 1.5)) * rng.choice([-1, 1])
    return omega * t


def _build_scene(ss: np.random.SeedSequence, p: SyntheticParams) -> _Scene:
    """Draw all random choices of one sequence (trajectories, events, appearances, background)."""
    r_len, r_tgt, r_evt, r_dis, r_occ, r_bg, r_ill, r_app = [np.random.default_rng(s) for s in ss.spawn(8)]
    W, H = p.width, p.height
    u = min(W, H) / 240.0  # pixel unit of the parameters
    n = int(r_len.integers(p.min_frames, p.max_frames + 1))
    info: Dict[str, Any] = {}

    # ---- target size: log geometric-mean size l and log aspect a (w = e^(l+a/2), h = e^(l-a/2))
    a0 = float(r_tgt.uniform(-0.6, 0.6))
    s0 = float(np.exp(r_tgt.uniform(np.log(max(p.min_init_size * u, 16.0)), np.log(max(p.max_init_size * u, 17.0)))))
    s0 = max(s0, 16.0 * math.exp(abs(a0) / 2) + 0.5)  # shorter side >= 16 px in frame 1
    s0 = min(s0, 0.45 * min(W, H))
    while min(s0 * math.exp(a0 / 2), s0 * math.exp(-a0 / 2)) < 16.0 and abs(a0) > 0.01:
        a0 *= 0.8
    l0 = math.log(s0)
    R = float(np.exp(r_tgt.uniform(np.log(min(1.5, p.max_scale_change)), np.log(max(p.max_scale_change, 1.0001))))) \
        if r_tgt.random() < 0.85 else 1.05
    l_lo = max(l0 - math.log(R) * r_tgt.uniform(0.3, 0.7), math.log(11.0))
    l_hi = min(l_lo + math.log(R), math.log(0.6 * min(W, H)))
    flip = [bool(r_tgt.random() < 0.5)]

    def scale_goal(t: int) -> float:  # alternate between the upper and lower quarter: real scale change
        flip[0] = not flip[0]
        lo, hi = (l_hi - (l_hi - l_lo) / 4, l_hi) if flip[0] else (l_lo, l_lo + (l_hi - l_lo) / 4)
        return float(r_tgt.uniform(lo, hi))

    goals_l = _piecewise_goals(r_tgt, n, (25, 80), scale_goal, np.array([l0]))
    logs = _spring(r_tgt, np.array([l0]), goals_l, np.full(n, 0.025), 0.01, 0.2, 0.002)[:, 0]
    da = float(r_tgt.uniform(0.0, p.max_aspect_change))
    goals_a = _piecewise_goals(r_tgt, n, (30, 90), lambda t: a0 + r_tgt.uniform(-da, da), np.array([a0]))
    loga = _spring(r_tgt, np.array([a0]), goals_a, np.full(n, 0.015), 0.01, 0.2, 0.002)[:, 0]
    tw = np.exp(logs + loga / 2)
    th = np.exp(logs - loga / 2)
    tw[0], th[0] = math.exp(l0 + a0 / 2), math.exp(l0 - a0 / 2)

    # ---- target position (centre): spring towards random goals, fast bursts, an optional exit + re-entry
    speed = float(r_tgt.uniform(p.min_speed, p.max_speed)) * u
    cap = np.full(n, speed)
    mx, my = tw[0] / 2 + 2, th[0] / 2 + 2
    c0 = np.array([r_tgt.uniform(mx, W - mx), r_tgt.uniform(my, H - my)])

    def inside_goal(t: int) -> np.ndarray:
        hw, hh = min(tw[t] / 2, W / 3), min(th[t] / 2, H / 3)
        return np.array([r_evt.uniform(hw, W - hw), r_evt.uniform(hh, H - hh)])

    goals = _piecewise_goals(r_evt, n, (15, 60), inside_goal, c0)
    out_window: Optional[Tuple[int, int]] = None
    if n >= 60 and r_evt.random() < p.p_out_of_view:
        t_o = int(r_evt.integers(int(0.15 * n), int(0.6 * n)))
        d_o = int(r_evt.integers(30, 71))
        d_o = min(d_o, n - t_o - 15)
        if d_o >= 20:
            side = int(r_evt.integers(4))
            ext = max(tw.max(), th.max()) / 2 + r_evt.uniform(15, 50) * u
            g = goals[t_o].copy()
            if side == 0:
                g[0] = -ext
            elif side == 1:
                g[0] = W + ext
            elif side == 2:
                g[1] = -ext
            else:
                g[1] = H + ext
            goals[t_o:t_o + d_o] = g
            after = inside_goal(t_o + d_o)
            seg_end = min(n, t_o + d_o + int(r_evt.integers(20, 40)))
            goals[t_o + d_o:seg_end] = after
            cap[t_o:seg_end] = np.maximum(cap[t_o:seg_end], r_evt.uniform(4.0, 7.0) * u)
            out_window = (t_o, t_o + d_o)
    forced: Dict[int, np.ndarray] = {}
    n_fast = int(r_evt.poisson(p.fast_motion_rate * n / 100.0))
    for _ in range(n_fast):
        tb = int(r_evt.integers(8, max(9, n - 6)))
        dur = int(r_evt.integers(2, 7))
        sp = r_evt.uniform(10.0, 22.0) * u
        tgt_pt = inside_goal(min(tb, n - 1))
        forced_dir = tgt_pt - goals[tb]  # rough direction across the frame
        if not np.any(forced_dir):
            forced_dir = np.array([1.0, 0.0])
        ang = math.atan2(forced_dir[1], forced_dir[0]) + r_evt.uniform(-0.8, 0.8)
        vel = sp * np.array([math.cos(ang), math.sin(ang)])
        for t in range(tb, min(n, tb + dur)):
            forced[t] = vel
        for j, t in enumerate(range(tb + dur, min(n, tb + dur + 10))):
            cap[t] = max(cap[t], speed + (sp - speed) * 0.7 ** (j + 1))
    kk = float(r_tgt.uniform(0.008, 0.02))
    centre = _spring(r_tgt, c0, goals, cap, kk, 2 * math.sqrt(kk) * float(r_tgt.uniform(0.5, 1.0)), 0.15 * u, forced)
    tboxes = np.stack([centre[:, 0] - tw / 2, centre[:, 1] - th / 2, tw, th], 1)
    tboxes = np.round(tboxes, 4)
    vel = np.zeros((n, 2))
    vel[1:] = np.diff(centre, axis=0)

    # ---- appearances
    tspec = _random_spec(r_app)
    shape = TARGET_SHAPES[int(r_app.integers(len(TARGET_SHAPES)))]
    beta_max = float(r_app.uniform(0.0, p.appearance_change))
    tspec_b = tspec.variant(r_app, r_app.uniform(-20, 20), r_app.uniform(0.75, 1.25), 0.3) if beta_max > 0.02 else None
    tmask = _shape_mask(r_app, shape)
    tapp = _appearance(r_app, tspec, shape, tspec_b, tmask)
    beta = None
    if tspec_b is not None:
        ph = r_app.uniform(0, 2 * np.pi)
        per = r_app.uniform(0.5, 1.5) * n
        beta = beta_max * (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / per + ph)) \
            - beta_max * (0.5 - 0.5 * math.cos(ph))
        beta = np.clip(beta, 0.0, beta_max)
        beta[0] = 0.0
    angle = _rotation(r_app, n, p) if r_app.random() < p.p_rotation else None
    target = _Actor("target", tapp, tboxes, np.ones(n, bool), beta=beta, blur=vel, angle=angle)

    def target_free_at_start(box0: np.ndarray) -> bool:
        return not _box_overlap(box0, tboxes[0], margin=6.0 * u)

    # ---- distractors: same texture family and shape, slightly different colour, attracted to the target
    behind: List[_Actor] = []
    front: List[_Actor] = []
    n_dis = int(r_dis.integers(0, p.max_distractors + 1))
    n_front = 0
    for _ in range(n_dis):
        f = float(r_dis.uniform(0.75, 1.3))
        ownl = _spring(r_dis, np.zeros(1), _piecewise_goals(r_dis, n, (30, 90), lambda t: r_dis.uniform(-0.2, 0.2),
                                                            np.zeros(1)), np.full(n, 0.01), 0.01, 0.2, 0.001)[:, 0]
        dw = tw * f * np.exp(ownl + r_dis.uniform(-0.15, 0.15))
        dh = th * f * np.exp(ownl)
        p0 = None
        for _try in range(60):
            cand = np.array([r_dis.uniform(dw[0] / 2, W - dw[0] / 2), r_dis.uniform(dh[0] / 2, H - dh[0] / 2)])
            if target_free_at_start(np.array([cand[0] - dw[0] / 2, cand[1] - dh[0] / 2, dw[0], dh[0]])):
                p0 = cand
                break
        if p0 is None:
            continue

        def seek(t: int) -> np.ndarray:
            if r_dis.random() < 0.6:
                return centre[t] + r_dis.normal(0, 0.5, 2) * np.array([tw[t], th[t]])
            return inside_goal(t)

        dgoals = _piecewise_goals(r_dis, n, (20, 60), seek, p0 + r_dis.normal(0, 20 * u, 2))
        dsp = float(r_dis.uniform(p.min_speed, p.max_speed)) * u
        dk = float(r_dis.uniform(0.008, 0.02))
        dc = _spring(r_dis, p0, dgoals, np.full(n, dsp), dk, 2 * math.sqrt(dk) * 0.8, 0.15 * u)
        dboxes = np.stack([dc[:, 0] - dw / 2, dc[:, 1] - dh / 2, dw, dh], 1)
        # keep frame 1 clean even if the distractor moves a little before the tracker starts
        if _box_overlap(dboxes[1], tboxes[0], margin=2.0) or _box_overlap(dboxes[1], tboxes[1], margin=2.0):
            continue
        dspec = tspec.variant(r_dis, r_dis.choice([-1, 1]) * r_dis.uniform(4, 12), r_dis.uniform(0.85, 1.15), 0.1)
        dapp = _appearance(r_dis, dspec, shape)
        is_front = bool(r_dis.random() < 0.5)
        dang = _rotation(r_dis, n, p) if r_dis.random() < p.p_rotation else None
        act = _Actor("distractor", dapp, dboxes, np.ones(n, bool), front=is_front, blur=None, angle=dang)
        (front if is_front else behind).append(act)
        n_front += int(is_front)
    info["distractors"] = len(behind) + len(front)
    info["distractors_in_front"] = n_front

    # ---- occluders: sweep across the target at a chosen time; full ones are larger than the target
    occluders: List[_Actor] = []
    n_occ_wanted = int(r_occ.poisson(p.occlusion_rate * n / 100.0))
    busy = np.zeros(n, bool)
    if out_window is not None:
        busy[max(0, out_window[0] - 5):out_window[1] + 20] = True
    n_full = 0
    for _ in range(n_occ_wanted):
        full = bool(r_occ.random() < p.p_full_occlusion)
        v_rel = float(r_occ.uniform(*p.full_occluder_speed) if full else r_occ.uniform(1.0, 4.0)) * u
        ang = float(r_occ.uniform(0, 2 * np.pi))
        d = np.array([math.cos(ang), math.sin(ang)])
        pad = 12
        for _try in range(20):
            tc = int(r_occ.integers(min(25, n - 1), max(26, n - 5)))
            if tc >= n:
                break
            twm, thm = float(tw[max(0, tc - 40):tc + 40].max()), float(th[max(0, tc - 40):tc + 40].max())
            bar = (not full) and r_occ.random() < 0.3
            oshape = "rectangle" if bar else ("rectangle", "ellipse", "polygon", "blob")[int(r_occ.integers(4))]
            if full:
                ow, oh = twm * r_occ.uniform(1.3, 2.0) + 6 * u, thm * r_occ.uniform(1.3, 2.0) + 6 * u
                if oshape != "rectangle":  # an inscribed shape must still cover the target's box
                    ow, oh = ow * 1.5, oh * 1.5
                perp = 0.0
            elif bar:
                if abs(d[0]) > abs(d[1]):  # vertical pole moving sideways
                    ow, oh = twm * r_occ.uniform(0.2, 0.5), float(H) * 1.6
                    d = np.array([math.copysign(1.0, d[0]), 0.0])
                else:
                    ow, oh = float(W) * 1.6, thm * r_occ.uniform(0.2, 0.5)
                    d = np.array([0.0, math.copysign(1.0, d[1])])
                perp = 0.0
            else:
                ow, oh = twm * r_occ.uniform(0.4, 1.0), thm * r_occ.uniform(0.4, 1.0)
                perp = float(r_occ.uniform(-0.45, 0.45))
            Rr = 0.5 * (abs(d[0]) * (twm + ow) + abs(d[1]) * (thm + oh)) + 4 * u
            T = max(6, int(round(2 * Rr / v_rel)))
            ts = tc - T // 2
            te = ts + T
            if ts - pad < 5 or te + pad > n - 1:
                continue
            if busy[ts:te].any():
                continue
            # the sweep must happen while the target centre is on screen
            cx, cy = centre[tc]
            if not (0 <= cx < W and 0 <= cy < H):
                continue
            tt = np.arange(n)
            frac = np.clip((tt - ts) / float(T), 0.0, 1.0)
            perp_v = np.array([-d[1], d[0]]) * perp * (abs(d[1]) * twm + abs(d[0]) * thm)
            off = perp_v[None] + d[None] * (-Rr + 2 * Rr * frac)[:, None]
            oc = centre + off
            # before/after the sweep, continue with the velocity at its ends (enter / leave smoothly)
            v0 = oc[ts + 1] - oc[ts]
            v1 = oc[te] - oc[te - 1]
            before = tt < ts
            after = tt > te
            oc[before] = oc[ts] + v0[None] * (tt[before] - ts)[:, None]
            oc[after] = oc[te] + v1[None] * (tt[after] - te)[:, None]
            oboxes = np.stack([oc[:, 0] - ow / 2, oc[:, 1] - oh / 2, np.full(n, ow), np.full(n, oh)], 1)
            alive = (tt >= ts - pad) & (tt <= te + pad)
            ofam = [f for f in TEXTURE_FAMILIES if f != tspec.family][int(r_occ.integers(len(TEXTURE_FAMILIES) - 1))]
            oapp = _appearance(r_occ, _random_spec(r_occ, ofam, dull=bool(r_occ.random() < 0.5)), oshape)
            occluders.append(_Actor("occluder", oapp, oboxes, alive, front=True))
            busy[max(0, ts - 5):te + 5] = True
            n_full += int(full)
            break
    front.extend(occluders)
    info["occluders"] = len(occluders)

    # ---- background canvas (2x frame) with shapes, an overlaid texture and optional target-like clutter
    CW, CH = 2 * W, 2 * H
    bspec = _random_spec(r_bg, dull=True)
    canvas = _make_texture(_TexSpec("noise", bspec.hsv, 2.0, 0.0, 1.0, 3.0, int(r_bg.integers(3, 7))), r_bg, (CH, CW))
    over = _make_texture(_random_spec(r_bg, dull=bool(r_bg.random() < 0.6)), r_bg, (CH, CW))
    wgt = float(r_bg.uniform(0.15, 0.5))
    canvas = cv2.addWeighted(canvas, 1 - wgt, over, wgt, 0.0)
    n_shapes = int(r_bg.integers(15, 45))
    for _ in range(n_shapes):
        col = tuple(float(c) for c in _hsv_to_rgb(np.array([[r_bg.uniform(0, 180), r_bg.uniform(20, 200),
                                                               r_bg.uniform(30, 240)]]))[0])
        kind = int(r_bg.integers(4))
        x0, y0 = int(r_bg.uniform(0, CW)), int(r_bg.uniform(0, CH))
        sz = int(r_bg.uniform(8, 70) * u) + 2
        if kind == 0:
            cv2.rectangle(canvas, (x0, y0), (x0 + sz, y0 + int(sz * r_bg.uniform(0.3, 2.0))), col, -1, cv2.LINE_AA)
        elif kind == 1:
            cv2.circle(canvas, (x0, y0), sz // 2 + 1, col, -1, cv2.LINE_AA)
        elif kind == 2:
            cv2.line(canvas, (x0, y0), (x0 + int(r_bg.uniform(-3, 3) * sz), y0 + int(r_bg.uniform(-3, 3) * sz)), col,
                     int(r_bg.integers(1, 5)), cv2.LINE_AA)
        else:
            cv2.ellipse(canvas, (x0, y0), (sz // 2 + 1, int(sz * r_bg.uniform(0.2, 0.8)) + 1),
                        float(r_bg.uniform(0, 180)), 0, 360, col, -1, cv2.LINE_AA)
    n_clutter = 0
    if r_bg.random() < p.p_clutter:
        n_clutter = int(r_bg.integers(1, 5))
        for _ in range(n_clutter):
            cspec = tspec.variant(r_bg, r_bg.choice([-1, 1]) * r_bg.uniform(15, 40), r_bg.uniform(0.7, 1.3), 0.3)
            cshape = TARGET_SHAPES[int(r_bg.integers(len(TARGET_SHAPES)))]
            capp = _appearance(r_bg, cspec, cshape)
            cs = s0 * r_bg.uniform(0.6, 1.4)
            cb = np.array([r_bg.uniform(0, CW - cs), r_bg.uniform(0, CH - cs), cs * r_bg.uniform(0.7, 1.4), cs])
            _paint(canvas, capp, cb, 0.0)
    info["background_clutter"] = n_clutter
    canvas = cv2.GaussianBlur(canvas, (0, 0), float(r_bg.uniform(0.4, 1.0)))

    # ---- camera pan over the canvas (the frame's top-left corner in canvas coordinates)
    pan_speed = 0.0 if r_bg.random() < 0.3 else float(r_bg.uniform(0.3, max(p.max_pan_speed, 0.31))) * u
    pcap = np.full(n, pan_speed)
    if pan_speed > 0 and r_bg.random() < 0.25:
        tq = int(r_bg.integers(5, max(6, n - 10)))
        pcap[tq:tq + int(r_bg.integers(3, 8))] = r_bg.uniform(7, 12) * u
    pgoals = _piecewise_goals(r_bg, n, (20, 80), lambda t: np.array([r_bg.uniform(0, W), r_bg.uniform(0, H)]),
                              np.array([W / 2, H / 2]))
    pan = _spring(r_bg, np.array([W / 2, H / 2]), pgoals, pcap, 0.01, 0.2, 0.02 * u)

    # ---- illumination: smooth drift, ramp or light switch; slight colour tint
    gain = np.ones((n, 3))
    if r_ill.random() < p.p_illumination:
        tt = np.arange(n) / max(n - 1, 1)
        mode = int(r_ill.integers(3))
        if mode == 0:  # smooth drift
            lg = sum(r_ill.uniform(0.1, 0.3) * np.sin(2 * np.pi * r_ill.uniform(0.5, 2.5) * tt + r_ill.uniform(0, 6.3))
                     for _ in range(2))
        elif mode == 1:  # ramp to a new level
            t1, t2 = sorted(r_ill.uniform(0.1, 0.9, 2))
            lvl = r_ill.uniform(0.25, 0.4) if r_ill.random() < 0.4 else -r_ill.uniform(0.3, 0.8)
            lg = lvl * np.clip((tt - t1) / max(t2 - t1, 1e-3), 0, 1)
        else:  # light switched off/on for a while (fast change over 3 frames)
            t1 = r_ill.uniform(0.15, 0.6)
            t2 = t1 + r_ill.uniform(0.1, 0.3)
            lvl = r_ill.uniform(0.25, 0.4) if r_ill.random() < 0.4 else -r_ill.uniform(0.4, 0.8)
            ramp = 3.0 / max(n, 1)
            lg = lvl * np.clip(np.minimum((tt - t1) / ramp, (t2 - tt) / ramp), 0, 1)
        lg = np.clip(lg - lg[0], -0.85, 0.4)  # darker is fine, much brighter only saturates the frame
        tint = r_ill.uniform(-0.12, 0.12, 3) * (lg / max(np.abs(lg).max(), 1e-6))[:, None]
        gain = np.exp(lg[:, None] + tint)
    gain = np.clip(gain, 0.4, 1.6)
    info["illumination_change"] = float(gain.mean(1).max() / gain.mean(1).min())

    noise = None
    if p.noise_sigma > 0:
        noise = np.round(r_ill.normal(0.0, p.noise_sigma, (H + 32, W + 32, 3))).astype(np.int16)
    noise_off = r_ill.integers(0, 32, (n, 2))

    info["rotation"] = float(np.degrees(np.ptp(angle))) if angle is not None else 0.0
    info.update(texture=tspec.family, shape=shape, appearance_change=beta_max if beta is not None else 0.0,
                speed=speed, pan_speed=pan_speed, n_fast=n_fast, out_window=out_window, full_occluders=n_full)
    return _Scene(n, W, H, canvas, pan, behind, target, front, gain, noise, noise_off, info)


# --------------------------------------------------------------------------------------------------------------------
# rendering


def _paint(frame: np.ndarray, app: _Appearance, box: np.ndarray, beta: float,
           blur_vel: Optional[np.ndarray] = None, cover: Optional[np.ndarray] = None,
           keep_alpha: bool = False, tex_angle: float = 0.0) -> Optional[Tuple[int, int, np.ndarray]]:
    """Alpha-composite ``app`` stretched to ``box`` (sub-pixel exact) into ``frame`` (float32, in place).

    ``tex_angle`` rotates the texture inside the fixed silhouette (a spinning/deforming surface): the
    appearance changes a lot while the ground-truth box stays exact.

    ``cover`` (HxW float32) accumulates this object's alpha (for the visibility of objects behind it).
    With ``keep_alpha`` the unblurred alpha is rendered on the whole, unclipped box grid and returned as
    ``(gx0, gy0, alpha)`` so the caller can measure how much of the object lies inside the image."""
    H, W = frame.shape[:2]
    x, y, w, h = (float(v) for v in box)
    if w < 0.5 or h < 0.5:
        return None
    kernel = _line_kernel(float(blur_vel[0]), float(blur_vel[1])) if blur_vel is not None else None
    pad = (kernel.shape[0] // 2 + 1) if kernel is not None else 0
    gx0, gy0 = int(math.floor(x)) - pad, int(math.floor(y)) - pad
    gx1, gy1 = int(math.ceil(x + w)) + pad, int(math.ceil(y + h)) + pad
    if not keep_alpha:  # only the part near the image is needed
        gx0, gy0 = max(gx0, -pad), max(gy0, -pad)
        gx1, gy1 = min(gx1, W + pad), min(gy1, H + pad)
    if gx1 <= gx0 or gy1 <= gy0:
        return None
    tex, alpha = app.at(max(w, h), beta)
    S = tex.shape[0]
    sx, sy = S / w, S / h
    M = np.array([[sx, 0.0, (gx0 + 0.5 - x) * sx - 0.5], [0.0, sy, (gy0 + 0.5 - y) * sy - 0.5]])
    gw, gh = gx1 - gx0, gy1 - gy0
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    a = cv2.warpAffine(alpha, M, (gw, gh), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    fx0, fy0, fx1, fy1 = max(gx0, 0), max(gy0, 0), min(gx1, W), min(gy1, H)
    if fx1 > fx0 and fy1 > fy0:
        lx0, ly0 = fx0 - gx0, fy0 - gy0
        sub_a = a[ly0:ly0 + fy1 - fy0, lx0:lx0 + fx1 - fx0]
        if float(sub_a.max()) > 0.0:
            if abs(tex_angle) > 1e-4:
                ca, sa = math.cos(tex_angle), math.sin(tex_angle)
                Rm = np.array([[ca, -sa], [sa, ca]])
                half = np.array([S / 2.0, S / 2.0])
                t0 = M[:, 2] + 0.5
                Mt = np.concatenate([Rm @ M[:, :2], (Rm @ (t0 - half) + half - 0.5)[:, None]], 1)
                c = cv2.warpAffine(tex, Mt, (gw, gh), flags=flags, borderMode=cv2.BORDER_REFLECT_101)
            else:
                c = cv2.warpAffine(tex, M, (gw, gh), flags=flags, borderMode=cv2.BORDER_REPLICATE)
            roi = frame[fy0:fy1, fx0:fx1]
            if kernel is not None:
                prem = cv2.filter2D(c * a[..., None], -1, kernel, borderType=cv2.BORDER_CONSTANT)
                ab = cv2.filter2D(a, -1, kernel, borderType=cv2.BORDER_CONSTANT)
                prem = prem[ly0:ly0 + fy1 - fy0, lx0:lx0 + fx1 - fx0]
                ab = np.clip(ab[ly0:ly0 + fy1 - fy0, lx0:lx0 + fx1 - fx0], 0.0, 1.0)
                roi *= (1.0 - ab)[..., None]
                roi += prem
            else:
                sub_c = c[ly0:ly0 + fy1 - fy0, lx0:lx0 + fx1 - fx0]
                roi += sub_a[..., None] * (sub_c - roi)
            if cover is not None:
                cv = cover[fy0:fy1, fx0:fx1]
                cv += sub_a * (1.0 - cv)
    return (gx0, gy0, a) if keep_alpha else None


class _FrameRecord(NamedTuple):
    visible: float  # visible fraction of the target's pixels
    occluded: float  # fraction hidden by objects in front (inside the image)
    in_frame: float  # fraction inside the image
    fully_visible: bool
    blurred: bool


def _angle(a: _Actor, t: int) -> float:
    return float(a.angle[t]) if a.angle is not None else 0.0


def _render(scene: _Scene, t: int) -> Tuple[np.ndarray, _FrameRecord]:
    W, H = scene.W, scene.H
    ox, oy = scene.pan[t]
    M = np.array([[1.0, 0.0, ox], [0.0, 1.0, oy]])
    frame = cv2.warpAffine(scene.canvas, M, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT)
    if t > 0:
        pv = scene.pan[t] - scene.pan[t - 1]
        k = _line_kernel(float(pv[0]), float(pv[1])) if math.hypot(*pv) > 6.0 else None
        if k is not None:
            frame = cv2.filter2D(frame, -1, k, borderType=cv2.BORDER_REFLECT)
    for a in scene.behind:
        if a.alive[t]:
            _paint(frame, a.app, a.boxes[t], 0.0, tex_angle=_angle(a, t))
    tg = scene.target
    bv = tg.blur[t] if (tg.blur is not None and math.hypot(*tg.blur[t]) > 6.0) else None
    beta = float(tg.beta[t]) if tg.beta is not None else 0.0
    res = _paint(frame, tg.app, tg.boxes[t], beta, blur_vel=bv, keep_alpha=True, tex_angle=_angle(tg, t))
    blurred = bv is not None and _line_kernel(float(bv[0]), float(bv[1])) is not None
    cover = np.zeros((H, W), np.float32)
    for a in scene.front:
        if a.alive[t]:
            _paint(frame, a.app, a.boxes[t], 0.0, cover=cover, tex_angle=_angle(a, t))
    # visibility of the target from its hard (alpha > 0.5) mask
    if res is None:
        rec = _FrameRecord(0.0, 0.0, 0.0, False, blurred)
    else:
        gx0, gy0, alpha = res
        hard = alpha > 0.5
        total = int(hard.sum())
        fx0, fy0 = max(gx0, 0), max(gy0, 0)
        fx1, fy1 = min(gx0 + alpha.shape[1], W), min(gy0 + alpha.shape[0], H)
        if total == 0:
            rec = _FrameRecord(0.0, 0.0, 0.0, False, blurred)
        elif fx1 <= fx0 or fy1 <= fy0:
            rec = _FrameRecord(0.0, 0.0, 0.0, False, blurred)
        else:
            sub = hard[fy0 - gy0:fy1 - gy0, fx0 - gx0:fx1 - gx0]
            occ = cover[fy0:fy1, fx0:fx1] > 0.5
            inside = int(sub.sum())
            hidden = int((sub & occ).sum())
            vis = inside - hidden
            rec = _FrameRecord(vis / total, hidden / total, inside / total, vis == total, blurred)
    # illumination (per-channel gain), sensor noise, quantisation
    g = scene.gain[t]
    if np.any(np.abs(g - 1.0) > 1e-6):
        frame *= g.astype(np.float32)[None, None, :]
    if scene.noise is not None:
        ny, nx = scene.noise_off[t]
        frame += scene.noise[ny:ny + H, nx:nx + W]
    out = np.clip(frame + 0.5, 0, 255).astype(np.uint8)
    return out, rec


# --------------------------------------------------------------------------------------------------------------------
# one sequence


#: SOTLab extension of the GOT-10k layout: per frame, the xywh boxes of the same-family distractors
#: (k·4 comma-separated values, an empty line when a sequence has none). Training samplers use it to
#: draw hard-negative search crops (``BranchConfig.distractor_prob``); GOT-10k readers ignore it.
DISTRACTOR_FILE = "distractors.txt"


def _distractor_boxes(scene: _Scene) -> np.ndarray:
    """(n, k, 4) boxes of the scene's distractors (behind and in front of the target)."""
    acts = [a for a in scene.behind + scene.front if a.kind == "distractor"]
    if not acts:
        return np.zeros((scene.n, 0, 4))
    return np.stack([a.boxes for a in acts], axis=1)


def distractor_lines(boxes: np.ndarray) -> str:
    """Text of :data:`DISTRACTOR_FILE` for (n, k, 4) boxes."""
    return "".join(",".join(_fmt(v) for v in frame.reshape(-1)) + "\n" for frame in np.asarray(boxes))


def parse_distractor_lines(text: str, n: int, where: str) -> np.ndarray:
    """(n, k, 4) boxes from the text of :data:`DISTRACTOR_FILE` (the inverse of :func:`distractor_lines`);
    ``where`` (the file) is named in every error."""
    rows = [ln.strip() for ln in text.splitlines()]
    if len(rows) != n:
        raise ValueError(f"{where}: {len(rows)} lines for {n} frames")
    try:
        vals = [np.array([float(v) for v in r.split(",")]) if r else np.zeros(0) for r in rows]
    except ValueError as e:
        raise ValueError(f"{where}: {e}") from None
    k = {v.size for v in vals}
    if len(k) != 1 or next(iter(k)) % 4:
        raise ValueError(f"{where}: every line must hold the same number of x,y,w,h boxes")
    return np.stack(vals).reshape(n, -1, 4)


def _labels_and_meta(scene: _Scene, recs: List[_FrameRecord], p: SyntheticParams, name: str,
                     seed_repr: str) -> Tuple[np.ndarray, np.ndarray, Dict[str, Any]]:
    boxes = scene.target.boxes
    W, H = scene.W, scene.H
    vis = np.array([r.visible for r in recs])
    occf = np.array([r.occluded for r in recs])
    inf = np.array([r.in_frame for r in recs])
    full = np.array([r.fully_visible for r in recs])
    cover = cover_level(vis, full)
    absence = (cover == 0).astype(np.int64)
    cut = ((boxes[:, 0] < 0) | (boxes[:, 1] < 0) | (boxes[:, 0] + boxes[:, 2] > W)
           | (boxes[:, 1] + boxes[:, 3] > H)).astype(np.int64)
    size = np.sqrt(boxes[:, 2] * boxes[:, 3])
    ar = boxes[:, 2] / boxes[:, 3]
    speed = np.zeros(len(boxes))
    c = boxes[:, :2] + boxes[:, 2:] / 2
    speed[1:] = np.sqrt((np.diff(c, axis=0) ** 2).sum(1))
    info = scene.info
    mean_speed = float(speed[1:].mean()) if len(speed) > 1 else 0.0
    fast = int((speed > 8.0 * min(W, H) / 240.0).sum())
    meta: Dict[str, Any] = {
        "url": f"sotlab-synthetic/{name}",
        "begin": "0",
        "end": str(scene.n - 1),
        "anno_fps": "10Hz",
        "object_class": f"{info['texture']} {info['shape']}",
        "motion_class": "fast motion" if fast > 0 else "smooth motion",
        "major_class": "synthetic object",
        "root_class": "object",
        "motion_adverb": "quickly" if mean_speed > 3.5 else ("slowly" if mean_speed < 1.5 else "steadily"),
        "resolution": f"({W}, {H})",
        "num_frames": scene.n,
        "generator": f"sotlab-synthetic {GENERATOR_VERSION}",
        "seed": seed_repr,
        "texture": info["texture"],
        "shape": info["shape"],
        "scale_change": round(float(size.max() / size.min()), 4),
        "aspect_ratio_change": round(float(ar.max() / ar.min()), 4),
        "appearance_change": round(float(info["appearance_change"]), 4),
        "texture_rotation": round(float(info["rotation"]), 2),
        "occlusion_frames": int((occf > 0).sum()),
        "full_occlusion_frames": int(((vis == 0) & (inf > 0)).sum()),
        "out_of_view_frames": int((inf == 0).sum()),
        "absent_frames": int(absence.sum()),
        "cut_by_image_frames": int(cut.sum()),
        "occluders": int(info["occluders"]),
        "distractors": int(info["distractors"]),
        "distractors_in_front": int(info["distractors_in_front"]),
        "background_clutter": int(info["background_clutter"]),
        "illumination_change": round(float(info["illumination_change"]), 4),
        "motion_blur": int(sum(r.blurred for r in recs)),
        "fast_motion_frames": fast,
        "max_speed": round(float(speed.max()), 4),
        "camera_motion": round(float(info["pan_speed"]), 4),
        # per-frame arrays (not written to the ini)
        "cut_by_image": cut,
        "distractor_boxes": _distractor_boxes(scene),
        "visible_fraction": vis,
        "occluded_fraction": occf,
    }
    return absence, cover, meta


def _run_sequence(seed: Union[int, np.random.SeedSequence, np.random.Generator], params: Optional[SyntheticParams],
                  name: str, sink: Callable[[int, np.ndarray], None]) -> Tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                                Dict[str, Any]]:
    p = (params or DEFAULT_PARAMS["test"]).validate(f"synthetic sequence {name}")
    ss = _as_seed_sequence(seed)
    ent = ss.entropy if isinstance(ss.entropy, (list, tuple)) else [ss.entropy]
    seed_repr = "[" + ",".join(str(int(e)) for e in ent) + "]"
    if ss.spawn_key:
        seed_repr += "+" + ",".join(str(int(k)) for k in ss.spawn_key)
    scene = _build_scene(ss, p)
    recs: List[_FrameRecord] = []
    for t in range(scene.n):
        img, rec = _render(scene, t)
        recs.append(rec)
        sink(t, img)
    absence, cover, meta = _labels_and_meta(scene, recs, p, name, seed_repr)
    return scene.target.boxes.copy(), absence, cover, meta


def generate_sequence(seed: Union[int, np.random.SeedSequence, np.random.Generator],
                      params: Optional[SyntheticParams] = None, *, name: str = "SYN_sequence") -> GeneratedSequence:
    """Render one sequence in memory (for tests and previews): frames are HxWx3 uint8 RGB, ``boxes`` (N,4) xywh
    (exactly the values written to ``groundtruth.txt``), ``absence``/``cover`` int arrays, ``meta`` see
    :class:`GeneratedSequence`. Uses the ``test`` defaults when ``params`` is None (``num_sequences`` is ignored)."""
    frames: List[np.ndarray] = []
    boxes, absence, cover, meta = _run_sequence(seed, params, name, lambda t, img: frames.append(img))
    return GeneratedSequence(frames, boxes, absence, cover, meta)


def regenerate_sequence(split: str, index: int, seed: Optional[int] = None,
                        params: Optional[SyntheticParams] = None) -> GeneratedSequence:
    """Sequence ``index`` (0-based) of a split, identical to the one :func:`ensure_synthetic` writes."""
    p = params or DEFAULT_PARAMS.get(split)
    if p is None:
        raise SyntheticError(f"unknown synthetic split '{split}'; choose one of {', '.join(SPLITS)}")
    return generate_sequence(sequence_seed(split, index, seed), p, name=sequence_name(split, index))


def scene_distractor_boxes(split: str, index: int, seed: Optional[int] = None,
                           params: Optional[SyntheticParams] = None) -> np.ndarray:
    """Distractor boxes (n, k, 4) of sequence ``index`` of a split without rendering it (the scene alone).

    Lets a split generated before :data:`DISTRACTOR_FILE` existed get the file without regenerating its frames."""
    p = params or DEFAULT_PARAMS.get(split)
    if p is None:
        raise SyntheticError(f"unknown synthetic split '{split}'; choose one of {', '.join(SPLITS)}")
    s = SPLIT_SEEDS[split] if seed is None else int(seed)
    return _distractor_boxes(_build_scene(_as_seed_sequence(sequence_seed(split, index, s)), p.validate()))


def sequence_distractor_boxes(seq_dir: Union[str, Path], n: int, seed: Optional[int] = None) -> np.ndarray:
    """(n, k, 4) look-alike boxes of the sequence in ``seq_dir`` (named as :func:`sequence_name` makes it), from
    its :data:`DISTRACTOR_FILE`.

    A split written before that file existed gets it from the scene description (no frame is re-rendered), so
    old workspaces keep working; the file is replaced atomically because data-loader workers may race here."""
    d = Path(seq_dir)
    f = d / DISTRACTOR_FILE
    if not f.is_file():
        split, _, idx = d.name[len("SYN_"):].rpartition("_")
        if not d.name.startswith("SYN_") or split not in SPLIT_SEEDS or not idx.isdigit():
            raise SyntheticError(f"{f} is missing and {d.name} is not a synthetic sequence name to rebuild it from")
        rebuilt = scene_distractor_boxes(split, int(idx) - 1, seed)
        if rebuilt.shape[0] != n:
            raise ValueError(f"{d}: the scene of {d.name} has {rebuilt.shape[0]} frames, groundtruth.txt {n}")
        tmp = f.with_name(f".{f.name}.{os.getpid()}.tmp")
        tmp.write_text(distractor_lines(rebuilt))
        tmp.replace(f)
    return parse_distractor_lines(f.read_text(), n, str(f))


def _fmt(v: float) -> str:
    return f"{round(float(v), 4) + 0.0:.4f}"  # + 0.0 turns -0.0 into 0.0


def write_sequence(seq_dir: Union[str, Path], seed: Union[int, np.random.SeedSequence, np.random.Generator],
                   params: Optional[SyntheticParams] = None, name: Optional[str] = None) -> Dict[str, Any]:
    """Render one sequence straight to ``seq_dir`` in GOT-10k layout (frames are streamed, not kept). Returns meta."""
    d = Path(seq_dir)
    d.mkdir(parents=True, exist_ok=True)
    p = params or DEFAULT_PARAMS["test"]
    q = [int(cv2.IMWRITE_JPEG_QUALITY), int(p.jpeg_quality)]

    def sink(t: int, img: np.ndarray) -> None:
        path = d / f"{t + 1:08d}.jpg"
        if not cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), q):
            raise SyntheticError(f"synthetic sequence {name or d.name}: cannot write frame {path}")

    boxes, absence, cover, meta = _run_sequence(seed, p, name or d.name, sink)
    (d / "groundtruth.txt").write_text("".join(",".join(_fmt(v) for v in b) + "\n" for b in boxes))
    (d / "absence.label").write_text("".join(f"{int(v)}\n" for v in absence))
    (d / "cover.label").write_text("".join(f"{int(v)}\n" for v in cover))
    (d / "cut_by_image.label").write_text("".join(f"{int(v)}\n" for v in meta["cut_by_image"]))
    (d / DISTRACTOR_FILE).write_text(distractor_lines(meta["distractor_boxes"]))
    lines = ["[METAINFO]"] + [f"{k}: {meta[k]}" for k in INI_KEYS]
    (d / "meta_info.ini").write_text("\n".join(lines) + "\n")
    return meta


# --------------------------------------------------------------------------------------------------------------------
# whole split, cached


def _split_params(split: str, num_sequences: Optional[int], params: Optional[SyntheticParams]) -> SyntheticParams:
    if split not in DEFAULT_PARAMS:
        raise SyntheticError(f"unknown synthetic split '{split}'; choose one of {', '.join(SPLITS)}")
    p = params or DEFAULT_PARAMS[split]
    if num_sequences is not None:
        p = replace(p, num_sequences=int(num_sequences))
    return p.validate(f"synthetic split '{split}'")


def split_hash(split: str, seed: int, params: SyntheticParams) -> str:
    """Identity of a generated split: generator version + split + seed + every parameter."""
    blob = json.dumps({"version": GENERATOR_VERSION, "split": split, "seed": int(seed), "params": asdict(params)},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _read_marker(split_dir: Path) -> Optional[Dict[str, Any]]:
    f = split_dir / COMPLETE_MARKER
    try:
        return json.loads(f.read_text())
    except (OSError, ValueError):
        return None


def is_complete(root: Union[str, Path], split: str, num_sequences: Optional[int] = None, seed: Optional[int] = None,
                params: Optional[SyntheticParams] = None) -> bool:
    """True if ``root/split`` holds a finished generation with exactly these settings."""
    p = _split_params(split, num_sequences, params)
    s = SPLIT_SEEDS[split] if seed is None else int(seed)
    m = _read_marker(Path(root) / split)
    return bool(m) and m.get("hash") == split_hash(split, s, p)


@contextlib.contextmanager
def _split_lock(root: Path, split: str) -> Iterator[None]:
    """Serialise generation of one split across processes (parallel evaluation workers call us at once)."""
    try:
        import fcntl
    except ImportError:  # non-POSIX: no cross-process lock; atomic rename still protects the result
        yield
        return
    with open(root / f".{split}.lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def ensure_synthetic(root: Union[str, Path, None], split: str, num_sequences: Optional[int] = None,
                     seed: Optional[int] = None, *, params: Optional[SyntheticParams] = None,
                     verbose: bool = True) -> Path:
    """Return ``root/split``, generating it first if it is missing, incomplete or made with other settings.

    ``root`` None means the workspace's synthetic folder (``get_settings().synthetic_dir``). Generation goes to
    a temporary sibling folder; the ``.complete`` marker is written last and the folder is then renamed into
    place, so an interrupted run leaves nothing that counts as done."""
    if root is None:
        from ltr.admin.settings import get_settings

        root = get_settings().synthetic_dir
    root = Path(root).expanduser()
    p = _split_params(split, num_sequences, params)
    s = SPLIT_SEEDS[split] if seed is None else int(seed)
    if s < 0:
        raise SyntheticError(f"synthetic split '{split}': seed must be >= 0, got {s}")
    key = split_hash(split, s, p)
    target = root / split
    m = _read_marker(target)
    if m and m.get("hash") == key:
        return target
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SyntheticError(f"synthetic split '{split}': cannot create folder {root}: {e}") from e
    with _split_lock(root, split):
        m = _read_marker(target)
        if m and m.get("hash") == key:  # another process finished it while we waited
            return target
        for stale in root.glob(f".{split}.partial-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root / f".{split}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        t0 = time.perf_counter()
        if verbose:
            print(f"sotlab: generating synthetic split '{split}' ({p.num_sequences} sequences) into {target} ...",
                  file=sys.stderr, flush=True)
        try:
            names = []
            step = max(1, p.num_sequences // 10)
            for i in range(p.num_sequences):
                nm = sequence_name(split, i)
                write_sequence(tmp / nm, sequence_seed(split, i, s), p, nm)
                names.append(nm)
                if verbose and ((i + 1) % step == 0 or i + 1 == p.num_sequences) and p.num_sequences >= 10:
                    print(f"  {i + 1}/{p.num_sequences} sequences ({time.perf_counter() - t0:.0f} s)",
                          file=sys.stderr, flush=True)
            (tmp / "list.txt").write_text("\n".join(names) + "\n")
            marker = {"hash": key, "version": GENERATOR_VERSION, "split": split, "seed": s, "params": asdict(p),
                      "seconds": round(time.perf_counter() - t0, 2)}
            (tmp / COMPLETE_MARKER).write_text(json.dumps(marker, indent=1, sort_keys=True) + "\n")
            if target.exists():
                old = root / f".{split}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                os.replace(target, old)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if verbose:
            print(f"sotlab: synthetic split '{split}' ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr,
                  flush=True)
    return target
