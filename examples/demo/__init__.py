"""The aiosocketio demo chat (``examples/demo/app.py``; run it with ``scripts/demo``)."""
