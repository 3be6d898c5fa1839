"""The outcome model: a pull request's story, from opened to merged, closed or abandoned.

See "Outcome model" in the docstring of examples/generate_history.py.
"""

from __future__ import annotations

from .model import DAY, HOUR, MINUTE, Json, file
from .text import COMMENTS
from .timeline import RevertPlan, Timeline


class PullRequest(Timeline):
    """A pull request's timeline, played to its end by the outcome model."""

    def play(self) -> None:
        """Open the pull request and run it to its end (the outcome model, see the script)."""
        rng, prof = self.rng, self.profile
        self.open()
        if self.author["type"] != "Bot" and rng.random() < 0.06:
            at = self.t + rng.randint(60, 4 * HOUR)
            self.add(at, "edited", body=(self.body + "\n\nTested with nixpkgs-review.").strip())
        sound = rng.random() >= self.flaw_chance()
        reviewer: Json | None = None
        for round_ in range(4):
            green = sound or rng.random() >= prof.ci_catches
            self.ci(green, first=round_ == 0)
            self.ready()
            vouched = self.outsider_review(sound, green)
            reviewer = self.careful_review(sound, green, vouched, reviewer)
            if reviewer is not None and sound:
                objector = self.finish(reviewer)
                if objector is None:
                    return
                reviewer = objector
            elif reviewer is None and self.unreviewed(sound, green, vouched):
                return
            last_try = round_ == 3
            if (last_try or rng.random() >= prof.fix) and not self.give_up(reopen=not last_try):
                return
            sound = self.fix(reviewer)

    def flaw_chance(self) -> float:
        chance = self.profile.flawed
        if self.author["permission"] in ("write", "admin"):
            return chance * 0.5
        if self.author["association"] == "FIRST_TIME_CONTRIBUTOR":
            return min(0.9, chance * 1.4)
        return chance

    def outsider_review(self, sound: bool, green: bool) -> bool:
        """Maybe an outside contributor reviews the head; True if they approved it."""
        rng = self.rng
        if rng.random() >= self.profile.outsider:
            return False
        exclude = [self.author["login"]] + [login for f in self.files for login in f["owners"]]
        by = self.world.outsider(exclude)
        weights = (75, 22, 3) if sound else (50, 35, 15) if green else (20, 50, 30)
        state = rng.choices(("APPROVED", "COMMENTED", "CHANGES_REQUESTED"), weights)[0]
        self.wait(self.profile.review_wait // 2)
        self.review(by, state)
        if state == "COMMENTED" and rng.random() < 0.5:
            self.comment(by, COMMENTS[rng.randrange(3)])
        return state == "APPROVED"

    def careful_review(
        self, sound: bool, green: bool, vouched: bool, previous: Json | None
    ) -> Json | None:
        """Maybe a code owner or writer reviews: approves a sound head, rejects a flawed one."""
        rng, prof = self.rng, self.profile
        chance = prof.careful
        if vouched and not sound:
            chance = 1 - (1 - chance) * 0.4  # an outsider's approval draws a writer's look
        if previous is not None:
            chance = max(chance, 0.85)
        if rng.random() >= chance:
            # Nobody came; a while later (after a ping, for humans) somebody might.
            if rng.random() >= 0.5:
                return None
            self.wait(3 * DAY)
            if self.author["type"] != "Bot" and rng.random() < 0.5:
                self.comment(self.author, "Friendly ping, could someone review this?")
            if rng.random() >= chance:
                return None
        reviewer = previous if previous is not None and rng.random() < 0.85 else self.careful()
        self.t = max(self.t, self.ci_done)
        self.wait(prof.review_wait)
        if sound:
            self.review(reviewer, "APPROVED")
            if rng.random() < 0.25:
                self.add(self.t + rng.randint(30, 300), "labeled", label="12.approvals: 1")
            elif self.author["type"] != "Bot" and rng.random() < 0.15:
                self.comment(reviewer, COMMENTS[0])
            return reviewer
        state = "COMMENTED" if not green and rng.random() < 0.4 else "CHANGES_REQUESTED"
        self.review(reviewer, state)
        if rng.random() < 0.3:
            self.comment(reviewer, COMMENTS[2 + rng.randrange(2)])
        return reviewer

    def careful(self, exclude: str = "") -> Json:
        """A careful reviewer: one of the files' code owners, or else a writer (or admin)."""
        rng = self.rng
        owners = [o for o in self.owner_actors() if o["login"] != exclude]
        if owners and rng.random() < self.profile.owner_first:
            return rng.choice(owners)
        if self.kind == "wide" and rng.random() < 0.3:
            admins = [a for a in self.world.admins if a["login"] != self.author["login"]]
            return rng.choice(admins)
        while True:
            writer = self.world.writer(self.author["login"])
            if writer["login"] != exclude:
                return writer

    def finish(self, approver: Json) -> Json | None:
        """After a careful approval of a sound head: merge, or return a late objector."""
        rng, prof = self.rng, self.profile
        if rng.random() < prof.late_objection:  # a hidden risk that a second writer saw
            objector = self.careful(exclude=approver["login"])
            self.wait(prof.review_wait)
            self.review(objector, "CHANGES_REQUESTED")
            return objector
        if rng.random() < 0.2:
            self.wait(prof.review_wait)
            self.review(self.careful(exclude=approver["login"]), "APPROVED")
            if rng.random() < 0.3:
                self.add(self.t + rng.randint(30, 300), "labeled", label="12.approvals: 2")
        if rng.random() < 0.1:  # a rebase or a nit after the approval
            self.wait(4 * HOUR)
            self.push()
            self.ci(True)
            if rng.random() < 0.4:
                self.t = max(self.t, self.ci_done)
                self.wait(prof.review_wait)
                self.review(approver, "APPROVED")
        self.merge(approver)
        return None

    def unreviewed(self, sound: bool, green: bool, vouched: bool) -> bool:
        """Nobody careful looked at the head; True if the pull request ended here."""
        rng, prof = self.rng, self.profile
        if sound:
            merge = max(prof.unreviewed_merge, 0.8) if vouched else prof.unreviewed_merge
            if rng.random() < merge:
                self.merge(None)
            elif rng.random() < 0.35:
                self.abandon()
            else:
                self.give_up(reopen=False)
            return True
        if green and vouched and rng.random() < 0.25:
            self.merge(None, doomed=True)  # merged on the outsider's word, reverted later
            return True
        if green and rng.random() < prof.unreviewed_merge * 0.1:
            self.merge(None, doomed=True)
            return True
        return False

    def fix(self, reviewer: Json | None) -> bool:
        """The author pushes a fix; returns whether the new head is sound."""
        rng = self.rng
        old = self.head
        self.t = max(self.t, self.ci_done)
        self.wait(DAY)
        if self.author["type"] != "Bot" and not self.draft and rng.random() < 0.1:
            self.add(self.t, "converted_to_draft")
            self.draft = True
            self.wait(HOUR)
        files = None
        if self.kind == "pkg" and len(self.files) == 1 and rng.random() < 0.3:
            directory = self.files[0]["path"].rsplit("/", 1)[0]
            patch = file(
                f"{directory}/fix-build.patch",
                "added",
                rng.randint(8, 60),
                0,
                self.files[0]["owners"],
            )
            files = [*self.files, patch]
        self.push(files)
        if reviewer is not None and rng.random() < 0.12:
            self.review(reviewer, "DISMISSED", commit=old)
        return rng.random() < 0.85

    def merge(self, approver: Json | None, doomed: bool = False) -> None:
        rng = self.rng
        self.t = max(self.t, self.last)
        self.wait(self.profile.merge_wait, high=5 * DAY)
        if approver is not None and approver["permission"] != "read" and rng.random() < 0.7:
            merger = approver
        elif self.author["permission"] in ("write", "admin") and rng.random() < 0.5:
            merger = self.author
        else:
            merger = self.world.writer()
        self.add(self.t, "merged", by=merger, commit=self.head)
        for name, version in self.on_merge:
            self.world.versions[name] = version
        if doomed or rng.random() < self.profile.hidden:
            self.schedule_revert()
        elif rng.random() < 0.08:
            self.wait(DAY)
            self.comment(merger, "Backport to the release branch?")

    def schedule_revert(self) -> None:
        reverter = self.world.writer()
        self.wait(2 * DAY, low=3 * HOUR, high=10 * DAY)
        opened = self.t
        self.comment(reverter, "This broke dependent packages on Hydra; reverting.")
        self.wait(HOUR, low=10 * MINUTE, high=8 * HOUR)
        event = self.add(self.t, "reverted", by=reverter, pr=0)
        swapped = {"added": "removed", "removed": "added"}
        files = [
            {
                **f,
                "status": swapped.get(f["status"], f["status"]),
                "additions": f["deletions"],
                "deletions": f["additions"],
            }
            for f in self.files
        ]
        title = self.title.removeprefix("WIP: ")
        plan = RevertPlan(opened, self.t, reverter, self.number, title, self.base, files, event)
        self.reverts.append(plan)

    def abandon(self) -> None:
        if self.rng.random() < 0.3:
            self.wait(20 * DAY, low=DAY, high=60 * DAY)
            self.add(self.t, "labeled", label="2.status: merge conflict")

    def give_up(self, reopen: bool = True) -> bool:
        """Closed or abandoned; True if the author reopened it to try again."""
        rng = self.rng
        if rng.random() < 0.2:
            self.abandon()
            return False
        self.t = max(self.t, self.last)
        self.wait(4 * DAY, high=40 * DAY)
        if self.author["type"] == "Bot" and rng.random() < 0.7:
            closer = self.author  # the bot closes a bump a newer version superseded
        elif rng.random() < 0.4 and self.author["type"] != "Bot":
            closer = self.author
        else:
            closer = self.world.writer()
        self.add(self.t, "closed", by=closer)
        if reopen and self.author["type"] != "Bot" and rng.random() < 0.12:
            self.wait(3 * DAY)
            self.add(self.t, "reopened", by=self.author)
            return True
        return False
