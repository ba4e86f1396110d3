"""The cycle collector is paused for bulk work and always comes back as it was."""

from __future__ import annotations

import gc
import threading

import pytest

from scamshare.gcpause import collector_paused
from scamshare.services import reports as reports_service
from tests.reporting import report


@pytest.fixture(autouse=True)
def collector_on():
    """Each test starts with the collector on, and leaves it on."""
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_back_on_after():
    """Paused while the block runs, resumed when it ends."""
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_resumes_the_collector():
    """A failing operation does not leave the process without its collector."""
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("mid-batch")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    """Only what the first pause turned off is turned back on."""
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_the_collector_resumes_only_when_the_last_operation_ends():
    """Two threads' operations overlap: the first to finish must not resume it under the other."""
    inside = threading.Event()
    finish = threading.Event()

    def other():
        with collector_paused():
            inside.set()
            finish.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(5)
    with collector_paused():
        pass
    assert not gc.isenabled()  # the other thread's operation is still under way
    finish.set()
    thread.join(5)
    assert gc.isenabled()


def test_a_submission_is_stored_with_the_collector_paused(client, keys, collector_watch):
    """Through the API: the batch is stored while the collector is off; afterwards it is on."""
    seen = collector_watch(reports_service, "store")
    response = client.post(
        "/api/v1/reports",
        json={"reports": [report("8123 4567"), report("9123 4567")]},
        headers=keys["operator"].headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["accepted"] == 2
    assert seen == [False]
    assert gc.isenabled()
