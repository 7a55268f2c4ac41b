"""A tiny fault-injecting HTTP proxy in front of the moto emulator, for tests/verify.rs
and tests/faults.rs.

    python proxy.py MODE [UPSTREAM_URL] [OPTIONS]

Binds 127.0.0.1 on a free port and prints that port on its first stdout line.
Modes:
  strip-if-none-match  forward everything to UPSTREAM, minus the If-None-Match
                       header: a store that ignores conditional writes.
  deny                 answer every request 403 AccessDenied, in S3's XML or
                       DynamoDB's JSON shape (no upstream needed).
  hang                 accept connections, read the request, never answer.

Fault modes (tests/faults.rs): requests that match the OPTIONS below get the
fault; every other request is forwarded to UPSTREAM unchanged.
  forward       no fault: forward and count (a baseline).
  status500     500 InternalError (S3 XML) / InternalServerError (DynamoDB JSON).
  status503     503 ServiceUnavailable (S3 XML / DynamoDB JSON).
  throttle      DynamoDB: 400 ThrottlingException (or --code
                ProvisionedThroughputExceededException); S3: 503 SlowDown.
  conflict409   S3 409 ConditionalRequestConflict; only ever on a PutObject that
                carries If-None-Match (other requests never match).
  slow          forward the request at once (AWS did the work), answer only after
                --delay seconds (default 10).
  drop          close the connection without answering. With --forward-first the
                request is forwarded first (AWS did the work, the answer is lost);
                without, it never reaches UPSTREAM.

OPTIONS (all given filters must hold; a repeated filter matches any of its values):
  --op NAME            the operation: DynamoDB's X-Amz-Target operation (Scan,
                       PutItem, DeleteItem, GetItem, ...) or the S3 operation read
                       from method, path and query (ListObjectsV2, GetObject,
                       PutObject, DeleteObject, HeadObject, GetBucketVersioning, ...)
  --method METHOD      the HTTP method
  --path-contains S    the request target (path and query) contains S
  --path-lacks S       the request target does not contain S
  --header NAME        the request carries this header
  --after N            let the first N matching requests through untouched
  --first N            then fault only the next N matching requests (default: all)
  --code CODE          the error code to answer (overrides the mode's default)
  --delay SECONDS      for slow
  --forward-first      for drop

Counts: `GET /__proxy/counts` on the proxy itself (never forwarded, never counted)
answers JSON: {"seen": {op: n}, "faulted": {op: n}, "requests": [{"op", "method",
"path", "fault"}]} where "fault" is the mode applied to that request or null.

Forwarded requests and responses keep their bodies byte for byte and all other
headers. Python standard library only. The proxy exits when its stdin closes
(the test that started it ended, or died) or when it is killed.
"""

import http.client
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-connection"}
OLD_MODES = ("strip-if-none-match", "deny", "hang")
FAULT_MODES = ("forward", "status500", "status503", "throttle", "conflict409", "slow", "drop")


class Rule:
    """Which requests a fault mode hits, and how many of them."""

    def __init__(self):
        self.ops = []
        self.methods = []
        self.contains = []
        self.lacks = []
        self.headers = []
        self.after = 0
        self.first = None
        self.code = None
        self.delay = 10.0
        self.forward_first = False
        self.matched = 0
        self.lock = threading.Lock()

    def matches(self, op, method, path, headers):
        if self.ops and op not in self.ops:
            return False
        if self.methods and method.upper() not in self.methods:
            return False
        if self.contains and not any(s in path for s in self.contains):
            return False
        if any(s in path for s in self.lacks):
            return False
        if self.headers and not any(headers.get(h) is not None for h in self.headers):
            return False
        return True

    def take(self):
        """Counts one matching request; True if it gets the fault."""
        with self.lock:
            self.matched += 1
            n = self.matched - self.after
            if n <= 0:
                return False
            return self.first is None or n <= self.first


class Counts:
    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}
        self.faulted = {}
        self.requests = []

    def add(self, op, method, path, fault):
        with self.lock:
            self.seen[op] = self.seen.get(op, 0) + 1
            if fault:
                self.faulted[op] = self.faulted.get(op, 0) + 1
            self.requests.append({"op": op, "method": method, "path": path, "fault": fault})

    def json(self):
        with self.lock:
            return json.dumps(
                {"seen": self.seen, "faulted": self.faulted, "requests": self.requests}
            ).encode()


