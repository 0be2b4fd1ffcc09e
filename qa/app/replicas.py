"""Answering on Ray Serve replicas: `qa serve --replicas N` (docs/serving.md).

The chat process stays the front end: it serves the page at the usual address, writes the index
(uploads and re-indexing: still the one writer) and hands each question to one of N replicas of
``AnswerReplica``, each a whole answering ``Pipeline`` in its own process, on this machine or on
a Ray cluster. The replicas read the same index folder and check its CURRENT before every
question, so a version written by the chat, or by `qa index` anywhere, reaches every replica on
its next question. A replica that dies is replaced by Ray Serve; the question it held is asked
once more, and if that fails too the chat gets ``ReplicaUnavailable``, never a hang.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qa.answer.followups.conversation import Conversation
from qa.answer.pipeline import Pipeline, clean_question
from qa.util.extras import require

if TYPE_CHECKING:
    from qa.app.serving import ServingPlan
    from qa.config import Settings
    from qa.types import Answer, Filters

log = logging.getLogger(__name__)

APP = "qa"  # the Ray Serve application
DEPLOYMENT = "AnswerReplica"
TRIES = 2  # a question a dying replica held is asked once more
_PASSED_ENV = ("QA_", "HF_", "XDG_DATA_HOME")  # what a replica on another node needs of this environment


class ReplicaUnavailable(RuntimeError):
    """No replica answered: both tries met a dying replica, or the answer took too long."""


@dataclass
class Outcome:
    """What a replica sends back: the answer and the conversation it extended, or the message of
    a question it refused (``clean_question``'s ValueError), raised again in the chat; and which
    replica process answered."""

    answer: Answer | None
    conversation: Conversation | None
    refused: str = ""
    pid: int = 0


class AnswerReplica:
    """One answering process: a ``Pipeline`` with its models loaded once, shared by its questions."""

    def __init__(self, settings: Settings, threads: int) -> None:
        self.pipeline = Pipeline(settings, threads=threads)
        self.pipeline.warm_up()

    def ask(self, question: str, k: int | None, filters: Filters | None,
            conversation: Conversation | None) -> Outcome:
        try:
            answer = self.pipeline.ask(question, k=k, filters=filters, conversation=conversation)
        except ValueError as exc:  # a question with nothing to search for: the user is told why
            return Outcome(None, conversation, str(exc), os.getpid())
        return Outcome(answer, conversation, pid=os.getpid())

    def pid(self) -> int:
        """This replica's process id (the tests kill one)."""
        return os.getpid()


class ReplicatedPipeline(Pipeline):
    """The chat's pipeline when replicas answer: indexing and the page's description of the index
    here, ``ask`` on a replica. ``warm_up`` starts the replicas."""

    def __init__(self, settings: Settings, plan: ServingPlan) -> None:
        super().__init__(settings, threads=plan.threads)
        self.plan = plan
        self._handle: Any = None
        self._exceptions: tuple[type[BaseException], ...] = ()

    def warm_up(self) -> None:
        """Load the index here (for the page) and start the replicas, each loading its own models."""
        self.check_ready()
        _ = self.retriever
        if self._handle is None:
            self._handle = start_replicas(self.settings, self.plan)
            ray = require("ray", "qa serve --replicas")
            self._exceptions = (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError)

    def ask(self, question: str, k: int | None = None, filters: Filters | None = None,
            conversation: Conversation | None = None) -> Answer:
        """``Pipeline.ask`` on a replica; ``conversation`` comes back extended, as in one process."""
        question = clean_question(question)  # refused here, without a round trip
        outcome = self.ask_replica(question, k, filters, conversation)
        if outcome.refused:
            raise ValueError(outcome.refused)
        if conversation is not None and outcome.conversation is not None:
            vars(conversation).update(vars(outcome.conversation))
        assert outcome.answer is not None
        return outcome.answer

    def ask_replica(self, question: str, k: int | None = None, filters: Filters | None = None,
                    conversation: Conversation | None = None) -> Outcome:
        """One question on one replica, asked once more if that replica dies meanwhile."""
        if self._handle is None:
            self.warm_up()
        timeout = self.settings.answer_timeout
        for attempt in range(1, TRIES + 1):
            response = self._handle.ask.remote(question, k, filters, conversation)
            try:
                return response.result(timeout_s=timeout)
            except TimeoutError:
                response.cancel()
                raise ReplicaUnavailable(f"no replica answered within {timeout:g} s (QA_ANSWER_TIMEOUT)") from None
            except self._exceptions as exc:
                if attempt == TRIES:
                    raise ReplicaUnavailable(f"the replicas failed {TRIES} times in a row ({type(exc).__name__}); "
                                             "try again in a moment") from None
                log.warning("a replica died while answering (%s): asking another", type(exc).__name__)
        raise AssertionError("unreachable")

    def replica_pids(self) -> list[int]:
        """Process ids of the live replicas, from Ray's actor table (for tests and the kill drill in
        docs/serving.md; ``ray.util.state`` would need Ray's dashboard, which is not started)."""
        from ray._private.state import actors

        return sorted(a["Pid"] for a in actors().values()
                      if a.get("State") == "ALIVE" and f":{APP}:{DEPLOYMENT}" in (a.get("ActorClassName") or ""))

    def close(self) -> None:
        """Stop the replicas (and a private local Ray)."""
        if self._handle is None:
            return
        self._handle = None
        stop_replicas(self.settings)


def start_replicas(settings: Settings, plan: ServingPlan) -> Any:
    """Deploy ``plan.replicas`` replicas and wait until each has loaded its models; their handle."""
    ray = require("ray", "qa serve --replicas")
    serve = require("ray.serve", "qa serve --replicas")
    if not ray.is_initialized():
        if settings.ray_address:
            ray.init(address=settings.ray_address, log_to_driver=False)
        else:  # a private local Ray sized so that every replica gets its share of the cores
            ray.init(num_cpus=plan.replicas * plan.questions * plan.threads, include_dashboard=False,
                     log_to_driver=False)
    serve.start(proxy_location="Disabled")  # the chat is the front end: no Serve HTTP proxy
    env = {k: v for k, v in os.environ.items() if k.startswith(_PASSED_ENV)}
    deployment = serve.deployment(
        AnswerReplica, name=DEPLOYMENT, num_replicas=plan.replicas, max_ongoing_requests=plan.questions,
        ray_actor_options={"num_cpus": plan.questions * plan.threads, "runtime_env": {"env_vars": env}},
        health_check_period_s=2, health_check_timeout_s=30, graceful_shutdown_timeout_s=5,
    )
    log.info("starting %d answering replicas (%d question(s) x %d thread(s) each)", plan.replicas,
             plan.questions, plan.threads)
    return serve.run(deployment.bind(settings, plan.threads), name=APP, route_prefix=None)


def stop_replicas(settings: Settings) -> None:
    ray = require("ray", "qa serve --replicas")
    serve = require("ray.serve", "qa serve --replicas")
    serve.delete(APP)
    if not settings.ray_address:
        serve.shutdown()
        ray.shutdown()
