import pytest

# the scenarios of the helpers assert: let pytest explain their failures as it does a test's
pytest.register_assert_rewrite(f"{__name__}.helpers", "adapters.helpers")
