"""Presentation: text and HTML display, plots, the explorer and the figures."""
