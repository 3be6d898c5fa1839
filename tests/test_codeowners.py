"""CODEOWNERS read as GitHub reads it: which paths a pattern owns, which line wins, which
lines are skipped.
https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners#codeowners-syntax
"""

import pytest

from shadowbot.github.codeowners import LOCATIONS, InvalidLine, compile_pattern, parse_codeowners

# (pattern, path, owned?) — the examples of GitHub's documentation and gitignore's rules
# as far as CODEOWNERS keeps them.
PATTERNS = [
    ("*", "README.md", True),
    ("*", "deeply/nested/file.c", True),
    ("*.js", "app.js", True),
    ("*.js", "src/web/app.js", True),
    ("*.js", "app.jsx", False),
    ("/build/logs/", "build/logs/today.log", True),
    ("/build/logs/", "build/logs/2024/01.log", True),
    ("/build/logs/", "src/build/logs/today.log", False),
    ("/build/logs/", "build/logs", False),
    ("docs/*", "docs/getting-started.md", True),
    ("docs/*", "docs/build-app/troubleshooting.md", False),
    ("docs/*", "src/docs/index.md", False),
    ("apps/", "apps/main.py", True),
    ("apps/", "web/apps/deep/main.py", True),
    ("apps/", "apps", False),
    ("/docs/", "docs/a/b/c.md", True),
    ("/docs/", "src/docs/a.md", False),
    ("**/logs", "build/logs/a.log", True),
    ("**/logs", "deeply/nested/logs/x/y", True),
    ("**/logs", "logs/a.log", True),
    ("**/logs", "catalogs/a.log", False),
    ("/apps/github", "apps/github/index.js", True),
    ("/apps/github", "apps/github", True),
    ("/apps/github", "apps/githubber/index.js", False),
    ("foo/bar", "foo/bar/baz", True),
    ("foo/bar", "x/foo/bar", False),
    ("/*", "top.txt", True),
    ("/*", "dir/nested.txt", False),
    ("f?o", "dir/foo", True),
    ("f?o", "dir/fooo", False),
    ("src/**/test_*.py", "src/test_a.py", True),
    ("src/**/test_*.py", "src/pkg/sub/test_b.py", True),
    ("src/**/test_*.py", "lib/src/test_a.py", False),
    ("Makefile", "makefile", False),  # paths are case sensitive
]


@pytest.mark.parametrize(("pattern", "path", "owned"), PATTERNS)
def test_which_paths_a_pattern_owns(pattern, path, owned):
    assert (compile_pattern(pattern).match(path) is not None) is owned


FILE = r"""
# Default owners for everything.
*                     @global-owner1 @global-owner2

*.js                  @js-owner #This is an inline comment.
*.go                  docs@example.com
*.txt                 @octo-org/octocats
/build/logs/          @doctocat
apps/                 @octocat
/apps/github
/scripts/   @Doctocat  @octocat
docs/\#notes.md       @hash-owner
my\ file.txt          @space-owner
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ("global-owner1", "global-owner2")),
        ("web/index.js", ("js-owner",)),  # the later *.js line wins over *
        ("cmd/main.go", ("docs@example.com",)),
        ("notes.txt", ("octo-org/octocats",)),  # teams keep their slash
        ("build/logs/out.txt", ("doctocat",)),  # last match wins over *.txt
        ("apps/app.js", ("octocat",)),
        ("lib/apps/app.js", ("octocat",)),
        ("apps/github/app.js", ()),  # a pattern without owners un-assigns
        ("scripts/run.sh", ("Doctocat", "octocat")),
        ("docs/#notes.md", ("hash-owner",)),
        ("my file.txt", ("space-owner",)),
    ],
)
def test_last_matching_line_decides(path, owners):
    assert parse_codeowners(FILE).owners_of(path) == owners


def test_unmatched_paths_have_no_owner():
    assert parse_codeowners("/src/ @alice\n").owners_of("README.md") == ()
    assert parse_codeowners("").owners_of("README.md") == ()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (r"\#file_with_pound.rb @owner", "escaping a leading #"),
        ("!vendor/ @alice", "negation"),
        ("*.[ch] @alice", "character ranges"),
        ("src/ alice", "'alice' is not"),
        ("src/ @alice @", "'@' is not"),
        (r"src/\*.py @alice", "escaped wildcards"),
        ("src/*** @alice", "***"),
    ],
)
def test_lines_github_cannot_read_are_skipped_and_reported(line, reason):
    parsed = parse_codeowners(f"* @fallback\n{line}\n# a comment\n")
    assert parsed.owners_of("src/a.c") == ("fallback",)  # the bad line assigned nothing
    [error] = parsed.errors
    assert error.line == 2
    assert error.text == line
    assert reason in error.reason


def test_a_rule_remembers_its_line_and_the_rest_still_counts():
    parsed = parse_codeowners("*.py @a\n!bad @b\n*.py @c\n")
    assert [rule.line for rule in parsed.rules] == [1, 3]
    assert parsed.owners_of("x.py") == ("c",)


def test_compile_pattern_refuses_what_github_refuses():
    with pytest.raises(InvalidLine):
        compile_pattern("a/***/b")


def test_github_looks_in_dot_github_then_the_root_then_docs():
    assert LOCATIONS == (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def test_a_byte_order_mark_and_windows_line_ends_are_not_part_of_patterns():
    parsed = parse_codeowners("\ufeff* @alice\r\n*.md @bob\r\n")
    assert (parsed.owners_of("x.c"), parsed.owners_of("a.md")) == (("alice",), ("bob",))
    assert parsed.errors == ()
