"""Input and output: batch files, Dask, export to other formats."""
