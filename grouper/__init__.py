"""Codes → DRG: compiles published CHS-DRG rule tables into a scheme and groups cases. Knows nothing about money."""
