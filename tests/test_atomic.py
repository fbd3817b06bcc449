"""phdl.atomic.atomic_path: a file is replaced whole or not at all."""

import pytest

from phdl.atomic import atomic_path


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_success_renames_the_temporary_file(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"  # not replaced before the block ends
    assert target.read_text() == "new"
    assert _leftovers(tmp_path) == []


def test_success_creates_a_missing_file(tmp_path):
    with atomic_path(tmp_path / "fresh.bin") as tmp:
        tmp.write_bytes(b"\x00\x01")
    assert (tmp_path / "fresh.bin").read_bytes() == b"\x00\x01"


def test_exception_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="killed"), atomic_path(target) as tmp:
        tmp.write_text("half-written")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_interrupt_before_anything_is_written_leaves_nothing(tmp_path):
    target = tmp_path / "never.txt"
    with pytest.raises(KeyboardInterrupt), atomic_path(target):
        raise KeyboardInterrupt
    assert not target.exists() and list(tmp_path.iterdir()) == []
