"""GET /todos in pages: `completed` filter, `limit` and `offset`, X-Total-Count and Link.

These tests count todos, so each starts with `empty_store` (DELETE /todos) and then
creates exactly the todos it lists.
"""

from urllib.parse import parse_qs, urlsplit

import pytest


@pytest.fixture
def five(api, empty_store) -> list[dict]:
    """An otherwise empty store holding five todos, the 2nd and 4th completed."""
    return [api.create(f"todo {n}", completed=n in (2, 4)) for n in range(1, 6)]


def link_query(api, response, rel: str) -> dict[str, str] | None:
    """The query of the Link header's URL for `rel`, or None; fails unless the URL is absolute."""
    link = response.links.get(rel)
    if link is None:
        return None
    url = urlsplit(link["url"])
    api.check(
        f"{url.scheme}://{url.netloc}{url.path}" == f"{api.base_url}/todos",
        response,
        f'an absolute URL {api.base_url}/todos?... for rel="{rel}"',
    )
    return {name: values[0] for name, values in parse_qs(url.query).items()}


def expect_links(api, response, *, next: dict | None, prev: dict | None) -> None:
    """Fails unless the Link header's next and prev URLs carry exactly these parameters."""
    for rel, wanted in (("next", next), ("prev", prev)):
        got = link_query(api, response, rel)
        described = (
            f'no rel="{rel}" link' if wanted is None else f'rel="{rel}" with the query {wanted}'
        )
        api.check(got == wanted, response, described)
    if next is None and prev is None:
        api.expect(response, 200, headers={"Link": None})


# --- Pages --------------------------------------------------------------------------------


def test_default_page_holds_everything_when_there_are_few(api, five):
    response = api.get("/todos")
    api.expect(response, 200, json=five, headers={"X-Total-Count": "5"})
    expect_links(api, response, next=None, prev=None)


def test_first_page(api, five):
    response = api.get("/todos?limit=2")
    api.expect(response, 200, json=five[:2], headers={"X-Total-Count": "5"})
    expect_links(api, response, next={"limit": "2", "offset": "2"}, prev=None)


def test_middle_page(api, five):
    response = api.get("/todos?limit=2&offset=2")
    api.expect(response, 200, json=five[2:4], headers={"X-Total-Count": "5"})
    expect_links(
        api, response, next={"limit": "2", "offset": "4"}, prev={"limit": "2", "offset": "0"}
    )


def test_last_page(api, five):
    response = api.get("/todos?limit=2&offset=4")
    api.expect(response, 200, json=five[4:], headers={"X-Total-Count": "5"})
    expect_links(api, response, next=None, prev={"limit": "2", "offset": "2"})


def test_page_that_ends_exactly_at_the_end_has_no_next(api, five):
    response = api.get("/todos?limit=5")
    api.expect(response, 200, json=five)
    expect_links(api, response, next=None, prev=None)


def test_prev_offset_never_goes_below_zero(api, five):
    response = api.get("/todos?limit=3&offset=1")
    api.expect(response, 200, json=five[1:4])
    expect_links(
        api, response, next={"limit": "3", "offset": "4"}, prev={"limit": "3", "offset": "0"}
    )


def test_offset_past_the_end_is_an_empty_page(api, five):
    response = api.get("/todos?limit=2&offset=10")
    api.expect(response, 200, json=[], headers={"X-Total-Count": "5"})
    expect_links(api, response, next=None, prev={"limit": "2", "offset": "8"})


def test_huge_offset_is_an_empty_page_not_an_error(api, five):
    response = api.get("/todos?offset=99999999999999999999999")
    api.expect(response, 200, json=[], headers={"X-Total-Count": "5"})


