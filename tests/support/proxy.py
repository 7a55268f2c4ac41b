"""A tiny fault-injecting HTTP proxy in front of the moto emulator, for tests/verify.rs.

    python proxy.py MODE [UPSTREAM_URL]

Binds 127.0.0.1 on a free port and prints that port on its first stdout line.
Modes:
  strip-if-none-match  forward everything to UPSTREAM, minus the If-None-Match
                       header: a store that ignores conditional writes.
  deny                 answer every request 403 AccessDenied, in S3's XML or
                       DynamoDB's JSON shape (no upstream needed).
  hang                 accept connections, read the request, never answer.

Forwarded requests and responses keep their bodies byte for byte and all other
headers. Python standard library only. The proxy exits when its stdin closes
(the test that started it ended, or died) or when it is killed.
"""

import http.client
import http.server
import sys
import threading
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = None
    upstream = None

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailers, up to the blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def handle_any(self):
        body = self.read_body()
        if self.mode == "hang":
            threading.Event().wait()
            return
        if self.mode == "deny":
            return self.deny()
        self.forward(body)

    def deny(self):
        target = self.headers.get("X-Amz-Target", "")
        if target.startswith("DynamoDB"):
            payload = (
                b'{"__type":"com.amazonaws.dynamodb.v20120810#AccessDeniedException",'
                b'"message":"User: arn:aws:iam::123456789012:user/test is not authorized to '
                b'perform: dynamodb:Scan because no identity-based policy allows it"}'
            )
            content_type = "application/x-amz-json-1.0"
        else:
            payload = (
                b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                b"<Message>Access Denied</Message><RequestId>TFLOCKTEST</RequestId>"
                b"<HostId>tflock-test</HostId></Error>"
            )
            content_type = "application/xml"
        self.send_response(403)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-RequestId", "TFLOCKTEST")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def forward(self, body):
        url = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        headers = {}
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length":
                continue
            if self.mode == "strip-if-none-match" and lower == "if-none-match":
                continue
            headers[name] = value
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        self.send_response_only(response.status, response.reason)
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower == "content-length":
                continue
            self.send_header(name, value)
        if self.command == "HEAD":
            length = response.getheader("Content-Length")
            if length is not None:
                self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any


def main():
    mode = sys.argv[1]
    if mode not in ("strip-if-none-match", "deny", "hang"):
        sys.exit("unknown mode %r" % mode)
    Handler.mode = mode
    Handler.upstream = sys.argv[2] if len(sys.argv) > 2 else None
    if mode == "strip-if-none-match" and not Handler.upstream:
        sys.exit("strip-if-none-match needs an upstream URL")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    # Serve until whoever started us goes away.
    sys.stdin.read()


if __name__ == "__main__":
    main()
