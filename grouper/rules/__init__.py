"""Readers of published grouping-rule tables, one module per layout.

Every reader returns a :class:`grouper.rules.model.RuleSet`: the rule tables as plain Python data, before
compilation into the integer-coded scheme (``grouper.scheme``). ``drg synth`` draws codes from a RuleSet
too, which is why its public fields are pinned in ``model.py``.
"""
