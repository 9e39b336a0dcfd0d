// The todo page: another client of the todo API, like client.py, but in a browser.
//
// The page and the API come from different origins: this page from
// http://127.0.0.1:8080, the API from http://127.0.0.1:8000 (another port is another
// origin). A browser lets a page read answers from another origin only if that origin
// allows it, and the API does, with Access-Control-Allow-Origin: * on every answer
// (CORS). Before a request that a plain HTML form could never send (PATCH, DELETE, a JSON
// body, an If-Match header), the browser first asks the API with an OPTIONS request, the
// preflight, whether it may. The Network tab of the browser's developer tools shows both.

"use strict";

const BASE_URL_KEY = "todo-api-base-url"; // where the browser remembers the API's address

// What the page shows now: the URL of the page of todos on screen, and the API's links
// to the pages before and after it.
let shownUrl = "";
let pageLinks = {};
let lastListRequest = 0; // answers may arrive out of order: only the last one is shown

// An error answer of the API, or no answer at all (status 0).
class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function byId(id) {
  return document.getElementById(id);
}

function baseUrl() {
  return byId("base-url").value.trim().replace(/\/+$/, "");
}

// The first page of todos, with the filter and the page size chosen on the page.
function firstPageUrl() {
  const query = new URLSearchParams({ limit: byId("limit").value });
  const completed = document.querySelector("input[name=filter]:checked").value;
  if (completed) query.set("completed", completed); // "true": done, "false": open
  return `${baseUrl()}/todos?${query}`;
}

// Sends one request to the API. `version` is the version of the todo the page shows.
async function send(method, url, { body, version } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  // If-Match: "change it only if it is still the version I showed". Without it the last
  // change wins, and silently undoes one made meanwhile in another tab. With it, the API
  // answers 412 Precondition Failed and changes nothing.
  if (version !== undefined) headers["If-Match"] = `"${version}"`;
  let response;
  try {
    response = await fetch(url, { method, headers, body: body && JSON.stringify(body) });
  } catch {
    // fetch gives no reason, on purpose: to the page, a server that is down and one that
    // does not allow this origin look the same. The browser's console says which it was.
    throw new ApiError(
      0,
      `Cannot reach the todo API at ${baseUrl()}. Is it running? Start it with ` +
        "`flask run` in the step's server folder. If it runs, the browser's console says why.",
    );
  }
  if (!response.ok) throw new ApiError(response.status, await problemDetail(response));
  return response;
}

// Every error of the API is a problem document (RFC 9457); its detail is written for people.
async function problemDetail(response) {
  try {
    const problem = await response.json();
    if (typeof problem.detail === "string" && problem.detail) return problem.detail;
  } catch {
    // Not JSON: this is not the todo API (a server of another step on that port?).
  }
  return `The server answered ${response.status} ${response.statusText}.`;
}

// The links of a Link header by their rel: {next: "<url of the next page>", prev: ...}.
function parseLinks(header) {
  const links = {};
  for (const [, url, rel] of (header ?? "").matchAll(/<([^>]*)>\s*;\s*rel="(\w+)"/g)) {
    links[rel] = url;
  }
  return links;
}

async function showList(url) {
  const request = ++lastListRequest;
  const response = await send("GET", url);
  const todos = await response.json();
  if (request !== lastListRequest) return; // a newer list is on its way
  const links = parseLinks(response.headers.get("Link"));
  // The last todo of a page was deleted: show the page before instead of an empty one.
  if (todos.length === 0 && links.prev) return showList(links.prev);
  shownUrl = url;
  pageLinks = links;
  byId("todos").replaceChildren(...todos.map(todoRow));
  // The body is a plain list of todos, so how many there are and where the other pages
  // are come in headers: X-Total-Count and Link. A page from another origin may read only
  // a few headers, unless the API names more in Access-Control-Expose-Headers, as it does.
  const total = Number(response.headers.get("X-Total-Count"));
  const first = Number(new URL(url).searchParams.get("offset") ?? 0) + 1;
  byId("count").textContent = total
    ? `${first} to ${first + todos.length - 1} of ${total}`
    : "No todos here yet.";
  byId("prev").disabled = !links.prev;
  byId("next").disabled = !links.next;
}

function showFirstPage() {
  return showList(firstPageUrl());
}

// The page of todos on screen, again, as the API has it now.
function showAgain() {
  return showList(shownUrl || firstPageUrl());
}

