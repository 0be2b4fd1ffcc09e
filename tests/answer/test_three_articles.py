"""A three-article library: a question about one article is answered from that article only.

The seed article, a library article and a bridge-repair article are indexed together. Without the
"an article must mention what the question is about" rule (``same_topic``), "When will the Greyfield
library close?" would also take "September" (1.00) from the bridge article, and "How many books
were damaged?" "two" (0.99, "two of its supports").
"""

from __future__ import annotations

import pytest

from conftest import corpus_copy

pytestmark = pytest.mark.slow  # indexes three articles and asks the shipped reader

LIBRARY = (
    "Greyfield library to close for repairs\n\n2024-04-29\n"
    "The Greyfield public library will close on 12 May for repairs after a burst pipe flooded its basement "
    "archive, the town council said on Monday. About 1,200 books were damaged by the water, and volunteers "
    "are drying the rarest of them in the council's offices. The council expects the library to reopen in "
    "the autumn, once the heating and the shelving have been replaced.\n"
)
BRIDGE = (
    "Repairs to begin on the Mill Lane bridge\n\n2024-04-22\n"
    "Engineers will begin repairs to the Mill Lane bridge in September, the county's highways department "
    "said. An inspection last winter found that two of its supports were damaged by floodwater, and the "
    "bridge has been closed to lorries since January. The work is expected to take four months and to cost "
    "about 2 million pounds; pedestrians will be able to cross throughout.\n"
)


@pytest.fixture(scope="module")
def three_articles(tmp_path_factory, reader_path):
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings

    work = tmp_path_factory.mktemp("three")
    corpus = corpus_copy(work)
    (corpus / "greyfield_library.txt").write_text(LIBRARY, encoding="utf-8")
    (corpus / "mill_lane_bridge.txt").write_text(BRIDGE, encoding="utf-8")
    s = Settings.from_env({}).with_overrides(corpus=(corpus,), index_dir=work / "index", uploads=work / "uploads",
                                             reader_model=reader_path)
    pipeline = Pipeline(s)
    assert pipeline.index(progress=False).articles == 3
    return pipeline


@pytest.mark.parametrize("question, expected", [
    ("When will the Greyfield library close?", "12 May"),
    ("How many books were damaged?", "1,200"),
])
def test_one_finding_from_the_article_the_question_is_about(three_articles, question, expected):
    ans = three_articles.ask(question)
    first = (ans.findings or ans.possible)[0]  # the answer, or a refusal's most confident possible answer
    assert expected in first.text, (ans.message, first.text)
    titles = [f.citation.title for f in ans.findings] or [first.citation.title]
    assert set(titles) == {"Greyfield library to close for repairs"}, [(f.text, f.score, f.citation.title)
                                                                       for f in ans.findings or ans.possible]


def test_a_question_about_the_bridge_is_answered_from_the_bridge_article(three_articles):
    ans = three_articles.ask("When will the repairs to the Mill Lane bridge begin?")
    first = (ans.findings or ans.possible)[0]
    assert "September" in first.text, (ans.message, first.text)
    titles = {f.citation.title for f in ans.findings} or {first.citation.title}
    assert titles == {"Repairs to begin on the Mill Lane bridge"}
