"""docs/ is the project's own reference, kept in step with the code: every event type and its fields,
every command and option, every rule id and every route the code has is documented there, and
what docs/ names as a command, a route or an event type exists.

Each list is taken from the code, never written out here: the domain's registry of event classes
(and their dataclasses), the API's OpenAPI document, the `ktpledger` command tree as `main()` builds
it, the `R-nn` strings of the source and the app's routes.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ktpledger.domain import events as domain_events

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SOURCE = ROOT / "ktpledger"

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = re.compile(r"^(```|~~~)")
RULE_ID = re.compile(r"\bR-[0-9]{2}\b")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


# --- reading the docs ------------------------------------------------------------------------------


def read_doc(name: str) -> str:
    path = DOCS / name
    assert path.is_file(), f"docs/{name} is missing"
    return path.read_text(encoding="utf-8")


def headings(text: str) -> Iterator[tuple[int, str, int, int]]:
    """(level, title, start, end) of each heading outside code blocks; the section runs from the
    heading's line to the next heading of the same or a higher level (end is a line index)."""
    lines = text.splitlines()
    found: list[tuple[int, str, int]] = []
    fenced = False
    for number, line in enumerate(lines):
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2).replace("`", "").strip(), number))
    for index, (level, title, start) in enumerate(found):
        end = next((line for lvl, _, line in found[index + 1 :] if lvl <= level), len(lines))
        yield level, title, start, end


def sections(text: str) -> dict[str, str]:
    """Each heading's title (backticks dropped) and its section's text (the heading's own line
    included). A title that appears twice keeps both sections, joined."""
    lines = text.splitlines()
    found: dict[str, str] = {}
    for _, title, start, end in headings(text):
        found[title] = found.get(title, "") + "\n".join(lines[start:end]) + "\n"
    return found


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def names_word(text: str, word: str) -> bool:
    """`word` appears in `text` as a whole name (not inside a longer identifier)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


# --- (a) events ------------------------------------------------------------------------------------

# Attributes of the domain's dataclasses whose JSON name (`to_data()`) differs from the attribute:
# the name a reader of the JSON sees is the one docs/events.md must give.
JSON_NAMES = {"from_category": "from", "to_category": "to", "decision": "kind"}


def decision_classes() -> tuple[type, ...]:
    """The kinds of LMC decision: the members of the domain's `Decision` union."""
    return tuple(typing.get_args(domain_events.Decision))


def dataclass_fields(cls: type) -> list[str]:
    """The JSON names of an event class's data fields, from its dataclass (and, for an LMC
    decision, from each kind's dataclass, with `kind` itself)."""
    names = []
    for item in dataclasses.fields(cls):
        if item.name == "decision":
            names.append("kind")
            for kind in decision_classes():
                names += [JSON_NAMES.get(f.name, f.name) for f in dataclasses.fields(kind)]
        else:
            names.append(JSON_NAMES.get(item.name, item.name))
    return names


def schema_properties(schema: dict[str, Any]) -> set[str]:
    """Every property name of a JSON Schema object, through its `oneOf`/`anyOf` branches."""
    names = set(schema.get("properties", {}))
    for branch in (*schema.get("oneOf", ()), *schema.get("anyOf", ())):
        names |= schema_properties(branch)
    return names


@pytest.fixture(scope="module")
def built_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The FastAPI app as the composition root builds it (tests/api/conftest.py), over an SQLite
    file in a temporary folder."""
    from ktpledger.api.app import create_app
    from ktpledger.bootstrap import bootstrap
    from ktpledger.settings import Settings

    folder = tmp_path_factory.mktemp("docs-app")
    application = bootstrap(Settings(database_url=f"sqlite:///{folder / 'ledger.db'}"))
    yield create_app(application)
    application.close()


@pytest.fixture(scope="module")
def openapi(built_app: Any) -> dict[str, Any]:
    """The app's OpenAPI document, as `/openapi.json` serves it."""
    document: dict[str, Any] = built_app.openapi()
    return document


def event_data_schemas(openapi: dict[str, Any]) -> dict[str, set[str]]:
    """Each event type's data fields by the API's own schema (`#/components/schemas/Event`)."""
    found: dict[str, set[str]] = {}
    for branch in openapi["components"]["schemas"]["Event"]["oneOf"]:
        event_type = branch["properties"]["type"]["const"]
        found[event_type] = schema_properties(branch["properties"]["data"])
    return found


