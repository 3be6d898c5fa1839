"""Commands given to the bot by mentioning it in a comment: ``@shadowbot note …``.

What counts as a command, read the way GitHub renders the comment:

- ``@handle`` is a mention when it is not part of a longer word, login or address:
  ``email@shadowbot.com``, ``@shadowbotx`` and ``@shadowbot-dev`` are not; the case does
  not matter, and ``@shadowbot[bot]`` (how GitHub shows the app's login) counts too.
- The command word follows on the same line, after spaces and an optional ``:`` or ``,``.
  Trailing punctuation is dropped (``@shadowbot help.``). Words are ``note``, ``recheck``
  and ``help``; any other word is an ``unknown`` command, answered with a short help.
- A bare mention (``thanks @shadowbot``, a mention at the end of a line) asks nothing and
  is ignored: people name the bot in prose, and a reply to each would be noise.
- ``note <text>``: the text is the rest of the mention's line and the lines after it, up
  to the end of the paragraph (a blank line, or a quote, code block or HTML comment) or
  to the next line that starts with a mention of the bot. Line breaks are kept, code
  spans are kept as written. A ``note`` with no text is ``unknown``, so its author gets
  the help that shows how to write one. ``note RULE: <text>`` is a note about that rule
  as well as the PR (:func:`note_about`).
- Ignored: mentions inside fenced code blocks (three or more backticks or tildes; an
  unclosed fence runs to the end), code spans, ``<code>`` and ``<pre>`` elements, block
  quotes (``>`` lines at any depth, as in quoted replies) and HTML comments (``<!-- -->``,
  over several lines; an unclosed one hides the rest). A line right after a quote that
  does not start with ``>`` is taken as the author's own words, not as a lazy
  continuation of the quote. Indented code blocks are not recognised: fences are how
  code is pasted on GitHub, and an indented line is as likely a list's continuation.

Several commands in one comment are returned in order, each distinct one once; the
mentions inside a note's text are part of the note.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Literal

CommandKind = Literal["note", "recheck", "help", "unknown"]
_KINDS: dict[str, CommandKind] = {"note": "note", "recheck": "recheck", "help": "help"}

# Regions of a comment whose mentions are not commands. Alternatives are tried at each
# position in turn, so a fence line wins over a code span starting at the same backtick.
# A comment is up to 65536 characters and is read on the event loop: no alternative may
# scan the rest of the comment again from each of many openings. So an element's scan
# stops at the next opening of the same element (that one is tried next), and a code
# span's opening backticks are only found here; their closing ones, by :class:`_Ticks`.
_HIDDEN = re.compile(
    r"""
    (?P<fence>
        ^[ \t]*(?P<bt>`{3,})[^`\n]*$ (?: .*?^[ \t]*(?P=bt)`*[ \t]*$ | .* )
      | ^[ \t]*(?P<tl>~{3,})[^\n]*$  (?: .*?^[ \t]*(?P=tl)~*[ \t]*$ | .* )
    )
  | (?P<quote> ^[ \t]*>[^\n]* )
  | (?P<comment> <!-- (?: .*?--> | .* ) )
  | (?P<element>
        <(?P<tag>(?i:pre|code))\b[^<>]*>
        (?:(?!<(?i:(?P=tag))\b).)*?
        </(?i:(?P=tag))[ \t]*>
    )
  | (?P<ticks> (?<![`\\])`+ )
    """,
    re.MULTILINE | re.DOTALL | re.VERBOSE,
)
_TICKS = re.compile(r"`+")
# Where a line that is blank (a paragraph's end) starts: a code span does not cross one.
_BLANK_LINE = re.compile(r"\n(?=[ \t]*\n)")
# Markup and punctuation around a command word: ``**help**``, ``help.``, ``(recheck)``.
_WORD_TRIM = re.compile(r"^[\W_]+|[\W_]+$")


@dataclass(frozen=True, slots=True)
class Command:
    kind: CommandKind
    #: A note's text; empty for other commands.
    text: str = ""
    #: The command word as written, trailing punctuation dropped (``Recheck``, ``lgtm``).
    word: str = ""


