"""watch against the real kernel: lines, JSON, pcap, filters, and exact accounting under a flood."""
import json
import shutil
import subprocess
import sys

from netdrop import lab as L

from ..conftest import HAS_REASONS, needs_fast_flood, needs_reasons, netdrop


def records(out):
    return [json.loads(line) for line in out.splitlines()]


def test_wrong_mac_events_json_and_pcap(lab, background, tmp_path):
    pcap = tmp_path / "drops.pcapng"
    only = ["--reason", "OTHERHOST", "--netns", L.RX_NS] if HAS_REASONS else ["--iface", L.RX_IF, "--netns", L.RX_NS]
    bg = background("watch", "--json", "--count", "6", "--pcap", pcap, *only)
    bg.wait_ready()
    lab.send(6, "wrong-mac")
    rc, out, err = bg.finish()
    assert rc == 0, err
    recs = records(out)
    drops = [r for r in recs if r["type"] == "drop"]
    assert len(drops) == 6
    for d in drops:
        assert (d["reason"], d["interface"], d["netns"]) == ("OTHERHOST", L.RX_IF, L.RX_NS)
        assert (d["dst_mac"], d["iface_mac"], d["src_mac"]) == (L.WRONG_MAC, L.RX_MAC, L.TX_MAC)
        assert (d["src_ip"], d["dst_ip"], d["dport"]) == (L.SENDER_IP, L.SECONDARY_IP, L.UDP_PORT)
    summary = recs[-1]
    assert summary["type"] == "summary" and summary["printed"] == 6
    read = subprocess.run(["tcpdump", "-nn", "-e", "-r", str(pcap)], capture_output=True, text=True)
    assert read.returncode == 0, read.stderr
    frames = read.stdout.strip().splitlines()
    assert len(frames) == 6 and all(f"> {L.WRONG_MAC}" in f for f in frames)
    if shutil.which("tshark"):  # what Wireshark users see: the drop's reason and place in each packet's comment
        fields = subprocess.run(["tshark", "-r", str(pcap), "-T", "fields", "-e", "eth.dst", "-e", "frame.comment"],
                                capture_output=True, text=True)
        assert fields.returncode == 0, fields.stderr
        rows = [line.split("\t") for line in fields.stdout.strip().splitlines()]
        assert len(rows) == 6, fields.stdout
        for dst, comment in rows:
            assert dst == L.WRONG_MAC and "OTHERHOST" in comment and L.RX_IF in comment, comment


@needs_reasons
def test_text_lines(lab, background):
    bg = background("watch", "--count", "2", "--netns", L.RX_NS)
    bg.wait_ready()
    lab.send(2, "closed-port")
    rc, out, err = bg.finish()
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 2 and all("NO_SOCKET" in line and len(line) <= 80 for line in lines)
    assert "2 printed" in err


def test_filter_that_excludes_yields_nothing(lab, background):
    bg = background("watch", "--json", "--duration", "1", "--port", "1234")
    bg.wait_ready()
    lab.send(5, "wrong-mac")
    rc, out, err = bg.finish()
    assert rc == 0, err
    recs = records(out)
    assert [r for r in recs if r["type"] == "drop"] == []
    assert recs[-1]["counted"] == 0  # filtered in the kernel: not even counted


def test_bad_reason_is_a_usage_error():
    r = netdrop("watch", "--reason", "NO_SUCH_REASON", "--duration", "1")
    assert r.returncode == 2 and r.stderr.startswith("error: this kernel has no drop reason")


@needs_fast_flood
def test_flood_accounting_is_exact(lab, background):
    bg = background("watch", "--json", "--duration", "4", "--budget", "20000", "--iface", L.RX_IF,
                    "--netns", L.RX_NS)
    bg.wait_ready()
    flood = subprocess.run([sys.executable, "-m", "netdrop", "lab", "flood", "--seconds", "2"], capture_output=True,
                           text=True)
    assert flood.returncode == 0, flood.stderr
    rc, out, err = bg.finish()
    assert rc == 0, err
    recs = records(out)
    s = recs[-1]
    drops = sum(1 for r in recs if r["type"] == "drop")
    assert s["printed"] == drops
    assert s["printed"] + s["lost"] + s["sampled"] + s["filtered"] + s["not_printed"] == s["counted"]
    assert s["counted"] > 100_000 and s["sampled"] > 0  # the budget really cut the stream
