"""Memory per request is bounded by the budget before compute (issue 10: with default
settings, the worst accepted request of any kind raises a server's RSS by at most
512 MiB). Each kind's largest accepted request, from bench.memory (one definition for
the benchmark and the test), against a fresh real server; RSS from /proc."""

from __future__ import annotations

import pytest

from bench.memory import KINDS, measure

LIMIT_MIB = 512


@pytest.mark.slow  # a fresh server and a limit-sized request per kind
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_largest_accepted_request_of_each_kind_stays_within_512_mib(kind: str) -> None:
    result = measure(kind)
    assert result["status"] == 200, result  # accepted: the limits allow it
    assert result["growth_mib"] <= LIMIT_MIB, result
