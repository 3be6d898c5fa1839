"""Which snapshot fields a rule's evaluation read, so that the backtest can skip the next
evaluation when no event since changed any of them.

A rule is a pure function of the snapshot (DESIGN.md), so its decision can only change
when something it read changed. :func:`traced` hands the rule a :class:`Snapshot` whose
fields are fetched from the real one on first read, noting the field's name; later reads
of the same field are plain attribute reads. A derived view (``approvers_on_head``) is
taken from the real snapshot, computed once for all rules, and noted as the fields it is
computed from. Methods (``owners_of``) run on the traced snapshot, so what they read is
noted too; ``dataclasses.replace``, ``copy`` and ``repr`` read every field. The note is
exact for anything a rule can reach through attributes; only a rule reading the
instance's ``__dict__`` directly would not be seen (and would find it incomplete).
A rule that keeps state between evaluations is not pure, and may be skipped wrongly.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from shadowbot.snapshot import Snapshot, memo

#: Every field of a snapshot, and the bit that stands for it in a set of fields (an int).
FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Snapshot))
BITS: dict[str, int] = {name: 1 << i for i, name in enumerate(FIELDS)}
ALL = (1 << len(FIELDS)) - 1
#: The fields each derived view of :class:`Snapshot` is computed from. A view missing
#: here counts as reading every field (never skipped, never wrong).
VIEW_READS: dict[str, tuple[str, ...]] = {
    "latest_reviews": ("reviews",),
    "approvers_on_head": ("reviews", "head_sha", "author"),
    "changes_requested_by": ("reviews",),
    "changed_lines": ("files",),
}


def mask(*names: str) -> int:
    """The set of these fields, as bits."""
    bits = 0
    for name in names:
        bits |= BITS[name]
    return bits


class _Noted:
    """A class attribute of :class:`Traced`: on first read, notes ``bits`` and copies the
    real snapshot's value into the instance (later reads do not come here)."""

    __slots__ = ("bits", "name")

    def __init__(self, name: str, bits: int) -> None:
        self.name = name
        self.bits = bits

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        state = instance.__dict__
        state["_read"] |= self.bits
        value = getattr(state["_base"], self.name)
        state[self.name] = value
        return value


class Traced(Snapshot):
    """A snapshot that notes what is read of it. Made by :func:`traced`."""

    def __init__(self, **values: Any) -> None:
        # ``dataclasses.replace(pr, ...)`` lands here, having read every field of ``pr``:
        # a traced view of the new snapshot, whose reads are its own.
        state = self.__dict__
        state["_base"] = Snapshot(**values)
        state["_read"] = 0

    def __reduce_ex__(self, protocol: Any) -> Any:
        # copy, deepcopy and pickle read everything, and give a plain snapshot.
        state = self.__dict__
        state["_read"] = ALL
        return state["_base"].__reduce_ex__(protocol)


_VIEWS = [name for name, value in vars(Snapshot).items() if isinstance(value, memo)]
for _name in FIELDS:
    setattr(Traced, _name, _Noted(_name, BITS[_name]))
for _name in _VIEWS:
    _reads = VIEW_READS.get(_name)
    setattr(Traced, _name, _Noted(_name, ALL if _reads is None else mask(*_reads)))


def traced(base: Snapshot) -> Traced:
    """A view of ``base`` that notes every field read of it (:func:`read_of`)."""
    view = object.__new__(Traced)
    state = view.__dict__
    state["_base"] = base
    state["_read"] = 0
    return view


def read_of(view: Snapshot) -> int:
    """The fields read of ``view`` so far, as bits."""
    bits: int = view.__dict__["_read"]
    return bits
