"""Helpers shared by the stages: model runtimes."""
