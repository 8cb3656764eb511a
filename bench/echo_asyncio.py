#!/usr/bin/env python3
"""bench/echo_asyncio.py - the Python peer of examples/echo_server.c: a plain asyncio echo server.

    python3 echo_asyncio.py [PORT]      PORT 0 (default): a free port, printed like echo_server's

It uses asyncio's Protocol interface (data_received -> transport.write, with pause/resume of
reading when the transport's buffer is full), the fastest way asyncio offers to write an echo
server; asyncio sets TCP_NODELAY on its TCP transports itself. The backlog is raised from
asyncio's default of 100 to the system's maximum, as echo_server does, so that both take the
benchmark's burst of connections the same way. SIGINT or SIGTERM stops it.
"""
import asyncio
import signal
import socket
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=socket.SOMAXCONN * 16)
    print("asyncio echo server listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1],
          flush=True)
    stop = asyncio.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
