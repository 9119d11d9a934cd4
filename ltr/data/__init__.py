"""Training data pipeline (shared by all trackers).

* :mod:`ltr.data.sampler`    -- ``TrackingSampler``: weighted dataset mix, pair / sequence frame sampling,
  negative pairs, bad-sample reporting; items are pure functions of ``(seed, epoch, index)``.
* :mod:`ltr.data.processing` -- ``RawSample`` and ``TrackingProcessing``: crops (SiamFC context / pytracking
  search area), centre/scale jitter, augmentation, normalisation.
* :mod:`ltr.data.transforms` -- photometric augmentations (PCA colour, brightness, ColorJitter, blur, motion blur).
* :mod:`ltr.data.labels`     -- vectorised label generators (ltrb, centre-ness, Gaussian, ATSS, IoU-Net proposals...).
* :mod:`ltr.data.loader`     -- deterministic DataLoader over ``(epoch, index)`` for any rank/worker count.
"""
