"""The reader: runtimes that score answer spans in passages (ONNX Runtime or torch), span decoding,
and loading any transformers question-answering folder."""
