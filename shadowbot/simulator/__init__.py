"""A GitHub simulator over real HTTP, for shadowbot's end-to-end tests, demo and benchmarks.

It serves the REST endpoints the bot uses (with GitHub's pagination, ETags, rate limits and
App authentication), a query-only subset of GitHub's GraphQL API with its own points bucket,
sends webhooks signed as GitHub signs them and lists them in the app's deliveries API, plays
scenarios, and injects faults (failing requests, dropped webhooks). Start it with
:meth:`Simulator.running`.
"""

from shadowbot.simulator.backend import RequestRecord
from shadowbot.simulator.errors import SimulatorError
from shadowbot.simulator.faults import SECONDARY_RATE_LIMIT_MESSAGE, Fault
from shadowbot.simulator.models import FileChange
from shadowbot.simulator.payloads import Event
from shadowbot.simulator.script import Script, load_script
from shadowbot.simulator.server import Simulator
from shadowbot.simulator.webhooks import Delivery, signature_headers

__all__ = [
    "SECONDARY_RATE_LIMIT_MESSAGE",
    "Delivery",
    "Event",
    "Fault",
    "FileChange",
    "RequestRecord",
    "Script",
    "Simulator",
    "SimulatorError",
    "load_script",
    "signature_headers",
]
