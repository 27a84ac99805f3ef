"""The docstring examples of echoless.live run, so they cannot rot."""

import doctest

import pytest

from echoless.live import canceller, fifo, simulate


@pytest.mark.parametrize("module", [canceller, fifo, simulate], ids=lambda module: module.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
