"""Append-only journals: whole records back in order, whatever a kill cut short."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from photoclip.core.journal import append_record, records

RECORD = st.dictionaries(
    st.text(max_size=8), st.one_of(st.integers(), st.text(max_size=20), st.none()), max_size=4
)


def test_an_absent_journal_has_no_records(tmp_path: Path) -> None:
    assert list(records(tmp_path / "none.log")) == []


@settings(max_examples=60, deadline=None)
@given(
    before=st.lists(RECORD, max_size=5),
    cut=st.integers(min_value=1),
    torn=RECORD,
    after=st.lists(RECORD, max_size=5),
)
def test_a_record_cut_short_is_skipped_and_every_whole_one_is_kept(
    before: list[dict], cut: int, torn: dict, after: list[dict]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "steps.log"
        for record in before:
            append_record(path, record)
        append_record(path, torn)
        whole = path.read_bytes()
        last = whole.rindex(b"\n")
        length = last + 1 + cut % (len(whole) - last - 1)  # the kill came mid-record
        path.write_bytes(whole[:length])
        for record in after:  # the next process goes on appending
            append_record(path, record)
        assert list(records(path)) == before + after
