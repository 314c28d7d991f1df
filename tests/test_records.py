"""The sample store: torn lines never read as results and cut off before the next append; records
grouped by problem."""

from pruneeval.records import RecordStore, SampleRecord, by_problem


def rec(pid, idx=0):
    return SampleRecord(pid, idx, "gsm8k", [{"role": "user", "content": "q"}], "out \\boxed{1}", 5, "stop", 0.5,
                        "1", True, None, "1")


def test_roundtrip_and_dedup(tmp_path):
    store = RecordStore(tmp_path / "s.jsonl")
    store.append([rec("a"), rec("b")])
    store.append([rec("a")])  # a duplicate key is ignored on load
    assert [r.key for r in store.load()] == [("a", 0), ("b", 0)]
    assert store.load()[0] == rec("a")


def test_torn_last_line_is_skipped_then_cut(tmp_path):
    store = RecordStore(tmp_path / "s.jsonl")
    store.append([rec("a"), rec("b")])
    data = store.path.read_bytes()
    store.path.write_bytes(data[: len(data) - 20])  # killed while writing the second line
    assert [r.key for r in store.load()] == [("a", 0)]
    store.append([rec("c")])
    assert [r.key for r in store.load()] == [("a", 0), ("c", 0)]
    assert all(line.startswith(b"{") for line in store.path.read_bytes().splitlines())


def test_missing_file_is_empty(tmp_path):
    assert RecordStore(tmp_path / "none.jsonl").load() == []


def test_by_problem_keeps_first_seen_order_and_every_record_once():
    records = [rec("b", 0), rec("a", 2), rec("b", 1), rec("c", 0), rec("a", 0), rec("b", 2)]
    groups = by_problem(records)
    assert list(groups) == ["b", "a", "c"]  # problems in the order their first record comes
    assert {p: [r.sample_idx for r in rs] for p, rs in groups.items()} == {"b": [0, 1, 2], "a": [2, 0], "c": [0]}
    assert sorted(id(r) for rs in groups.values() for r in rs) == sorted(map(id, records))  # each record, once
    assert list(by_problem(records, key=lambda r: r.sample_idx)) == [0, 2, 1]
    assert by_problem([]) == {}
