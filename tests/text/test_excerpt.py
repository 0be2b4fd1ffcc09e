"""Passages as people read them: whole sentences around the answer, never a cut word."""

from qa.text.excerpt import excerpt

TEXT = (
    "On Monday, the Chinese foreign ministry spokesperson said that Beijing will continue supporting "
    "Pakistan's counterterrorism efforts and socioeconomic development. Reuters spoke to five Pakistani "
    "security and government sources. The attacks have angered China, which has pushed Pakistan to begin "
    "formal negotiations for a joint security management system. Neither Beijing nor Islamabad have "
    "confirmed the talks officially."
)


def _words_whole(text: str, ex) -> None:
    """The excerpt starts and ends at word boundaries of the passage."""
    assert ex.start == 0 or not text[ex.start - 1].isalnum() or not text[ex.start].isalnum()
    assert ex.end == len(text) or not text[ex.end].isalnum() or not text[ex.end - 1].isalnum()


def test_whole_sentences_around_the_span():
    a = TEXT.index("formal negotiations")
    b = a + len("formal negotiations")
    ex = excerpt(TEXT, a, b, max_chars=150)  # the sentence (129 chars) fits, a neighbour does not
    assert ex.span == "formal negotiations"
    assert ex.before + ex.span + ex.after == TEXT[ex.start : ex.end] == ex.text
    assert ex.text.startswith("The attacks") and ex.text.endswith("management system.")
    assert ex.clipped_start and ex.clipped_end
    _words_whole(TEXT, ex)


def test_everything_when_it_fits():
    a = TEXT.index("five")
    ex = excerpt(TEXT, a, a + 4, max_chars=len(TEXT))
    assert ex.text == TEXT and not ex.clipped_start and not ex.clipped_end


def test_long_sentence_is_cut_at_words_never_mid_word():
    text = " ".join(f"word{i}" for i in range(400)) + "."
    a = text.index("word200")
    ex = excerpt(text, a, a + len("word200"), max_chars=80)
    assert ex.span == "word200" and len(ex.text) <= 80
    assert ex.text.split()[0].startswith("word") and text[ex.start - 1] == " "
    assert text[ex.end] == " "
    assert ex.clipped_start and ex.clipped_end


def test_the_span_is_never_cut():
    a = TEXT.index("The attacks")
    b = TEXT.index("system.") + len("system.")
    ex = excerpt(TEXT, a, b, max_chars=20)
    assert ex.span == TEXT[a:b] and ex.before == "" and ex.after == ""


def test_no_span_shows_the_beginning():
    ex = excerpt(TEXT, None, None, max_chars=170)
    assert ex.span == "" and ex.text.startswith("On Monday") and ex.text.endswith("development.")
    assert not ex.clipped_start and ex.clipped_end


def test_odd_inputs_do_not_raise():
    assert excerpt("", None, None).text == ""
    assert excerpt("abc", 5, 9).text == "abc"  # stale offsets are clamped
    assert excerpt("x" * 1000, 10, 20, max_chars=50).span == "x" * 10  # one huge "word"
