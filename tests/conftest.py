"""The shared fixtures are a plugin, tests/support/fixtures.py; folders keep their own here."""

pytest_plugins = ["tests.support.fixtures"]
