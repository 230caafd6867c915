"""STEP 1: psio_chat.py, unchanged but for its import (the migration guide's first step).

psio_chat.py is python-socketio's program; here its ``import socketio`` gets
aiosocketio.compat, and the same server, handlers and clients run on aiosocketio.
"""

import asyncio
import sys

import aiosocketio.compat as socketio  # was: import socketio

sys.modules["socketio"] = socketio  # psio_chat.py's own `import socketio` line gets it

from psio_chat import main  # noqa: E402 (after the import is redirected)

asyncio.run(main())
