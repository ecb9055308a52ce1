"""A Sample as prometheus_client metric families (with metrics.py's names, help and labels): the one module of the
exporter that builds exposition objects; the text format itself is prometheus_client's."""
from __future__ import annotations

from typing import Callable, Iterator, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric as Family

from .metrics import BUILD, DROPS, EVENTS_LOST, FINDING, FOLDED, HOOKS, MAP_FULL, OTHERHOST, UP, Metric
from .read import Sample


def _family(m: Metric):
    kind = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily, "info": InfoMetricFamily}[m.kind]
    return kind(m.name, m.help, labels=list(m.labels)) if m.labels and m.kind != "info" else kind(m.name, m.help)


def families(s: Sample) -> Iterator[Family]:
    for m, rows in ((DROPS, s.drops), (OTHERHOST, s.otherhost), (FINDING, s.findings)):
        f = _family(m)
        for labels, value in rows:
            f.add_metric(list(labels), value)
        yield f
    for m, value in ((EVENTS_LOST, s.lost), (MAP_FULL, s.map_full)):
        f = _family(m)
        f.add_metric([], value)
        yield f
    f = _family(FOLDED)
    for name, n in sorted(s.folded.items()):
        f.add_metric([name], n)
    yield f
    f = _family(HOOKS)
    for hook, kind, attached in s.hooks:
        f.add_metric([hook, kind], attached)
    yield f
    f = _family(BUILD)
    f.add_metric([], dict(zip(BUILD.labels, s.build)))
    yield f
    f = _family(UP)
    f.add_metric([], s.at)
    yield f


class SampleCollector:
    """Serves whatever Sample `latest()` returns at scrape time (nothing before the first reading)."""

    def __init__(self, latest: Callable[[], Optional[Sample]]):
        self.latest = latest

    def collect(self) -> Iterator[Family]:
        s = self.latest()
        if s is not None:
            yield from families(s)

    def describe(self):
        return []  # metric names are known only from a Sample; the registry must not collect() to learn them
