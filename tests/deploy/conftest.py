"""Fixtures of the deploy tests: the e2e suite's skopeo (an isolated HOME, no TLS), for the tests
that push to a registry installed or run the way users deploy it."""

from tests.e2e.conftest import skopeo  # noqa: F401 - a fixture, used by name
