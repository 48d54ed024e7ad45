"""Lazy re-exports for ``drg``'s package ``__init__`` modules: :func:`grouper.lazy.lazy_exports` (one helper
for both packages; ``grouper`` imports nothing of ``drg``)."""

from grouper.lazy import lazy_exports

__all__ = ["lazy_exports"]
