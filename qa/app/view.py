"""What an answer shows, decided once for the chat and the terminal: they only format it.

An ``Answer`` (``qa.answer.decide``) becomes an ``AnswerView``: the line that leads, the
blocks under it (findings, possible answers, evidence or closest passages, each with its
passage), the heading above them and a note when the confidence is not calibrated. The
chat renders it as HTML (``qa.app.render``), ``qa ask`` as text (``qa.app.cli``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.types import Answer, Citation, Finding

UNCALIBRATED = ("Confidence not calibrated: this reader has no calibration, so the numbers are its own "
                "scores, not how often such answers are right. To calibrate it: qa train-calibrator --reader {reader}")
POSSIBLE_HEADING = "Possible answers, low confidence (below {cutoff:.2f}, the confidence an answer needs):"
CLOSEST_HEADING = "Closest passages:"
DENIAL = "Says it did not happen"
BEARS = "Bears on the question"


@dataclass
class Block:
    """One passage shown under the answer, with the spans of it that are shown."""

    kind: str  # "finding" | "possible" | "evidence" | "closest"
    citation: Citation
    findings: list[Finding] = field(default_factory=list)  # the spans marked in it, most confident first

    @property
    def label(self) -> str:
        if self.kind == "evidence":
            return DENIAL if self.findings[0].denies else BEARS
        return ""


@dataclass
class AnswerView:
    asked_as: str | None  # the question answered, when it is not the one typed (a rewritten follow-up)
    follows: str | None  # the earlier question a follow-up kept as typed was read with
    answer: Finding | None  # one finding: shown as the answer itself, its passage below
    lead: str  # otherwise the line that leads: a heading of findings, the evidence note or the refusal
    refused: bool
    heading: str  # above the blocks (possible answers, closest passages), or ""
    blocks: list[Block]
    listed: bool  # the blocks are a numbered list (several findings, evidence)
    note: str  # the uncalibrated-confidence note, or ""


def view(answer: Answer, asked: str | None = None, follows: str | None = None, reader: str = "PATH") -> AnswerView:
    """The view of ``answer``; ``asked``: the question as typed; ``reader``: named in the uncalibrated note."""
    resolved = " ".join((answer.resolved_question or "").split())
    typed = " ".join((asked if asked is not None else answer.question or "").split())
    asked_as = resolved if resolved and resolved != typed else None
    note = UNCALIBRATED.format(reader=reader) if not answer.calibrated and answer.kind != "evidence" else ""
    base = dict(asked_as=asked_as, follows=None if asked_as else follows, note=note)
    if answer.answered and answer.kind == "evidence":
        blocks = [Block("evidence", f.citation, [f]) for f in answer.findings]
        return AnswerView(answer=None, lead=answer.message, refused=False, heading="", blocks=blocks, listed=True,
                          **base)
    if answer.answered:
        findings = answer.findings or [Finding(answer.text, answer.score, c) for c in answer.citations[:1]]
        blocks = [Block("finding", group[0].citation, group) for group in passage_groups(findings)]
        if len(findings) == 1:
            return AnswerView(answer=findings[0], lead="", refused=False, heading="", blocks=blocks,
                              listed=False, **base)
        lead = (f"The articles say ({len(blocks)} findings, most confident first):" if len(blocks) == len(findings)
                else f"The articles say, in {len(blocks)} passages, most confident first:")
        return AnswerView(answer=None, lead=lead, refused=False, heading="", blocks=blocks, listed=True, **base)
    if answer.possible:
        blocks = [Block("possible", f.citation, [f]) for f in answer.possible]
        heading = POSSIBLE_HEADING.format(cutoff=answer.cutoff if answer.cutoff is not None else 0.5)
    else:
        blocks = [Block("closest", c) for c in answer.citations]
        heading = CLOSEST_HEADING if blocks else ""
    return AnswerView(answer=None, lead=answer.message or "The articles do not answer this question.", refused=True,
                      heading=heading, blocks=blocks, listed=bool(answer.possible), **base)


def passage_groups(findings: list[Finding]) -> list[list[Finding]]:
    """Findings in the order given, neighbours quoting the same passage together (the order is kept:
    grouping never lifts a less confident finding above a more confident one)."""
    groups: list[list[Finding]] = []
    for f in findings:
        if groups and _same_passage(groups[-1][0].citation, f.citation):
            groups[-1].append(f)
        else:
            groups.append([f])
    return groups


def _same_passage(a: Citation, b: Citation) -> bool:
    return (a.article_id, a.passage_start, a.passage) == (b.article_id, b.passage_start, b.passage)
