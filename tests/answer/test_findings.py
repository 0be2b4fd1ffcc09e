"""Which reader spans become findings, and in what order (no model: hand-made spans)."""

from qa.answer.decode import SpanCandidate
from qa.answer.findings import FindingRules, locate, order, select
from qa.types import Chunk, Passage

QUESTION = "What did Pakistan agree to?"
A_TEXT = ("Pakistan agreed to a joint strategy against attacks. It also agreed to share intelligence with "
          "China. But Pakistan had not agreed to foreign troops. Officials met in Islamabad on Monday.")
B_TEXT = "Pakistan agreed to buy two new frigates. The deal was signed in Karachi."
C_TEXT = "Pakistan agreed to extend the ceasefire. Talks will resume next week."


def passage(aid: str, text: str, date: str | None) -> Passage:
    return Passage(chunk=Chunk(f"{aid}:0", aid, 0, text, 0, len(text)), title=f"Title {aid}", date=date,
                   source=f"/corpus/{aid}.txt")


PASSAGES = [passage("A", A_TEXT, "2024-11-13"), passage("B", B_TEXT, "2024-12-01"), passage("C", C_TEXT, None)]


def span(p: int, words: str, margin: float) -> SpanCandidate:
    text = PASSAGES[p].chunk.text
    a = text.index(words)
    return SpanCandidate(p, a, a + len(words), margin, 0.0)  # null score 0: score is the margin


def texts(cands, threshold=0.0, rules=FindingRules(), prefer=None, passages=PASSAGES):
    spans = locate(passages, sorted(cands, key=lambda c: -c.score), 0.0)
    sel = select(spans, passages, QUESTION, threshold, rules, prefer)
    return [passages[s.passage].chunk.text[s.candidate.start : s.candidate.end] for s in sel.findings], sel


def test_denials_are_dropped_and_one_finding_per_sentence():
    found, sel = texts([
        span(0, "foreign troops", 5.0),  # denied: "had not agreed to foreign troops"
        span(0, "a joint strategy against attacks", 4.0),
        span(0, "joint strategy", 3.9),  # same sentence as a better span
        span(0, "share intelligence with China", 3.5),
    ])
    assert found == ["a joint strategy against attacks", "share intelligence with China"]
    assert [PASSAGES[0].chunk.text[s.candidate.start : s.candidate.end] for s in sel.denied] == ["foreign troops"]


def test_secondary_findings_may_be_close_below_threshold_but_noise_far_below_is_not():
    found, _ = texts([span(0, "a joint strategy against attacks", 1.0), span(0, "share intelligence", -0.5)])
    assert found == ["a joint strategy against attacks", "share intelligence"]  # within 2 logits of the best
    found, sel = texts([span(0, "a joint strategy against attacks", 9.0), span(0, "share intelligence", 4.0)])
    assert found == ["a joint strategy against attacks"]  # same article, 5 logits below: noise
    assert len(sel.others) == 1


def test_a_confident_span_in_another_article_is_a_finding():
    found, _ = texts([span(0, "a joint strategy against attacks", 9.0), span(1, "buy two new frigates", 4.0)])
    assert found == ["a joint strategy against attacks", "buy two new frigates"]


def test_no_finding_unless_the_best_clears_the_threshold():
    found, sel = texts([span(0, "foreign troops", 5.0), span(0, "share intelligence", -1.0)], threshold=0.0)
    assert found == [] and len(sel.denied) == 1 and len(sel.others) == 1


def test_grouped_by_article_best_article_first_then_newest_first():
    found, sel = texts([
        span(2, "extend the ceasefire", 6.0),  # undated article C holds the best finding: first
        span(0, "a joint strategy against attacks", 5.9),  # A, 2024-11-13
        span(1, "buy two new frigates", 5.8),  # B, 2024-12-01: newer than A, so before it
        span(0, "share intelligence with China", 5.7),  # stays with A, after A's better finding
    ])
    assert found == ["extend the ceasefire", "buy two new frigates", "a joint strategy against attacks",
                     "share intelligence with China"]
    assert [s.article_id for s in sel.findings] == ["C", "B", "A", "A"]


