"""Many clients at once: the store must stay consistent when requests arrive together.

The development server answers each request in its own thread, so a server that reads,
changes and writes its store without a lock loses todos, hands out the same id twice or
lets two clients both "win" an If-Match race.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

THREADS = 8


def test_concurrent_creates_get_distinct_ids_and_are_all_listed(api, empty_store):
    def create(n: int) -> dict:
        return api.create(f"parallel {n}")

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        created = list(pool.map(create, range(50)))
    ids = [todo["id"] for todo in created]
    assert len(set(ids)) == 50, f"50 creates gave {len(set(ids))} distinct ids: {sorted(ids)}"
    response = api.get("/todos?limit=1000")
    listed = api.expect(response, 200, headers={"X-Total-Count": "50"})
    api.check(
        [todo["id"] for todo in listed] == sorted(ids),
        response,
        f"exactly the 50 created todos, ordered by id: {sorted(ids)}",
    )


def test_only_one_of_several_racing_if_match_writes_wins(api, todo):
    # Every client read version 1 and now sends its change with If-Match: "1".
    start = threading.Barrier(THREADS, timeout=10)

    def patch(n: int):
        start.wait()
        return api.patch(
            f"/todos/{todo['id']}", json={"title": f"client {n}"}, headers={"If-Match": '"1"'}
        )

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        responses = list(pool.map(patch, range(THREADS)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (THREADS - 1), (
        f'{THREADS} PATCHes with If-Match: "1" at once answered {statuses}: '
        "exactly one may succeed, the others must get 412"
    )
    winner = next(response for response in responses if response.status_code == 200)
    api.expect(api.get(f"/todos/{todo['id']}"), 200, json=api.expect(winner, 200))
    for response in responses:
        api.expect(response, (200, 412))  # also checks each 412 problem document


def test_concurrent_changes_each_add_one_to_the_version(api, todo):
    def patch(n: int):
        return api.patch(f"/todos/{todo['id']}", json={"title": f"change {n}"})

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        responses = list(pool.map(patch, range(20)))
    versions = sorted(api.expect(response, 200)["version"] for response in responses)
    assert versions == list(range(2, 22)), (
        f"20 changes at once must give versions 2 to 21, each once; they gave {versions}"
    )
    api.expect(api.get(f"/todos/{todo['id']}"), 200, fields={"version": 21})
