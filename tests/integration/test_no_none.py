"""Every finding of every lab scenario, rendered as text and as JSON: no Python "None" in any sentence, evidence line
or fix, and no JSON null anywhere (a fact that could not be read is left out and its finding says why)."""
import json

import pytest

from netdrop import lab as L

# the traffic that shows each scenario's cause(s)
TRAFFIC = {
    "wrong-mac": [("wrong-mac", 3), ("closed-port", 2)],
    "bridge": [("wrong-mac", 3)],
    "changed-mac": [("wrong-mac", 3)],
    "macvlan": [("wrong-mac", 3)],
    "rp-filter": [("rp-filter", 3)],
    "not-local": [("not-local", 3)],
    "netfilter": [("netfilter", 3)],
    "rcvbuf": [("rcvbuf", 40)],
    "ipv6": [("wrong-mac6", 3), ("closed-port6", 2)],
    "multi": [("wrong-mac", 3), ("rp-filter", 2), ("not-local", 2), ("netfilter", 2), ("rcvbuf", 40)],
    "backlog": [("backlog", 4)],
}


def _nulls(v, path="$"):
    if v is None:
        return [path]
    if isinstance(v, dict):
        return [p for k, x in v.items() for p in _nulls(x, f"{path}.{k}")]
    if isinstance(v, list):
        return [p for i, x in enumerate(v) for p in _nulls(x, f"{path}[{i}]")]
    return [path] if isinstance(v, str) and "None" in v else []


def test_every_scenario_has_traffic():
    assert set(TRAFFIC) == set(L.SCENARIOS)


@pytest.mark.parametrize("scenario", list(L.SCENARIOS))
def test_findings_render_without_none(scenario, background):
    L.up(scenario)
    try:
        args = ["diagnose", "--duration", "2", "--netns", L.RX_NS] + (["--iface", L.BRIDGE, "--promisc"]
                                                                     if scenario == "bridge" else [])
        text = background("--width", "400", *args)
        js = background(*args, "--json")
        text.wait_ready()
        js.wait_ready()
        for kind, n in TRAFFIC[scenario]:
            L.send(n, kind)
        rc, out, err = text.finish()
        assert rc == 0, err
        rcj, outj, errj = js.finish()
        assert rcj == 0, errj
    finally:
        L.down()
    report = json.loads(outj)
    assert report["findings"], f"{scenario}: no finding"
    assert not _nulls(report), f"{scenario}: {_nulls(report)}"
    for f in report["findings"]:
        assert f["netns_id"] > 0 and f["netns"] == L.RX_NS
    assert "Finding 1:" in out and "None" not in out, out
