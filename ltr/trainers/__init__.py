"""Trainer (epochs, stages, freezing, DDP, AMP, checkpoints, logging) and the glue that builds it from a
registered tracker (:func:`ltr.trainers.builder.build_trainer`). See :mod:`ltr.trainers.trainer` for the actor
interface a tracker implements."""
