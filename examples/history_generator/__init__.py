"""The synthetic history behind examples/generate_history.py, whose docstring describes it.

One module per concern, each depending only on those above it:

- ``model``: the constants, each kind's profile, and the shapes of actors and files;
- ``text``: the words (names, paths, titles, comments, bodies), dates and versions;
- ``world``: the people and the files, drawn once from the seed;
- ``timeline``: one pull request's events and the steps that add them;
- ``story``: the outcome model, which plays a pull request to its end;
- ``builders``: a new pull request of each kind, and the reverting ones;
- ``stream``: pull requests made in creation order and emitted in the order they end.
"""

from .story import PullRequest
from .stream import Stream, generate, header, write
from .world import World

__all__ = ["PullRequest", "Stream", "World", "generate", "header", "write"]
