"""The optional C accelerator gives exactly what the pure-Python code gives."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aiosocketio.ws import frames

speedups = pytest.importorskip("aiosocketio.ws._speedups")


@given(st.binary(max_size=3000), st.binary(min_size=4, max_size=4))
def test_c_mask_matches_python(data: bytes, mask: bytes) -> None:
    assert speedups.apply_mask(data, mask) == frames._py_apply_mask(data, mask)


def test_c_mask_is_used_by_frames() -> None:
    assert frames._c_apply_mask is speedups.apply_mask


def test_c_mask_refuses_a_bad_mask() -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        speedups.apply_mask(b"abc", b"12345")


def test_c_mask_accepts_memoryview_and_bytearray() -> None:
    data = bytes(range(100))
    expected = frames._py_apply_mask(data, b"\x01\x02\x03\x04")
    assert speedups.apply_mask(memoryview(data), b"\x01\x02\x03\x04") == expected
    assert speedups.apply_mask(bytearray(data), b"\x01\x02\x03\x04") == expected
