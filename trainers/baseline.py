"""``baseline``: the reference model itself, no training (the row every AES is measured against)."""

from .method import Method


class Baseline(Method):
    name = "baseline"
    trains = False
