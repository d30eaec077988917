from tests.e2e.conftest import make_engine, running  # noqa: F401 - the same running engine fixtures