def test_every_event_type_has_a_heading_in_events_md() -> None:
    titles = {title for _, title, _, _ in headings(read_doc("events.md"))}
    missing = sorted(set(domain_events.EVENT_TYPES) - titles)
    assert not missing, f"docs/events.md has no heading for the event types {missing}"


def test_every_event_heading_is_an_event_type() -> None:
    """A level-2 heading in CamelCase names an event type the domain knows."""
    text = read_doc("events.md")
    camel = {
        title
        for level, title, _, _ in headings(text)
        if level == 2 and re.fullmatch(r"[A-Z][a-zA-Z]+", title)
    }
    unknown = sorted(camel - set(domain_events.EVENT_TYPES))
    assert not unknown, f"docs/events.md describes event types the code does not have: {unknown}"


def test_every_field_of_each_event_is_named_in_its_section(openapi: dict[str, Any]) -> None:
    by_schema = event_data_schemas(openapi)
    assert set(by_schema) == set(domain_events.EVENT_TYPES), (
        "the API's Event schema and the domain's EVENT_TYPES list different types: "
        f"{sorted(set(by_schema) ^ set(domain_events.EVENT_TYPES))}"
    )
    # The JSON names given to renamed attributes are the schema's own: JSON_NAMES cannot go stale.
    assert set(JSON_NAMES.values()) <= by_schema["LMCDecision"], JSON_NAMES
    text = sections(read_doc("events.md"))
    missing = []
    for event_type, cls in domain_events.EVENT_TYPES.items():
        section = text.get(event_type, "")
        wanted = set(dataclass_fields(cls)) | by_schema[event_type]
        missing += [f"{event_type}.{name}" for name in sorted(wanted) if not names_word(section, f"`{name}`")]
    assert not missing, f"docs/events.md does not name these fields in their event's section: {missing}"


def test_every_kind_of_lmc_decision_is_described() -> None:
    section = sections(read_doc("events.md")).get("LMCDecision", "")
    kinds = [kind.KIND for kind in decision_classes()]
    assert kinds, "the domain's Decision union is empty"
    missing = [kind for kind in kinds if not names_word(section, f"kind: {kind}")]
    assert not missing, f"docs/events.md's LMCDecision section has no heading 'kind: ...' for {missing}"


def documented_events(text: str) -> list[dict[str, Any]]:
    """The submitted events shown in ```json blocks (a block or each of its lines), not the
    recorded ones (which carry `version`)."""
    found = []
    for block in code_blocks(text, "json"):
        try:
            documents = [json.loads(block)]
        except ValueError:
            documents = []
            for line in block.splitlines():
                try:
                    documents.append(json.loads(line))
                except ValueError:
                    continue
        found += [
            document
            for document in documents
            if isinstance(document, dict)
            and document.get("type") in domain_events.EVENT_TYPES
            and "version" not in document
        ]
    return found


def test_every_event_type_has_an_example_that_still_parses() -> None:
    text = read_doc("events.md")
    examples = documented_events(text)
    refused = []
    for example in examples:
        try:
            domain_events.parse_event(example)
        except ValueError as error:  # RuleViolation
            refused.append((example["type"], example["key"], str(error)))
    assert not refused, f"examples in docs/events.md that the ledger refuses: {refused}"
    shown = {example["type"] for example in examples}
    kinds = {example["data"].get("kind") for example in examples if example["type"] == "LMCDecision"}
    assert not set(domain_events.EVENT_TYPES) - shown, (
        f"no example of {set(domain_events.EVENT_TYPES) - shown}"
    )
    want_kinds = {kind.KIND for kind in decision_classes()}
    assert not want_kinds - kinds, f"no example of the LMC decision kinds {want_kinds - kinds}"


# --- (b) the command line --------------------------------------------------------------------------

