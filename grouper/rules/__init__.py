"""Readers of published grouping-rule tables, one module per layout.

Every reader returns a :class:`grouper.rules.model.RuleSet`: the rule tables as plain Python data, before
compilation into the integer-coded scheme (``grouper.scheme``). ``drg synth`` draws codes from a RuleSet
too, which is why its public fields are pinned in ``model.py``.

Public entry points: :func:`load_rule_set` (the CHS-DRG layout) and :func:`load_code_dictionary`.
"""

from grouper.rules.chs import load_rule_set
from grouper.rules.codes import load_code_dictionary
from grouper.rules.model import AdrgRule, Clause, CodeDictionary, RuleSet

__all__ = ["load_rule_set", "load_code_dictionary", "RuleSet", "AdrgRule", "Clause", "CodeDictionary"]
