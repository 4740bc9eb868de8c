"""Inference: the junction-tree engine, evidence handling and the pgmpy reference."""
