"""The code that README.md quotes from server/app.py is really there, line for line."""

import re
import textwrap
from pathlib import Path

# A quoted block is a ```python fence just after this marker, which GitHub does not show.
QUOTED_BLOCK = re.compile(r"<!-- quoted from server/app.py -->\s*```python\n(.*?)```", re.DOTALL)


def appears_in(block: str, source: str) -> bool:
    """True when the block's lines follow each other in the source, indentation aside."""
    block_lines = textwrap.dedent(block).splitlines()
    source_lines = source.splitlines()
    for start in range(len(source_lines) - len(block_lines) + 1):
        window = source_lines[start : start + len(block_lines)]
        if textwrap.dedent("\n".join(window)).splitlines() == block_lines:
            return True
    return False


def test_code_quoted_in_the_readme_is_in_app_py(step_dir: Path) -> None:
    readme = (step_dir / "README.md").read_text(encoding="utf-8")
    source = (step_dir / "server" / "app.py").read_text(encoding="utf-8")
    blocks = QUOTED_BLOCK.findall(readme)

    assert blocks, "README.md quotes no code from server/app.py: is the marker still there?"
    for block in blocks:
        assert appears_in(block, source), (
            f"README.md quotes code that app.py no longer has:\n{block}"
        )


def test_every_python_block_in_the_readme_is_marked_as_quoted(step_dir: Path) -> None:
    readme = (step_dir / "README.md").read_text(encoding="utf-8")
    assert readme.count("```python") == len(QUOTED_BLOCK.findall(readme))
