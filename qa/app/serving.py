"""How the chat answers many users: questions in flight at once, and model threads for each.

A question is mostly two ONNX Runtime models run on a few short inputs, which one thread runs
as fast as two (docs/serving.md). So the cores are better spent on several questions at
once, each with its models on ``cores / questions`` threads, than on one question using every
core: two one-thread questions on 2 cores answer ~1.8x as many questions per second as one
two-thread question (docs/serving.md). The models are loaded once and shared by all questions
(ONNX Runtime sessions are safe to run from several threads); uploads and re-indexing keep their
single writer, one at a time, on their own Gradio slot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings

WRITER_SLOT = "pipeline"  # uploads and re-indexing: one at a time (and, with QA_CONCURRENCY=1, questions too)
ANSWER_SLOT = "answer"


def cores() -> int:
    """CPU cores this process may run on (its affinity, which a container or taskset narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ServingPlan:
    """Who answers and how: ``questions`` in flight at once in each answering process (the chat, or
    each of ``replicas``), each model on ``threads`` ONNX Runtime threads."""

    questions: int
    threads: int
    replicas: int = 0
    one_at_a_time: bool = False  # QA_CONCURRENCY=1: questions share the writer's slot, as before

    @property
    def in_flight(self) -> int:
        """Questions the chat hands on at once: to its own pipeline, or two per replica slot so that
        a replica that finishes one finds the next already waiting."""
        return self.questions * (2 * self.replicas if self.replicas else 1)


def plan(settings: Settings, available: int | None = None) -> ServingPlan:
    """The plan for ``settings`` on ``available`` cores (default: this process's). Replicas on a
    private local Ray share this machine's cores; on a cluster each replica is one question on one
    core unless QA_CONCURRENCY and QA_MODEL_THREADS say otherwise (docs/serving.md)."""
    n = available or cores()
    share = n
    if settings.replicas:
        share = 1 if settings.ray_address else max(1, n // settings.replicas)
    questions = settings.concurrency or (1 if settings.replicas else share)
    threads = settings.model_threads or max(1, share // questions)
    return ServingPlan(questions, threads, settings.replicas, one_at_a_time=settings.concurrency == 1
                       and not settings.replicas)


def answer_slots(settings: Settings) -> dict:
    """The Gradio event options of the ask handler: its own slot of ``in_flight`` questions, or
    with QA_CONCURRENCY=1 the one slot it shares with uploads and re-indexing."""
    p = plan(settings)
    if p.one_at_a_time:
        return {"concurrency_id": WRITER_SLOT, "concurrency_limit": 1}
    return {"concurrency_id": ANSWER_SLOT, "concurrency_limit": p.in_flight}


def answering_pipeline(settings: Settings) -> Pipeline:
    """The pipeline the chat answers with: in this process, or handing questions to replicas."""
    p = plan(settings)
    if p.replicas:
        from qa.app.replicas import ReplicatedPipeline

        return ReplicatedPipeline(settings, p)
    from qa.answer.pipeline import Pipeline

    return Pipeline(settings, threads=p.threads)
