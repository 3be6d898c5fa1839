"""The intake's check of a webhook body: JSON, an object, and its ``action``."""

import json

import pytest

from shadowbot.web.intake import KEEP_PARSER_UP_TO, read_delivery


def read_action_of(body):
    """The action the intake reads from ``body`` (its subject is tested elsewhere)."""
    return read_delivery(body)[0]


@pytest.mark.parametrize(
    ("body", "action"),
    [
        (b'{"action": "opened", "number": 7}', "opened"),
        (b'  {"zen": "Keep it logically awesome.", "hook_id": 1}\n', None),
        (b'{"action": {"nested": true}}', None),  # not a string: no action
        (b'{"action": 3}', None),
        ('{"action": "édité", "title": "ünïcode ✓"}'.encode(), "édité"),
    ],
)
def test_the_action_of_a_json_object(body, action):
    assert read_action_of(body) == action


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b'{"action": "opened"',  # cut short
        b'{"action": "opened"} {"action": "closed"}',  # two documents
        b'{"action": "opened", "n": NaN}',
        b'{"action": "opened", "title": "\xff\xfe"}',  # not UTF-8
        b"[1, 2]",
        b'"opened"',
        b"null",
        b"\xef\xbb\xbf" + b'{"action": "opened"}',  # a byte order mark
        b'{"a": ' * 2000 + b"1" + b"}" * 2000,  # deeper than any parser goes
        b'{"action": "opened", "id": -99999999999999999999}',  # beyond 64 bits
    ],
    ids=lambda body: body[:24].decode(errors="replace"),
)
def test_anything_but_a_json_object_is_refused(body):
    with pytest.raises(ValueError):
        read_action_of(body)


def test_the_reader_reads_on_after_a_refusal():
    # The parser is reused between bodies; a refused one must not leave it stuck.
    for refused in (b"[1]", b"{", b'{"a": "\xff"}'):
        with pytest.raises(ValueError):
            read_action_of(refused)
        assert read_action_of(b'{"action": "closed"}') == "closed"


def test_a_body_larger_than_the_kept_parser_is_read_whole():
    files = [{"filename": f"pkgs/p{i}/default.nix", "patch": "x" * 200} for i in range(6000)]
    body = json.dumps({"action": "synchronize", "files": files}).encode()
    assert len(body) > KEEP_PARSER_UP_TO
    assert read_action_of(body) == "synchronize"
    with pytest.raises(ValueError):
        read_action_of(body[:-1])
    assert read_action_of(b'{"action": "opened"}') == "opened"
