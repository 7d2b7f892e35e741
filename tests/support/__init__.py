"""What the tests share: servers and their launchers, clients, files, waits, GUI helpers.

Imported as ``tests.support.<module>``; the fixtures are in ``tests.support.fixtures``, a pytest
plugin that tests/conftest.py loads. Benchmarks and scripts/screenshot.py use the same files and
waits.
"""
