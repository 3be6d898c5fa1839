"""Process counters, rendered in Prometheus' text exposition format for ``GET /metrics``.

https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]


@dataclass
class Metrics:
    counters: dict[str, dict[Labels, float]] = field(default_factory=lambda: defaultdict(dict))
    gauges: dict[str, dict[Labels, float]] = field(default_factory=lambda: defaultdict(dict))
    help: dict[str, str] = field(default_factory=dict)

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self.counters[name]
        series[key] = series.get(key, 0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self.gauges[name][tuple(sorted(labels.items()))] = value

    def value(self, name: str, **labels: str) -> float:
        key = tuple(sorted(labels.items()))
        return self.counters.get(name, {}).get(key, self.gauges.get(name, {}).get(key, 0))

    def render(self) -> str:
        lines: list[str] = []
        for kind, table in (("counter", self.counters), ("gauge", self.gauges)):
            for name in sorted(table):
                if name in self.help:
                    lines.append(f"# HELP {name} {self.help[name]}")
                lines.append(f"# TYPE {name} {kind}")
                for labels, value in sorted(table[name].items()):
                    lines.append(f"{name}{_labels(labels)} {value:g}")
        return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    escaped = (
        (k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")) for k, v in labels
    )
    return "{" + ",".join(f'{k}="{v}"' for k, v in escaped) + "}"
