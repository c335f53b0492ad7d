"""Redirects: followed only within the archive's scheme, host and port, a few hops at most;
anything else is one permanent, named error and the target is never asked for."""

from __future__ import annotations

import pytest

from comet_pipeline.archive.client import MAX_REDIRECTS
from comet_pipeline.domain import FileState

from .conftest import (
    Route,
    assert_ready,
    download_hour,
    fits_body,
    good_neighbours,
    index_entry,
    path_of,
)


def _abandoned(home, name: str) -> str:
    """The file was given up at the first attempt, straight from DOWNLOADING; its error."""
    record = home.store.get_file(name)
    assert record.state is FileState.ABANDONED and record.attempts == 1, record
    assert [t.to_state for t in home.store.transitions_for(name)][-2:] == [
        FileState.DOWNLOADING,
        FileState.ABANDONED,
    ]
    return record.last_error


@pytest.mark.parametrize(
    "where",
    ["another port", "another host", "another scheme", "scheme-relative", "file"],
)
def test_a_redirect_off_the_archive_is_refused_and_never_followed(
    make_server, hostile, home, where
):
    f = index_entry(1)
    home.register(f)
    neighbours = good_neighbours(home, hostile)
    evil = make_server()
    # a perfectly good copy of the file, somewhere the archive must not send us
    evil.routes[path_of(f.name)] = Route(body=fits_body(f.observed_at))
    hostile.routes["/elsewhere.fts"] = Route(body=fits_body(f.observed_at))
    port = hostile.url.rsplit(":", 1)[1]
    target = {
        "another port": evil.url + path_of(f.name),
        "another host": f"http://localhost:{port}/elsewhere.fts",  # the same server, by name
        "another scheme": f"https://127.0.0.1:{port}/elsewhere.fts",
        "scheme-relative": f"//localhost:{port}/elsewhere.fts",
        "file": "file:///etc/passwd",
    }[where]
    hostile.redirect(path_of(f.name), target)

    result = download_hour(home, hostile)

    error = _abandoned(home, f.name)
    shown = target if not target.startswith("//") else "http:" + target
    assert error.startswith(f"Redirected: redirected to {shown}, outside the archive's origin")
    assert f"origin {hostile.url}: not followed" in error
    assert evil.hits[path_of(f.name)] == 0 and hostile.hits["/elsewhere.fts"] == 0
    assert hostile.hits[path_of(f.name)] == 1  # permanent: not retried
    assert result.outcomes == {"abandoned": 1, "ready": 2}
    assert_ready(home, neighbours)
    home.assert_clean(*neighbours)  # nothing of the target's content was written anywhere


@pytest.mark.parametrize("loop", [["self"], ["a", "b"]])
def test_a_redirect_loop_ends_after_the_hop_limit_with_one_error(hostile, home, loop):
    f = index_entry(1)
    home.register(f)
    neighbours = good_neighbours(home, hostile)
    start = path_of(f.name)
    chain = [start] + [f"/loop/{hop}" for hop in loop[1:]]
    for here, there in zip(chain, chain[1:] + chain[:1], strict=True):
        hostile.redirect(here, there)  # relative Locations, same origin: followed...

    result = download_hour(home, hostile)

    error = _abandoned(home, f.name)
    assert error.startswith(f"Redirected: more than {MAX_REDIRECTS} redirects (a loop?)")
    # ... but only MAX_REDIRECTS hops: 4 requests in all, where requests alone makes 31
    assert sum(hostile.hits[p] for p in chain) == 1 + MAX_REDIRECTS
    assert result.outcomes == {"abandoned": 1, "ready": 2}
    assert_ready(home, neighbours)
    home.assert_clean(*neighbours)


def test_a_redirect_within_the_archive_is_followed(hostile, home):
    f = index_entry(1)
    home.register(f)
    hostile.redirect(path_of(f.name), "/mirror/a")
    hostile.redirect("/mirror/a", f"{hostile.url}/mirror/b", status=301)  # absolute, same origin
    hostile.routes["/mirror/b"] = Route(body=fits_body(f.observed_at))

    result = download_hour(home, hostile)

    assert result.outcomes == {"ready": 1}
    assert_ready(home, [f.name])
    assert hostile.hits["/mirror/b"] == 1
    home.assert_clean(f.name)
