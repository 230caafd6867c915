"""Tests of the demo chat (examples/demo), one of them in headless Chromium."""
