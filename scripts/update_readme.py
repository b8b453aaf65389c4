"""Write the headline results table, the last build's time and the speed benchmark, read
from results/*.json, into README.md.

    python scripts/update_readme.py          # rewrite the table (make notebooks runs this)
    python scripts/update_readme.py --check  # fail when README.md's table is out of date

They go between the BEGIN and END markers of README.md.
"""

import sys
from pathlib import Path

from cifar_mlp.report import (bench_table, build_summary, load_results, markdown_table,
                              rebuild_summary)

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BEGIN, END = "<!-- results table: begin -->", "<!-- results table: end -->"


def readme_with_table(readme: str, table: str) -> str:
    """``readme`` with ``table`` in place of whatever stood between the markers."""
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return readme[:start] + "\n" + table + "\n" + readme[end:]


def generated(results_dir: Path) -> str:
    """What goes between the markers: the results table, the last build, the benchmark."""
    results = load_results(results_dir)
    parts = [markdown_table(results)]
    if "book_build" in results:
        parts.append(build_summary(results["book_build"]))
    if "book_rebuild" in results:
        parts.append(rebuild_summary(results["book_rebuild"]))
    if "bench" in results:
        parts.append("Speed, from `make bench`. " + bench_table(results["bench"]))
    return "\n\n".join(parts)


def main(argv) -> int:
    readme = README.read_text()
    updated = readme_with_table(readme, generated(REPO / "results"))
    if "--check" in argv:
        if updated != readme:
            print("README.md's results table is out of date: run python scripts/update_readme.py")
            return 1
        return 0
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
