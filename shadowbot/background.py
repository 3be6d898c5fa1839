"""A long-running coroutine owned by an object, started and stopped with the app."""

from __future__ import annotations

import asyncio


class Background:
    """Runs ``self.run()`` as one task between ``start()`` and ``close()``."""

    task_name = "background"
    _task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.task_name)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
