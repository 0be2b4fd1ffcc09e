"""Text helpers that reading the articles and answering both need: sentences, words and stop words,
the question's language, excerpts and source names."""
