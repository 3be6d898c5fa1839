"""One page of ``shadowbot collect``: what overflowed GitHub's pages fetched (timelines, files,
checks over 100), the checks of every head, the CODEOWNERS at each base commit, the
repository's collaborators; and the page size, halved when GitHub gives up on a query.

With ``files_per_head`` (``--files-per-head``) each pull request costs REST requests too,
which GraphQL cannot answer: one ``GET /compare/{base}...{head}`` for each head but the last
(the files now are the last head's), and when a file is renamed ``GET /pulls/{n}/files``
(a page per 100 files) for the previous paths. The page's records are appended only once
all of them are read, so an interrupted run reads the page again."""

from __future__ import annotations

from collections.abc import Callable

from shadowbot.github import history_queries as queries
from shadowbot.github.codeowners import parse_codeowners
from shadowbot.github.history_fetch import NotFound, Overloaded, QueryFailed, QueryRunner
from shadowbot.offline.collect_records import Json, add_files_per_head, build_record, heads
from shadowbot.offline.collect_state import CollectError, unreadable

#: Commits whose checks are asked for in one query (GitHub's most ids per `nodes`).
CHECKS_BATCH = 100
#: Consecutive 502/504/timeouts at the smallest page before giving up (a rerun resumes).
MAX_OVERLOADS = 6
#: Successful queries at a reduced page size before trying double again.
GROW_AFTER = 10
#: A pull request's files asked for in one REST page (GitHub's most).
FILES_PER_PAGE = 100


