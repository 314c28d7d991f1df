"""``baseline``: the reference model itself, no training (the row every AES is measured against)."""


class Baseline:
    name = "baseline"
    trains = False
    suffix = ""
