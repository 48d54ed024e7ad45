"""``python -m drg.cli``: the ``drg`` command line."""

from drg.cli import run

if __name__ == "__main__":
    run()
