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


@given(
    st.sampled_from([0x81, 0x82, 0x01, 0x02, 0xC1, 0xC2, 0x80]),
    st.binary(max_size=3000) | st.sampled_from([b"x" * 125, b"x" * 126, b"y" * 65535]),
    st.binary(min_size=4, max_size=4),
)
def test_c_masked_frame_matches_python(first: int, payload: bytes, mask: bytes) -> None:
    assert speedups.masked_frame(first, payload, mask) == frames._py_masked_frame(
        first, payload, mask
    )


def test_c_masked_frame_64_bit_length() -> None:
    payload = bytes(range(256)) * 257  # 65792 bytes: the 8-byte length form
    mask = b"\x10\x20\x30\x40"
    assert speedups.masked_frame(0x82, payload, mask) == frames._py_masked_frame(
        0x82, payload, mask
    )


def test_c_masked_frame_is_used_by_frames() -> None:
    assert frames.masked_frame is speedups.masked_frame


@pytest.mark.parametrize("make", [lambda: speedups.masked_frame, lambda: frames._py_masked_frame])
def test_masked_frame_refuses_bad_arguments(make: object) -> None:
    build = make()  # type: ignore[operator]
    with pytest.raises(ValueError):
        build(0x81, b"abc", b"12345")
    with pytest.raises(ValueError):
        build(256, b"abc", b"1234")
