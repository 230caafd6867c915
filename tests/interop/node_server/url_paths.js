"use strict";
// How socket.io 4.8 reads the namespace of a v3 client's packet (client.js, _parseNamespace):
// stdin: a JSON array of namespaces; stdout: for each, [pathname, query object] or null when
// new URL() throws.
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const out = JSON.parse(input).map((nsp) => {
    try {
      const url = new URL(nsp, "https://socket.io");
      const query = Object.create(null);
      for (const [key, value] of url.searchParams.entries()) query[key] = value;
      return [url.pathname, query];
    } catch {
      return null;
    }
  });
  process.stdout.write(JSON.stringify(out));
});