def operation(method, target, headers):
    """The AWS operation a request asks for (path-style S3 addressing)."""
    amz_target = headers.get("X-Amz-Target")
    if amz_target:
        return amz_target.rsplit(".", 1)[-1]
    parts = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    segments = parts.path.lstrip("/").split("/", 1)
    has_key = len(segments) == 2 and segments[1] != ""
    method = method.upper()
    if not has_key:
        if method == "GET":
            if "list-type" in query:
                return "ListObjectsV2"
            if "versioning" in query:
                return "GetBucketVersioning"
            if "location" in query:
                return "GetBucketLocation"
            return "ListObjects"
        if method == "PUT":
            return "PutBucketVersioning" if "versioning" in query else "CreateBucket"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        if method == "HEAD":
            return "HeadBucket"
        if method == "DELETE":
            return "DeleteBucket"
        return "%s bucket" % method
    if method == "PUT" and headers.get("x-amz-copy-source"):
        return "CopyObject"
    return {
        "GET": "GetObject",
        "PUT": "PutObject",
        "DELETE": "DeleteObject",
        "HEAD": "HeadObject",
    }.get(method, "%s object" % method)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = None
    upstream = None
    rule = None
    counts = Counts()

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
        if self.path.startswith("/__proxy/"):
            return self.admin()
        if self.mode == "hang":
            threading.Event().wait()
            return
        if self.mode == "deny":
            return self.deny()
        if self.mode in FAULT_MODES:
            return self.fault_or_forward(body)
        self.forward(body)

    def admin(self):
        if self.path.startswith("/__proxy/counts"):
            payload, status = self.counts.json(), 200
        else:
            payload, status = b'{"error":"unknown proxy endpoint"}', 404
        self.close_connection = True
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def is_dynamodb(self):
        return self.headers.get("X-Amz-Target", "").startswith("DynamoDB")

    def fault_or_forward(self, body):
        op = operation(self.command, self.path, self.headers)
        rule = self.rule
        hit = (
            self.mode != "forward"
            and rule.matches(op, self.command, self.path, self.headers)
            and (self.mode != "conflict409" or self.conflict_applies(op))
            and rule.take()
        )
        self.counts.add(op, self.command, self.path, self.mode if hit else None)
        if not hit:
            return self.forward(body)
        if self.mode == "slow":
            return self.forward(body, delay=rule.delay)
        if self.mode == "drop":
            if rule.forward_first:
                self.forward(body, answer=False)
            return self.drop()
        status, code, message = self.error_for(op)
        self.error_response(status, rule.code or code, message)

    def conflict_applies(self, op):
        return (
            not self.is_dynamodb()
            and op == "PutObject"
            and self.headers.get("If-None-Match") is not None
        )

    def error_for(self, op):
        dynamodb = self.is_dynamodb()
        if self.mode == "status500":
            if dynamodb:
                return 500, "InternalServerError", "Internal server error"
            return 500, "InternalError", "We encountered an internal error. Please try again."
        if self.mode == "status503":
            if dynamodb:
                return 503, "ServiceUnavailable", "Service unavailable"
            return 503, "ServiceUnavailable", "Service is unable to handle request."
        if self.mode == "throttle":
            if dynamodb:
                return 400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."
            return 503, "SlowDown", "Please reduce your request rate."
        if self.mode == "conflict409":
            return (
                409,
                "ConditionalRequestConflict",
                "A conflicting conditional operation is currently in progress against this "
                "resource. Please try again.",
            )
        raise AssertionError(self.mode)

    def error_response(self, status, code, message):
        if self.is_dynamodb():
            namespace = {
                "InternalServerError": "com.amazonaws.dynamodb.v20120810",
                "ProvisionedThroughputExceededException": "com.amazonaws.dynamodb.v20120810",
                "ThrottlingException": "com.amazon.coral.availability",
                "ServiceUnavailable": "com.amazon.coral.availability",
            }.get(code, "com.amazonaws.dynamodb.v20120810")
            payload = json.dumps({"__type": "%s#%s" % (namespace, code), "message": message})
            payload = payload.encode()
            content_type = "application/x-amz-json-1.0"
        else:
            payload = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                "<Message>%s</Message><RequestId>TFLOCKFAULT</RequestId>"
                "<HostId>tflock-test</HostId></Error>" % (code, message)
            ).encode()
            content_type = "application/xml"
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-RequestId", "TFLOCKFAULT")
        self.send_header("x-amz-request-id", "TFLOCKFAULT")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def drop(self):
        """Closes the connection with nothing written: the client reads EOF."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

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

    def forward(self, body, delay=0.0, answer=True):
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
        conn.close()
        if not answer:
            return
        if delay:
            time.sleep(delay)
        try:
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
        except OSError:
            # The client gave up waiting (slow): nobody to answer.
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = handle_any


def parse_rule(args):
    rule = Rule()
    i = 0
    while i < len(args):
        flag = args[i]
        if flag == "--forward-first":
            rule.forward_first = True
            i += 1
            continue
        if i + 1 >= len(args):
            sys.exit("%s needs a value" % flag)
        value = args[i + 1]
        if flag == "--op":
            rule.ops.append(value)
        elif flag == "--method":
            rule.methods.append(value.upper())
        elif flag == "--path-contains":
            rule.contains.append(value)
        elif flag == "--path-lacks":
            rule.lacks.append(value)
        elif flag == "--header":
            rule.headers.append(value)
        elif flag == "--after":
            rule.after = int(value)
        elif flag == "--first":
            rule.first = int(value)
        elif flag == "--code":
            rule.code = value
        elif flag == "--delay":
            rule.delay = float(value)
        else:
            sys.exit("unknown option %r" % flag)
        i += 2
    return rule


def main():
    mode = sys.argv[1]
    if mode not in OLD_MODES + FAULT_MODES:
        sys.exit("unknown mode %r" % mode)
    Handler.mode = mode
    rest = sys.argv[2:]
    if rest and not rest[0].startswith("--"):
        Handler.upstream = rest[0]
        rest = rest[1:]
    Handler.rule = parse_rule(rest)
    if mode in ("strip-if-none-match",) + FAULT_MODES and not Handler.upstream:
        sys.exit("%s needs an upstream URL" % mode)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    # Serve until whoever started us goes away.
    sys.stdin.read()


if __name__ == "__main__":
    main()
