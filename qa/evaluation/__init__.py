"""SQuAD metrics, `qa eval`, reports and plots. Nothing on the run-time path imports this package."""
