"""The GraphQL documents the history collector sends (:mod:`shadowbot.offline.collect`).

Reads only. Every document asks for ``rateLimit { cost remaining resetAt }`` so the collector
can pace itself, and is validated against GitHub's published schema in the tests.

Where the points go (GitHub charges one request per connection per parent object, divided by
100: https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api):

- :data:`PULLS`: a page of ``n`` pull requests with their files and their timeline, each a
  connection on each PR: ``1 + 1 + 2n`` requests, so 1 point for 49 PRs and 2 for 50 to 100.
  Nothing is nested under a timeline item's connection: that would multiply by 100.
- :data:`CHECKS`: the check runs and statuses of up to 100 commits by id (``nodes`` is not a
  connection): ``1 + n`` requests, 1 point per 100 commits; :func:`checks_document` asks
  for the page's CODEOWNERS in the same query, for nothing more.
- :func:`more_document`: the next page of connections that overflowed (a timeline over 100
  items, over 100 files, over 100 checks on a commit), up to :data:`MORE_BATCH` of them
  aliased in one query: ``1 + k`` requests, 1 point.
- :data:`COLLABORATORS`: the repository's collaborators and their permissions, once a run,
  1 point per 100 (GitHub shows them only to credentials with push access).
- :func:`codeowners_document`: which CODEOWNERS blob is at given commits, aliased ``object``
  fields, no connection: 1 point for up to 100 commits; :func:`blobs_document` the text of
  each blob not seen yet, as seldom as the file changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: The timeline items a history record is made of, asked for by type so nothing else counts
#: against a page.
ITEM_TYPES: tuple[str, ...] = (
    "PULL_REQUEST_COMMIT",
    "PULL_REQUEST_REVIEW",
    "ISSUE_COMMENT",
    "LABELED_EVENT",
    "UNLABELED_EVENT",
    "READY_FOR_REVIEW_EVENT",
    "CONVERT_TO_DRAFT_EVENT",
    "CLOSED_EVENT",
    "REOPENED_EVENT",
    "MERGED_EVENT",
    "RENAMED_TITLE_EVENT",
    "HEAD_REF_FORCE_PUSHED_EVENT",
    "REVIEW_DISMISSED_EVENT",
)
#: GitHub's largest page on any connection.
MAX_PAGE = 100
#: Overflowing connections fetched together by :func:`more_document`.
MORE_BATCH = 50
#: Commits whose CODEOWNERS are fetched together by :func:`codeowners_document`.
CODEOWNERS_BATCH = 100

RATE_LIMIT = "rateLimit { cost remaining resetAt }"

ACTOR = "{ __typename login }"

TIMELINE_ITEM = f"""
fragment TimelineItem on PullRequestTimelineItems {{
  __typename
  ... on PullRequestCommit {{ pushed: commit {{ id oid committedDate }} }}
  ... on PullRequestReview {{
    id author {ACTOR} authorAssociation state submittedAt createdAt commit {{ oid }}
  }}
  ... on ReviewDismissedEvent {{ createdAt previousReviewState review {{ id }} }}
  ... on IssueComment {{ author {ACTOR} authorAssociation body createdAt }}
  ... on LabeledEvent {{ actor {ACTOR} createdAt label {{ name }} }}
  ... on UnlabeledEvent {{ actor {ACTOR} createdAt label {{ name }} }}
  ... on ReadyForReviewEvent {{ actor {ACTOR} createdAt }}
  ... on ConvertToDraftEvent {{ actor {ACTOR} createdAt }}
  ... on ClosedEvent {{ actor {ACTOR} createdAt }}
  ... on ReopenedEvent {{ actor {ACTOR} createdAt }}
  ... on MergedEvent {{ actor {ACTOR} createdAt commit {{ oid }} }}
  ... on RenamedTitleEvent {{ actor {ACTOR} createdAt previousTitle currentTitle }}
  ... on HeadRefForcePushedEvent {{ createdAt afterCommit {{ id oid committedDate }} }}
}}
"""

_ITEM_TYPES = "[" + ", ".join(ITEM_TYPES) + "]"
PAGE_INFO = "pageInfo { hasNextPage endCursor }"
FILE = "path changeType additions deletions"
CONTEXT = """__typename
  ... on CheckRun { name status conclusion startedAt completedAt }
  ... on StatusContext { context state createdAt }"""

PULLS = f"""
query CollectPulls(
  $owner: String!, $name: String!, $first: Int!, $after: String, $base: String
) {{
  repository(owner: $owner, name: $name) {{
    pullRequests(
      first: $first, after: $after, baseRefName: $base,
      orderBy: {{field: UPDATED_AT, direction: DESC}}
    ) {{
      totalCount
      {PAGE_INFO}
      nodes {{
        id number title body createdAt updatedAt baseRefName baseRefOid headRefOid isDraft merged
        author {ACTOR}
        authorAssociation
        files(first: {MAX_PAGE}) {{ {PAGE_INFO} nodes {{ {FILE} }} }}
        timelineItems(first: {MAX_PAGE}, itemTypes: {_ITEM_TYPES}) {{
          {PAGE_INFO}
          nodes {{ ...TimelineItem }}
        }}
      }}
    }}
  }}
  {RATE_LIMIT}
}}
{TIMELINE_ITEM}
"""

_CHECKS_SELECTION = f"""nodes(ids: $ids) {{
    ... on Commit {{
      id oid
      statusCheckRollup {{
        contexts(first: {MAX_PAGE}) {{ {PAGE_INFO} nodes {{ {CONTEXT} }} }}
      }}
    }}
  }}"""
CHECKS = f"""
query CollectChecks($ids: [ID!]!) {{
  {_CHECKS_SELECTION}
  {RATE_LIMIT}
}}
"""


COLLABORATORS = f"""
query CollectCollaborators($owner: String!, $name: String!, $after: String) {{
  repository(owner: $owner, name: $name) {{
    collaborators(first: {MAX_PAGE}, after: $after, affiliation: ALL) {{
      {PAGE_INFO}
      edges {{ permission node {{ login }} }}
    }}
  }}
  {RATE_LIMIT}
}}
"""


@dataclass(frozen=True, slots=True)
class More:
    """The next page of one connection that overflowed: on the PR or commit ``node_id``,
    ``kind`` is ``timeline``, ``files`` or ``checks``, after ``cursor``."""

    kind: str
    node_id: str
    cursor: str


_MORE_SELECTION = {
    "timeline": (
        "PullRequest",
        f"timelineItems(first: {MAX_PAGE}, after: $AFTER, itemTypes: {_ITEM_TYPES})"
        f" {{ {PAGE_INFO} nodes {{ ...TimelineItem }} }}",
    ),
    "files": (
        "PullRequest",
        f"files(first: {MAX_PAGE}, after: $AFTER) {{ {PAGE_INFO} nodes {{ {FILE} }} }}",
    ),
    "checks": (
        "Commit",
        f"statusCheckRollup {{ contexts(first: {MAX_PAGE}, after: $AFTER)"
        f" {{ {PAGE_INFO} nodes {{ {CONTEXT} }} }} }}",
    ),
}


def more_document(wanted: Sequence[More]) -> tuple[str, dict[str, str]]:
    """One query for the next page of each of ``wanted`` (at most :data:`MORE_BATCH`), as
    aliases ``m0``, ``m1``, ...; and its variables."""
    if not 0 < len(wanted) <= MORE_BATCH:
        raise ValueError(f"between 1 and {MORE_BATCH} connections at a time, not {len(wanted)}")
    parameters: list[str] = []
    fields: list[str] = []
    variables: dict[str, str] = {}
    uses_timeline = False
    for i, item in enumerate(wanted):
        kind, selection = _MORE_SELECTION[item.kind]
        uses_timeline = uses_timeline or item.kind == "timeline"
        parameters.append(f"$n{i}: ID!, $a{i}: String")
        inner = selection.replace("$AFTER", f"$a{i}")
        fields.append(f"  m{i}: node(id: $n{i}) {{ ... on {kind} {{ {inner} }} }}")
        variables[f"n{i}"] = item.node_id
        variables[f"a{i}"] = item.cursor
    body = "\n".join(fields)
    document = f"query CollectMore({', '.join(parameters)}) {{\n{body}\n  {RATE_LIMIT}\n}}\n"
    return document + (TIMELINE_ITEM if uses_timeline else ""), variables


#: Where GitHub looks for CODEOWNERS, in its order; the first found is the one used.
CODEOWNERS_PATHS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


def codeowners_document(oids: Sequence[str]) -> tuple[str, dict[str, str]]:
    """One query for the CODEOWNERS files at each of the commits ``oids``, as blob ids (the
    text, the same at most commits, is asked for once by :func:`blobs_document`): alias
    ``c{i}_{j}`` is location ``j`` of :data:`CODEOWNERS_PATHS` at commit ``i`` (null when
    absent)."""
    parameters, body, variables = _codeowners_parts(oids)
    document = (
        f"query CollectCodeowners($owner: String!, $name: String!, {parameters}) {{\n"
        f"  repository(owner: $owner, name: $name) {{\n{body}\n  }}\n  {RATE_LIMIT}\n}}\n"
    )
    return document, variables


def checks_document(ids: Sequence[str], oids: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
    """:data:`CHECKS` for the commits ``ids`` and, in the same query, the CODEOWNERS at the
    commits ``oids`` as :func:`codeowners_document` asks (``object`` is no connection: they
    cost nothing more). Needs ``owner`` and ``name`` too when ``oids`` are given."""
    if not oids:
        return CHECKS, {"ids": list(ids)}
    parameters, body, variables = _codeowners_parts(oids)
    document = (
        "query CollectChecks($ids: [ID!]!, $owner: String!, $name: String!,"
        f" {parameters}) {{\n  {_CHECKS_SELECTION}\n"
        f"  repository(owner: $owner, name: $name) {{\n{body}\n  }}\n  {RATE_LIMIT}\n}}\n"
    )
    return document, {"ids": list(ids), **variables}


def blobs_document(oids: Sequence[str]) -> tuple[str, dict[str, str]]:
    """One query for the text of each of the blobs ``oids``: alias ``b{i}``."""
    if not 0 < len(oids) <= CODEOWNERS_BATCH:
        raise ValueError(f"between 1 and {CODEOWNERS_BATCH} blobs at a time, not {len(oids)}")
    parameters = ", ".join(f"$b{i}: GitObjectID!" for i in range(len(oids)))
    fields = "\n".join(
        f"    b{i}: object(oid: $b{i}) {{ ... on Blob {{ text }} }}" for i in range(len(oids))
    )
    document = (
        f"query CollectBlobs($owner: String!, $name: String!, {parameters}) {{\n"
        f"  repository(owner: $owner, name: $name) {{\n{fields}\n  }}\n  {RATE_LIMIT}\n}}\n"
    )
    return document, {f"b{i}": oid for i, oid in enumerate(oids)}


def _codeowners_parts(oids: Sequence[str]) -> tuple[str, str, dict[str, str]]:
    if not 0 < len(oids) <= CODEOWNERS_BATCH:
        raise ValueError(f"between 1 and {CODEOWNERS_BATCH} commits at a time, not {len(oids)}")
    fields = [
        f"    c{i}_{j}: object(expression: $e{i}_{j}) {{ ... on Blob {{ oid }} }}"
        for i in range(len(oids))
        for j in range(len(CODEOWNERS_PATHS))
    ]
    parameters = ", ".join(
        f"$e{i}_{j}: String!" for i in range(len(oids)) for j in range(len(CODEOWNERS_PATHS))
    )
    variables = {
        f"e{i}_{j}": f"{oid}:{path}"
        for i, oid in enumerate(oids)
        for j, path in enumerate(CODEOWNERS_PATHS)
    }
    return parameters, "\n".join(fields), variables