# Run in a fresh interpreter of this environment: import the console script's entry point and call
# it as the `ktpledger` script does, with the command classes' `main` replaced by a dump of the
# command tree (so commands registered at `main()` time are in it too). Walked by duck typing:
# typer builds its commands on click or on its own copy of it.
TREE_SCRIPT = r"""
import json, sys
from importlib.metadata import entry_points
import typer.core

def tree(command, path):
    options = sorted(
        name
        for param in command.params
        if getattr(param, "param_type_name", "") == "option" and not getattr(param, "hidden", False)
        for name in (*param.opts, *param.secondary_opts)
        if name.startswith("--")
    )
    found = {" ".join(path): options}
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        if not getattr(sub, "hidden", False):
            found.update(tree(sub, [*path, name]))
    return found

def dump(self, *args, **kwargs):
    sys.stdout.write(json.dumps(tree(self, ["ktpledger"])))
    sys.exit(0)

classes = {typer.core.TyperGroup, typer.core.TyperCommand}
for base in (typer.core.TyperGroup, typer.core.TyperCommand):
    classes.update(cls for cls in base.__mro__ if "main" in vars(cls))
for cls in classes:
    cls.main = dump
try:
    import click
    click.Command.main = dump
except ImportError:
    pass

[script] = [point for point in entry_points(group="console_scripts") if point.name == "ktpledger"]
script.load()()
"""


