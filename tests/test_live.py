"""Live shadow mode end to end: the bot and the GitHub simulator over real HTTP, with
signed webhooks, the real database (SQLite, and PostgreSQL where configured) and the
bundled rules."""

from livebot import (  # noqa: F401
    PACKAGE,
    running_bot,
    sim_fixture,
    writer_pair_claim,
)
from sqlmodel import select

from shadowbot.live.comments import parse_marker
from shadowbot.storage import PullRequestRow, VerdictRow


async def test_a_claim_gets_one_verdict_comment_and_a_push_edits_it(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        number = await writer_pair_claim(sim)
        await bot.quiet()
        (comment,) = bot.bot_comments(number)
        first_head = sim.pull(sim.repo, number).head_sha
        marker = parse_marker(comment.body)
        assert marker is not None and marker.head_sha == first_head
        assert marker.claims == ("any-approval@1", "writer-pair@1")
        assert "writer-pair" in comment.body and "approved by 1 writer(s)" in comment.body
        assert "nothing will be merged" in comment.body.lower()

        await sim.push(sim.repo, number, files=[PACKAGE])
        await bot.quiet()
        (edited,) = bot.bot_comments(number)
        new_head = sim.pull(sim.repo, number).head_sha
        assert edited.id == comment.id
        assert parse_marker(edited.body).head_sha == new_head
        assert parse_marker(edited.body).claims == ()  # the approval was on the old head
        with bot.session() as session:
            heads = {row.head_sha for row in session.exec(select(VerdictRow))}
            pr = session.exec(select(PullRequestRow)).one()
        assert heads == {first_head, new_head} and pr.head_sha == new_head


async def test_no_comment_before_any_rule_claims(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: please merge", files=[PACKAGE])
        await bot.quiet()
        assert bot.bot_comments(number) == []
        with bot.session() as session:
            assert session.exec(select(VerdictRow)).all()  # evaluated and stored all the same


async def test_a_redelivery_posts_nothing_twice(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        number = await writer_pair_claim(sim)
        await bot.quiet()
        writes = len(sim.writes)
        for delivery in list(sim.deliveries):
            await sim.redeliver(delivery.guid)
        await bot.quiet()
        assert len(bot.bot_comments(number)) == 1
        assert len(sim.writes) == writes


async def test_silent_mode_writes_nothing_to_github(database_url, sim):
    async with running_bot(sim, database_url, SHADOWBOT_POSTING_MODE="silent") as bot:
        number = await writer_pair_claim(sim)
        await sim.comment(sim.repo, number, "dave", "@shadowbot note looks fine")
        await bot.quiet()
        # Only the app's token exchange: no comment, no reaction, nothing on the repository.
        assert {w.path for w in sim.writes} == {
            f"/app/installations/{sim.installation_id}/access_tokens"
        }
        assert bot.notes() == [("looks fine", "dave", None, False)]
        with bot.session() as session:
            assert session.exec(select(VerdictRow)).all()


async def test_a_note_is_stored_and_follows_its_comment(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        comment = await sim.comment(sim.repo, number, "dave", "@shadowbot note the tests are flaky")
        await bot.quiet()
        assert bot.notes() == [("the tests are flaky", "dave", None, False)]
        await sim.edit_comment(comment, "@shadowbot note the tests pass now")
        await bot.quiet()
        # Every version is kept: the edit is a new version, the first stays as it was.
        assert bot.notes()[1:] == [("the tests pass now", "dave", None, False)]
        await sim.delete_comment(comment)
        await bot.quiet()
        assert bot.notes()[0] == ("the tests are flaky", "dave", None, False)
        assert bot.notes()[-1] == ("", "dave", None, True)
        # The command was acknowledged with a reaction.
        reactions = [w for w in sim.writes if w.path.endswith("/reactions")]
        assert len(reactions) == 1


async def test_a_note_naming_a_rule_is_kept_with_that_rule(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        number = await writer_pair_claim(sim)
        await sim.comment(
            sim.repo, number, "dave", "@shadowbot note writer-pair: carol only skimmed it"
        )
        await sim.comment(sim.repo, number, "dave", "@shadowbot note TODO: check aarch64")
        await bot.quiet()
        assert bot.notes() == [
            ("carol only skimmed it", "dave", "writer-pair", False),
            ("TODO: check aarch64", "dave", None, False),
        ]


async def test_the_verdict_links_to_the_pull_requests_page_when_the_pages_are_public(
    database_url, sim
):
    async with running_bot(sim, database_url, SHADOWBOT_PUBLIC_URL="https://bot.example") as bot:
        number = await writer_pair_claim(sim)
        await bot.quiet()
        (comment,) = bot.bot_comments(number)
        assert f"(https://bot.example/prs/{sim.repo}/{number})" in comment.body
