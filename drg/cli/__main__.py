"""``python -m drg.cli``: the ``drg`` command line."""

from drg.cli import main

main()
