"""The BPF <-> Python contract: bpf/netdrop.h's records and enum, parsed from the header itself, against the
named descriptions in netdrop/bpf/layout.py (names, C types, array lengths, offsets, sizes)."""
import os
import re
import struct

from netdrop.bpf import layout

from ..conftest import ROOT


def _header():
    with open(os.path.join(ROOT, "bpf", "netdrop.h")) as f:
        text = f.read()
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def parse_struct(text, name):
    body = re.search(r"struct %s \{(.*?)\};" % name, text, re.S).group(1)
    fields = []
    for decl in filter(None, (d.strip() for d in body.split(";"))):
        m = re.fullmatch(r"(struct \w+|\w+) (\w+)(?:\[(\w+)\])?", " ".join(decl.split()))
        assert m, decl
        ctype, fname, n = m.groups()
        fields.append((fname, ctype, int(n) if n and n.isdigit() else (n or 1)))
    return tuple(fields)


def test_records_match_the_header():
    text = _header()
    for name, fields in layout.RECORDS.items():
        parsed = parse_struct(text, name)
        if name == "drop_event":  # the frame follows the header: data[SNAPLEN]
            assert parsed[-1] == ("data", "u8", "SNAPLEN")
            parsed = parsed[:-1]
        parsed = tuple((f, t, layout.STAT_MAX if n == "STAT_MAX" else n) for f, t, n in parsed)
        assert parsed == fields, name


def test_formats_follow_the_descriptions():
    for name, fields in layout.RECORDS.items():
        fmt, offsets = layout.layout(fields)
        assert struct.calcsize(fmt) == getattr(layout, name.upper()).size
    _, key = layout.layout(layout.DROP_KEY_FIELDS)
    assert key["dst_mac"] == (14, 6) and key["location"] == (24, 8)  # C pads 4 bytes before the u64
    assert layout.DROP_KEY.size == 48 and layout.ND_STATE.size == 8 * 12 + layout.DROP_KEY.size


def test_stat_enum_matches():
    text = _header()
    body = re.search(r"enum nd_stat \{(.*?)\};", text, re.S).group(1)
    pairs = dict((n, int(v)) for n, v in re.findall(r"STAT_(\w+) = (\d+)", body))
    assert pairs.pop("MAX") == layout.STAT_MAX
    assert [n.lower() for n, _ in sorted(pairs.items(), key=lambda kv: kv[1])] == list(layout.STATS)
    assert sorted(pairs.values()) == list(range(len(layout.STATS)))


def test_protocol_numbers_match_the_header():
    from netdrop import protocols as P
    defines = {m.group(1): int(m.group(2), 0) for m in re.finditer(r"#define (ND_\w+) (0x[0-9A-Fa-f]+|\d+)",
                                                                     _header())}
    assert defines["ND_ETH_P_IP"] == P.ETH_P_IP and defines["ND_ETH_P_IPV6"] == P.ETH_P_IPV6
    assert (defines["ND_IPPROTO_TCP"], defines["ND_IPPROTO_UDP"], defines["ND_IPPROTO_SCTP"]) == P.WITH_PORTS
    from netdrop.model import PACKET_OTHERHOST
    assert defines["ND_PACKET_OTHERHOST"] == PACKET_OTHERHOST
