"""The status rules written once: expected holder, successor, a VIP's holder verdict."""

from __future__ import annotations

from swarmvip.status.model import Member, VipStatus
from swarmvip.status.rules import HolderVerdict, best_candidate, expected_holder, holder_verdict

A = Member("a", "id-a", 150, 150, "MASTER")
B = Member("b", "id-b", 100, 160, "BACKUP")  # a check raised nothing; effective wins
C = Member("c", "id-c", 200, None, "FAULT")  # not healthy: never a candidate


def _vip(holders: tuple[str, ...], expected: str | None, preemption: str) -> VipStatus:
    return VipStatus(
        "s", "web", ("10.0.0.10/24",), 10, preemption, (A, B, C), holders, expected, None, None
    )


def test_best_candidate_is_the_healthy_member_with_the_highest_effective_priority() -> None:
    assert best_candidate((A, B, C)) == B
    assert best_candidate((A, B, C), leaving="b") == A
    assert best_candidate((C,)) is None


def test_expected_holder_is_the_best_when_preferred_and_the_holder_when_sticky() -> None:
    assert expected_holder("preferred", (A, B, C), ("a",)) == "b"
    assert expected_holder("sticky", (A, B, C), ("a",)) == "a"
    assert expected_holder("sticky", (A, B, C), ("c",)) == "b"  # an unhealthy holder
    assert expected_holder("sticky", (A, B, C), ("a", "b")) == "b"


def test_holder_verdict() -> None:
    assert holder_verdict(_vip(("a", "b"), "b", "preferred")) == HolderVerdict.SPLIT_BRAIN
    assert holder_verdict(_vip((), "b", "preferred")) == HolderVerdict.NO_HOLDER
    assert holder_verdict(_vip(("a",), "b", "preferred")) == HolderVerdict.UNEXPECTED
    assert holder_verdict(_vip(("a",), "b", "sticky")) == HolderVerdict.OK
    assert holder_verdict(_vip(("b",), "b", "preferred")) == HolderVerdict.OK
    assert holder_verdict(_vip(("a",), None, "preferred")) == HolderVerdict.OK