@pytest.fixture(scope="module")
def command_tree() -> dict[str, list[str]]:
    """Every command path ("ktpledger", "ktpledger db upgrade", ...) and its long options."""
    done = subprocess.run(
        [sys.executable, "-c", TREE_SCRIPT, "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    tree: dict[str, list[str]] = json.loads(done.stdout)
    assert "ktpledger record" in tree, f"the command tree looks wrong: {sorted(tree)}"
    return tree


def test_every_command_has_a_heading_in_cli_md(command_tree: dict[str, list[str]]) -> None:
    titles = {title for _, title, _, _ in headings(read_doc("cli.md"))}
    missing = sorted(set(command_tree) - titles)
    assert not missing, f"docs/cli.md has no heading for the commands {missing}"


def test_every_option_is_named_in_its_command_section(command_tree: dict[str, list[str]]) -> None:
    text = sections(read_doc("cli.md"))
    missing = [
        f"{command} {option}"
        for command, options in sorted(command_tree.items())
        for option in options
        if not names_word(text.get(command, ""), option)
    ]
    assert not missing, f"docs/cli.md does not name these options in their command's section: {missing}"


def test_every_command_heading_is_a_command(command_tree: dict[str, list[str]]) -> None:
    text = read_doc("cli.md")
    named = {title for _, title, _, _ in headings(text) if title.split(" ", 1)[0] == "ktpledger"}
    unknown = sorted(named - set(command_tree))
    assert not unknown, f"docs/cli.md describes commands ktpledger does not have: {unknown}"


# --- (c) rules -------------------------------------------------------------------------------------


def rules_in_source() -> dict[str, list[str]]:
    """Every R-nn written anywhere under ktpledger/ (code, templates, static files), with where."""
    found: dict[str, list[str]] = {}
    for path in sorted(SOURCE.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # fonts, images
        for rule in set(RULE_ID.findall(text)):
            found.setdefault(rule, []).append(str(path.relative_to(ROOT)))
    return found


def rule_sections(text: str) -> dict[str, str]:
    """The section of each rule: a heading that starts with its id ("R-31 The grant offer")."""
    found = {}
    for title, body in sections(text).items():
        match = re.match(r"(R-[0-9]{2})\b", title)
        if match:
            found[match.group(1)] = body
    return found


def test_the_source_cites_rules() -> None:
    assert len(rules_in_source()) >= 10, "found almost no R-nn in ktpledger/: is SOURCE right?"


def test_every_rule_in_the_source_is_described_in_rules_md() -> None:
    described = rule_sections(read_doc("rules.md"))
    missing = {rule: files[:3] for rule, files in sorted(rules_in_source().items()) if rule not in described}
    assert not missing, f"docs/rules.md has no section for rules the code cites: {missing}"


def test_every_rule_in_rules_md_is_in_the_code_or_marked() -> None:
    text = read_doc("rules.md")
    described = rule_sections(text)
    cited = rules_in_source()
    without_section = sorted(set(RULE_ID.findall(text)) - set(described))
    assert not without_section, f"docs/rules.md mentions rules it has no section for: {without_section}"
    unmarked = [
        rule
        for rule, body in sorted(described.items())
        if rule not in cited and not re.search(r"not enforced by code\W+\w+", body, flags=re.IGNORECASE)
    ]
    assert not unmarked, (
        "docs/rules.md describes rules the code never cites, without saying 'not enforced by code' "
        f"and why: {unmarked}"
    )


# --- (d) the HTTP API and the dashboard ------------------------------------------------------------


def normalised(path: str) -> str:
    """`/projects/{project:path}/events` as OpenAPI writes it: `/projects/{project}/events`."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def walk_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, and ("MOUNT", path) of every mount, through included routers
    (FastAPI keeps an included router as one entry, `original_router`, in recent versions)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from walk_routes(included.routes, prefix + getattr(context, "prefix", ""))
            continue
        path = getattr(route, "path", None)
        if path is None:
            continue
        methods = getattr(route, "methods", None)
        if methods:
            for method in sorted(methods):
                if method in HTTP_METHODS:
                    yield method, normalised(prefix + path)
        else:
            yield "MOUNT", prefix + path


@pytest.fixture(scope="module")
def routes(built_app: Any, openapi: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    app, document = built_app, openapi
    in_schema = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method.upper() in HTTP_METHODS
    }
    walked = set(walk_routes(app.routes))
    served = {item for item in walked if item[0] != "MOUNT"}
    # The walk must see what the OpenAPI document sees, or it would miss routes silently.
    assert in_schema <= served, f"routes in the OpenAPI document the walk missed: {in_schema - served}"
    dashboard = {item for item in served if item[1] == "/" or item[1].startswith("/dashboard")}
    assert dashboard, "found no dashboard route: has the walk of app.routes broken?"
    return {
        "schema": in_schema,
        "all": served,
        "mounts": {path for method, path in walked if method == "MOUNT"},
    }


def route_headings(text: str) -> set[tuple[str, str]]:
    found = set()
    for _, title, _, _ in headings(text):
        method, _, path = title.partition(" ")
        if method in HTTP_METHODS and path.startswith("/"):
            found.add((method, path.strip()))
    return found


def test_every_openapi_route_has_a_heading_in_http_api_md(routes: dict[str, set[tuple[str, str]]]) -> None:
    documented = route_headings(read_doc("http-api.md"))
    missing = sorted(routes["schema"] - documented)
    assert not missing, f"docs/http-api.md has no heading for the API routes {missing}"


def test_every_dashboard_and_other_route_has_a_heading(routes: dict[str, set[tuple[str, str]]]) -> None:
    documented = route_headings(read_doc("http-api.md"))
    missing = sorted(routes["all"] - documented)
    assert not missing, f"docs/http-api.md has no heading for the routes {missing}"


def test_every_static_mount_is_named(routes: dict[str, set[tuple[str, str]]]) -> None:
    text = read_doc("http-api.md")
    missing = sorted(path for path in routes["mounts"] if path not in text)
    assert not missing, f"docs/http-api.md does not name the static mounts {missing}"


def test_every_route_heading_is_a_route(routes: dict[str, set[tuple[str, str]]]) -> None:
    unknown = sorted(route_headings(read_doc("http-api.md")) - routes["all"])
    assert not unknown, f"docs/http-api.md describes routes the app does not serve: {unknown}"


# --- the pointers ----------------------------------------------------------------------------------


def test_readme_points_at_docs_not_at_a_folder_outside_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "shared/spec" not in readme, "README.md points at shared/spec/, which a clone does not have"
    assert "docs/" in readme
    for page in ("README.md", "rules.md", "events.md", "cli.md", "http-api.md"):
        assert (DOCS / page).is_file(), f"docs/{page} is missing"


def slug(title: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def test_links_between_the_pages_reach_a_page_and_a_heading() -> None:
    broken = []
    for page in sorted(DOCS.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target:
                continue
            name, _, anchor = target.partition("#")
            linked = (page.parent / name).resolve() if name else page
            if not linked.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and linked.suffix == ".md":
                anchors = {slug(title) for _, title, _, _ in headings(linked.read_text(encoding="utf-8"))}
                if anchor not in anchors:
                    broken.append(f"{page.name}: {target}")
    assert not broken, f"links in docs/ to no page or no heading: {broken}"
