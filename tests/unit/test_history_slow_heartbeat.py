"""Holder history with a slow heartbeat (10 s): a holder that dies without a word leaves the
history when its own lines say so, a holder that lives on (split brain) stays."""

from __future__ import annotations

from swarmvip.status.history import transitions
from swarmvip.wire.report import InstanceReport, Report

BEAT = 10.0


def _report(host: str, ts: float, holds: bool, seq: int) -> Report:
    inst = InstanceReport(
        "web",
        51,
        150,
        "MASTER" if holds else "BACKUP",
        ("10.0.0.100/24",),
        ("10.0.0.100/24",) if holds else (),
        holds,
    )
    return Report("state", ts, seq, "s", host, f"id-{host}", "eth0", "running", (inst,), None, BEAT)


def _beats(host: str, start: float, end: float, holds: bool, seq: int = 1) -> list[Report]:
    return [
        _report(host, start + i * BEAT, holds, seq + i)
        for i in range(int((end - start) / BEAT) + 1)
    ]


def _holders(reports: list[Report]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    return [(t.before, t.after) for t in transitions(reports).get(("s", "web"), [])]


def test_a_holder_that_died_without_a_word_is_replaced_not_joined() -> None:
    # a holds and beats every 10 s until 100, then dies; b takes over 4 s later (VRRP)
    reports = _beats("a", 0, 100, True) + _beats("b", 0, 100, False)
    reports += [_report("b", 104, True, 20), *_beats("b", 114, 200, True, 21)]
    assert _holders(reports)[-1] == (("a",), ("b",))
    last = transitions(reports)[("s", "web")][-1]
    assert last.gap is None  # the dead holder's gap is not observable


def test_a_holder_restarted_by_swarm_counts_as_gone() -> None:
    reports = _beats("a", 0, 100, True) + _beats("b", 0, 100, False)
    reports += [_report("b", 104, True, 20), _report("a", 106, False, 1)]  # a new agent process
    assert _holders(reports)[-1] == (("a",), ("b",))


def test_a_holder_that_lives_on_is_a_real_overlap() -> None:
    # a partition: a keeps the VIP and keeps beating; b takes it too
    reports = _beats("a", 0, 200, True) + _beats("b", 0, 100, False)
    reports += [_report("b", 104, True, 20), *_beats("b", 114, 200, True, 21)]
    assert _holders(reports)[-1] == (("a",), ("a", "b"))


def test_just_after_a_takeover_the_old_holder_is_not_written_off_yet() -> None:
    reports = _beats("a", 0, 100, True) + _beats("b", 0, 100, False)
    reports.append(_report("b", 104, True, 20))  # the newest line: a may still speak
    assert _holders(reports)[-1] == (("a",), ("a", "b"))
