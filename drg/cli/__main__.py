"""``python -m drg.cli``: the ``drg`` command line."""

from drg.cli import main

if __name__ == "__main__":
    main()
