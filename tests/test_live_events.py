"""Webhook events end to end: which ones re-evaluate a pull request, what lands on screen
and in the database, and what the bot leaves alone. The bot and the GitHub simulator over
real HTTP, with signed webhooks, the real database and the bundled rules."""

import asyncio

from livebot import (  # noqa: F401
    PACKAGE,
    pr_reads,
    running_bot,
    sim_fixture,
    writer_pair_claim,
)
from sqlmodel import select

from shadowbot.live.comments import Marker, format_marker, parse_marker
from shadowbot.simulator import Event, payloads, render
from shadowbot.storage import OutcomeRow, PullRequestRow, RepositoryRow
from shadowbot.web.app import METRICS, WORKER

ANY_APPROVAL, WRITER_PAIR = "any-approval@1", "writer-pair@1"


def claims(comment):
    return parse_marker(comment.body).claims


async def approved_without_ci(sim):
    """A writer's PR approved by another writer, no CI yet: only `any-approval` claims."""
    number = await sim.open_pr(sim.repo, "alice", "hello: fix the build", files=[PACKAGE])
    await sim.review(sim.repo, number, "carol", "APPROVED")
    return number


# -- posting modes --------------------------------------------------------------------


async def test_per_rule_mode_posts_one_comment_per_claim_and_edits_a_withdrawn_one(sim, tmp_path):
    async with running_bot(sim, tmp_path, SHADOWBOT_POSTING_MODE="per-rule") as bot:
        number = await writer_pair_claim(sim)
        await bot.quiet()
        posted = {parse_marker(c.body).rule: c for c in bot.bot_comments(number)}
        assert sorted(posted) == [ANY_APPROVAL, WRITER_PAIR]  # the claiming rules only
        for key, comment in posted.items():
            marker = parse_marker(comment.body)
            assert (marker.kind, marker.claims) == ("rule", (key,))
            assert f"rule `{key}`" in comment.body
            assert "nothing will be merged" in comment.body.lower()

        # A change request: writer-pair withdraws its claim, any-approval keeps it.
        await sim.review(sim.repo, number, "dave", "CHANGES_REQUESTED")
        await bot.quiet()
        after = {parse_marker(c.body).rule: c for c in bot.bot_comments(number)}
        assert {k: c.id for k, c in after.items()} == {k: c.id for k, c in posted.items()}
        assert claims(after[WRITER_PAIR]) == ()
        assert "does not claim" in after[WRITER_PAIR].body
        assert after[ANY_APPROVAL].body == posted[ANY_APPROVAL].body


async def test_post_when_always_posts_without_a_claim(sim, tmp_path):
    async with running_bot(sim, tmp_path, SHADOWBOT_POST_WHEN="always") as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: please merge", files=[PACKAGE])
        await bot.quiet()
        (comment,) = bot.bot_comments(number)
        marker = parse_marker(comment.body)
        assert (marker.kind, marker.claims) == ("combined", ())
        assert "nothing will be merged" in comment.body.lower()


# -- what re-evaluates, and what does not ----------------------------------------------


