"""The fuzzers' tallies, printed at the end of the run: a full run's numbers go in reports."""

import pytest

Tally = list[str]
TALLY = pytest.StashKey[Tally]()


@pytest.fixture
def fuzz_tally(request: pytest.FixtureRequest) -> Tally:
    """Lines for the terminal summary: what one fuzz test sent and what came back."""
    return request.config.stash.setdefault(TALLY, [])


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    lines = config.stash.get(TALLY, [])
    if lines:
        terminalreporter.section("fuzzing")
        for line in lines:
            terminalreporter.write_line(line)
