#!/usr/bin/env python3
"""A local OTLP/HTTP trace receiver for benchmarks (not a test): answers
every `POST /v1/traces` with 200 and keeps the number of spans received in
COUNT_FILE (rewritten after each request). It decodes just enough of the
protobuf ExportTraceServiceRequest to count spans (resource_spans = 1,
scope_spans = 2, spans = 2), so no OpenTelemetry package is needed.

    scripts/bench/otlp_sink.py PORT COUNT_FILE
"""

import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock


def varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def fields(buf: bytes):
    """(field number, wire type, value or bytes) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, wire, value


def spans(body: bytes) -> int:
    count = 0
    for n, w, rs in fields(body):
        if n == 1 and w == 2:
            for m, w2, ss in fields(rs):
                if m == 2 and w2 == 2:
                    count += sum(1 for k, w3, _ in fields(ss) if k == 2 and w3 == 2)
    return count


class Sink(BaseHTTPRequestHandler):
    total = 0
    lock = Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        try:
            got = spans(body)
        except (ValueError, IndexError):
            got = 0
        with Sink.lock:
            Sink.total += got
            with open(sys.argv[2], "w") as f:
                f.write(str(Sink.total))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    with open(sys.argv[2], "w") as f:
        f.write("0")
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
