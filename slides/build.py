"""Builds the talk in slides.md into a web page that presents with no network.

    python slides/build.py              writes slides/dist/
    python slides/build.py --out DIR    writes DIR instead

Open dist/index.html in a browser to present. Everything the page needs (its CSS and its
JavaScript) is written next to it; nothing is fetched from the internet, at build time or
when presenting. slides/README.md explains the source format and the presenter's keys.
"""

import argparse
import html
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "slides.md"
ASSETS = HERE / "assets"  # the presenter's own CSS and JavaScript, copied as they are
DEFAULT_OUT = HERE / "dist"

# A line holding only "---" ends one slide and starts the next (outside code blocks).
SLIDE_BREAK = "---"
# Speaker notes: a <details> block, which GitHub shows folded. The minutes are optional;
# a slide that has them starts a section of the talk planned to last that long.
NOTES = re.compile(
    r"^<details>\n<summary>Speaker notes(?: \((?P<minutes>\d+) min\))?</summary>\n"
    r"(?P<text>.*?)\n</details>[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
# The comment before a code block that names the file the code is quoted from.
CODE_SOURCE = re.compile(r"^<!-- from (?P<path>\S+) -->\s*$")
# The CSS class of a highlighted code block; code.css, made by Pygments, colours it.
CODE_CLASS = "code"
CODE_STYLE = "default"
# Code blocks in these languages are commands to type, not code quoted from a file.
SHELL_LANGUAGES = ("shell", "console")


@dataclass
class Slide:
    """One slide: its Markdown, its speaker notes, and the minutes planned from it on."""

    markdown: str
    notes: str
    minutes: int | None


def split_slides(text: str) -> list[str]:
    """Cuts the source at every `---` line that is not inside a fenced code block."""
    slides, lines, in_fence = [], [], False
    for line in text.splitlines():
        if line.startswith(("```", "~~~")):
            in_fence = not in_fence
        if line.strip() == SLIDE_BREAK and not in_fence:
            slides.append("\n".join(lines))
            lines = []
        else:
            lines.append(line)
    slides.append("\n".join(lines))
    return [slide.strip() for slide in slides if slide.strip()]


def parse_slide(source: str) -> Slide:
    """Separates a slide's speaker notes, and their minutes, from what the slide shows."""
    found = NOTES.search(source)
    if found is None:
        return Slide(source, "", None)
    minutes = int(found["minutes"]) if found["minutes"] else None
    shown = (source[: found.start()] + source[found.end() :]).strip()
    return Slide(shown, found["text"].strip(), minutes)


def read_slides(path: Path = SOURCE) -> list[Slide]:
    """Every slide of the talk, in order."""
    return [parse_slide(part) for part in split_slides(path.read_text(encoding="utf-8"))]


def highlight_code(code: str, language: str, _attributes: str) -> str:
    """A code block as highlighted HTML; plain, but escaped, for an unknown language."""
    try:
        lexer = get_lexer_by_name(language or "text")
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    body = highlight(code, lexer, HtmlFormatter(nowrap=True))
    kind = " shell" if language in SHELL_LANGUAGES else ""
    return f'<pre class="{CODE_CLASS}{kind}"><code>{body}</code></pre>'


def markdown_renderer() -> MarkdownIt:
    """CommonMark with tables, highlighted code, and code-source comments shown as captions."""
    renderer = MarkdownIt("commonmark", {"html": True, "highlight": highlight_code})
    renderer.enable("table")
    show_html_block = renderer.renderer.rules["html_block"]

    def html_block(tokens: Sequence[Token], index: int, options: OptionsDict, env: EnvType) -> str:
        """Shows `<!-- from path -->` as a caption; passes other HTML through unchanged."""
        found = CODE_SOURCE.match(tokens[index].content)
        if found:
            return f'<p class="code-source">{html.escape(found["path"])}</p>\n'
        return show_html_block(tokens, index, options, env)

    renderer.renderer.rules["html_block"] = html_block
    return renderer


def slide_kind(number: int, slide: Slide) -> str:
    """The first slide is the title; a slide that starts with a level-1 heading opens a part."""
    if number == 1:
        return "title"
    if slide.markdown.startswith("# "):
        return "part"
    return "content"


def render_deck(slides: list[Slide], renderer: MarkdownIt) -> str:
    """The whole deck as one HTML page."""
    sections, start, section_start, section_minutes = [], 0, 0, 0
    for number, slide in enumerate(slides, start=1):
        if slide.minutes is not None:  # a new section of the talk starts here
            section_start, section_minutes = start, slide.minutes
            start += slide.minutes
        notes = renderer.render(slide.notes) if slide.notes else "<p>(No notes.)</p>\n"
        sections.append(
            f'<section class="slide {slide_kind(number, slide)}" id="slide-{number}" '
            f'data-number="{number}" data-planned-start="{section_start}" '
            f'data-planned-end="{section_start + section_minutes}">\n'
            f"{renderer.render(slide.markdown)}"
            f'<aside class="notes">\n{notes}</aside>\n'
            "</section>"
        )
    title = first_heading(slides[0].markdown)
    return PAGE.format(title=html.escape(title), slides="\n\n".join(sections))


def first_heading(markdown: str) -> str:
    """The text of the first heading in some Markdown, for the page's title."""
    found = re.search(r"^#+ (.+)$", markdown, re.MULTILINE)
    return found[1] if found else "Slides"


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="deck.css">
<link rel="stylesheet" href="code.css">
</head>
<body>
<main class="deck">
{slides}
</main>
<script src="deck.js"></script>
</body>
</html>
"""


def build(out: Path, source: Path = SOURCE) -> Path:
    """Writes the deck into `out` and returns the path of its index.html."""
    out.mkdir(parents=True, exist_ok=True)
    page = render_deck(read_slides(source), markdown_renderer())
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    code_css = HtmlFormatter(style=CODE_STYLE).get_style_defs(f".{CODE_CLASS}")
    (out / "code.css").write_text(code_css + "\n", encoding="utf-8")
    for asset in ("deck.css", "deck.js"):
        shutil.copyfile(ASSETS / asset, out / asset)
    return index


def main(argv: list[str] | None = None) -> int:
    """Builds the deck; prints where it is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="the folder to write the deck into (default: slides/dist)",
    )
    args = parser.parse_args(argv)
    index = build(args.out.resolve())
    print(f"Built {index}. Open it in a browser to present.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
