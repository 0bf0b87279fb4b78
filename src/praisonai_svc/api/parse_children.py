"""Child processes that parse large request bodies, so that the API's GIL stays free (see
:mod:`praisonai_svc.api.parse_pool` for why).

Each child is ``python -m praisonai_svc.api.parse_child`` talking over its stdin/stdout pipes, one body at a
time. Not :mod:`multiprocessing`: its spawn and forkserver start methods import the user's main module again in
the child (a handlers file that starts a server at import would start a second one), and fork is unsafe in a
process with threads. Children start on the first large body, at a lower OS priority, and:

* a child that takes longer than the parse budget plus :data:`KILL_GRACE_SECONDS` is killed (even the C JSON
  parser, which cannot be interrupted, is stopped) and the body is answered 400;
* a child that dies fails only its own body (503) and is replaced by the next large body;
* they exit when their stdin closes: at API shutdown, or when the API process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any

import praisonai_svc
from praisonai_svc.api.parse_child import HEADER_BYTES, READY, frame
from praisonai_svc.errors import Overloaded
from praisonai_svc.yaml_limits import DeadlineExceeded

log = logging.getLogger(__name__)

KILL_GRACE_SECONDS = 1.0
SPAWN_TIMEOUT_SECONDS = 30.0
SOURCE_ROOT = str(Path(praisonai_svc.__file__).resolve().parents[1])  # where the child imports the package from


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def exchange(self, request: bytes, timeout: float) -> bytes:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None  # both are pipes (see _spawn)
        async with asyncio.timeout(timeout):
            stdin.write(frame(request))
            await stdin.drain()
            size = int.from_bytes(await stdout.readexactly(HEADER_BYTES), "big")
            return await stdout.readexactly(size)

    def alive(self) -> bool:
        return self.process.returncode is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 2)
        except TimeoutError:
            self.kill()
            await self.process.wait()  # reaped, so that it is gone when close() returns


class ParseChildren:
    """Up to ``size`` children; a body waits for an idle one (the caller bounds how many wait)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: asyncio.Queue[_Child] = asyncio.Queue()
        self._started = 0
        self._closed = False

    async def parse(self, request: tuple[bytes, str, float, float], wait_seconds: float) -> Any:
        """Send ``(raw, content_type, queued_at, budget_seconds)`` to a child; its value, or its exception."""
        child = await self._take(wait_seconds)
        budget = request[3]
        try:
            reply = await child.exchange(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL),
                                         budget + KILL_GRACE_SECONDS)
        except TimeoutError:
            child.kill()
            self._started -= 1
            raise DeadlineExceeded(f"The document took longer than its parse budget ({budget:g} s); nothing was "
                                   "queued. Send a smaller or simpler document.") from None
        except (asyncio.IncompleteReadError, ConnectionError, BrokenPipeError):
            log.warning("a body-parsing child process died; the next large body starts a new one")
            child.kill()
            self._started -= 1
            raise Overloaded("The API is busy parsing other requests; retry after Retry-After seconds.") from None
        except BaseException:
            child.kill()  # cancelled mid-exchange (client gone): its pipe state is unknown
            self._started -= 1
            raise
        self._give_back(child)
        ok, value = await self._loads(reply)
        if ok:
            return value
        raise value

    async def _loads(self, reply: bytes) -> tuple[bool, Any]:
        if len(reply) < 64 * 1024:
            return pickle.loads(reply)  # type: ignore[no-any-return]
        outcome: tuple[bool, Any] = await asyncio.to_thread(pickle.loads, reply)  # a large document: off the loop
        return outcome

    async def _take(self, wait_seconds: float) -> _Child:
        while not self._idle.empty():
            child = self._idle.get_nowait()
            if child.alive():
                return child
            self._started -= 1
        if self._started < self.size:
            self._started += 1
            try:
                return await self._spawn()
            except BaseException:
                self._started -= 1
                raise
        try:
            return await asyncio.wait_for(self._idle.get(), wait_seconds)
        except TimeoutError:
            raise Overloaded("The API is busy parsing other requests; retry after Retry-After seconds.") from None

    async def _spawn(self) -> _Child:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (SOURCE_ROOT, env.get("PYTHONPATH", "")) if p)
        process = await asyncio.wait_for(asyncio.create_subprocess_exec(
            sys.executable, "-m", "praisonai_svc.api.parse_child",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env), SPAWN_TIMEOUT_SECONDS)
        child = _Child(process)
        try:  # the child says it is ready once its imports are done, so that they do not eat a parse budget
            assert process.stdout is not None
            await asyncio.wait_for(process.stdout.readexactly(len(READY)), SPAWN_TIMEOUT_SECONDS)
        except (TimeoutError, asyncio.IncompleteReadError):
            child.kill()
            raise Overloaded("The API could not start a body-parsing process; retry after Retry-After "
                             "seconds.") from None
        log.info("started a body-parsing child process", extra={"pid": process.pid})
        return child

    def _give_back(self, child: _Child) -> None:
        if self._closed and child.process.stdin is not None:
            child.process.stdin.close()  # it exits at the end of its input
        else:
            self._idle.put_nowait(child)

    async def close(self) -> None:
        self._closed = True
        while not self._idle.empty():
            await self._idle.get_nowait().close()