// One row of the list: a copy of the <template> in index.html, filled in with the todo.
function todoRow(todo) {
  const row = byId("todo-row").content.firstElementChild.cloneNode(true);
  const done = row.querySelector(".done");
  done.checked = todo.completed;
  // textContent, never innerHTML: a title is text, even one that looks like HTML.
  row.querySelector(".title").textContent = todo.title;
  const version = row.querySelector(".version");
  version.textContent = `v${todo.version}`;
  version.title = `version ${todo.version}: its ETag is "${todo.version}"`;
  const rename = row.querySelector(".rename");
  const newTitle = row.querySelector(".new-title");
  newTitle.setAttribute("aria-label", `New title for ${todo.title}`);
  const edit = row.querySelector(".edit");
  edit.setAttribute("aria-label", `Rename ${todo.title}`);
  const remove = row.querySelector(".delete");
  remove.setAttribute("aria-label", `Delete ${todo.title}`);

  done.addEventListener(
    "change",
    guarded(() => change(todo, "PATCH", { completed: done.checked })),
  );
  edit.addEventListener("click", () => {
    rename.hidden = false;
    edit.hidden = true;
    newTitle.value = todo.title;
    newTitle.focus();
  });
  row.querySelector(".cancel").addEventListener("click", () => {
    rename.hidden = true;
    edit.hidden = false;
  });
  rename.addEventListener(
    "submit",
    guarded((event) => {
      event.preventDefault(); // the page sends the request itself: no form submission
      return change(todo, "PATCH", { title: newTitle.value });
    }),
  );
  remove.addEventListener("click", guarded(() => change(todo, "DELETE")));
  return row;
}

// PATCHes (only the fields given) or DELETEs a todo, then shows the list as the API has it
// now. The page sends the request to todo.url, the address the API gave the todo.
async function change(todo, method, fields) {
  try {
    const response = await send(method, todo.url, { body: fields, version: todo.version });
    if (method === "DELETE") {
      say(`Deleted “${todo.title}”.`);
    } else {
      const saved = await response.json();
      const state = saved.completed ? "done" : "open";
      say(`Saved “${saved.title}”, ${state}: now version ${saved.version}.`);
    }
  } catch (error) {
    if (![404, 409, 412].includes(error.status)) throw error;
    await showCurrent(todo);
  }
  await showAgain();
}

// 412 (If-Match named an old version) or 409 (so did the body): the todo changed since the
// page showed it, in another tab or another client, and the API changed nothing. The page
// says so and shows the todo as it is now: the user decides again, knowing the change.
async function showCurrent(todo) {
  try {
    const current = await (await send("GET", todo.url)).json();
    const state = `“${current.title}”, ${current.completed ? "done" : "open"}`;
    complain(
      `“${todo.title}” changed elsewhere (in another tab or client), so nothing was ` +
        `changed. It is now ${state}, version ${current.version}: make your change again ` +
        "if you still want it.",
    );
  } catch (error) {
    if (error.status !== 404) throw error;
    complain(`“${todo.title}” was deleted elsewhere (in another tab or client).`);
  }
}

async function addTodo(event) {
  event.preventDefault();
  const response = await send("POST", `${baseUrl()}/todos`, {
    body: { title: byId("new-title").value },
  });
  const todo = await response.json();
  // 201 Created, and Location: the address of the new todo.
  say(`Added “${todo.title}”: 201 Created, at ${response.headers.get("Location")}.`);
  byId("new-title").value = "";
  await showAgain();
}

// The API deletes one todo at a time (DELETE /todos deletes them all), so the page
// fetches every done todo, page after page, then deletes each with If-Match as above.
async function clearCompleted() {
  const done = [];
  let url = `${baseUrl()}/todos?completed=true&limit=100`;
  while (url) {
    const response = await send("GET", url);
    done.push(...(await response.json()));
    url = parseLinks(response.headers.get("Link")).next;
  }
  try {
    for (const todo of done) await send("DELETE", todo.url, { version: todo.version });
    say(`Deleted ${done.length} done todo${done.length === 1 ? "" : "s"}.`);
  } finally {
    await showAgain();
  }
}

async function connect(event) {
  event.preventDefault();
  localStorage.setItem(BASE_URL_KEY, baseUrl());
  await showFirstPage();
  say(`Showing the todos of ${baseUrl()}.`);
}

// What went right (role="status") and what went wrong (role="alert"): one at a time.
function say(news) {
  byId("news").textContent = news;
  byId("problem").textContent = "";
}

function complain(problem) {
  byId("news").textContent = "";
  byId("problem").textContent = problem;
}

// Runs an event handler, and shows the API's errors to the user. Other errors are bugs of
// this page: they go on to the browser's console.
function guarded(handler) {
  return async (event) => {
    try {
      await handler(event);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      complain(error.message);
    }
  };
}

byId("base-url").value = localStorage.getItem(BASE_URL_KEY) ?? byId("base-url").value;
byId("connect").addEventListener("submit", guarded(connect));
byId("add").addEventListener("submit", guarded(addTodo));
byId("filter").addEventListener("change", guarded(showFirstPage));
byId("limit").addEventListener("change", guarded(showFirstPage));
byId("prev").addEventListener("click", guarded(() => showList(pageLinks.prev)));
byId("next").addEventListener("click", guarded(() => showList(pageLinks.next)));
byId("clear-completed").addEventListener("click", guarded(clearCompleted));
guarded(showFirstPage)();
