"""Reasoning: diagnosis, explanation, next tests, uncertainty, sensitivity, joint, what-if, validation."""
