"""The simulator the collector's end-to-end tests read, on a clock they control. A test
module imports ``time_fixture``, ``sim_fixture`` and ``client_fixture`` to have the
``fake_time``, ``sim`` and ``client`` fixtures (a :class:`~shadowbot.github.client.GitHubClient`
with an OAuth token for the simulator)."""

import aiohttp
import pytest

from shadowbot.github.client import GitHubClient
from shadowbot.metrics import Metrics
from shadowbot.simulator import Simulator


class FakeTime:
    """The clock both the simulator and the collector read; sleeping moves it on."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(name="fake_time")
def time_fixture():
    return FakeTime()


@pytest.fixture(name="sim")
async def sim_fixture(app_key_pem, fake_time):
    async with Simulator.running(private_key_pem=app_key_pem, token_ttl=10**8) as simulator:
        simulator.backend.clock = fake_time
        yield simulator


@pytest.fixture(name="client")
async def client_fixture(sim):
    async with aiohttp.ClientSession() as session:
        yield GitHubClient(
            session, base_url=sim.url, metrics=Metrics(), oauth_token=sim.create_token()
        )
