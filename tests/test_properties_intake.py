"""The webhook endpoint under bad input, property by property (hypothesis): whatever the
headers and the body, the answer is the right 4xx or a 202, never a 5xx, and a delivery is
stored whole, once, or not at all.

Requests are written byte by byte over a socket, so that headers can be missing, repeated
or not UTF-8, as no HTTP client library would send them. One bot serves all the examples
of a test (a database per example would take seconds each); every example uses delivery
ids of its own, and compares the whole table before and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from livebot import SECRET

from shadowbot.live.worker import Processing
from shadowbot.settings import load_settings
from shadowbot.storage import create_db_engine
from shadowbot.storage.bodies import decompress_body
from shadowbot.web.app import create_app
from shadowbot.web.intake import HANDLED, is_handled
from shadowbot.web.signature import sign

# The app and its database are made once per test, not per example: on purpose.
BOUNDED = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
STORED, DUPLICATE = {"stored": True}, {"stored": False}
MALFORMED, FORGED = {"error": "not a GitHub delivery"}, {"error": "bad signature"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Endpoint:
    """The bot's ``/webhook`` on a free port, driven from a plain (synchronous) test."""

    def __init__(self, runner: asyncio.Runner, port: int, engine: sa.Engine) -> None:
        self.runner = runner
        self.port = port
        self.engine = engine

    def post(self, headers: list[tuple[bytes, bytes]], body: bytes) -> Answer:
        return self.runner.run(self.send(headers, body))

    def burst(self, requests: list[tuple[list[tuple[bytes, bytes]], bytes]]) -> list[Answer]:
        """Sent at once: the intake stores concurrent deliveries in one batch."""

        async def all_of() -> list[Answer]:
            return list(await asyncio.gather(*(self.send(h, b) for h, b in requests)))

        return self.runner.run(all_of())

    async def send(self, headers: list[tuple[bytes, bytes]], body: bytes) -> Answer:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            head = [
                b"POST /webhook HTTP/1.1",
                b"Host: shadowbot.test",
                b"Connection: close",
                b"Content-Length: %d" % len(body),
                *(name + b": " + value for name, value in headers),
            ]
            writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
            await writer.drain()
            response = await reader.read()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        status_line, _, rest = response.partition(b"\r\n")
        return Answer(int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2])

    def rows(self) -> list[tuple[str, str, str | None, bytes]]:
        """(delivery id, event, action, body as received) of every stored delivery, in
        order."""
        with self.engine.connect() as connection:
            found = connection.exec_driver_sql(
                "SELECT delivery_id, event, action, body_zstd FROM delivery ORDER BY id"
            )
            return [(*row[:3], decompress_body(bytes(row[3]))) for row in found]


@contextlib.contextmanager
def serving(database_url: str) -> Iterator[Endpoint]:
    settings = load_settings(
        {"SHADOWBOT_WEBHOOK_SECRET": SECRET, "SHADOWBOT_DATABASE_URL": database_url}
    )

    @contextlib.asynccontextmanager
    async def no_processing(app: web.Application):
        async def handle(delivery: Any) -> None:
            return None

        yield Processing(handle)

    with asyncio.Runner() as runner:
        app_runner = web.AppRunner(create_app(settings, no_processing))
        runner.run(app_runner.setup())
        try:
            site = web.TCPSite(app_runner, "127.0.0.1", 0)
            runner.run(site.start())
            port = app_runner.addresses[0][1]
            engine = create_db_engine(database_url)
            try:
                yield Endpoint(runner, port, engine)
            finally:
                engine.dispose()
        finally:
            runner.run(app_runner.cleanup())


@pytest.fixture
def endpoint(database_url: str) -> Iterator[Endpoint]:
    with serving(database_url) as served:
        yield served


# --- strategies ----------------------------------------------------------------------------

_ids = iter(range(10**9))


@st.composite
def delivery_ids(draw: st.DrawFn) -> str:
    """A delivery id no other example uses: GitHub's GUIDs, and other printable ones."""
    shape = draw(st.sampled_from(["{:08x}-1d2e-11ef-8f6b-{:012x}", "d-{}-{}", "{}.{}"]))
    return shape.format(next(_ids), draw(st.integers(0, 2**40)))


def headers(
    event: bytes | None, delivery: bytes | None, signature: bytes | None, *extra: tuple
) -> list[tuple[bytes, bytes]]:
    named = [
        (b"X-GitHub-Event", event),
        (b"X-GitHub-Delivery", delivery),
        (b"X-Hub-Signature-256", signature),
    ]
    return [(name, value) for name, value in named if value is not None] + list(extra)


