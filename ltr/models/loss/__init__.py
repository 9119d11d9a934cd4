"""Losses shared by several trackers (IoU losses, balanced cross-entropy, centerness BCE)."""
