"""Answering a question at run time: retrieve passages, read spans, decide and cite. Imports nothing from training or evaluation."""