def test_cap_and_tie_preference():
    many = [span(0, "a joint strategy against attacks", 5.0), span(0, "share intelligence with China", 4.9),
            span(0, "Islamabad", 4.8), span(1, "buy two new frigates", 4.7), span(1, "Karachi", 4.6),
            span(2, "extend the ceasefire", 4.5)]
    found, _ = texts(many, rules=FindingRules(max_findings=3))
    assert len(found) == 3
    tie = [span(0, "a joint strategy against attacks", 5.0), span(1, "buy two new frigates", 5.0)]
    assert texts(tie, prefer="B")[0][0] == "buy two new frigates"
    assert texts(tie, prefer="A")[0][0] == "a joint strategy against attacks"


def test_order_of_nothing_is_nothing():
    assert order([], PASSAGES) == []


def test_an_article_about_something_else_contributes_no_finding():
    """Issue #21: "When will the Greyfield library close?" took "January" from a bridge article too."""
    lib = "The Greyfield library will close on 12 May for repairs."
    bridge = "The Mill Lane bridge has been closed to lorries since January."
    ps = [passage("L", lib, "2024-04-29"), passage("M", bridge, "2024-04-22")]

    def cand(p: int, words: str, margin: float) -> SpanCandidate:
        a = ps[p].chunk.text.index(words)
        return SpanCandidate(p, a, a + len(words), margin, 0.0)

    spans = locate(ps, [cand(0, "12 May", 9.0), cand(1, "January", 8.5)], 0.0)
    q = "When will the Greyfield library close?"
    sel = select(spans, ps, q, 0.0)
    assert [ps[s.passage].chunk.article_id for s in sel.findings] == ["L"]
    off = select(spans, ps, q, 0.0, FindingRules(same_topic=False))
    assert [ps[s.passage].chunk.article_id for s in off.findings] == ["L", "M"]  # the rule is what drops it
    # An article that is about the same thing still contributes: both mention the Greyfield library.
    ps[1] = passage("M", "The Greyfield library was last closed in January, for a week.", "2024-01-10")
    spans = locate(ps, [cand(0, "12 May", 9.0), cand(1, "January", 8.5)], 0.0)
    assert [ps[s.passage].chunk.article_id for s in select(spans, ps, q, 0.0).findings] == ["L", "M"]


def test_further_findings_need_the_further_confidence_but_the_first_only_the_cut_off():
    """Rule 5: with a calibrator, every finding clears its cut-off; those after the first also the further bar."""
    from types import SimpleNamespace

    from qa.answer.decide import apply_confidence

    _, sel = texts([span(0, "a joint strategy against attacks", 5.0), span(0, "share intelligence with China", 4.5),
                    span(1, "buy two new frigates", 4.0)])
    assert len(sel.findings) == 3
    first, second, third = sel.findings
    shown = {id(first): 0.06, id(second): 0.08, id(third): 0.3}  # the confidence the calibrator gives each
    calibrator = SimpleNamespace(cutoff=0.05, probability=lambda x: [x[0]])
    result = SimpleNamespace(calibrator=calibrator)
    conf = apply_confidence(sel, result, lambda s: [shown[id(s)]], further=0.10)
    assert sel.findings == [first, third]  # the first needs only the cut-off; 0.08 < 0.10 is dropped
    assert second in sel.others and conf(second) == 0.08
    _, sel = texts([span(0, "a joint strategy against attacks", 5.0), span(0, "share intelligence with China", 4.5)])
    apply_confidence(sel, result, lambda s: [0.04], further=0.0)
    assert sel.findings == [] and len(sel.others) == 2  # below the cut-off nothing is shown
