"""The majority-class baseline as a champion: the pointer's class shares, and the class they answer."""

import pytest

from shoplake.ml.baselines import MAJORITY_CLASS, majority_class, majority_pointer


def test_the_pointer_carries_the_training_shares_and_names_the_majority_class():
    pointer = majority_pointer({"0": 5, 2: 30, 3: 15})  # class 1 never seen; keys as JSON or as numbers
    assert pointer["model"] == MAJORITY_CLASS
    assert pointer["class_probabilities"] == pytest.approx([0.1, 0.0, 0.6, 0.3])
    assert majority_class(pointer) == 2
    assert majority_class(majority_pointer([4, 135, 135])) == 1  # a tie: the first of the largest
