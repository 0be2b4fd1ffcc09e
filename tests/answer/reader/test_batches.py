"""Cutting a question's windows into batches: little padding, few calls, every window once."""

import pytest

from qa.answer.reader.read import plan_batches


def cost(lengths, plan, call_cost):
    return sum((b - a) * max(lengths[a:b]) + call_cost for a, b in plan)


@pytest.mark.parametrize("lengths", [[120, 150, 170, 180, 190], [200] * 7, [12, 13, 250, 251], list(range(1, 90, 7))])
@pytest.mark.parametrize("max_rows", [1, 2, 32])
def test_plan_covers_every_window_in_order_within_the_row_limit(lengths, max_rows):
    plan = plan_batches(lengths, max_rows)
    assert [i for a, b in plan for i in range(a, b)] == list(range(len(lengths)))
    assert all(0 < b - a <= max_rows for a, b in plan)


def test_plan_is_the_cheapest_cut():
    """Against every way of cutting a short sorted list."""
    from itertools import combinations

    lengths = [40, 41, 90, 95, 180, 181]
    best = min(
        cost(lengths, list(zip((0, *cuts), (*cuts, len(lengths)))), 24)
        for r in range(len(lengths))
        for cuts in combinations(range(1, len(lengths)), r)
    )
    assert cost(lengths, plan_batches(lengths, 32, 24), 24) == best


def test_equal_lengths_share_one_call_and_very_different_ones_do_not():
    assert plan_batches([160] * 5, 32) == [(0, 5)]
    assert len(plan_batches([20, 20, 250, 250], 32)) == 2


def test_no_windows_no_batches():
    assert plan_batches([], 32) == []
