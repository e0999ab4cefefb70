"""The contract tier: one suite against the in-memory FakeCluster and a real engine (the lab).

The lab variant (marked `lab`) uses the session `lab` fixture of the e2e tier."""

from tests.e2e.conftest import lab  # noqa: F401
