"""``baseline``: the reference model itself, no training (the row every AES is measured against)."""

from .base import Method


class Baseline(Method):
    name = "baseline"
    trains = False