def test_following_next_then_prev_walks_every_page(api, five):
    seen, response = [], api.get("/todos?limit=2")
    pages = [response]
    while True:
        seen += api.expect(response, 200)
        if "next" not in response.links:
            break
        response = api.get(response.links["next"]["url"])
        pages.append(response)
    assert len(pages) == 3, f"/todos?limit=2 over 5 todos has 3 pages, next links gave {len(pages)}"
    assert seen == five, f"following next links from /todos?limit=2 gave {seen}, not {five}"
    back = []
    while "prev" in response.links:
        response = api.get(response.links["prev"]["url"])
        back.insert(0, api.expect(response, 200))
    assert back == [api.expect(page, 200) for page in pages[:-1]], (
        "prev links lead back page by page"
    )


def test_default_limit_is_100(api, empty_store):
    created = [api.create(f"todo {n}") for n in range(101)]
    response = api.get("/todos")
    api.expect(response, 200, json=created[:100], headers={"X-Total-Count": "101"})
    expect_links(api, response, next={"limit": "100", "offset": "100"}, prev=None)
    api.expect(api.get("/todos?limit=1000"), 200, json=created)


def test_unknown_query_parameters_are_ignored(api, five):
    api.expect(api.get("/todos?sort=title&page=2"), 200, json=five, headers={"X-Total-Count": "5"})


# --- Filtering ----------------------------------------------------------------------------


@pytest.mark.parametrize("completed", ["true", "false"])
def test_completed_filter(api, five, completed):
    wanted = [todo for todo in five if todo["completed"] == (completed == "true")]
    response = api.get(f"/todos?completed={completed}")
    api.expect(response, 200, json=wanted, headers={"X-Total-Count": str(len(wanted))})


def test_filter_and_pages_together(api, five):
    not_done = [todo for todo in five if not todo["completed"]]  # todos 1, 3 and 5
    response = api.get("/todos?completed=false&limit=1&offset=1")
    api.expect(response, 200, json=not_done[1:2], headers={"X-Total-Count": "3"})
    expect_links(
        api,
        response,
        next={"completed": "false", "limit": "1", "offset": "2"},
        prev={"completed": "false", "limit": "1", "offset": "0"},
    )
    api.expect(api.get(response.links["next"]["url"]), 200, json=not_done[2:])


def test_filter_follows_changes(api, five):
    api.expect(api.patch(f"/todos/{five[0]['id']}", json={"completed": True}), 200)
    response = api.get("/todos?completed=true")
    api.expect(response, 200, headers={"X-Total-Count": "3"})


# --- Invalid values -----------------------------------------------------------------------

BAD_QUERIES = [
    ("limit", "0"),
    ("limit", "1001"),
    ("limit", "-1"),
    ("limit", "abc"),
    ("limit", "1e3"),
    ("limit", "1.5"),
    ("limit", ""),
    ("limit", "5_0"),
    ("limit", "0x10"),
    ("limit", "99999999999999999999999"),
    ("offset", "-1"),
    ("offset", "abc"),
    ("offset", "1.5"),
    ("offset", "1e3"),
    ("offset", ""),
    ("offset", "5_0"),
    ("completed", "yes"),
    ("completed", "1"),
    ("completed", "0"),
    ("completed", "True"),
    ("completed", "FALSE"),
    ("completed", "null"),
    ("completed", ""),
]


# Every bad value on GET, whose problem document names the parameter; HEAD, whose answer has
# no body to name it in, once per parameter.
QUERY_CASES = [("GET", name, value) for name, value in BAD_QUERIES] + [
    ("HEAD", "limit", "0"),
    ("HEAD", "offset", "-1"),
    ("HEAD", "completed", "yes"),
]


@pytest.mark.parametrize(
    ("method", "name", "value"), QUERY_CASES, ids=[f"{m}-{n}={v}" for m, n, v in QUERY_CASES]
)
def test_invalid_query_value_is_400(api, method, name, value):
    response = api.request(method, f"/todos?{name}={value}")
    api.expect(response, 400, errors=() if method == "HEAD" else (name,))


@pytest.mark.parametrize("query", ["limit=1", "limit=1000", "offset=0"])
def test_range_limits_are_accepted(api, query):
    api.expect(api.get(f"/todos?{query}"), 200)
