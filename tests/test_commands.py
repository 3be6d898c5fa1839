"""Commands by mention: what a comment asks the bot, read as GitHub renders it."""

import pytest

from shadowbot.live.commands import Command, is_ignored_author, parse_commands

HELP, RECHECK = Command("help", word="help"), Command("recheck", word="recheck")


def note(text):
    return Command("note", text, "note")


def unknown(word):
    return Command("unknown", word=word)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the mention and its word
        ("@shadowbot help", [HELP]),
        ("@shadowbot recheck", [RECHECK]),
        ("@ShadowBot RECHECK", [Command("recheck", word="RECHECK")]),
        ("@shadowbot help.", [HELP]),
        ("@shadowbot: recheck!", [RECHECK]),
        ("@shadowbot, help?", [HELP]),
        ("@shadowbot **help**", [HELP]),
        ("@shadowbot `recheck`", [RECHECK]),
        ("@shadowbot[bot] help", [HELP]),
        ("Could you @shadowbot recheck please", [RECHECK]),
        ("- [x] @shadowbot help", [HELP]),
        ("@shadowbot lgtm", [unknown("lgtm")]),
        ("@shadowbot help.me", [unknown("help.me")]),
        ("@shadowbot note", [unknown("note")]),  # a note without text: show how to write one
        # not a mention of this bot
        ("@shadowbotx note hi", []),
        ("@shadowbot-dev help", []),
        ("@shadowbot_ help", []),
        ("@shadowbot/reviewers help", []),  # a team
        ("write to email@shadowbot.com please", []),
        ("see https://example.com/@shadowbot help", []),
        ("@other help", []),
        # a bare mention asks nothing
        ("thanks @shadowbot", []),
        ("thanks @shadowbot!", []),
        ("@shadowbot\nhelp", []),
        ("@shadowbot 👍", []),
        # several commands, in order
        ("@shadowbot recheck @shadowbot help", [RECHECK, HELP]),
        ("@shadowbot help\n\n@shadowbot recheck", [HELP, RECHECK]),
        ("@shadowbot help\n@shadowbot recheck\n@shadowbot help", [HELP, RECHECK]),
    ],
)
def test_a_mention_followed_by_a_word_is_a_command(body, expected):
    assert parse_commands(body, "shadowbot") == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("```\n@shadowbot help\n```\n@shadowbot recheck", [RECHECK]),
        ("```python\n@shadowbot help\n```", []),
        ("```\nlog:\n\n@shadowbot help\n\n```\n@shadowbot recheck", [RECHECK]),  # blank lines
        ("~~~\n@shadowbot help\n~~~", []),
        ("````\n```\n@shadowbot help\n```\n````", []),  # a longer fence holds a shorter one
        ("~~~~\n~~~\n@shadowbot help\n~~~~\n@shadowbot recheck", [RECHECK]),
        ("```\n@shadowbot help", []),  # an unclosed fence runs to the end
        ("  - item\n    ```\n    @shadowbot help\n    ```", []),  # a fence in a list
        ("`@shadowbot help` and @shadowbot recheck", [RECHECK]),
        ("``@shadowbot `help` `` ok", []),
        ("``` @shadowbot help ```", []),  # one line: a code span, not a fence
        ("<code>@shadowbot help</code>", []),
        ("<pre>\n@shadowbot help\n</pre>\n@shadowbot recheck", [RECHECK]),
        ("<code>unclosed @shadowbot help", [HELP]),
        ("> @shadowbot help", []),
        ("> > @shadowbot help", []),
        ("  > @shadowbot help", []),
        ("> On Monday alice wrote:\n> @shadowbot recheck\n\nAgreed. @shadowbot help", [HELP]),
        ("> quoted\n@shadowbot help", [HELP]),  # the author's own line after a quote
        ("<!-- @shadowbot help -->", []),
        ("<!--\nPR template: @shadowbot help\n-->\n@shadowbot recheck", [RECHECK]),
        ("<!-- @shadowbot help --> @shadowbot recheck", [RECHECK]),
        ("<!-- unclosed @shadowbot help", []),
        ("```\n<!--\n```\n@shadowbot help", [HELP]),  # in code, <!-- opens no comment
        ("`<!--` @shadowbot help", [HELP]),
        ("<!--\n```\n-->\n@shadowbot help", [HELP]),  # in a comment, ``` opens no fence
    ],
)
def test_mentions_in_code_quotes_and_html_comments_are_ignored(body, expected):
    assert parse_commands(body, "shadowbot") == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@shadowbot note this rule ignores CODEOWNERS", [note("this rule ignores CODEOWNERS")]),
        ("@shadowbot note: too eager.", [note("too eager.")]),
        ("@shadowbot Note the tests were flaky", [Command("note", "the tests were flaky", "Note")]),
        # the rest of the paragraph, line breaks kept
        ("@shadowbot note first\nsecond\n\nnot the note", [note("first\nsecond")]),
        ("@shadowbot note first\r\nsecond\r\n", [note("first\nsecond")]),
        # code spans are kept as written; mentions inside a note are its text
        ("@shadowbot note `x < y` holds", [note("`x < y` holds")]),
        ("@shadowbot note ask @shadowbot help", [note("ask @shadowbot help")]),
        # it ends at a quote, a code block or a comment, and at a line starting a command
        ("@shadowbot note mine\n> theirs", [note("mine")]),
        ("@shadowbot note mine\n```\ncode\n```", [note("mine")]),
        ("@shadowbot note a <!-- hidden --> b", [note("a b")]),
        ("@shadowbot note a\n@shadowbot recheck", [note("a"), RECHECK]),
        ("@shadowbot recheck\n@shadowbot note why: flaky CI", [RECHECK, note("why: flaky CI")]),
    ],
)
def test_a_note_is_the_rest_of_its_paragraph(body, expected):
    assert parse_commands(body, "shadowbot") == expected


def test_the_handle_is_configurable():
    assert parse_commands("@merge-bot help @shadowbot recheck", "merge-bot") == [HELP]
    assert parse_commands("@merge-bot help", "@merge-bot") == [HELP]
    assert parse_commands("@merge-bot-2 help", "merge-bot") == []


@pytest.mark.parametrize(
    ("login", "user_type", "ignored"),
    [
        ("alice", "User", False),
        ("shadowbot", "User", True),  # the bot itself, run as a user account
        ("ShadowBot", "User", True),
        ("shadowbot[bot]", "Bot", True),  # the bot itself, as a GitHub App
        ("dependabot[bot]", "Bot", True),
        ("renovate", "Bot", True),
        ("copy-bot[bot]", "User", True),
        ("shadowbotter", "User", False),
    ],
)
def test_bots_and_the_bot_itself_are_ignored(login, user_type, ignored):
    assert is_ignored_author(login, user_type, "shadowbot[bot]") is ignored
    assert is_ignored_author(login, user_type, "shadowbot") is ignored


def test_a_note_that_names_a_rule_is_about_that_rule_too():
    from shadowbot.live.commands import note_about

    names = {"docs-only", "writer-pair"}
    assert note_about("docs-only: the manual builds fine", names) == (
        "docs-only",
        "the manual builds fine",
    )
    assert note_about("Writer-Pair@1: both approvals were rubber stamps", names) == (
        "writer-pair",
        "both approvals were rubber stamps",
    )
    # A word that is no rule's name is the note's text, not a rule.
    assert note_about("TODO: check aarch64", names) == (None, "TODO: check aarch64")
    assert note_about("flaky on aarch64", names) == (None, "flaky on aarch64")
