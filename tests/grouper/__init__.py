"""Tests of :mod:`grouper`: rule-table readers, scheme build checks, the reference grouper and the kernel (its
twin), the demo scheme's tables."""