def signed(body: bytes) -> bytes:
    return sign(SECRET, body).encode()


#: What an HTTP parser refuses in a header value (RFC 9110, 5.5): control characters.
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
header_bytes = st.binary(max_size=60)
content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            b"application/json",
            b"application/x-www-form-urlencoded",
            b"text/plain; charset=latin-1",
            b"multipart/form-data; boundary=x",
            b"application/json; charset=utf-16",
        ]
    ),
    header_bytes,
)

# JSON GitHub could send: numbers within 64 bits (the intake's parser's range), any text.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
actions = st.one_of(
    st.sampled_from(sorted({a for actions in HANDLED.values() if actions for a in actions})),
    st.text(max_size=20),
    st.text(min_size=1000, max_size=3000),
    st.sampled_from(["", "opened\x00", "\x00", "OPENED", " opened", "‮denepo"]),
    json_values,
)
events = st.one_of(
    st.sampled_from(sorted(HANDLED)), st.sampled_from(["star", "push", "Pull_Request", "ping "])
)


@st.composite
def json_objects(
    draw: st.DrawFn, action: st.SearchStrategy[Any] = actions, always: bool = False
) -> bytes:
    """A JSON object as GitHub would send it, with an ``action`` of any kind or none, and
    with any of the whitespace and escapes JSON allows."""
    obj = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
    if always or draw(st.booleans()):
        obj["action"] = draw(action)
    text = json.dumps(
        obj, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2]))
    )
    space = st.sampled_from(["", " ", "\n", "\r\n", "\t"])
    return (draw(space) + text + draw(space)).encode()


def deep(levels: int) -> bytes:
    return b'{"a": ' * levels + b"1" + b"}" * levels


@st.composite
def not_json_objects(draw: st.DrawFn) -> bytes:
    """Bodies that are not one JSON object in UTF-8: every one of them is refused."""
    valid = draw(json_objects())
    kind = draw(
        st.sampled_from(["scalar", "bom", "trailing", "truncated", "not utf-8", "deep", "empty"])
    )
    if kind == "scalar":  # arrays, strings, numbers, null
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return json.dumps(value).encode()
    if kind == "bom":
        return b"\xef\xbb\xbf" + valid
    if kind == "trailing":
        return valid + draw(st.sampled_from([b"x", b"{}", b",", b"\x00", b"]"]))
    if kind == "truncated":
        text = valid.rstrip()
        return text[: draw(st.integers(0, len(text) - 1))]
    if kind == "not utf-8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"]))
        return b'{"title": "' + bad + b'", "action": "opened"}'
    if kind == "deep":
        return deep(draw(st.integers(1025, 4000)))
    return draw(st.sampled_from([b"", b" ", b"\n"]))


# --- properties ----------------------------------------------------------------------------


@BOUNDED
@given(
    event=st.one_of(st.none(), events.map(str.encode), header_bytes),
    delivery=st.one_of(st.none(), delivery_ids().map(str.encode), header_bytes),
    signature=st.one_of(
        st.none(),
        header_bytes,
        st.binary(min_size=32, max_size=32).map(lambda b: b"sha256=" + b.hex().encode()),
        st.sampled_from([b"sha256=", b"sha1=abc", b"SHA256=", b"sha256=\xc3\xa9\xff"]),
    ),
    content_type=content_types,
    body=st.one_of(json_objects(), st.binary(max_size=300)),
)
@example(
    event=b"ping",
    delivery=b"d-non-ascii",
    signature=b"sha256=\xc3\xa9",
    content_type=None,
    body=b"{}",
)
def test_a_request_not_signed_with_the_secret_is_refused_and_stores_nothing(
    endpoint, event, delivery, signature, content_type, body
):
    before = endpoint.rows()
    sent = headers(event, delivery, signature)
    if content_type is not None:
        sent.append((b"Content-Type", content_type))
    answer = endpoint.post(sent, body)
    if any(_CONTROL.search(value) for _, value in sent):
        assert answer.status == 400  # the HTTP parser refuses the request before the bot
    else:
        assert (answer.status, answer.json) == (401, FORGED)
    assert endpoint.rows() == before


