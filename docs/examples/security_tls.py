"""TLS on the standalone server (https:// and wss://), and a client that trusts it."""

import asyncio
import shutil
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

from aiosocketio import Server, connect

io = Server()
io.on("connection", lambda socket: socket.on("secure", lambda: socket.handshake.secure))


def self_signed(folder):
    """A certificate for localhost (in production: your CA's certificate and key)."""
    cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
    command = [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    command += ["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"]
    command += ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(command, check=True, capture_output=True)
    return cert, key


async def main(folder):
    cert, key = self_signed(folder)

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = await io.start("localhost", 0, ssl=context)

    trust = ssl.create_default_context(cafile=cert)  # the default context trusts public CAs
    for transports in (["polling"], ["websocket"]):
        sock = await connect(f"https://localhost:{server.port}", ssl=trust, transports=transports)
        print(transports[0], "secure:", await sock.emit_with_ack("secure"))
        await sock.disconnect()
    await io.close()


OPENSSL = shutil.which("openssl")
if OPENSSL is None:
    sys.exit("this example makes its certificate with the openssl command")
with tempfile.TemporaryDirectory() as folder:
    asyncio.run(main(folder))
