"""Data: the priors files and the validation scenarios, read and checked."""
