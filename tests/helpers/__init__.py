"""What tests share beyond fixtures, and bench/ scripts reuse: hostile input files and their ingest
runner, a chat on a local port with a load and a soak on it, a process tree's resources.

Imported as ``helpers``: pytest puts tests/ (the folder of the rootdir conftest.py) on ``sys.path``;
a bench script puts it there itself. Tests never import from bench/.
"""
