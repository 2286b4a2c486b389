"""A loopback TCP relay that counts the bytes going each way.

A peer points a channel at the relay to learn how many bytes a call really
put on the wire, for instance to tell a gzip-compressed message from an
uncompressed one when the gRPC library does not say which it got.
"""
import socket
import threading


class CountingProxy:
    """Listens on 127.0.0.1 (port in .port) and relays each connection to
    |target| ("HOST:PORT"), counting bytes client->server (.up) and
    server->client (.down). close() ends every connection."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self._dest = (host.strip("[]"), int(port))
        self._lock = threading.Lock()
        self._socks = []
        self._closed = False
        self.up = 0
        self.down = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self):
        with self._lock:
            self.up = self.down = 0

    def counts(self):
        with self._lock:
            return self.up, self.down

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self._dest, timeout=10)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    server.close()
                    return
                self._socks += [client, server]
            threading.Thread(target=self._pump, args=(client, server, "up"),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, "down"),
                             daemon=True).start()

    def _pump(self, src, dst, direction):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                with self._lock:
                    setattr(self, direction, getattr(self, direction) + len(data))
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        with self._lock:
            self._closed = True
            socks, self._socks = self._socks, []
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        self._listener.close()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