async def test_a_check_completed_on_the_head_brings_the_claim(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await approved_without_ci(sim)
        run = await sim.add_check(sim.repo, number, "build", None, status="in_progress")
        await bot.quiet()
        (comment,) = bot.bot_comments(number)
        assert claims(comment) == (ANY_APPROVAL,)  # writer-pair waits for CI

        await sim.complete_check(sim.repo, run, "success")
        await bot.quiet()
        (edited,) = bot.bot_comments(number)
        assert edited.id == comment.id
        assert claims(edited) == (ANY_APPROVAL, WRITER_PAIR)


async def test_a_check_on_an_old_head_triggers_no_evaluation(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await approved_without_ci(sim)
        run = await sim.add_check(sim.repo, number, "build", None, status="in_progress")
        await sim.push(sim.repo, number, files=[PACKAGE])
        await bot.quiet()
        mark = len(sim.requests)
        await sim.complete_check(sim.repo, run, "success")  # on the previous head
        await bot.quiet()
        assert ("completed", None) in bot.processed("check_run")  # received and handled
        assert pr_reads(sim, number, mark) == []


async def test_a_check_on_an_old_head_listing_the_pr_by_branch_triggers_no_evaluation(
    sim, tmp_path
):
    # GitHub lists "pull requests that are open with a head_sha or head_branch that matches
    # the check" (https://docs.github.com/en/rest/checks/runs#get-a-check-run), so a late
    # check on a commit the branch has moved on from still names the PR, with its new head.
    async with running_bot(sim, tmp_path) as bot:
        number = await approved_without_ci(sim)
        run = await sim.add_check(sim.repo, number, "build", None, status="in_progress")
        await sim.push(sim.repo, number, files=[PACKAGE])
        await bot.quiet()
        repo = sim.state.repo(sim.repo)
        (check,) = [r for r in repo.check_runs if r.id == run]
        check.status, check.conclusion = "completed", "success"
        event = payloads.check_run(sim.state, repo, check, "completed", sim.state.bot)
        brief = render.pull_brief(sim.state, repo, sim.pull(sim.repo, number))
        event.payload["check_run"]["pull_requests"] = [brief]
        assert brief["head"]["sha"] != check.head_sha
        mark = len(sim.requests)
        await sim.emit([Event("check_run", event.payload)])
        await bot.quiet()
        assert ("completed", None) in bot.processed("check_run")
        # Reading the PR alone to learn its head would do; reading its parts is a snapshot.
        pull = f"/repos/{sim.repo}/pulls/{number}"
        assert [r.path for r in pr_reads(sim, number, mark) if r.path != pull] == []


async def test_a_status_on_the_head_re_evaluates_its_pull_request(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await approved_without_ci(sim)
        await bot.quiet()
        (comment,) = bot.bot_comments(number)
        assert claims(comment) == (ANY_APPROVAL,)
        await sim.set_status(sim.repo, number, "hydra", "success")  # names no PR
        await bot.quiet()
        (edited,) = bot.bot_comments(number)
        assert edited.id == comment.id
        assert claims(edited) == (ANY_APPROVAL, WRITER_PAIR)


async def test_an_edited_review_triggers_no_evaluation_a_dismissed_one_does(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "alice", "hello: fix", files=[PACKAGE])
        await sim.add_check(sim.repo, number, "build")
        review = await sim.review(sim.repo, number, "carol", "APPROVED", body="LGTM")
        await bot.quiet()
        mark = len(sim.requests)
        await sim.edit_review(sim.repo, number, review, "LGTM, nice catch")
        await bot.quiet()
        assert ("edited", None) in bot.processed("pull_request_review")
        assert pr_reads(sim, number, mark) == []

        await sim.dismiss_review(sim.repo, number, review)
        await bot.quiet()
        (comment,) = bot.bot_comments(number)
        assert claims(comment) == ()  # the approval is gone: both claims withdrawn


# -- outcomes and installations --------------------------------------------------------


async def test_merging_closing_and_reopening_record_outcomes(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        merged = await writer_pair_claim(sim)
        closed = await sim.open_pr(sim.repo, "dave", "hello: try this", files=[PACKAGE])
        await bot.quiet()
        merged_head = sim.pull(sim.repo, merged).head_sha
        await sim.merge(sim.repo, merged, merger="alice")
        await sim.close(sim.repo, closed, sender="carol")
        await bot.quiet()
        with bot.session() as session:
            prs = {pr.id: pr for pr in session.exec(select(PullRequestRow))}
            outcomes = [
                (prs[o.pull_request_id].number, o.kind, o.sha, o.actor_login)
                for o in session.exec(select(OutcomeRow).order_by(OutcomeRow.id))
            ]
            states = {pr.number: (pr.state, pr.merged_sha) for pr in prs.values()}
        assert states == {merged: ("merged", merged_head), closed: ("closed", None)}
        assert sorted(outcomes) == sorted(  # two PRs: processed side by side
            [
                (merged, "merged", merged_head, "alice"),
                (closed, "closed", sim.pull(sim.repo, closed).head_sha, "carol"),
            ]
        )

        mark = len(sim.requests)
        await sim.reopen(sim.repo, closed, sender="dave")
        await bot.quiet()
        with bot.session() as session:
            kinds = [o.kind for o in session.exec(select(OutcomeRow).order_by(OutcomeRow.id))]
            pr = session.exec(select(PullRequestRow).where(PullRequestRow.number == closed)).one()
        assert sorted(kinds[:2]) == ["closed", "merged"] and kinds[2] == "reopened"
        assert pr.state == "open"
        assert pr_reads(sim, closed, mark)  # an open PR again: evaluated again


async def test_installation_events_record_the_repositories(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        await sim.send_installation("created")
        await sim.add_repo("acme/gadgets")
        await bot.quiet()
        with bot.session() as session:
            repos = {r.full_name: r.installation_id for r in session.exec(select(RepositoryRow))}
        assert repos == {"acme/widgets": sim.installation_id, "acme/gadgets": sim.installation_id}
        await sim.remove_repo("acme/gadgets")
        await bot.quiet()
        with bot.session() as session:
            repos = {r.full_name: r.installation_id for r in session.exec(select(RepositoryRow))}
        # The repository the app left keeps its records, without the installation.
        assert repos == {"acme/widgets": sim.installation_id, "acme/gadgets": None}


# -- finding its comment again ---------------------------------------------------------


async def test_after_a_restart_on_a_fresh_database_the_bot_edits_its_own_comment(sim, tmp_path):
    number = await sim.open_pr(sim.repo, "alice", "hello: fix the build", files=[PACKAGE])
    # Someone else's comment, older than the bot's, carrying a valid marker for this PR.
    head = sim.pull(sim.repo, number).head_sha
    decoy_body = f"{format_marker(Marker('combined', sim.repo, number, head, ()))}\nnot the bot's"
    decoy = await sim.comment(sim.repo, number, "dave", decoy_body)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    async with running_bot(sim, first) as bot:
        await sim.add_check(sim.repo, number, "build")
        await sim.review(sim.repo, number, "carol", "APPROVED")
        await bot.quiet()
        (comment,) = bot.bot_comments(number)

    async with running_bot(sim, second) as bot:  # a new process, an empty database
        head = await sim.push(sim.repo, number, files=[PACKAGE])
        await bot.quiet()
        (edited,) = bot.bot_comments(number)
        assert edited.id == comment.id
        assert parse_marker(edited.body).head_sha == head
    (left,) = [c for c in sim.comments(sim.repo, number) if c.id == decoy]
    assert left.body == decoy_body


async def test_a_burst_on_one_pr_is_evaluated_once_on_its_newest_state(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await writer_pair_claim(sim)
        await bot.quiet()
        # Stall the worker so the burst queues up, as under load.
        worker = bot.app[WORKER]
        handler = worker._handler
        gate = asyncio.Event()

        async def stalled(delivery):
            await gate.wait()
            await handler(delivery)

        worker._handler = stalled
        coalesced_before = bot.app[METRICS].value("shadowbot_deliveries_coalesced_total")
        await sim.label(sim.repo, number, "first")  # taken by the stalled worker
        await sim.settle()
        await asyncio.sleep(0.1)
        for name in ("a", "b", "c", "d"):
            await sim.label(sim.repo, number, name)
        await sim.settle()
        await asyncio.sleep(0.1)
        reads_before = len(pr_reads(sim, number))
        gate.set()
        await bot.quiet()
        reads = pr_reads(sim, number)[reads_before:]
        evaluations = sum(1 for r in reads if r.path.endswith(f"/pulls/{number}"))
        coalesced = (
            bot.app[METRICS].value("shadowbot_deliveries_coalesced_total") - coalesced_before
        )
        # At most the first label alone, then one evaluation for all queued behind it.
        assert evaluations in (1, 2) and evaluations + coalesced == 5
        assert [a for a, _ in bot.processed("pull_request")].count("labeled") == 5


async def test_a_repository_is_private_as_github_says_in_its_webhooks(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        await bot.quiet()
        with bot.session() as session:
            (repo,) = session.exec(select(RepositoryRow)).all()
            assert repo.private is False  # the simulator's repositories are public
