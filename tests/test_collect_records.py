"""A pull request as GitHub's GraphQL gives it, in shapes the simulator never makes: a
force-push, rebased commits dated before the pull request, a merge's ClosedEvent listed before
its MergedEvent, a deleted account, checks finishing after the merge, every check conclusion,
and reverts named in other ways."""

from shadowbot.offline.collect_records import build_record, heads
from shadowbot.offline.collect_reverts import outline, revert_events, with_revert

ALICE = {"__typename": "User", "login": "alice"}


def pr(**fields):
    base = {
        "id": "PR_1",
        "number": 5,
        "title": "t",
        "body": "",
        "createdAt": "2024-01-01T10:00:00Z",
        "updatedAt": "2024-01-02T00:00:00Z",
        "baseRefName": "main",
        "baseRefOid": "b0",
        "headRefOid": "c3",
        "isDraft": False,
        "merged": True,
        "author": {"__typename": "User", "login": "dave"},
        "authorAssociation": "CONTRIBUTOR",
    }
    return {**base, **fields}


def commit(oid, at):
    pushed = {"id": f"C_{oid}", "oid": oid, "committedDate": at}
    return {"__typename": "PullRequestCommit", "pushed": pushed}


def types(record):
    return [(e["type"], e.get("head") or e.get("state") or "", e["at"]) for e in record["events"]]


def test_rebased_commits_a_force_push_and_a_merge_listed_after_its_close():
    items = [
        commit("c1", "2023-12-30T00:00:00Z"),  # both made before the PR: the last is
        commit("c2", "2023-12-31T00:00:00Z"),  # its opening head
        {"__typename": "PullRequestReview", "author": ALICE, "authorAssociation": "MEMBER",
         "state": "COMMENTED", "submittedAt": "2024-01-01T11:30:00Z", "commit": None},
        commit("c4", "2024-01-01T11:00:00Z"),  # dated before the review listed before it
        {"__typename": "HeadRefForcePushedEvent", "createdAt": "2024-01-01T12:00:00Z",
         "afterCommit": {"id": "C_c3", "oid": "c3", "committedDate": "2024-01-01T11:59:00Z"}},
        commit("c3", "2024-01-01T11:59:00Z"),  # the force-push's commit, listed again
        {"__typename": "PullRequestReview", "author": ALICE, "authorAssociation": "MEMBER",
         "state": "APPROVED", "submittedAt": "2024-01-01T13:00:00Z", "commit": {"oid": "c3"}},
        {"__typename": "ClosedEvent", "actor": ALICE, "createdAt": "2024-01-01T14:00:00Z"},
        {"__typename": "MergedEvent", "actor": ALICE, "createdAt": "2024-01-01T14:00:00Z",
         "commit": {"oid": "m1"}},
        {"__typename": "LabeledEvent", "actor": ALICE, "createdAt": "2024-01-01T15:00:00Z",
         "label": {"name": "late"}},
        {"__typename": "IssueComment", "author": None, "authorAssociation": "NONE",
         "body": "thanks", "createdAt": "2024-01-01T16:00:00Z"},
    ]  # fmt: skip
    checks = {
        "c3": [
            {"__typename": "CheckRun", "name": "build", "status": "COMPLETED",
             "conclusion": "STARTUP_FAILURE", "startedAt": "2024-01-01T12:10:00Z",
             "completedAt": "2024-01-01T12:10:00Z"},
            {"__typename": "CheckRun", "name": "lint", "status": "COMPLETED",
             "conclusion": "TIMED_OUT", "startedAt": "2024-01-01T12:00:00Z",
             "completedAt": "2024-01-01T12:30:00Z"},
            {"__typename": "CheckRun", "name": "slow", "status": "COMPLETED",
             "conclusion": "SUCCESS", "startedAt": "2024-01-01T13:00:00Z",
             "completedAt": "2024-01-01T18:00:00Z"},  # finished after the merge
            {"__typename": "StatusContext", "context": "ci", "state": "EXPECTED",
             "createdAt": "2024-01-01T11:00:00Z"},  # before its head was pushed
        ],
    }  # fmt: skip

    record = build_record(pr(), items, [], checks)

    assert [oid for _, oid in heads(items)] == ["c1", "c2", "c4", "c3", "c3"]
    assert types(record) == [
        ("opened", "c2", "2024-01-01T10:00:00Z"),
        ("review", "COMMENTED", "2024-01-01T11:30:00Z"),
        ("push", "c4", "2024-01-01T11:30:00Z"),  # never before the time before it
        ("push", "c3", "2024-01-01T12:00:00Z"),
        ("check", "pending", "2024-01-01T12:00:00Z"),  # the status, at its head's push
        ("check", "pending", "2024-01-01T12:00:00Z"),  # lint started
        ("check", "error", "2024-01-01T12:10:00Z"),
        ("check", "failure", "2024-01-01T12:30:00Z"),
        ("review", "APPROVED", "2024-01-01T13:00:00Z"),
        ("check", "pending", "2024-01-01T13:00:00Z"),  # slow started: after, at one time
        ("merged", "", "2024-01-01T14:00:00Z"),
        ("comment", "", "2024-01-01T16:00:00Z"),
    ]
    merged = record["events"][-2]
    assert merged["commit"] == "c3"  # the head merged, not GitHub's merge commit
    assert merged["by"] == {
        "login": "alice", "type": "User", "association": "MEMBER", "permission": "write"
    }  # fmt: skip
    assert record["events"][-1]["by"]["login"] == "ghost"
    assert record["author"]["association"] == "CONTRIBUTOR"


