"""The compile cache's file handling: keyed by what the bytes depend on, safe when corrupt or stale."""
import json
import os

from netdrop.bpf import cache


def _insns(fd: int) -> bytes:
    # ld_imm64 r1, map fd (2 slots), r0 = 0, exit
    return (bytes([0x18, 0x11, 0, 0]) + fd.to_bytes(4, "little") + bytes(8)
            + bytes([0xB7, 0, 0, 0, 0, 0, 0, 0]) + bytes([0x95, 0, 0, 0, 0, 0, 0, 0]))


def test_map_references_are_found_and_patched():
    raw = _insns(7)
    assert cache.map_fds(raw) == [(0, 7)]
    assert cache.map_fds(cache.patched(raw, [(0, 0)], [42])) == [(0, 42)]


def test_round_trip_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("NETDROP_CACHE_DIR", str(tmp_path))
    src = tmp_path / "p.c"
    src.write_text("int x;")
    k = cache.key([str(src)], ["-DA=1"])
    assert k != cache.key([str(src)], ["-DA=2"])  # flags (offsets, filters) are part of the key
    c = cache.Compiled(_insns(3), [{"name": "counts", "mtype": 5, "key_size": 48, "value_size": 8,
                                    "max_entries": 16, "flags": 0}], [(0, 0)])
    assert cache.load(k) is None
    cache.store(k, c)
    assert cache.load(k) == c
    src.write_text("int y;")  # another source: another key, the old entry is never used for it
    assert cache.load(cache.key([str(src)], ["-DA=1"])) is None


def test_corrupt_or_foreign_entries_mean_a_compile(tmp_path, monkeypatch):
    monkeypatch.setenv("NETDROP_CACHE_DIR", str(tmp_path))
    k = "a" * 64
    path = tmp_path / (k + ".json")
    for text in ("not json", json.dumps({"format": cache.FORMAT, "key": "b" * 64, "insns": "", "maps": [],
                                          "relocs": []}),
                 json.dumps({"format": cache.FORMAT, "key": k, "insns": _insns(1).hex(), "maps": [],
                             "relocs": [[0, 3]]})):
        path.write_text(text)
        assert cache.load(k) is None


def test_off_and_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv("NETDROP_CACHE_DIR", "off")
    assert cache.cache_dir() is None and cache.load("x") is None
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o500)
    monkeypatch.setenv("NETDROP_CACHE_DIR", str(ro / "sub"))
    cache.store("k", cache.Compiled(_insns(1), [], []))  # never raises (as root this may even succeed)
