"""Concurrent clients on the running chat (gradio_client over 127.0.0.1): every question answered, no errors.

5 clients x 2 questions by default; QA_HEAVY_TESTS=1 runs 50 clients x 3 questions
(the same as `python bench/chat_load.py --clients 50 --questions 3`).
"""

import os
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))
from bench.chat_load import chat_server, run_load  # noqa: E402

HEAVY = os.environ.get("QA_HEAVY_TESTS") == "1"


@pytest.mark.slow
def test_concurrent_clients_all_get_answers(reader_path):
    clients, questions = (50, 3) if HEAVY else (5, 2)
    with chat_server() as url:
        result = run_load(url, clients, questions)
    print(result)
    assert result["errors"] == 0, result["error_samples"]
    assert result["replies"] == clients * questions
    assert result["replies_without_error_message"] == clients * questions


@pytest.mark.slow
def test_a_full_queue_says_so_instead_of_piling_up(reader_path):
    with chat_server(queue_size=1) as url:
        result = run_load(url, 8, 1)
    # Some clients are turned away at once with Gradio's "queue is full" message; none hangs.
    assert result["errors"] > 0 and all("full" in e.lower() for e in result["error_samples"]), result
    assert result["replies"] + result["errors"] == 8
