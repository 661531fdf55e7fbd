"""MkDocs hooks: the pages the site takes from elsewhere in the repository.

- ``index.md`` is README.md, ``examples.md`` examples/README.md and ``changelog.md`` CHANGELOG.md,
  so each is written once.
- ``notebooks/*.ipynb`` (at the repository root) join the site and its nav, however many there are;
  mkdocs-jupyter renders them without running them.
- ``<!-- cli-help -->`` in a page becomes the ``nnfs-gpu`` parser's help, command by command, so the
  command-line page cannot fall behind the parser.
- A link to a file outside ``docs/`` (``examples/ch10_sgd.py``) points at the repository on GitHub, a
  link into ``docs/`` from README.md works on the site too, and a link to a file the site takes as a
  page (``../CHANGELOG.md``) leads to that page: pages keep links that work on GitHub.
"""

from __future__ import annotations

import argparse
import os
import posixpath
import re
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the docs extra installs tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOCS = "docs"
#: pages made from files outside docs/: the page, and the file whose text it is
TAKEN_PAGES = {"index.md": "README.md", "examples.md": "examples/README.md", "changelog.md": "CHANGELOG.md"}
TAKEN_SOURCES = {source: page for page, source in TAKEN_PAGES.items()}
NOTEBOOKS = "notebooks"
CLI_MARKER = "<!-- cli-help -->"
HELP_COLUMNS = "100"
LINK = re.compile(r"(\]\(|src=\")([^)\"\s]+)")


def repository_url() -> str:
    """Where the repository lives: pyproject.toml's ``[project.urls] Repository``, the one place."""
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["project"]["urls"]["Repository"]


def notebooks() -> list[str]:
    """The notebooks' paths in the site (``notebooks/NAME.ipynb``), in name order."""
    return [f"{NOTEBOOKS}/{path.name}" for path in sorted((ROOT / NOTEBOOKS).glob("*.ipynb"))]


def on_config(config: Any) -> Any:
    """The repository's URL and name from pyproject.toml, and a Notebooks section in the nav (before
    the API reference) when there are notebooks."""
    config["repo_url"] = repository_url()
    config["repo_name"] = "/".join(repository_url().rstrip("/").split("/")[-2:])
    found = notebooks()
    if found:
        titles = [next(iter(item)) if isinstance(item, dict) else item for item in config["nav"]]
        where = titles.index("API reference") if "API reference" in titles else len(titles)
        config["nav"].insert(where, {"Notebooks": found})
    return config


@event_priority(100)  # before mkdocs-jupyter's on_files, which takes the notebooks it finds
def on_files(files: Files, config: Any) -> Files:
    """Adds the pages taken from README.md and CHANGELOG.md, and the notebooks."""
    for page, source in TAKEN_PAGES.items():
        files.append(File.generated(config, page, abs_src_path=str(ROOT / source)))
    for notebook in notebooks():
        files.append(File(notebook, src_dir=str(ROOT), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """The command line's help where a page asks for it, and links that work from the site."""
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, command_line_help())
    source = TAKEN_PAGES.get(page.file.src_uri, posixpath.join(DOCS, page.file.src_uri))
    return rewrite_links(markdown, source, page.file.src_uri)


def rewrite_links(markdown: str, source: str, page: str, base: str | None = None) -> str:
    """Links of a page written at ``source`` (a path in the repository) and shown at ``page`` (a path
    in docs/), as the site must have them."""
    base = base or repository_url()
    source_folder, page_folder = posixpath.dirname(source), posixpath.dirname(page)

    def rewrite(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target):  # a URL, an anchor, or an absolute path
            return match.group(0)
        path, _, anchor = target.partition("#")
        in_repository = posixpath.normpath(posixpath.join(source_folder, path))
        if in_repository in TAKEN_SOURCES:  # a page the site takes from elsewhere: README.md is index.md
            new = posixpath.relpath(TAKEN_SOURCES[in_repository], page_folder or ".")
        elif in_repository.startswith(DOCS + "/"):
            new = posixpath.relpath(in_repository.removeprefix(DOCS + "/"), page_folder or ".")
        else:
            kind = "tree" if (ROOT / in_repository).is_dir() else "blob"
            new = f"{base}/{kind}/main/{in_repository}"
        return match.group(1) + new + (f"#{anchor}" if anchor else "")

    return LINK.sub(rewrite, markdown)


def command_line_help() -> str:
    """The help of ``nnfs-gpu`` and of each of its commands, as Markdown sections."""
    from nnfs_gpu.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS  # argparse wraps to the terminal: one width for the site
    try:
        parser = build_parser()
        sections = [help_section(parser.prog, parser)]
        commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
        sections += [help_section(f"{parser.prog} {name}", command) for name, command in commands.choices.items()]
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return "\n\n".join(sections)


def help_section(title: str, parser: argparse.ArgumentParser) -> str:
    parser.color = False  # Python 3.14's argparse colours help for a terminal; the page is plain text
    return f"### `{title}`\n\n```text\n{parser.format_help().rstrip()}\n```"