@BOUNDED
@given(
    event=st.one_of(st.none(), st.sampled_from([b"", b" ", b"\t"]), events.map(str.encode)),
    delivery=st.one_of(
        st.none(),
        st.sampled_from([b"", b"  "]),
        delivery_ids().map(str.encode),
        # Not printable ASCII, or longer than an id: no GitHub delivery id is.
        st.binary(min_size=1, max_size=40).filter(lambda b: re.search(rb"[^\x21-\x7e]", b)),
        st.integers(201, 2000).map(lambda n: b"d" * n),
    ),
    content_type=content_types,
    body=st.one_of(
        json_objects().map(lambda b: (b, True)), not_json_objects().map(lambda b: (b, False))
    ),
)
@example(event=b"ping", delivery=b"\xff\xfe-id", content_type=None, body=(b"{}", True))
@example(event=b"ping", delivery=b"\xc3\xa9", content_type=None, body=(b"{}", True))
@example(event=b"ping", delivery=b"d" * 3000, content_type=None, body=(b"{}", True))
def test_a_signed_request_answers_the_right_status_and_stores_all_or_nothing(
    endpoint, event, delivery, content_type, body
):
    body, is_object = body
    before = endpoint.rows()
    sent = headers(event, delivery, signed(body))
    if content_type is not None:
        sent.append((b"Content-Type", content_type))
    answer = endpoint.post(sent, body)
    if any(_CONTROL.search(value) for _, value in sent):
        assert answer.status == 400
        assert endpoint.rows() == before
        return
    event_text = (event or b"").decode().strip()
    delivery_text = (delivery or b"").strip(b" \t")
    well_formed = bool(event_text) and re.fullmatch(rb"[\x21-\x7e]{1,200}", delivery_text)
    if not well_formed or not is_object:
        assert (answer.status, answer.json) == (400, MALFORMED)
        assert endpoint.rows() == before
        return
    payload = json.loads(body)
    action = payload.get("action")
    action = action if isinstance(action, str) else None
    if action is not None and "\x00" in action:
        assert (answer.status, answer.json) == (400, MALFORMED)
        assert endpoint.rows() == before
    elif not is_handled(event_text, action):
        assert (answer.status, answer.json) == (202, {"ignored": f"{event_text}.{action}"})
        assert endpoint.rows() == before
    else:
        assert (answer.status, answer.json) == (202, STORED)
        row = (delivery_text.decode(), event_text, action, body)
        assert endpoint.rows() == [*before, row]
        # GitHub's redelivery: the same id and body again store nothing more.
        again = endpoint.post(sent, body)
        assert (again.status, again.json) == (202, DUPLICATE)
        assert endpoint.rows() == [*before, row]


@BOUNDED
@given(body=not_json_objects(), event=events)
@example(body=deep(5000), event="ping")
@example(body=b'{"action": "opened", "id": 99999999999999999999}', event="pull_request")
@example(body=b'{"action": "opened", "n": NaN}', event="pull_request")
def test_a_signed_body_that_is_not_one_json_object_is_malformed(endpoint, body, event):
    before = endpoint.rows()
    sent = headers(
        event.encode(), b"d-not-json", signed(body), (b"Content-Type", b"application/json")
    )
    answer = endpoint.post(sent, body)
    assert (answer.status, answer.json) == (400, MALFORMED)
    assert endpoint.rows() == before


@settings(BOUNDED, max_examples=30)
@given(
    good=st.lists(
        st.tuples(delivery_ids(), json_objects(st.just("opened"), always=True)), max_size=6
    ),
    bad_ids=st.lists(
        st.sampled_from([b"\xff\xfe", b"\xc3\xa9t\xc3\xa9", b"d" * 3000, b"\xed\xa0\x80"]),
        max_size=3,
    ),
    bad_actions=st.lists(st.sampled_from(["\x00", "opened\x00"]), max_size=2),
    repeats=st.integers(1, 3),
)
def test_a_burst_stores_each_good_delivery_once_whatever_else_it_holds(
    endpoint, good, bad_ids, bad_actions, repeats
):
    """Concurrent deliveries are stored in one batch: a bad one among them must not fail
    the others, and one sent several times at once is stored once."""
    before = endpoint.rows()
    requests = []
    for delivery, body in good:
        requests += [(headers(b"pull_request", delivery.encode(), signed(body)), body)] * repeats
    body = b'{"action": "opened"}'
    for n, delivery in enumerate(bad_ids):
        requests.append((headers(b"pull_request", delivery + b"%d" % n, signed(body)), body))
    for action in bad_actions:
        odd = json.dumps({"action": action}).encode()
        requests.append((headers(b"ping", b"d-odd-action", signed(odd)), odd))
    answers = endpoint.burst(requests)
    assert all(answer.status in (202, 400) for answer in answers), answers
    assert sum(answer.json == STORED for answer in answers) == len(good)
    stored = [(d, "pull_request", "opened", b) for d, b in good]
    rows = endpoint.rows()
    assert rows[: len(before)] == before
    assert sorted(rows[len(before) :]) == sorted(stored)
