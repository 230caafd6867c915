"""JSON text as JavaScript's JSON.stringify writes it and JSON.parse reads it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest

from aiosocketio import _json
from aiosocketio.socketio.packets import EVENT, encode


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


# ---------------------------------------------------------------------- Python types on the wire
# One test per row of docs/json.md. Each value goes through both paths of _json.dumps (orjson,
# and the standard library, which a big integer elsewhere in the data forces), through the
# Socket.IO packet encoder, and through the msgpack parser where it writes the same value.

BIG = 2**70


@dataclasses.dataclass
class Point:
    x: int
    y: int
    label: str = "p"


@dataclasses.dataclass
class Blob:
    name: str
    data: bytes


class Color(enum.Enum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


def both_paths(value: Any) -> str:
    """The JSON of value, checked to be the same on the orjson and the fallback path."""
    fast = _json.dumps(value)
    slow = _json.dumps([value, BIG])
    assert slow == f"[{fast},{BIG}]"
    return fast


def msgpack_value(value: Any) -> Any:
    msgpack = pytest.importorskip("msgpack")
    from aiosocketio.socketio.msgpack_parser import MsgpackParser

    (message,) = MsgpackParser().encode(EVENT, "/", ["e", value])
    return msgpack.unpackb(message, strict_map_key=False)["data"][1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # aware: converted to UTC
        (dt.datetime(2026, 12, 6, 9, 42, 33, 740000, tzinfo=dt.UTC), "2026-12-06T09:42:33.740Z"),
        (
            dt.datetime(2026, 12, 6, 11, 42, 33, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            "2026-12-06T09:42:33.000Z",
        ),
        # microseconds are cut to milliseconds, as new Date() cuts a fraction
        (dt.datetime(2026, 12, 6, 9, 42, 27, 521999, tzinfo=dt.UTC), "2026-12-06T09:42:27.521Z"),
        # naive: taken as UTC (the msgpack parser does the same)
        (dt.datetime(2026, 12, 6, 9, 42, 27, 521569), "2026-12-06T09:42:27.521Z"),
        (dt.datetime(1, 1, 1), "0001-01-01T00:00:00.000Z"),
    ],
)
def test_datetime_is_sent_as_a_javascript_date(value: dt.datetime, expected: str) -> None:
    assert both_paths(value) == f'"{expected}"'
    assert both_paths({"at": [value]}) == f'{{"at":["{expected}"]}}'
    assert encode(EVENT, "/", ["e", value]) == [f'2["e","{expected}"]']


def test_datetime_through_msgpack_is_a_date_extension() -> None:
    value = dt.datetime(2026, 12, 6, 9, 42, 33, 740999, tzinfo=dt.UTC)
    # the msgpack decoder reads the Date extension back as a datetime
    from aiosocketio.socketio.msgpack_parser import MsgpackDecoder, MsgpackParser

    pytest.importorskip("msgpack")
    (message,) = MsgpackParser().encode(EVENT, "/", ["e", value])
    packet = MsgpackDecoder().decode_binary(message)
    assert packet is not None
    assert packet.data[1] == value.replace(microsecond=740000)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (dt.date(2026, 12, 6), '"2026-12-06"'),
        (dt.time(9, 42, 33), '"09:42:33"'),
        (dt.time(9, 42, 33, 5), '"09:42:33.000005"'),
    ],
)
def test_date_and_time_are_iso_strings(value: Any, expected: str) -> None:
    assert both_paths(value) == expected
    assert msgpack_value(value) == expected.strip('"')


def test_sets_are_arrays() -> None:
    assert both_paths({3}) == "[3]"
    assert both_paths(frozenset(["a"])) == '["a"]'
    assert msgpack_value({3}) == [3]


def test_tuples_are_arrays() -> None:
    assert both_paths((1, (2, "x"))) == '[1,[2,"x"]]'
    assert msgpack_value((1, (2, "x"))) == [1, [2, "x"]]


def test_dataclasses_are_objects_of_their_fields_in_order() -> None:
    assert both_paths(Point(2, 1)) == '{"x":2,"y":1,"label":"p"}'
    assert both_paths({"p": [Point(0, 0, "o")]}) == '{"p":[{"x":0,"y":0,"label":"o"}]}'
    assert msgpack_value(Point(2, 1)) == {"x": 2, "y": 1, "label": "p"}


def test_enums_are_their_values() -> None:
    assert both_paths(Color.RED) == '"red"'
    assert both_paths(Level.HIGH) == "3"
    assert msgpack_value(Color.RED) == "red"
    assert msgpack_value(Level.HIGH) == 3


def test_uuids_are_strings() -> None:
    value = uuid.UUID(int=1)
    assert both_paths(value) == '"00000000-0000-0000-0000-000000000001"'
    assert msgpack_value(value) == str(value)


def test_big_integers_are_exact_numbers() -> None:
    assert _json.dumps([BIG]) == f"[{BIG}]"
    with pytest.raises(TypeError, match="64 bits"):
        msgpack_value(BIG)


def test_non_string_keys_are_strings() -> None:
    assert both_paths({1: "a", 2.5: "b", None: "c"}) == '{"1":"a","2.5":"b","null":"c"}'


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, b"\x01"]},
        (b"\x01",),
        {b"\x01"},
        Blob("n", b"\x01"),
        {"deep": [{"deeper": (Blob("n", b"\x01"),)}]},
    ],
)
def test_bytes_anywhere_become_binary_attachments(value: Any) -> None:
    head, attachment = encode(EVENT, "/", ["e", value])
    assert isinstance(head, str) and head.startswith('51-["e",')
    assert '{"_placeholder":true,"num":0}' in head
    assert attachment == b"\x01"


def test_bytes_outside_a_packet_are_refused() -> None:
    with pytest.raises(TypeError, match="bytes"):
        _json.dumps({"a": b"\x01"})


def test_decimal_is_refused_with_what_to_do() -> None:
    for dumps in (_json.dumps, msgpack_value, lambda v: encode(EVENT, "/", ["e", v])):
        with pytest.raises(TypeError, match=r"Decimal.*str\(value\).*float\(value\)"):
            dumps(Decimal("1.10"))


@pytest.mark.parametrize("value", [object(), dt.timedelta(seconds=1), 1j, Point])
def test_other_types_are_refused(value: Any) -> None:
    with pytest.raises(TypeError, match="is not JSON serializable"):
        _json.dumps({"a": value})
    with pytest.raises(TypeError, match="is not JSON serializable"):
        encode(EVENT, "/", ["e", value])
    with pytest.raises(TypeError, match="is not MessagePack serializable"):
        msgpack_value(value)
