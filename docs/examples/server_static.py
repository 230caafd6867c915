"""Static files next to the Socket.IO endpoint, e.g. a page and the client bundle."""

import asyncio
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from aiosocketio import Server


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


async def main():
    with tempfile.TemporaryDirectory() as public:
        Path(public, "index.html").write_text("<h1>chat</h1>")
        Path(public, "chat.mjs").write_text("export {}")
        Path(public, "img").mkdir()
        Path(public, "img", "logo.svg").write_text("<svg/>")

        io = Server(
            static_files={
                "/": f"{public}/index.html",  # the content type comes from the name
                "/chat.js": {"filename": f"{public}/chat.mjs", "content_type": "text/javascript"},
                "/assets/": public,  # a directory: /assets/img/logo.svg, /assets/ (index.html)
            }
        )
        server = await io.start("127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.port}"
        for path in ("/", "/chat.js", "/assets/img/logo.svg", "/assets/../secret", "/other"):
            print(path, await asyncio.to_thread(get, url + path))
        await io.close()


asyncio.run(main())
