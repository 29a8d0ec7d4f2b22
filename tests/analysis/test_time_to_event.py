"""Group labels: checked once, then coded by hashing with the same result as sorting."""

from __future__ import annotations

import numpy as np
import pytest

from gistcad.analysis.time_to_event import check_groups, group_codes
from gistcad.domain import Site
from gistcad.errors import ValidationError


def test_group_codes_equal_numpy_unique() -> None:
    rng = np.random.default_rng(2)
    labels = rng.choice(["KIT exon 11", "PDGFRA", "Unknown", "Wild-type", "KIT exon 9"], 500)
    names, codes = group_codes(labels)
    expected_names, expected_codes = np.unique(labels, return_inverse=True)
    assert names == tuple(expected_names.tolist())
    np.testing.assert_array_equal(codes, expected_codes)


def test_checked_labels_are_strings_and_pass_through_again() -> None:
    labels = check_groups([Site.STOMACH, "B", 3], 3)
    assert labels.tolist() == ["stomach", "B", "3"]
    assert check_groups(labels, 3) is labels  # already checked strings: not converted again
    with pytest.raises(ValidationError, match="groups is missing at row"):
        check_groups(np.array(["a", None], dtype=object), 2)
    with pytest.raises(ValidationError, match="groups has 2 labels but there are 3 durations"):
        check_groups(labels[:2], 3)
