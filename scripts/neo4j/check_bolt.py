#!/usr/bin/env python3
"""Real Bolt readiness check for the local Neo4j (standard library only, no driver needed).

    python3 scripts/neo4j/check_bolt.py [HOST] [PORT]

Connects, performs the Bolt handshake (offering Bolt 5.0 and 4.4), authenticates with HELLO as
user ``neo4j`` and the password from IDGRAPH_NEO4J_PASSWORD (default ``idgraph-dev``), runs
``RETURN 1`` and checks that the single record is ``1``.

Exit status: 0 ready, 1 not answering (yet), 2 answering but authentication or the query failed.
"""

import os
import socket
import struct
import sys

SUCCESS, RECORD, IGNORED, FAILURE = 0x70, 0x71, 0x7E, 0x7F


def pack(value):
    """PackStream encoding of the few value types this check needs."""
    if value is None:
        return b"\xC0"
    if isinstance(value, bool):
        return b"\xC3" if value else b"\xC2"
    if isinstance(value, int):
        if -16 <= value < 128:
            return struct.pack(">b", value)
        return b"\xCB" + struct.pack(">q", value)
    if isinstance(value, str):
        data = value.encode("utf-8")
        n = len(data)
        if n < 16:
            return bytes([0x80 + n]) + data
        if n < 256:
            return b"\xD0" + bytes([n]) + data
        return b"\xD1" + struct.pack(">H", n) + data
    if isinstance(value, dict):
        assert len(value) < 16
        return bytes([0xA0 + len(value)]) + b"".join(pack(k) + pack(v) for k, v in value.items())
    if isinstance(value, list):
        assert len(value) < 16
        return bytes([0x90 + len(value)]) + b"".join(pack(v) for v in value)
    raise TypeError(type(value))


def message(signature, *fields):
    body = bytes([0xB0 + len(fields), signature]) + b"".join(pack(f) for f in fields)
    out = b""
    for i in range(0, len(body), 0xFFFF):
        chunk = body[i : i + 0xFFFF]
        out += struct.pack(">H", len(chunk)) + chunk
    return out + b"\x00\x00"


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("connection closed by server")
        buf += part
    return buf


def read_message(sock):
    data = b""
    while True:
        (size,) = struct.unpack(">H", recv_exact(sock, 2))
        if size == 0:
            if data:
                return data
            continue  # NOOP keep-alive chunk
        data += recv_exact(sock, size)


def describe_failure(data):
    text = data.decode("utf-8", "replace")
    return " ".join("".join(ch if 32 <= ord(ch) < 127 else " " for ch in text).split())


def main():
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("IDGRAPH_NEO4J_PORT", "7687"))
    password = os.environ.get("IDGRAPH_NEO4J_PASSWORD") or "idgraph-dev"

    try:
        sock = socket.create_connection((host, port), timeout=5)
    except OSError as exc:
        print(f"bolt://{host}:{port}: not accepting connections ({exc})", file=sys.stderr)
        return 1
    try:
        with sock:
            # Magic preamble + four version proposals: 5.0, 4.4, none, none.
            sock.sendall(b"\x60\x60\xB0\x17" + b"\x00\x00\x00\x05" + b"\x00\x00\x04\x04" + b"\x00" * 8)
            agreed = recv_exact(sock, 4)
            if agreed == b"\x00\x00\x00\x00":
                print(f"bolt://{host}:{port}: server speaks none of Bolt 5.0/4.4", file=sys.stderr)
                return 2
            sock.sendall(
                message(
                    0x01,  # HELLO (Bolt 4.4 / 5.0 carry the credentials in HELLO)
                    {
                        "user_agent": "idgraph-services-check/1",
                        "scheme": "basic",
                        "principal": "neo4j",
                        "credentials": password,
                    },
                )
            )
            reply = read_message(sock)
            if reply[1] != SUCCESS:
                print(f"bolt://{host}:{port}: authentication failed: {describe_failure(reply)}", file=sys.stderr)
                return 2
            sock.sendall(message(0x10, "RETURN 1 AS ok", {}, {}))  # RUN
            sock.sendall(message(0x3F, {"n": -1}))  # PULL
            reply = read_message(sock)  # RUN's SUCCESS (field names) or FAILURE
            records = []
            if reply[1] == SUCCESS:
                while True:
                    reply = read_message(sock)  # PULL: RECORD* then SUCCESS (or FAILURE)
                    if reply[1] != RECORD:
                        break
                    records.append(reply[2:])
            if reply[1] != SUCCESS:
                print(f"bolt://{host}:{port}: query failed: {describe_failure(reply)}", file=sys.stderr)
                return 2
            if records != [b"\x91\x01"]:
                print(f"bolt://{host}:{port}: unexpected result for RETURN 1: {records!r}", file=sys.stderr)
                return 2
            try:
                sock.sendall(message(0x02))  # GOODBYE
            except OSError:
                pass
    except (OSError, ConnectionError, IndexError) as exc:
        print(f"bolt://{host}:{port}: Bolt conversation failed ({exc})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
