"""The exporter's series rules: a cap with `other`, labels that stick to their kernel key, counters that never go
down (Prometheus would read a decrease as a reset and count the whole value again)."""
from netdrop.export.families import families
from netdrop.export.read import Sample
from netdrop.export.series import Findings, Folder


def test_cap_admits_the_biggest_and_folds_the_rest_into_other():
    f = Folder(cap=2, width=2)
    out, folded = f.fold([("a", 5), ("b", 50), ("c", 20)], lambda k: (k, "x"))
    assert sorted(out) == [(("b", "x"), 50), (("c", "x"), 20), (("other", "other"), 5)]
    assert folded == 1


def test_an_admitted_series_stays_and_other_only_grows():
    f = Folder(cap=1, width=1)
    f.fold([("a", 1)], lambda k: (k,))
    out, folded = f.fold([("a", 1), ("b", 100)], lambda k: (k,))  # b is bigger now, but a keeps its place
    assert dict(out) == {("a",): 1, ("other",): 100} and folded == 1
    out, _ = f.fold([("a", 2), ("b", 150), ("c", 1)], lambda k: (k,))
    assert dict(out) == {("a",): 2, ("other",): 151}


def test_a_key_keeps_its_first_labels_so_no_series_shrinks():
    f = Folder(cap=10, width=1)
    names = {"k1": "eth0", "k2": "eth0"}
    out, _ = f.fold([("k1", 3), ("k2", 4)], lambda k: (names[k],))
    assert dict(out) == {("eth0",): 7}
    names["k2"] = "renamed0"  # the interface was renamed: k2 still counts under eth0
    out, _ = f.fold([("k1", 3), ("k2", 5)], lambda k: (names[k],))
    assert dict(out) == {("eth0",): 8}


def test_findings_go_to_zero_and_beyond_the_cap_are_counted_not_shown():
    f = Findings(cap=1)
    assert f.update([("mac-mismatch", "host", "eth0", "10.0.0.3")]) == [(("mac-mismatch", "host", "eth0",
                                                                          "10.0.0.3"), 1)]
    assert f.update([("rp-filter", "host", "eth1", "")]) == [(("mac-mismatch", "host", "eth0", "10.0.0.3"), 0)]
    assert len(f.folded) == 1


def test_a_sample_becomes_one_family_per_metric_with_its_labels():
    s = Sample(at=1.0, drops=[(("host", "eth0", "OTHERHOST", "ip_rcv_core+0x22c"), 3)],
               otherhost=[(("host", "eth0", "10.0.0.3", "02:de:ad:be:ef:01", "02:25:ad:fa:a8:be"), 3)],
               findings=[(("mac-mismatch", "host", "eth0", "10.0.0.3"), 1)], folded={"netdrop_drops": 0},
               lost=0, map_full=0, hooks=[("skb:kfree_skb", "tp_btf", 1)], build=("0.1.0", "6.18", "tp_btf"))
    fams = {f.name: f for f in families(s)}
    assert fams["netdrop_drops"].type == "counter"
    assert fams["netdrop_drops"].samples[0].labels == {"netns": "host", "interface": "eth0", "reason": "OTHERHOST",
                                                        "location": "ip_rcv_core+0x22c"}
    assert fams["netdrop_build"].samples[0].labels["kfree_skb_hook"] == "tp_btf"


def test_names_from_the_network_are_escaped_not_interpreted():
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from netdrop.export.families import SampleCollector
    odd = 'e"th\\0\n[bold]'
    s = Sample(at=1.0, drops=[(("host", odd, "OTHERHOST", "x"), 1)], otherhost=[], findings=[], folded={}, lost=0,
               map_full=0, hooks=[], build=("0.1.0", "6.18", "tp_btf"))
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SampleCollector(lambda: s))
    back = {f.name: f for f in text_string_to_metric_families(generate_latest(reg).decode())}
    assert back["netdrop_drops"].samples[0].labels["interface"] == odd
