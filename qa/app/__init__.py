"""User-facing entry points: the `qa` command line, the Gradio chat and file uploads."""
