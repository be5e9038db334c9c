#!/usr/bin/env python3
"""A TCP proxy on loopback that delays every byte by a fixed time in each direction, so a
registry on this machine answers as one a round trip away would (where the kernel has no
netem). Bytes keep their order; there is no bandwidth limit.
Usage: delay_proxy.py LISTEN_PORT UPSTREAM_HOST:PORT ONE_WAY_MS  (stops on SIGTERM)"""
import asyncio, sys


async def pipe(reader, writer, delay):
    queue = asyncio.Queue()
    loop = asyncio.get_running_loop()

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
    except ConnectionError:
        queue.put_nowait((loop.time(), b""))
    await sender


async def main():
    port, upstream, ms = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    host, up_port = upstream.rsplit(":", 1)
    delay = ms / 1000

    async def handle(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection(host, int(up_port))
        except OSError:
            client_w.close()
            return
        await asyncio.gather(pipe(client_r, server_w, delay), pipe(server_r, client_w, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
