"""Confidence: the features of a candidate span and the calibration, fitted with each reader, that
turns them into the probability users see."""
