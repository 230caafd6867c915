import pytest

# the scenarios of helpers.py assert: let pytest explain their failures as it does a test's
pytest.register_assert_rewrite(f"{__name__}.helpers")
