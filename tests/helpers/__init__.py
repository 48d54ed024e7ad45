"""Data builders and small tools shared by the tests (plain modules; the fixtures built from them live in
the ``conftest.py`` files)."""
