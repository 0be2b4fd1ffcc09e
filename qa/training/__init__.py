"""Training the reader and its answer verifier. Nothing on the run-time path imports this package."""
