"""Which queued deliveries a later one makes redundant: a pull request's own events and
reviews are keyed by the subject the intake read, without their bodies; the others by
their bodies, as before."""

import json

import pytest

from shadowbot.live.pipeline import coalesce_key
from shadowbot.storage import DeliveryRow
from shadowbot.storage.bodies import compress_body
from shadowbot.web.intake import read_delivery

SHA = "c0ffee" * 6 + "abcd"


def stored(event: str, payload: dict, *, body: bytes | None = None) -> DeliveryRow:
    """A delivery as the intake stores it (its subject read from the body it was sent)."""
    sent = json.dumps(payload).encode()
    action, subject = read_delivery(sent)
    return DeliveryRow(
        delivery_id=f"d-{event}-{action}",
        event=event,
        action=action,
        subject=subject,
        body_zstd=compress_body(sent) if body is None else body,
    )


def pull_request(action: str) -> dict:
    return {"action": action, "pull_request": {"number": 7}, "repository": {"full_name": "o/r"}}


@pytest.mark.parametrize(
    ("event", "payload", "key"),
    [
        ("pull_request", pull_request("synchronize"), "o/r#7"),
        ("pull_request", pull_request("labeled"), "o/r#7"),
        ("pull_request_review", pull_request("submitted"), "o/r#7"),
        ("pull_request_review", pull_request("edited"), None),  # text only: no re-evaluation
        ("pull_request", pull_request("closed"), None),  # settles, not only re-evaluates
        ("issue_comment", {**pull_request("created"), "issue": {"number": 7}}, None),
    ],
)
def test_a_pull_requests_events_are_keyed_by_their_subject_without_the_body(
    event: str, payload: dict, key: str | None
) -> None:
    assert coalesce_key(stored(event, payload)) == key
    # Not read: a body that cannot be decompressed changes nothing.
    assert coalesce_key(stored(event, payload, body=b"not a stored body")) == key


def test_the_key_from_the_subject_is_the_key_the_body_gives() -> None:
    row = stored("pull_request", pull_request("edited"))
    from_body = row.model_copy(update={"subject": None})  # as a row stored before subjects
    assert coalesce_key(from_body) == coalesce_key(row) == "o/r#7"


def test_checks_and_statuses_are_keyed_by_their_head_commit_from_the_body() -> None:
    check = {
        "action": "completed",
        "check_run": {"head_sha": SHA, "pull_requests": [{"number": 7}]},
        "repository": {"full_name": "o/r"},
    }
    row = stored("check_run", check)
    assert row.subject == "o/r#7"  # ordered with its pull request's deliveries...
    assert coalesce_key(row) == f"o/r@{SHA}"  # ...but it re-evaluates a head commit
    status = {"sha": SHA, "state": "success", "repository": {"full_name": "o/r"}}
    assert coalesce_key(stored("status", status)) == f"o/r@{SHA}"
    suite = {
        "action": "completed",
        "check_suite": {"head_sha": SHA, "latest_check_runs_count": 2},
        "repository": {"full_name": "o/r"},
    }
    assert coalesce_key(stored("check_suite", suite)) is None  # its runs each said so
