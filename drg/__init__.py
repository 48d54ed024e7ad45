"""DRG → points → money: the payment engine of the DRG point method (DRG 点数法).

This package knows nothing about ICD codes; it starts from a grouped case table (the ``drg`` column).
"""

__version__ = "0.1.0"
