"""Building: published numbers become conditional probability tables."""
