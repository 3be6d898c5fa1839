"""Commands by mention, end to end: the bot and the GitHub simulator over real HTTP.

What a user sees: a reply, a reaction on their comment, a verdict that comes back after
``recheck``, a note that follows their comment, and silence for everything else.
"""

from livebot import PACKAGE, pr_reads, reactions_on, running_bot, sim_fixture  # noqa: F401

from shadowbot.live.comments import parse_marker


async def unseen_approval(sim, number, reviewer):
    """An approval whose webhook never reaches the bot (a lost delivery)."""
    url, sim.webhook_url = sim.webhook_url, None
    try:
        await sim.review(sim.repo, number, reviewer, "APPROVED")
    finally:
        sim.webhook_url = url


def repository_writes(sim, since=0):
    """What the bot wrote on the repository (the app's token exchanges left out)."""
    return [w for w in sim.writes[since:] if w.path.startswith("/repos/")]


async def test_recheck_by_a_merger_shows_a_change_the_bot_could_not_see(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        await bot.quiet()
        assert bot.bot_comments(number) == []  # no rule claims: nothing on screen
        await unseen_approval(sim, number, "carol")

        mark = len(sim.requests)
        await sim.comment(sim.repo, number, "dave", "@shadowbot recheck")  # read permission
        await bot.quiet()
        assert pr_reads(sim, number, mark) == []
        assert bot.bot_comments(number) == []

        await sim.comment(sim.repo, number, "alice", "@shadowbot recheck")  # a writer
        await bot.quiet()
        (comment,) = bot.bot_comments(number)
        assert parse_marker(comment.body).claims == ("any-approval@1",)


async def test_recheck_by_a_configured_merger_evaluates_again(sim, tmp_path):
    async with running_bot(sim, tmp_path, SHADOWBOT_MERGERS="dave") as bot:
        number = await sim.open_pr(sim.repo, "alice", "hello: update", files=[PACKAGE])
        await bot.quiet()
        before = bot.evaluation_times()
        await sim.comment(sim.repo, number, "dave", "@shadowbot recheck")
        await bot.quiet()
        after = bot.evaluation_times()
        assert after.keys() == before.keys()  # the same head: the same verdict rows
        assert all(after[key] > before[key] for key in before)


async def test_help_gets_the_help_reply_and_the_command_a_reaction(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        comment = await sim.comment(sim.repo, number, "dave", "@shadowbot help")
        await bot.quiet()
        (reply,) = bot.bot_comments(number)
        assert "Mention me with a command" in reply.body
        assert "@shadowbot recheck" in reply.body and "@shadowbot note <text>" in reply.body
        assert "nothing will be merged" in reply.body.lower()
        assert reactions_on(sim, number, comment) == [("shadowbot[bot]", "eyes")]


async def test_help_is_answered_once_per_pull_request(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        first = await sim.comment(sim.repo, number, "dave", "@shadowbot help")
        await bot.quiet()
        second = await sim.comment(sim.repo, number, "carol", "@shadowbot help please")
        third = await sim.comment(sim.repo, number, "alice", "Hm. @shadowbot HELP")
        await bot.quiet()
        (reply,) = bot.bot_comments(number)
        assert "Mention me with a command" in reply.body
        # Each asker still sees their command was read.
        for comment in (first, second, third):
            assert reactions_on(sim, number, comment) == [("shadowbot[bot]", "eyes")]

        other = await sim.open_pr(sim.repo, "dave", "hello: more", files=[PACKAGE])
        await sim.comment(sim.repo, other, "dave", "@shadowbot help")
        await bot.quiet()
        assert len(bot.bot_comments(other)) == 1  # once per pull request, not once ever


async def test_help_answered_before_a_restart_is_not_answered_again(sim, tmp_path):
    """GitHub keeps the record: not even a bot on a new database answers twice."""
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        await sim.comment(sim.repo, number, "dave", "@shadowbot help")
        await bot.quiet()
        assert len(bot.bot_comments(number)) == 1
    for database in (tmp_path, tmp_path / "new"):
        async with running_bot(sim, database) as bot:
            asked = await sim.comment(sim.repo, number, "carol", "@shadowbot help")
            await bot.quiet()
            assert len(bot.bot_comments(number)) == 1
            assert reactions_on(sim, number, asked) == [("shadowbot[bot]", "eyes")]


async def test_help_is_answered_after_the_short_reply_to_an_unknown_command(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        await sim.comment(sim.repo, number, "dave", "@shadowbot lgtm")
        await bot.quiet()
        await sim.comment(sim.repo, number, "dave", "@shadowbot help")
        await sim.comment(sim.repo, number, "dave", "@shadowbot ship\n\n@shadowbot help")
        await bot.quiet()
        short, full = bot.bot_comments(number)
        assert "lgtm" in short.body and "Mention me with a command" in full.body


async def test_an_unknown_command_gets_one_short_reply_per_pull_request(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        first = await sim.comment(sim.repo, number, "dave", "@shadowbot lgtm\n\n@shadowbot ship")
        second = await sim.comment(sim.repo, number, "carol", "@shadowbot merge it")
        await bot.quiet()
        (reply,) = bot.bot_comments(number)
        assert "lgtm" in reply.body and "@shadowbot help" in reply.body
        assert len(reply.body) < 400  # short: not the whole help
        # Each command is still acknowledged, so its author knows it was read.
        assert reactions_on(sim, number, first) == [("shadowbot[bot]", "eyes")]
        assert reactions_on(sim, number, second) == [("shadowbot[bot]", "eyes")]

        other = await sim.open_pr(sim.repo, "dave", "hello: more", files=[PACKAGE])
        await sim.comment(sim.repo, other, "dave", "@shadowbot lgtm")
        await bot.quiet()
        assert len(bot.bot_comments(other)) == 1  # once per pull request, not once ever


async def test_commands_in_code_quotes_and_html_comments_are_ignored(sim, tmp_path):
    hidden = [
        "```\n@shadowbot help\n```",
        "~~~\n@shadowbot recheck\n~~~",
        "> @shadowbot recheck",
        "> > quoted twice\n> @shadowbot note not mine",
        "Try `@shadowbot help` sometime.",
        "<!-- @shadowbot recheck -->",
        "<pre>\n@shadowbot help\n</pre>",
    ]
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        await bot.quiet()
        mark, writes = len(sim.requests), len(sim.writes)
        ids = [await sim.comment(sim.repo, number, "alice", body) for body in hidden]
        await bot.quiet()
        assert repository_writes(sim, writes) == []  # no reply, no reaction
        assert pr_reads(sim, number, mark) == []  # no recheck
        assert all(reactions_on(sim, number, i) == [] for i in ids)
        assert bot.notes() == []


async def test_bots_and_the_bot_itself_are_not_listened_to(sim, tmp_path):
    sim.add_user("renovate[bot]", type="Bot")
    sim.add_user("helper-bot", "write", type="Bot")  # a bot with write access is no merger
    sim.add_user("shadowbot", "write")  # the bot run as a plain account: still itself
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        await bot.quiet()
        mark, writes = len(sim.requests), len(sim.writes)
        for author in ("renovate[bot]", "helper-bot", "shadowbot[bot]", "shadowbot"):
            await sim.comment(sim.repo, number, author, "@shadowbot help")
            await sim.comment(sim.repo, number, author, "@shadowbot recheck")
            await sim.comment(sim.repo, number, author, "@shadowbot note from a bot")
            await sim.comment(sim.repo, number, author, "@shadowbot frobnicate")
        await bot.quiet()
        assert repository_writes(sim, writes) == []
        assert pr_reads(sim, number, mark) == []
        assert bot.notes() == []


async def test_silent_mode_answers_no_command_on_github_but_still_rechecks(sim, tmp_path):
    async with running_bot(sim, tmp_path, SHADOWBOT_POSTING_MODE="silent") as bot:
        number = await sim.open_pr(sim.repo, "alice", "hello: update", files=[PACKAGE])
        await bot.quiet()
        before = bot.evaluation_times()
        for body in ("@shadowbot help", "@shadowbot frobnicate", "@shadowbot recheck"):
            await sim.comment(sim.repo, number, "carol", body)
        await bot.quiet()
        assert repository_writes(sim) == []  # no reply, no reaction, no verdict comment
        after = bot.evaluation_times()
        assert all(after[key] > before[key] for key in before)  # the recheck ran


async def test_a_note_edited_out_of_its_comment_is_removed(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: update", files=[PACKAGE])
        comment = await sim.comment(sim.repo, number, "dave", "@shadowbot note flaky on aarch64")
        await bot.quiet()
        assert bot.notes() == [("flaky on aarch64", "dave", None, False)]
        await sim.edit_comment(comment, "Never mind, it was my machine.")
        await bot.quiet()
        assert bot.notes()[-1] == ("", "dave", None, True)
        await sim.edit_comment(comment, "@shadowbot note flaky after all")
        await bot.quiet()
        assert bot.notes()[-1] == ("flaky after all", "dave", None, False)
        assert len(bot.notes()) == 3
        # Editing is not commanding again: one reaction, from the comment's creation.
        assert reactions_on(sim, number, comment) == [("shadowbot[bot]", "eyes")]


async def test_a_pull_requests_own_author_is_no_merger_for_recheck(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "alice", "hello: update", files=[PACKAGE])
        await bot.quiet()
        mark = len(sim.requests)
        await sim.comment(sim.repo, number, "alice", "@shadowbot recheck")
        await bot.quiet()
        assert pr_reads(sim, number, mark) == []
