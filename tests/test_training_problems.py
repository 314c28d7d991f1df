"""Training problems: a seeded shuffle before the limit, as the official code takes its 5,000."""

from collections import Counter

from pruneeval import presets
from pruneeval.presample import training_problems

# MATH train per subject: Algebra 1,744, Counting & Probability 771, Geometry 870, Intermediate
# Algebra 1,295, Number Theory 869, Prealgebra 1,205, Precalculus 746 (7,500), sorted by subject.
SHUFFLED_5000 = {"Algebra": 1186, "Counting & Probability": 499, "Geometry": 576, "Intermediate Algebra": 853,
                 "Number Theory": 566, "Prealgebra": 812, "Precalculus": 508}


def _subjects(problems):
    return dict(Counter(p.meta["type"] for p in problems))


def test_math_train_5000_shuffled_with_seed_42_covers_all_7_subjects(data_dir):
    problems = training_problems("math_train", data_dir, 5000, shuffle_seed=42)
    assert len(problems) == 5000 and _subjects(problems) == SHUFFLED_5000
    assert problems[0].id == "train/number_theory/544.json"


def test_file_order_misses_prealgebra_and_precalculus(data_dir):
    subjects = _subjects(training_problems("math_train", data_dir, 5000, shuffle_seed=-1))
    assert "Prealgebra" not in subjects and "Precalculus" not in subjects


def test_the_shuffle_is_deterministic_and_the_limit_takes_its_head(data_dir):
    a = training_problems("math_train", data_dir, 5000, shuffle_seed=42)
    assert [p.id for p in a] == [p.id for p in training_problems("math_train", data_dir, 5000, shuffle_seed=42)]
    assert [p.id for p in training_problems("math_train", data_dir, 100, shuffle_seed=42)] == [p.id for p in a[:100]]
    assert [p.id for p in training_problems("math_train", data_dir, 100, shuffle_seed=7)] != [p.id for p in a[:100]]


def test_presets_shuffle_as_the_official_code_except_the_toy():
    assert presets.Preset().presample_seed == 42
    assert presets.by_name("Marco-o1").presample_seed == presets.by_name("QwQ-32B-Preview").presample_seed == 42
    assert presets.by_name("toy").presample_seed == -1  # the toy world draws its problems at random already
