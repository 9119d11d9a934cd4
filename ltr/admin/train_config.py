"""Typed training configuration shared by every tracker.

A tracker's YAML ``train:`` section is loaded into a subclass of
:class:`TrainConfig`; the tracker adds its own ``loss``/``labels`` sections
and keeps everything else (data, processing, optimiser, schedule, freezing,
stages) from here.  Every field has a default so a YAML only states what
differs, e.g.::

    train:
      epochs: 20
      batch_size: 80
      data:
        datasets: [{name: got10k, split: vottrain, weight: 1.0, max_gap: 50}]
        samples_per_epoch: 600000
      optim: {type: sgd, lr: 0.005, weight_decay: 1.0e-4, lr_mult: {backbone: 0.1}}
      schedule: {type: log, warmup_epochs: 5, warmup_start_lr: 0.001, end_lr: 0.0005}
      freeze: {frozen: [backbone], unfreeze_epoch: 10,
               unfreeze: [backbone.layer2, backbone.layer3, backbone.layer4]}

Conventions
-----------
* Epochs are **0-based** everywhere (``unfreeze_epoch: 10`` = the 11th epoch).
* ``batch_size`` is the **global** batch; with DDP each of the N processes
  gets ``batch_size // N`` samples, so a run's maths does not depend on N.
* In processing, branch ``template`` is the template of a Siamese pair and
  the *train* frames of a sequence sample; branch ``search`` is the search
  region of a pair and the *test* frames of a sequence sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Literal, Optional

__all__ = [
    "DatasetSpec",
    "DataConfig",
    "BranchConfig",
    "ProcessingConfig",
    "OptimConfig",
    "ScheduleConfig",
    "FreezeConfig",
    "StageConfig",
    "HardNegativeLossConfig",
    "TrainConfig",
]


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


# --------------------------------------------------------------------------- data

@dataclass
class DatasetSpec:
    """One training dataset in the mix."""

    #: name in ``TRAIN_DATASETS`` (got10k, lasot, trackingnet, coco, imagenetvid, youtubebb, synthetic)
    name: str = "synthetic"
    #: relative sampling weight (pytracking ``p_datasets``; pysot NUM_USE shares can be expressed as weights)
    weight: float = 1.0
    #: dataset-specific split: got10k train|val|vottrain|votval|train_full, lasot train|test,
    #: trackingnet train (= chunks in ``options``), coco train2017|val2017, ...  None = the dataset's default
    split: Optional[str] = None
    #: per-dataset override of ``DataConfig.max_gap`` (pysot FRAME_RANGE: VID 100, YTBB 3, COCO 1, ...)
    max_gap: Optional[int] = None
    #: extra keyword arguments for the dataset class (e.g. ``{chunks: [0, 1, 2, 3]}``, ``{seq_list_file: f.txt}``, ``{root: /x}``)
    options: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.weight > 0, f"dataset '{self.name}': weight must be > 0, got {self.weight}")
        _check(self.max_gap is None or self.max_gap >= 0, f"dataset '{self.name}': max_gap must be >= 0")


@dataclass
class DataConfig:
    """Which datasets, how to mix them and how to draw frames from a video."""

    datasets: List[DatasetSpec] = field(default_factory=lambda: [DatasetSpec()])
    #: samples (pairs / sequence samples) per epoch, summed over all processes
    samples_per_epoch: int = 1000
    #: validation datasets (empty = no validation)
    val_datasets: List[DatasetSpec] = field(default_factory=list)
    val_samples: int = 0
    #: 'pair': Siamese template/search pairs; 'sequence': N train + M test frames (DiMP style)
    sampler: Literal["pair", "sequence"] = "pair"
    #: how frames are drawn inside a video:
    #:  'pysot'    template uniform over annotated frames, search uniform within +-max_gap positions (template included);
    #:  'interval' ATOM/DiMP: base frame uniform over visible frames, others within [base-gap, base+gap];
    #:  'causal'   DiMP/FCOT: train frames in [base-gap, base], test frames in (base, base+gap].
    frame_sample_mode: Literal["pysot", "interval", "causal"] = "pysot"
    max_gap: int = 100
    #: grow the gap by this much when not enough visible frames are found (pytracking uses 5)
    gap_increase: int = 5
    num_train_frames: int = 1
    num_test_frames: int = 1
    #: probability that a pair's search frame comes from another video (negative pair)
    neg_prob: float = 0.0
    #: a video is used only with at least this many visible frames / this many frames in total
    min_visible_frames: int = 1
    min_seq_length: int = 1
    #: bad sample (corrupt image, box outside the image, NaN or zero-size box): skip it (and count it) or stop
    on_bad_sample: Literal["skip", "fail"] = "skip"
    #: consecutive bad draws after which the sampler gives up even in 'skip' mode
    max_bad_retries: int = 100
    #: keep the per-frame visibility flags from the dataset (False = every annotated frame counts as visible)
    use_visibility: bool = True

    def __post_init__(self) -> None:
        _check(len(self.datasets) > 0, "data.datasets must list at least one dataset")
        _check(self.samples_per_epoch > 0, "data.samples_per_epoch must be > 0")
        _check(0.0 <= self.neg_prob <= 1.0, f"data.neg_prob must be in [0, 1], got {self.neg_prob}")
        _check(self.num_train_frames >= 1 and self.num_test_frames >= 1, "data.num_train/test_frames must be >= 1")
        _check(self.max_gap >= 0 and self.gap_increase >= 0, "data.max_gap and data.gap_increase must be >= 0")
        _check(self.max_bad_retries >= 1, "data.max_bad_retries must be >= 1")


# --------------------------------------------------------------------------- processing

@dataclass
class BranchConfig:
    """Crop size, jitter and augmentation of one branch (template/train or search/test)."""

    #: output crop side in pixels
    size: int = 127
    #: centre jitter: 'pysot' = uniform +-center_jitter *output pixels*; 'pytracking' = (U-0.5)*sqrt(wh)*center_jitter
    center_jitter: float = 0.0
    #: scale jitter: 'pysot' = per-axis factor 1 + U(-s, s); 'pytracking' = size * exp(N(0,1) * s) (aspect kept)
    scale_jitter: float = 0.0
    #: probabilities / strengths of photometric augmentation
    flip: float = 0.0  # horizontal flip probability
    gray: float = 0.0  # grayscale probability (per branch; see ProcessingConfig.gray_joint)
    brightness: float = 0.0  # pytracking: multiply by U[1-b, 1+b]
    color_jitter: float = 0.0  # torchvision-style ColorJitter(b, c, s, h) all equal to this value (Ocean: 0.05)
    pca_color: float = 0.0  # pysot PCA colour noise probability (pysot: 1.0)
    blur: float = 0.0  # Gaussian blur probability
    motion_blur: float = 0.0  # pysot cross-kernel motion blur probability (search 0.2)
    #: probability of centring the crop on a nearby look-alike of the target instead of a random shift
    #: (hard negatives, as DaSiamRPN's distractor-aware training); the shift toward it is clipped to
    #: center_jitter, so the target stays where the usual jitter puts it. Needs a dataset that annotates
    #: distractors (the synthetic benchmark does); a no-op elsewhere. Search branch of pairs only.
    distractor_prob: float = 0.0

    def __post_init__(self) -> None:
        _check(self.size > 0, f"crop size must be > 0, got {self.size}")
        for k in ("flip", "gray", "pca_color", "blur", "motion_blur", "distractor_prob"):
            v = getattr(self, k)
            _check(0.0 <= v <= 1.0, f"{k} is a probability in [0, 1], got {v}")
        _check(self.center_jitter >= 0 and self.scale_jitter >= 0, "jitter amounts must be >= 0")


def _template_branch() -> BranchConfig:
    return BranchConfig(size=127)


def _search_branch() -> BranchConfig:
    return BranchConfig(size=255)


@dataclass
class ProcessingConfig:
    """Crop geometry and augmentation (see :mod:`ltr.data.processing`)."""

    #: 'siamfc': square side s_z = sqrt((w+p)(h+p)), p = context_amount*(w+h), template = s_z -> template.size,
    #:           search = s_z * search.size / template.size  (pysot/TracKit convention);
    #: 'search_area': side = ceil(search_area_factor * sqrt(wh)) for *both* branches (pytracking convention)
    crop_mode: Literal["siamfc", "search_area"] = "siamfc"
    context_amount: float = 0.5
    search_area_factor: float = 5.0
    #: jitter convention (see BranchConfig)
    jitter_mode: Literal["pysot", "pytracking"] = "pysot"
    #: out-of-image fill: per-channel image mean (pysot), border replication (pytracking) or zeros
    pad_mode: Literal["mean", "replicate", "zeros"] = "mean"
    template: BranchConfig = field(default_factory=_template_branch)
    search: BranchConfig = field(default_factory=_search_branch)
    #: one grayscale draw for all frames of a sample (pytracking) instead of one per branch
    gray_joint: bool = False
    #: clamp boxes to the crop after cropping (pytracking does, pysot does not)
    clamp_boxes: bool = False
    #: network input format: 'bgr255' = BGR float 0-255 (pysot/TracKit weights), 'imagenet' = RGB /255 then
    #: ImageNet mean/std (pytracking weights), 'rgb01' = RGB /255
    normalize: Literal["bgr255", "imagenet", "rgb01"] = "bgr255"

    def __post_init__(self) -> None:
        _check(0.0 <= self.context_amount, "processing.context_amount must be >= 0")
        _check(self.search_area_factor > 0, "processing.search_area_factor must be > 0")


# --------------------------------------------------------------------------- optimisation

@dataclass
class OptimConfig:
    type: Literal["sgd", "adam", "adamw"] = "sgd"
    lr: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    #: LR multipliers by parameter-name prefix (longest prefix wins), e.g. ``{backbone: 0.1}``.
    #: Parameters matching no prefix use 1.0.
    lr_mult: Dict[str, float] = field(default_factory=dict)
    #: no weight decay on biases and norm-layer weights
    no_decay_norm_bias: bool = False

    def __post_init__(self) -> None:
        _check(self.lr >= 0, f"optim.lr must be >= 0, got {self.lr}")
        _check(len(self.betas) == 2, "optim.betas must have two values")
        for k, v in self.lr_mult.items():
            _check(v >= 0, f"optim.lr_mult.{k} must be >= 0")


@dataclass
class ScheduleConfig:
    """LR schedule, evaluated per epoch (or per iteration with ``per_iter``).

    ``lr`` of :class:`OptimConfig` is the peak LR.  ``warmup_epochs`` epochs
    go from ``warmup_start_lr`` to it (pysot's 'step' warm-up is geometric:
    lr_e = start * (lr/start)^(e/warmup_epochs)), then the main schedule runs
    over the remaining epochs:

    * ``constant``
    * ``step``: lr * gamma^(floor(e'/step_size)); ``milestones`` (if set) instead of step_size
    * ``cosine``: lr -> end_lr
    * ``log``: log-spaced from lr to end_lr, the last epoch reaching end_lr (pysot/TracKit)
    """

    type: Literal["constant", "step", "cosine", "log"] = "constant"
    warmup_epochs: int = 0
    warmup_start_lr: float = 0.0
    warmup_kind: Literal["geometric", "linear"] = "geometric"
    end_lr: float = 0.0
    step_size: int = 1
    milestones: List[int] = field(default_factory=list)
    gamma: float = 0.1
    #: re-evaluate at each iteration with fractional epochs (smoother); default: once per epoch
    per_iter: bool = False

    def __post_init__(self) -> None:
        _check(self.warmup_epochs >= 0, "schedule.warmup_epochs must be >= 0")
        _check(self.step_size >= 1, "schedule.step_size must be >= 1")
        if self.warmup_epochs > 0 and self.warmup_kind == "geometric":
            _check(self.warmup_start_lr > 0, "schedule.warmup_start_lr must be > 0 for a geometric warm-up")
        if self.type == "log":
            _check(self.end_lr > 0, "schedule.end_lr must be > 0 for a 'log' schedule")


@dataclass
class FreezeConfig:
    """Frozen parameters and their BatchNorm.

    ``bn_eval_frozen`` (default True) keeps every BatchNorm whose parameters are
    all frozen in eval mode, i.e. it uses and keeps the pretrained running
    statistics.  The official SiamCAR/Ocean/DCFST/FCOT releases call
    ``net.train()`` each epoch, which silently puts those BN layers back in
    training mode (batch statistics, running stats updated).  Set
    ``bn_eval_frozen: false`` to reproduce that leak.
    """

    #: parameter-name prefixes frozen from the start (``backbone`` freezes ``backbone.*``)
    frozen: List[str] = field(default_factory=list)
    #: 0-based epoch at which ``unfreeze`` prefixes become trainable (None = never)
    unfreeze_epoch: Optional[int] = None
    unfreeze: List[str] = field(default_factory=list)
    #: rebuild optimiser (and schedule) when unfreezing (pysot/TracKit do: it resets momentum)
    rebuild_optimizer: bool = True
    bn_eval_frozen: bool = True

    def __post_init__(self) -> None:
        _check(self.unfreeze_epoch is None or self.unfreeze_epoch >= 0, "freeze.unfreeze_epoch must be >= 0")
        if self.unfreeze and self.unfreeze_epoch is None:
            raise ValueError("freeze.unfreeze is set but freeze.unfreeze_epoch is not")


@dataclass
class StageConfig:
    """One stage of multi-stage training (FCOT: 3 stages).

    Every ``None`` field inherits from the enclosing :class:`TrainConfig`.
    Each stage starts a fresh optimiser and schedule (epochs count from 0
    inside the stage for the schedule); the model weights carry over.
    """

    name: str = ""
    epochs: int = 1
    #: train ONLY these prefixes (everything else frozen); None = use ``freeze``
    trainable: Optional[List[str]] = None
    freeze: Optional[FreezeConfig] = None
    optim: Optional[OptimConfig] = None
    schedule: Optional[ScheduleConfig] = None
    #: free-form options the actor reads through ``actor.set_stage(stage)`` (e.g. loss weights)
    options: Dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, f"stage '{self.name}': epochs must be >= 1")


# --------------------------------------------------------------------------- root

@dataclass
class HardNegativeLossConfig:
    """Base of a tracker's ``train.loss`` section: online hard-negative mining (a SOTLab extension; 0 = off,
    as in the official trainers). The actor adds ``hard_neg_weight`` × the mean classification loss of each
    pair's ``hard_neg_topk`` highest-scoring negatives outside the GT box
    (:func:`ltr.models.loss.classification.hard_negative_cross_entropy`)."""

    hard_neg_topk: int = 0
    hard_neg_weight: float = 1.0

    def validate(self) -> None:
        if self.hard_neg_topk < 0 or self.hard_neg_weight < 0:
            raise ValueError("train.loss.hard_neg_topk and train.loss.hard_neg_weight must be >= 0")


@dataclass
class TrainConfig:
    """Core training settings; trackers subclass it to add ``loss``/``labels``."""

    epochs: int = 20
    #: global batch (split evenly across DDP processes)
    batch_size: int = 8
    num_workers: int = 2
    #: with ``num_workers: 0``: threads that build each batch's samples in the training process, between
    #: steps (never during one). On a 2-core CPU a worker process pre-empts a compute thread during every
    #: step; threads that only run while the step waits for its batch do not (decoding and warps release the
    #: GIL). Batches are identical for any value
    data_threads: int = 1
    #: base seed; per-rank and per-worker seeds are derived from it (None: use the experiment's ``seed``)
    seed: Optional[int] = None
    #: mixed precision: the network's forward under autocast, losses in float32 (ltr/trainers/precision.py).
    #: CUDA: float16 with loss scaling; CPU: bfloat16 where oneDNN has native kernels (AVX512-BF16/AMX),
    #: else float32 with a warning
    amp: bool = False
    #: autocast dtype: auto (float16 on CUDA, bfloat16 on CPU), float16 (CUDA only) or bfloat16
    amp_dtype: Literal["auto", "float16", "bfloat16"] = "auto"
    #: run the network in channels-last memory format (faster oneDNN convolutions on CPU, tensor cores on CUDA)
    channels_last: bool = False
    #: clip the global gradient norm to this value (None = no clipping)
    grad_clip: Optional[float] = None
    #: skip the optimiser step when the loss is NaN/Inf or larger than this (pysot/TracKit: 1e4); None = never skip
    skip_loss_above: Optional[float] = None
    #: log to TensorBoard/text every N iterations
    log_interval: int = 20
    #: checkpoint every N epochs; keep the N most recent ones (0 = keep all)
    checkpoint_interval: int = 1
    keep_last: int = 5
    #: also checkpoint every N iterations inside an epoch (0 = only at epoch ends); resume is exact either way
    checkpoint_iters: int = 0
    #: validate every N epochs (needs data.val_datasets)
    val_interval: int = 5
    #: cudnn.deterministic + torch.use_deterministic_algorithms(warn_only)
    deterministic: bool = False
    #: DDP ``find_unused_parameters`` (needed when an actor leaves some trainable parameters unused)
    ddp_find_unused: bool = False
    data: DataConfig = field(default_factory=DataConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    #: multi-stage training; empty = one stage of ``epochs`` epochs with the settings above
    stages: List[StageConfig] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "train.epochs must be >= 1")
        _check(self.batch_size >= 1, "train.batch_size must be >= 1")
        _check(self.num_workers >= 0, "train.num_workers must be >= 0")
        _check(self.data_threads >= 1, "train.data_threads must be >= 1")
        _check(self.data_threads == 1 or self.num_workers == 0,
               f"train.data_threads {self.data_threads} needs train.num_workers 0 (threads build batches in the "
               f"training process; with {self.num_workers} worker process(es) the workers build them)")
        _check(self.log_interval >= 1 and self.checkpoint_interval >= 1, "train.log_interval/checkpoint_interval must be >= 1")
        _check(self.keep_last >= 0, "train.keep_last must be >= 0")
        _check(self.checkpoint_iters >= 0, "train.checkpoint_iters must be >= 0")
        _check(self.grad_clip is None or self.grad_clip > 0, "train.grad_clip must be > 0 (or null)")

    # ----------------------------------------------------------- helpers
    def resolved_stages(self) -> List[StageConfig]:
        """Stages with every inherited field filled in (a single stage when ``stages`` is empty)."""
        if not self.stages:
            return [StageConfig(name="main", epochs=self.epochs, trainable=None, freeze=self.freeze,
                                optim=self.optim, schedule=self.schedule)]
        out = []
        for i, st in enumerate(self.stages):
            out.append(StageConfig(
                name=st.name or f"stage{i + 1}",
                epochs=st.epochs,
                trainable=st.trainable,
                freeze=st.freeze if st.freeze is not None else self.freeze,
                optim=st.optim if st.optim is not None else self.optim,
                schedule=st.schedule if st.schedule is not None else self.schedule,
                options=dict(st.options),
            ))
        return out

    def total_epochs(self) -> int:
        return sum(s.epochs for s in self.resolved_stages())

    def iters_per_epoch(self) -> int:
        """Optimiser steps per epoch (``samples_per_epoch // batch_size``, at least 1)."""
        return max(1, self.data.samples_per_epoch // self.batch_size)

    def validate(self) -> None:
        """Cross-field checks (called by tracker configs' ``validate``).

        An ``unfreeze_epoch`` or warm-up longer than a stage is allowed on purpose
        (a 1-epoch smoke run of a 20-epoch config simply never reaches it).
        """
        names = [s.name for s in self.stages if s.name]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"train.stages: duplicate stage names {dup}")
