"""Sample data shipped with the engine: the demo grouping scheme, policy profiles, synthetic-city settings.

Installed as the ``drg_data`` package so that ``drg demo`` works from a wheel as well as a checkout.
Nothing here is copied from ``../shared``; see ``drg.synth.samples`` for the registry.
"""
