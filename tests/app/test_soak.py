"""Two minutes of mixed use of the running chat (bench/soak.py, which runs 30 by default): clients
asking, uploads, an outside `qa index`, page loads. No errors, every new article answerable at the
end, file descriptors flat and memory bounded after the warm-up. Modest load: 3 clients."""

import pytest

from helpers.soak import soak


@pytest.mark.slow
def test_two_minutes_of_mixed_use_leak_nothing(reader_path):
    result = soak(minutes=2, clients=3, upload_every=30, index_every=60, page_every=10, warmup=30, window=30)
    print({k: v for k, v in result.items() if k != "windows"})
    assert result["errors"] == 0, result["error_samples"]
    assert result["uploads"] >= 3 and result["outside_indexes"] >= 1 and result["page_loads"] >= 5
    assert result["all_answerable"], result["answerable"]
    use = result["usage"]
    assert use["end"]["fds"] <= use["after_warmup"]["fds"] + 10, use
    assert result["rss_growth_after_warmup"] <= 0.25, use
    assert all(w["questions"] for w in result["windows"]), result["windows"]  # nothing wedged