def parse_commands(body: str, handle: str) -> list[Command]:
    """The commands that ``body`` gives the bot answering to ``@handle``, in order."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    visible, readable = _masked(body)
    mention = _mention(handle)
    commands: list[Command] = []
    consumed = 0  # end of the last note's text: mentions inside a note are its text
    # Matched on ``readable`` so that ``@shadowbot `recheck` `` reads its word; a mention
    # that is itself hidden (blank in ``visible``) is no command.
    for found in mention.finditer(readable):
        if found.start() < consumed or visible[found.start()] != "@":
            continue
        word = _WORD_TRIM.sub("", found.group("word") or "")
        if not word:
            continue  # a bare mention
        kind = _KINDS.get(word.lower(), "unknown")
        text = ""
        if kind == "note":
            consumed = _paragraph_end(visible, found.end(), mention)
            text = _note_text(readable[found.end() : consumed])
            kind = "note" if text else "unknown"  # answered with help: how to write one
        commands.append(Command(kind, text, word))
    return list(dict.fromkeys(commands))  # a command said twice in one comment is one


def is_ignored_author(login: str, user_type: str, bot_login: str) -> bool:
    """Whether a comment's author is never listened to: any bot, this one included (also
    when it runs as a plain user account)."""
    own = bot_login.lower().removesuffix("[bot]")
    login = login.lower()
    return user_type == "Bot" or login.endswith("[bot]") or login == own


def _mention(handle: str) -> re.Pattern[str]:
    # Not after a letter, digit, '.', '@', '/', '\\', '`' or '-' (an address, a path, a
    # longer login); not followed by one that would make it a longer login or a team.
    name = re.escape(handle.lstrip("@"))
    # The name's case is folded as ASCII only: ``@ſhadowbot`` (a long s) is no mention.
    return re.compile(
        rf"(?<![A-Za-z0-9.@/\\`-])@(?a:{name})(?:\[bot\])?(?![A-Za-z0-9_/-])"
        r"(?:[:,]?[ \t]+(?P<word>\S+))?",
        re.IGNORECASE,
    )


def _masked(body: str) -> tuple[str, str]:
    """``body`` with the hidden regions blanked (for finding mentions and paragraphs),
    and with all but code spans blanked (for a note's text). Offsets and line breaks are
    kept, so both line up with ``body``."""
    visible, readable = [], []
    position = 0
    for start, end, code in _hidden(body):
        before, hidden = body[position:start], body[start:end]
        blank = re.sub(r"[^\n]", " ", hidden)
        visible += [before, blank]
        readable += [before, hidden if code else blank]
        position = end
    visible.append(body[position:])
    readable.append(body[position:])
    return "".join(visible), "".join(readable)


def _hidden(body: str) -> Iterator[tuple[int, int, bool]]:
    """(start, end, whether it is a code span) of each hidden region, in order."""
    ticks = _Ticks(body) if "`" in body else None
    position = 0
    while (found := _HIDDEN.search(body, position)) is not None:
        if found.group("ticks") is None:
            yield found.start(), found.end(), False
            position = found.end()
            continue
        assert ticks is not None
        end = ticks.closing(found.start())
        if end is not None:
            yield found.start(), end, True
        position = end or found.end()  # backticks that close nothing are text


class _Ticks:
    """The runs of backticks of a comment, each with the next run of the same length: a
    code span opened by one closes at the next run of exactly its length, within its
    paragraph (CommonMark, "Code spans"). Found once for the comment, so many runs that
    close nothing cost no more than a few."""

    def __init__(self, body: str) -> None:
        runs = [(run.start(), run.end()) for run in _TICKS.finditer(body)]
        self._runs = runs
        self._index = {start: i for i, (start, _) in enumerate(runs)}
        self._next: list[int | None] = [None] * len(runs)
        following: dict[int, int] = {}
        for i in range(len(runs) - 1, -1, -1):
            length = runs[i][1] - runs[i][0]
            self._next[i] = following.get(length)
            following[length] = i
        self._blank_lines = [line.start() for line in _BLANK_LINE.finditer(body)]

    def closing(self, start: int) -> int | None:
        """Where the code span opened by the run at ``start`` ends; None if none does."""
        i = self._index[start]
        closer = self._next[i]
        if closer is None:
            return None
        opened, (closes, end) = self._runs[i][1], self._runs[closer]
        blank = bisect_left(self._blank_lines, opened)
        if blank < len(self._blank_lines) and self._blank_lines[blank] < closes:
            return None  # its paragraph ends first
        return end


def _paragraph_end(visible: str, start: int, mention: re.Pattern[str]) -> int:
    """Where a note starting at ``start`` ends: at a blank line or the next line that
    starts with a mention of the bot."""
    end = visible.find("\n", start)
    while end != -1:
        line_end = visible.find("\n", end + 1)
        line = visible[end + 1 : None if line_end == -1 else line_end]
        if not line.strip() or mention.match(line.lstrip()):
            return end
        end = line_end
    return len(visible)


def _note_text(text: str) -> str:
    # Blanked comments leave runs of spaces; the line breaks are the author's.
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return "\n".join(lines).strip()


_RULE_PREFIX = re.compile(r"([a-z0-9][a-z0-9-]{0,62})(?:@[1-9][0-9]{0,8})?:\s*", re.IGNORECASE)


def note_about(text: str, rule_names: Collection[str]) -> tuple[str | None, str]:
    """``note RULE: text`` is a note about that rule as well as the PR: (the rule's name,
    the text). A note that names no known rule stays on the PR (``note TODO: …`` is
    text, not a rule)."""
    found = _RULE_PREFIX.match(text)
    if found is None or found.group(1).lower() not in rule_names:
        return None, text
    return found.group(1).lower(), text[found.end() :].strip() or text
