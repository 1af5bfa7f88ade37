"""The pytest-benchmark suite: conftest.py parametrizes, harness.py times, test_<family>.py select."""
