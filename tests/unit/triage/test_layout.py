"""The layout `helpdesk serve` chooses, the lock that picks the worker running the background work, and the
listening socket of several workers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys

import uvicorn

from models.settings import Settings
from triage.cli.serving import listening_socket
from triage.work.background import BackgroundLock
from triage.work.layout import WORKER_MEMORY_MIB, choose_layout, usable_cores


def _settings(**env: str) -> Settings:
    return Settings.from_env({"HELPDESK_ENCODER": "minilm-int8", **env})


def test_one_single_threaded_worker_per_core_as_memory_allows():
    assert choose_layout(_settings(), cores=2, memory_mib=20_000).workers == 2
    layout = choose_layout(_settings(), cores=8, memory_mib=64_000)
    assert (layout.workers, layout.threads) == (8, 1) and layout.reason == "8 usable core(s), the minilm-int8 encoder"
    # half the available memory holds two int8 workers: two workers of four threads each
    small = choose_layout(_settings(), cores=8, memory_mib=4 * WORKER_MEMORY_MIB["minilm-int8"])
    assert (small.workers, small.threads) == (2, 4) and "memory for 2" in small.reason
    assert choose_layout(_settings(), cores=4, memory_mib=100).workers == 1  # always one at least
    assert choose_layout(_settings(HELPDESK_WORKERS="auto"), cores=4, memory_mib=64_000).workers == 4


def test_the_pytorch_encoders_share_two_cores_per_worker():
    pytorch = _settings(HELPDESK_ENCODER="minilm")
    two = choose_layout(pytorch, cores=2, memory_mib=20_000)
    assert (two.workers, two.threads) == (1, 2)
    layout = choose_layout(pytorch, cores=8, memory_mib=64_000)
    assert (layout.workers, layout.threads) == (4, 2)
    assert choose_layout(pytorch, cores=1, memory_mib=64_000).threads == 1


def test_the_settings_override_the_choice():
    layout = choose_layout(_settings(HELPDESK_WORKERS="3"), cores=8, memory_mib=64_000)
    assert (layout.workers, layout.threads, layout.reason) == (3, 2, "HELPDESK_WORKERS")
    assert choose_layout(_settings(HELPDESK_WORKERS="2", HELPDESK_THREADS="3"), cores=2).threads == 3
    assert choose_layout(_settings(HELPDESK_THREADS="2"), cores=4, memory_mib=64_000).threads == 2


def test_usable_cores_are_this_process_s_own():
    assert 1 <= usable_cores() <= (os.cpu_count() or 1)
    assert usable_cores() <= len(os.sched_getaffinity(0))


def test_one_process_holds_the_background_lock_until_it_dies(tmp_path):
    assert BackgroundLock("").acquire()  # a lone process runs its background work
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from triage.work.background import BackgroundLock;"
            f"lock = BackgroundLock({str(tmp_path)!r}); assert lock.acquire();"
            "print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        waiting = BackgroundLock(str(tmp_path))
        assert not waiting.acquire() and not waiting.acquire()
        holder.kill()
        holder.wait(timeout=30)
        assert waiting.acquire() and waiting.acquire()  # taken at the next try, and kept
    finally:
        holder.kill()


def test_connections_accepted_by_several_workers_get_tcp_nodelay():
    """uvicorn binds the socket of several workers with protocol 0, and asyncio then leaves Nagle's algorithm
    on for accepted connections (uvicorn#3149): every keep-alive answer waited for the client's delayed ACK."""
    config = uvicorn.Config("api.app:create_app_from_env", host="127.0.0.1", port=0, workers=2)
    sock = listening_socket(config)
    assert sock.proto == socket.IPPROTO_TCP

    async def accepted_nodelay() -> int:
        seen: asyncio.Future = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport) -> None:
                accepted = transport.get_extra_info("socket")
                seen.set_result(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname()[:2])
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(accepted_nodelay()) != 0
