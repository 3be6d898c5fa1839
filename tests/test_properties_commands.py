"""Commands by mention under any comment (hypothesis): the parser never raises nor stalls,
finds exactly the commands written outside code, quotes and HTML comments, and a note's
text is what its author wrote there."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shadowbot.live.commands import Command, parse_commands

BOUNDED = settings(max_examples=300, deadline=None, database=None)
HANDLE = "shadowbot"
#: GitHub's limit on a comment's length.
MAX_COMMENT = 65536

# Text people write around commands: any Unicode (bidi controls, zero-width joiners,
# emoji, other line separators), and the characters that make markup.
markup = st.sampled_from(
    ["`", "``", "```", "~~~", ">", "> ", "<!--", "-->", "<code>", "</code>", "<pre>", "</pre>"]
    + ["\n", "\n\n", "\r\n", " ", "\t", "\\", "**", "@", ":", ",", ".", "[bot]", "-", "/"]
    + ["\u202e", "\u2066", "\u200b", "\u00a0", "\u2028", "\ufeff", "ſ", "K", "İ"]
)
mentions = st.sampled_from(
    ["@shadowbot", "@ShadowBot", "@SHADOWBOT", "@shadowbot[bot]", "email@shadowbot", "@shadowbotx"]
)
words = st.sampled_from(["help", "recheck", "note", "Note", "HELP", "lgtm", "note:", "help."])
bodies = st.lists(st.one_of(st.text(max_size=12), markup, mentions, words), max_size=60).map(
    "".join
)


def commands_of(body: str) -> list[Command]:
    commands = parse_commands(body, HANDLE)
    for command in commands:
        assert command.kind in ("note", "recheck", "help", "unknown")
        assert command.word and not re.search(r"^[\W_]|[\W_]$", command.word)
        if command.kind == "note":
            assert command.text and command.text == command.text.strip()
        else:
            assert command.text == ""
    assert len(set(commands)) == len(commands)  # each distinct command once
    return commands


def squeezed(text: str) -> str:
    return " ".join(text.split())


@BOUNDED
@given(bodies)
@example("@shadowbot \u202ehelp")
@example("@ſhadowbot help")
@example("<CODE>@shadowbot help</code>")
def test_any_comment_is_read_without_an_error(body):
    commands = commands_of(body)
    if "@" + HANDLE not in body.lower():
        assert commands == []


def folded(commands: list[Command]) -> list[tuple[str, str, str]]:
    return list(dict.fromkeys((c.kind, c.text.lower(), c.word.lower()) for c in commands))


@BOUNDED
@given(bodies)
def test_the_handle_is_read_in_any_case(body):
    swapped = re.sub("(?i)@shadowbot", "@sHaDoWbOt", body)
    assert folded(commands_of(swapped)) == folded(commands_of(body))
    assert parse_commands(body, HANDLE.upper()) == parse_commands(body, HANDLE)


def without_ticks(text: str) -> str:
    return text.replace("`", "").replace("~", "")


@BOUNDED
@given(
    bodies, st.sampled_from([("```", "```"), ("````", "`````"), ("~~~", "~~~"), ("```py", "```")])
)
def test_nothing_in_a_code_block_is_a_command(body, fence):
    opening, closing = fence
    inner = without_ticks(body)
    assert commands_of(f"{opening}\n{inner}\n{closing}") == []
    assert commands_of(f"{opening}\n{inner}") == []  # an unclosed fence runs to the end


@BOUNDED
@given(bodies)
def test_nothing_quoted_is_a_command(body):
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    assert commands_of("\n".join("> " + line for line in lines)) == []
    assert commands_of("\n".join("> > " + line for line in lines)) == []


@BOUNDED
@given(bodies)
def test_nothing_in_an_html_comment_is_a_command(body):
    inner = body
    while "-->" in inner:
        inner = inner.replace("-->", "")
    assert commands_of(f"<!--{inner}-->") == []
    assert commands_of(f"<!--{inner}") == []


@BOUNDED
@given(st.text().filter(lambda t: "`" not in t and "\n" not in t and "\r" not in t and t))
def test_nothing_in_a_code_span_is_a_command(text):
    assert commands_of(f"`@shadowbot help {text}`") == []
    assert commands_of(f"`` {text} @shadowbot `recheck` ``") == []


# What a person writes: paragraphs of prose that name no command, and commands.
prose = (
    st.text(max_size=40)
    .filter(lambda t: "@" not in t and t.strip())
    .map(
        lambda t: " ".join(t.split())  # one line, no markup that could open a block
    )
)
plain = prose.filter(lambda t: not re.search(r"[`~<>\\]", t) and t)


@st.composite
def written_commands(draw: st.DrawFn) -> tuple[str, Command]:
    """A command as someone might write it, and the command it is."""
    mention = draw(st.sampled_from(["@shadowbot", "@ShadowBot", "@shadowbot[bot]"]))
    space = draw(st.sampled_from([" ", "  ", "\t", ": ", ", "]))
    kind = draw(st.sampled_from(["help", "recheck", "note", "unknown"]))
    if kind == "note":
        text = draw(plain)
        word = draw(st.sampled_from(["note", "Note", "NOTE"]))
        return f"{mention}{space}{word} {text}", Command("note", squeezed(text), word)
    word = draw(st.sampled_from([kind, kind.upper()])) if kind != "unknown" else "lgtm"
    decorated = draw(st.sampled_from(["{}", "**{}**", "`{}`", "{}.", "({})", "{}!"]))
    tail = draw(st.sampled_from(["", " please", " :)"]))
    return f"{mention}{space}{decorated.format(word)}{tail}", Command(kind, word=word)


@BOUNDED
@given(st.lists(st.one_of(written_commands(), plain.map(lambda p: (p, None))), max_size=8))
def test_the_commands_written_are_the_commands_found(paragraphs):
    body = "\n\n".join(text for text, _ in paragraphs)
    expected = list(dict.fromkeys(command for _, command in paragraphs if command is not None))
    assert commands_of(body) == expected


@BOUNDED
@given(bodies)
def test_a_command_after_any_text_without_markup_is_found(body):
    text = re.sub(r"[`~<>]", "", body)
    assert Command("recheck", word="recheck") in commands_of(text + "\n\n@shadowbot recheck")


@BOUNDED
@given(bodies)
def test_a_notes_text_is_what_its_author_wrote(body):
    """Line breaks and spaces aside: no markup of the comment (``<``, which opens HTML
    comments and elements, left out) is added or dropped in a note."""
    text = body.replace("<", "")
    for command in commands_of(text):
        if command.kind == "note":
            assert squeezed(command.text) in squeezed(text)


def repeated(piece: str) -> str:
    return (piece * (MAX_COMMENT // len(piece) + 1))[:MAX_COMMENT]


@pytest.mark.parametrize(
    "body",
    [
        repeated("<code>"),  # elements never closed: each was scanned to the end
        repeated("<pre>x"),
        repeated("<pre><code>"),
        repeated("<code "),
        "".join("`" * n + " a " for n in range(1, 400))[:MAX_COMMENT],  # spans never closed
        repeated("` ``"),
        repeated("<!--"),
        repeated("```\n"),
        repeated("> @shadowbot help\n"),
        repeated("@shadowbot note x\n"),
        repeated("@shadowbot help "),
    ],
    ids=lambda body: repr(body[:12]),
)
def test_the_longest_comment_is_read_in_a_moment(body):
    """The parser runs on the event loop: a comment GitHub accepts must not stall it."""
    started = time.perf_counter()
    commands_of(body)
    assert time.perf_counter() - started < 0.5
