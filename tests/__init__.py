"""The test suite: one folder per package of the source tree, shared fixtures in ``conftest.py``, data
builders in :mod:`tests.helpers`."""
