"""README.md stays true: the code it quotes is in the files it names, line for line.

Each ```python block in the README starts with a comment such as
`# from server/repository.py`; the lines after it must follow each other in that file,
indentation aside. A block without that comment fails, so nothing pasted can drift.
"""

import re
import textwrap
from pathlib import Path

STEP_DIR = Path(__file__).resolve().parent.parent
README = (STEP_DIR / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"^```python\n(.*?)^```", README, re.DOTALL | re.MULTILINE)
QUOTED_FROM = re.compile(r"# from (\S+)\n")


def appears_in(block: str, source: str) -> bool:
    """True when the block's lines follow each other in the source, indentation aside."""
    block_lines = textwrap.dedent(block).splitlines()
    source_lines = source.splitlines()
    for start in range(len(source_lines) - len(block_lines) + 1):
        window = source_lines[start : start + len(block_lines)]
        if textwrap.dedent("\n".join(window)).splitlines() == block_lines:
            return True
    return False


def test_the_readme_quotes_code():
    assert len(PYTHON_BLOCKS) >= 5, "the README's python blocks were not found"


def test_every_python_block_names_its_file_and_is_in_it():
    for block in PYTHON_BLOCKS:
        marker = QUOTED_FROM.match(block)
        assert marker, f"this block does not start with `# from <file>`:\n{block}"
        source_file = STEP_DIR / marker.group(1)
        assert source_file.is_file(), f"the README quotes {marker.group(1)}, which is not there"
        quoted = block[marker.end() :]
        assert appears_in(quoted, source_file.read_text(encoding="utf-8")), (
            f"README.md quotes code that {marker.group(1)} no longer has:\n{quoted}"
        )


def test_every_test_file_is_described_and_every_one_described_exists():
    described = set(re.findall(r"`tests/(test_\w+\.py)`", README))
    present = {path.name for path in (STEP_DIR / "tests").glob("test_*.py")}

    assert described == present
