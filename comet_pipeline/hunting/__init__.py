"""Comet hunting: sources, star drift, tracks, scores, identities and reports (numpy/scipy only)."""
