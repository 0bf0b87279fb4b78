"""hashing.canonical_json reuses one C encoder: the same text as the standard library's encoder, always."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from praisonai_svc.hashing import canonical_json

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(TEXT, children, max_size=5),
    max_leaves=30,
)


def standard(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES)
def test_canonical_json_is_the_standard_encoding(value: Any) -> None:
    assert canonical_json(value) == standard(value)


def test_canonical_json_refuses_what_the_standard_encoder_refuses() -> None:
    for bad in (float("nan"), {"a": float("inf")}, {"a": object()}, [b"bytes"]):
        with pytest.raises((ValueError, TypeError)) as ours:
            canonical_json(bad)
        with pytest.raises((ValueError, TypeError)) as theirs:
            standard(bad)
        assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)
    cycle: dict[str, Any] = {}
    cycle["self"] = cycle
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(cycle)
    assert canonical_json({"after": "a cycle"}) == '{"after":"a cycle"}'  # nothing left behind