class PageSize:
    """How many pull requests a page asks for: halved on each 502/504 or timeout, doubled
    back after :data:`GROW_AFTER` queries that went through."""

    def __init__(self, size: int) -> None:
        self.size = self.full = max(1, min(size, queries.MAX_PAGE))
        self._overloads = 0
        self._successes = 0

    def overloaded(self, exc: Overloaded) -> None:
        """GitHub gave up on a query: halve the page, or give up at one."""
        self._successes = 0
        if self.size == 1:
            self._overloads += 1
            if self._overloads >= MAX_OVERLOADS:
                raise CollectError(
                    f"GitHub keeps failing even one pull request at a time ({exc});"
                    " run the same command later to resume"
                ) from exc
        self.size = max(1, self.size // 2)

    def shrink(self, batch: int, exc: Overloaded) -> int:
        """GitHub gave up on a batch of ids: the batch halved, down to one; giving up at
        one counts against the page as :meth:`overloaded` does."""
        if batch == 1:
            self.overloaded(exc)
        return max(1, batch // 2)

    def succeeded(self) -> None:
        """A query went through: after enough of them, try double the page again."""
        self._overloads = 0
        self._successes += 1
        if self.size < self.full and self._successes >= GROW_AFTER:
            self.size = min(self.full, self.size * 2)
            self._successes = 0


class PageReader:
    def __init__(
        self,
        repository: str,
        runner: QueryRunner,
        sizes: PageSize,
        *,
        files_per_head: bool = False,
    ) -> None:
        self.repository = repository
        self.files_per_head = files_per_head
        self.owner, _, self.name = repository.partition("/")
        self.runner = runner
        self.sizes = sizes
        #: The CODEOWNERS blob at each base commit (None: no CODEOWNERS), each blob's text,
        #: and a lookup of owners by path for each blob.
        self.codeowners: dict[str, str | None] = {}
        self._texts: dict[str, str | None] = {}
        self._owners_by_text: dict[str, Callable[[str], list[str]]] = {}
        #: Collaborators' permissions by lowered login, None when they could not be read.
        self.permissions: dict[str, str] | None = None

    async def records(self, nodes: list[Json]) -> list[Json]:
        """The history records of ``nodes``, pull requests of a page, with everything that
        overflowed the page fetched."""
        if not nodes:
            return []
        items = {node["id"]: list(node["timelineItems"]["nodes"] or ()) for node in nodes}
        files = {node["id"]: list((node.get("files") or {}).get("nodes") or ()) for node in nodes}
        pending = []
        for node in nodes:
            for kind, key in (("timeline", "timelineItems"), ("files", "files")):
                info = (node.get(key) or {}).get("pageInfo") or {}
                if info.get("hasNextPage"):
                    pending.append(queries.More(kind, node["id"], info["endCursor"]))
        for (kind, node_id), extra in (await self._more(pending)).items():
            (items if kind == "timeline" else files)[node_id].extend(extra)
        commits = {cid: oid for node in nodes for cid, oid in heads(items[node["id"]])}
        bases = {node["baseRefOid"] for node in nodes}
        checks = await self._checks(commits, bases)
        await self._load_codeowners(bases)
        await self._load_blobs()
        records = []
        for node in nodes:
            owners = self._owners(node["baseRefOid"])
            record = build_record(
                node, items[node["id"]], files[node["id"]], checks, owners, self.permissions
            )
            if self.files_per_head:
                await self._add_files_per_head(node, files[node["id"]], record, owners)
            records.append(record)
        return records

    async def _add_files_per_head(
        self,
        node: Json,
        files: list[Json],
        record: Json,
        owners: Callable[[str], list[str]] | None,
    ) -> None:
        """Each head's files (GitHub's compare from the base commit), the last head's being
        the files now, and the previous paths of the renamed ones."""
        last = node.get("headRefOid") or ""
        base = node["baseRefOid"]
        head_files: dict[str, list[Json]] = {}
        for event in record["events"]:
            head = event.get("head") if event["type"] in ("opened", "push") else None
            if not head or head == last or head in head_files:
                continue
            # With per_page the files (at most 300) come on the first page, whatever the
            # commits: https://docs.github.com/en/rest/commits/commits#compare-two-commits
            url = f"/repos/{self.owner}/{self.name}/compare/{base}...{head}?per_page=1"
            try:
                data, _ = await self.runner.rest(url)
            except NotFound:
                continue  # the commit is gone: the files before it stand
            found = data.get("files") if isinstance(data, dict) else None
            head_files[head] = [f for f in found or () if isinstance(f, dict)]
        previous: dict[str, str] = {}
        if any(f.get("changeType") in ("RENAMED", "COPIED") for f in files):
            previous = await self._previous_paths(int(node["number"]))
        add_files_per_head(record, last, head_files, previous, owners)

    async def _previous_paths(self, number: int) -> dict[str, str]:
        """The previous path of each renamed or copied file of pull request ``number``, by
        path (GitHub lists up to 3000 files, a page at a time)."""
        found: dict[str, str] = {}
        url: str | None = (
            f"/repos/{self.owner}/{self.name}/pulls/{number}/files?per_page={FILES_PER_PAGE}"
        )
        while url:
            try:
                data, url = await self.runner.rest(url)
            except NotFound:
                break
            for item in data if isinstance(data, list) else ():
                previous = item.get("previous_filename") if isinstance(item, dict) else None
                if isinstance(previous, str):
                    found[item["filename"]] = previous
        return found

    async def read_permissions(self) -> dict[str, str] | None:
        """Every collaborator's permission by lowered login; None when GitHub will not say
        (it shows them only to credentials with push access)."""
        found: dict[str, str] = {}
        cursor = None
        overloads = 0
        while True:
            variables = {"owner": self.owner, "name": self.name, "after": cursor}
            try:
                data = await self.runner.run("collaborators", queries.COLLABORATORS, variables)
            except NotFound as exc:
                raise unreadable(self.repository, exc) from exc
            except Overloaded:
                overloads += 1
                if overloads < MAX_OVERLOADS:
                    continue
                return None
            except QueryFailed:
                return None
            connection = (data.get("repository") or {}).get("collaborators")
            if not isinstance(connection, dict):
                return None
            for edge in connection.get("edges") or ():
                if edge and edge.get("node"):
                    found[edge["node"]["login"].lower()] = str(edge["permission"]).lower()
            info = connection["pageInfo"]
            if not info["hasNextPage"]:
                return found
            cursor = info["endCursor"]

    async def _more(self, pending: list[queries.More]) -> dict[tuple[str, str], list[Json]]:
        """Every further page of the overflowing connections, by kind and node id."""
        found: dict[tuple[str, str], list[Json]] = {}
        batch = queries.MORE_BATCH
        while pending:
            wanted, rest = pending[:batch], pending[batch:]
            document, variables = queries.more_document(wanted)
            try:
                data = await self.runner.run("more", document, variables)
            except Overloaded as exc:
                batch = self.sizes.shrink(batch, exc)
                continue
            pending = rest
            for i, item in enumerate(wanted):
                node = data.get(f"m{i}") or {}
                if item.kind == "checks":
                    connection = (node.get("statusCheckRollup") or {}).get("contexts") or {}
                else:
                    connection = node.get("timelineItems" if item.kind == "timeline" else "files")
                    connection = connection or {}
                entry = found.setdefault((item.kind, item.node_id), [])
                entry.extend(n for n in connection.get("nodes") or () if n)
                info = connection.get("pageInfo") or {}
                if info.get("hasNextPage"):
                    pending.append(queries.More(item.kind, item.node_id, info["endCursor"]))
        return found

    async def _checks(self, commits: dict[str, str], bases: set[str]) -> dict[str, list[Json]]:
        """The check contexts of each commit, by oid; CODEOWNERS at the ``bases`` not known
        yet come with the first query."""
        found: dict[str, list[Json]] = {}
        ids = list(commits)
        batch = CHECKS_BATCH
        overflow: list[queries.More] = []
        while ids:
            wanted, rest = ids[:batch], ids[batch:]
            oids = self._unknown_codeowners(bases)[: queries.CODEOWNERS_BATCH]
            document, variables = queries.checks_document(wanted, oids)
            if oids:
                variables.update(owner=self.owner, name=self.name)
            try:
                data = await self.runner.run("checks", document, variables)
            except Overloaded as exc:
                batch = self.sizes.shrink(batch, exc)
                continue
            ids = rest
            self._take_codeowners(data, oids)
            for node in data.get("nodes") or ():
                if not node:
                    continue
                contexts = (node.get("statusCheckRollup") or {}).get("contexts") or {}
                found[node["oid"]] = [n for n in contexts.get("nodes") or () if n]
                info = contexts.get("pageInfo") or {}
                if info.get("hasNextPage"):
                    overflow.append(queries.More("checks", node["id"], info["endCursor"]))
        for (_, commit_id), extra in (await self._more(overflow)).items():
            found.setdefault(commits[commit_id], []).extend(extra)
        return found

    def _unknown_codeowners(self, oids: set[str]) -> list[str]:
        return sorted(oid for oid in oids if oid and oid not in self.codeowners)

    def _take_codeowners(self, data: Json, oids: list[str]) -> None:
        """The CODEOWNERS blob at each of ``oids`` (the first location GitHub reads)."""
        repository = data.get("repository") or {}
        for i, oid in enumerate(oids):
            blobs = (
                (repository.get(f"c{i}_{j}") or {}).get("oid")
                for j in range(len(queries.CODEOWNERS_PATHS))
            )
            self.codeowners[oid] = next((b for b in blobs if b is not None), None)

    async def _load_blobs(self) -> None:
        """The text of every CODEOWNERS blob not read yet."""
        known = self._texts
        missing = sorted({b for b in self.codeowners.values() if b and b not in known})

        def take(data: Json, wanted: list[str]) -> None:
            repository = data.get("repository") or {}
            for i, blob in enumerate(wanted):
                known[blob] = (repository.get(f"b{i}") or {}).get("text")

        await self._in_batches("blobs", missing, queries.blobs_document, take)

    async def _load_codeowners(self, oids: set[str]) -> None:
        """CODEOWNERS at the commits ``oids`` not known yet."""
        missing = self._unknown_codeowners(oids)
        await self._in_batches(
            "codeowners", missing, queries.codeowners_document, self._take_codeowners
        )

    async def _in_batches(
        self,
        kind: str,
        missing: list[str],
        document_of: Callable[[list[str]], tuple[str, Json]],
        take: Callable[[Json, list[str]], None],
    ) -> None:
        """Ask for ``missing`` in batches of :data:`~queries.CODEOWNERS_BATCH` aliases, a
        batch halved each time GitHub times out on it (down to one)."""
        batch = queries.CODEOWNERS_BATCH
        while missing:
            wanted, rest = missing[:batch], missing[batch:]
            document, variables = document_of(wanted)
            variables = {**variables, "owner": self.owner, "name": self.name}
            try:
                data = await self.runner.run(kind, document, variables)
            except Overloaded as exc:
                batch = self.sizes.shrink(batch, exc)
                continue
            missing = rest
            take(data, wanted)

    def _owners(self, oid: str) -> Callable[[str], list[str]] | None:
        """The owners of a path by the CODEOWNERS at ``oid``. Each text is parsed once and
        each path looked up once in it: every pull request has a base of its own, but the
        file changes seldom, and a large one has thousands of patterns to try."""
        blob = self.codeowners.get(oid)
        text = self._texts.get(blob) if blob else None
        if blob is None or text is None:
            return None
        found = self._owners_by_text.get(blob)
        if found is None:
            parsed = parse_codeowners(text)
            cache: dict[str, list[str]] = {}

            def owners(path: str) -> list[str]:
                if path not in cache:
                    cache[path] = [f"@{o}" if "/" in o else o for o in parsed.owners_of(path)]
                return list(cache[path])

            found = self._owners_by_text[blob] = owners
        return found
