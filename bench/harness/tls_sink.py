#!/usr/bin/env python3
"""The upstream of the TLS bulk rows: takes or sends a stated number of bytes per connection.

    tls_sink.py PORT [CERT_CHAIN KEY]   plain TCP, or TLS terminated here (the `direct` column)

Each connection starts with a 9-byte header, an operation byte and a big-endian byte count N:
  b"U" + N  the client sends N bytes; the sink reads them all, then answers b"K";
  b"D" + N  the sink sends N bytes; the client closes when it has them.
A connection that closes before its header (a probe) is simply dropped. One thread per
connection; the copy loops run in C (recv_into, sendall), so the sink costs little CPU.
"""
import socket
import ssl
import struct
import sys
import threading

CHUNK = 1 << 20
HEADER = struct.Struct(">cQ")


def _read_exactly(conn, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        got = conn.recv(size - len(data))
        if not got:
            return None
        data += got
    return data


def _serve(conn: socket.socket, context: ssl.SSLContext | None) -> None:
    try:
        if context is not None:
            conn = context.wrap_socket(conn, server_side=True)
        header = _read_exactly(conn, HEADER.size)
        if header is None:
            return
        op, count = HEADER.unpack(header)
        buffer = bytearray(CHUNK)
        if op == b"U":
            view = memoryview(buffer)
            left = count
            while left > 0:
                got = conn.recv_into(view, min(left, CHUNK))
                if not got:
                    return
                left -= got
            conn.sendall(b"K")
        elif op == b"D":
            view = memoryview(bytes(CHUNK))
            left = count
            while left > 0:
                conn.sendall(view[:min(left, CHUNK)])
                left -= min(left, CHUNK)
            conn.recv(1)  # the client's close
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def main() -> None:
    port = int(sys.argv[1])
    context = None
    if len(sys.argv) > 2:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(sys.argv[2], sys.argv[3])
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(128)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_serve, args=(conn, context), daemon=True).start()


if __name__ == "__main__":
    main()
