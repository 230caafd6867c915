"""JSON text as JavaScript's JSON.stringify writes it and JSON.parse reads it."""

from __future__ import annotations

import math

import pytest

from aiosocketio import _json


def test_dumps_is_compact() -> None:
    assert _json.dumps({"a": [1, 2, {"b": None}], "c": True}) == '{"a":[1,2,{"b":null}],"c":true}'


def test_dumps_keeps_key_order() -> None:
    assert _json.dumps({"z": 1, "a": 2, "m": 3}) == '{"z":1,"a":2,"m":3}'


def test_non_ascii_stays_utf8_not_escaped() -> None:
    # JSON.stringify("é😀中") is "\"é😀中\"", not "\\u00e9..."
    assert _json.dumps(["é", "😀", "中文"]) == '["é","😀","中文"]'


def test_control_characters_are_escaped() -> None:
    assert _json.dumps('a\nb\x00\x1f"\\') == '"a\\nb\\u0000\\u001f\\"\\\\"'


@pytest.mark.parametrize(
    "value",
    [2**64, 2**70, -(2**63) - 1, 10**30, -(10**40), 123456789012345678901234567890],
)
def test_big_integers_encode_exactly(value: int) -> None:
    assert _json.dumps(value) == str(value)
    assert _json.dumps(["n", value, {"k": value}]) == f'["n",{value},{{"k":{value}}}]'


def test_64_bit_integers_encode_exactly() -> None:
    assert _json.dumps([2**64 - 1, -(2**63)]) == f"[{2**64 - 1},{-(2**63)}]"


def test_big_integer_fallback_keeps_unicode_and_compactness() -> None:
    assert _json.dumps({"é": [2**80, "😀"]}) == f'{{"é":[{2**80},"😀"]}}'


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_become_null(value: float) -> None:
    # JSON.stringify(NaN) === "null"
    assert _json.dumps([value]) == "[null]"
    assert _json.dumps({"x": value}) == '{"x":null}'


def test_non_finite_numbers_become_null_in_the_fallback_path_too() -> None:
    # a big integer sends the value through the standard library
    assert _json.dumps([2**70, math.nan, {"a": (math.inf, -math.inf)}]) == (
        f'[{2**70},null,{{"a":[null,null]}}]'
    )


def test_lone_surrogates_are_escaped_like_json_stringify() -> None:
    # well-formed JSON.stringify escapes lone surrogates; the output must be valid UTF-8
    text = _json.dumps(["a\ud800b", "\udfff"])
    assert text == '["a\\ud800b","\\udfff"]'
    text.encode("utf-8")


def test_surrogate_pairs_join_into_one_character() -> None:
    assert _json.dumps(["\ud83d\ude00", "\ud800"]) == '["😀","\\ud800"]'


def test_integer_keys_become_strings() -> None:
    assert _json.dumps({1: "a", 2: "b"}) == '{"1":"a","2":"b"}'


def test_floats_round_trip() -> None:
    for value in (0.1, 1e-7, 1.7976931348623157e308, 5e-324, -2.5):
        assert _json.loads(_json.dumps(value)) == value


def test_loads_reads_json() -> None:
    assert _json.loads('{"a":[1,"é",null,true,2.5]}') == {"a": [1, "é", None, True, 2.5]}
    assert _json.loads(b'["x"]') == ["x"]


def test_loads_reads_escapes_and_lone_surrogates_like_json_parse() -> None:
    assert _json.loads('"\\u00e9\\ud83d\\ude00"') == "é😀"
    assert _json.loads('"\\ud800"') == "\ud800"


def test_loads_reads_big_integers() -> None:
    assert _json.loads(str(2**70)) == pytest.approx(2**70)


@pytest.mark.parametrize(
    "text",
    ["NaN", "[NaN]", "Infinity", "-Infinity", '{"a":NaN}', "[1,]", "{'a':1}", "", "[", "01", "1 2"],
)
def test_loads_refuses_what_json_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        _json.loads(text)


def test_loads_refuses_deep_nesting_with_value_error() -> None:
    with pytest.raises(ValueError):
        _json.loads("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError):
        _json.loads("[" * 100_000)


def test_json_decode_error_is_value_error() -> None:
    assert issubclass(_json.JSONDecodeError, ValueError)