def test_a_draft_opened_as_one_and_labels_given_at_opening():
    items = [
        commit("c1", "2024-01-01T10:00:00Z"),
        {"__typename": "LabeledEvent", "actor": ALICE, "createdAt": "2024-01-01T10:00:00Z",
         "label": {"name": "bug"}},
        {"__typename": "ReadyForReviewEvent", "actor": ALICE, "createdAt": "2024-01-01T11:00:00Z"},
        {"__typename": "RenamedTitleEvent", "actor": ALICE, "createdAt": "2024-01-01T12:00:00Z",
         "previousTitle": "WIP: t", "currentTitle": "t"},
    ]  # fmt: skip
    record = build_record(pr(isDraft=False, merged=False, title="t"), items, [], {})
    opened = record["events"][0]
    assert opened["draft"] is True and opened["labels"] == ["bug"]
    assert record["title"] == "WIP: t"
    assert [e["type"] for e in record["events"]] == ["opened", "ready_for_review", "edited"]


def merged_record(number, at, body=""):
    return {
        "number": number,
        "body": body,
        "events": [
            {"type": "opened", "at": "2024-01-01T00:00:00Z"},
            {"type": "merged", "at": at, "by": {"login": "alice"}},
            {"type": "comment", "at": "2024-03-01T00:00:00Z"},
        ],
    }


def test_reverts_only_of_this_repository_and_of_an_earlier_merge():
    records = {
        1: merged_record(1, "2024-01-02T00:00:00Z"),
        2: merged_record(
            2, "2024-01-03T00:00:00Z", "Reverts acme/widgets#1\nReverts other/repo#3"
        ),
        3: merged_record(3, "2024-01-04T00:00:00Z"),
        4: merged_record(4, "2024-01-01T12:00:00Z", "reverts ACME/Widgets#3"),  # before #3
        5: merged_record(5, "2024-01-05T00:00:00Z", "Reverts acme/widgets#1"),  # already
    }  # fmt: skip
    outlines = {n: outline(r, "acme/widgets") for n, r in records.items()}

    reverts = revert_events(outlines)

    assert reverts == {
        1: {"type": "reverted", "at": "2024-01-03T00:00:00Z", "by": {"login": "alice"}, "pr": 2}
    }
    events = with_revert(records[1], reverts[1])["events"]
    assert [e["type"] for e in events] == ["opened", "merged", "reverted", "comment"]
    assert with_revert({**records[1], "events": events}, None)["events"] == records[1]["events"]
