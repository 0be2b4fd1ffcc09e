"""The Gradio chat over the articles in corpus/ (or QA_CORPUS).

    python app.py [--host 127.0.0.1] [--port 7860] [--corpus PATH ...] [--no-refresh]

The same as `qa serve`: the index is refreshed on start, then the chat binds to
127.0.0.1 unless told otherwise (QA_HOST / --host).
"""

from qa.app.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve", *__import__("sys").argv[1:]]))
