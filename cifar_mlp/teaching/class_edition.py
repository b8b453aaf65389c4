"""The class edition: the HTML book without the exercises' solutions and the questions'
model answers.

    make class-book        # python -m cifar_mlp.teaching.class_edition: _build/class/html/

A teacher publishes it instead of the full book for a course whose exercises count: the
full book folds its solutions and model answers away, but one click opens them. The
class edition is the full book with these left out, and nothing else changed:

* every solution becomes the stub students get (``# YOUR CODE HERE`` and
  ``raise NotImplementedError()``), and its check shows no result;
* where a chapter shows the package's code of a function an exercise asks for, a line
  names the exercise instead;
* every model answer (and its rubric) becomes a line saying that the teacher's edition
  has it; the page *For teachers* lists the questions with that line too, as it reads
  the chapters of its own edition.

Every other cell and output is the one the full book shows. The chapters are not run
again (their answers are stubs now): the class edition is made from the chapters as
``make book`` executed them (``_build/jupyter_execute/notebooks/``) when they are at
least as new as ``notebooks/``, otherwise from the committed notebooks, which ``make
notebooks`` executed; it says which. The book's other pages (the landing page, the
results, how to reproduce, for teachers) are run again, as ``make book`` runs them:
run it with the same ``CIFAR_MLP_PROFILE`` as ``make book``. The transformation is the
student edition's (:func:`cifar_mlp.teaching.student.edition_notebook`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import nbformat
import yaml

from .student import class_notebook

EXECUTED = Path("_build") / "jupyter_execute" / "notebooks"  # where make book's runs land
OUT = Path("_build") / "class"  # the class edition: OUT/html; OUT/src, what it is built from


def is_executed(path: Path) -> bool:
    """A notebook whose code cells carry outputs, none of them an error."""
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    outputs = [o for c in cells for o in c.outputs]
    return bool(outputs) and not any(o.output_type == "error" for o in outputs)


def chapters(root: Path) -> list[Path]:
    """The committed chapter notebooks, in the order of the table of contents."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [entry["file"] for entry in toc.get("chapters", []) if "file" in entry]
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").is_file()]


def executed_chapters(root: Path) -> tuple[list[Path], str]:
    """The executed chapter notebooks the full book shows, and a sentence saying which.

    ``make book``'s own runs (``_build/jupyter_execute/notebooks/``) when every chapter
    has one, executed without error, at least as new as its committed notebook;
    otherwise the committed notebooks (executed by ``make notebooks``). Stops with a
    message when neither is executed."""
    committed = chapters(root)
    if not committed:
        raise SystemExit(f"no chapter notebooks in {root / '_toc.yml'}")
    built = [root / EXECUTED / p.name for p in committed]
    if all(b.is_file() for b in built):
        stale = [b.name for b, c in zip(built, committed) if b.stat().st_mtime < c.stat().st_mtime]
        failed = [b.name for b in built if not is_executed(b)]
        if not stale and not failed:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(min(b.stat().st_mtime for b in built)))
            return built, (f"the chapters as make book executed them ({EXECUTED}/, {when}), "
                           "at least as new as notebooks/")
        why = (f"{EXECUTED}/ is older than notebooks/ ({', '.join(stale)})" if stale
               else f"{EXECUTED}/ has {', '.join(failed)} without outputs or with an error")
    else:
        why = f"{EXECUTED}/ does not hold every chapter (no make book run)"
    unexecuted = [p.name for p in committed if not is_executed(p)]
    if unexecuted:
        raise SystemExit(
            f"No executed chapter notebooks: {why}, and in notebooks/ {', '.join(unexecuted)} "
            "have no outputs or an error. Run make book (or make notebooks) first.")
    return committed, f"the committed notebooks (notebooks/, executed by make notebooks), as {why}"


def stage(root: Path, src: Path, notebooks: Iterable[Path], transform: Callable,
          not_executed: Iterable[str] = ()) -> Path:
    """A book folder ``src`` to build the edition from: the book's pages, table of contents
    and a configuration that runs the pages but not the chapters (``notebooks/*``, nor
    the glob patterns ``not_executed``), with each of ``notebooks`` changed by
    ``transform``. Its ``data/`` and ``results/`` are the repository's (links), so that
    the pages find the repository's results there, and the page *For teachers* reads the
    chapters of this edition."""
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    shutil.copytree(root / "book", src / "book", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(root / "_toc.yml", src / "_toc.yml")
    for name in ("data", "results"):
        (src / name).symlink_to((root / name).resolve(), target_is_directory=True)
    (src / "notebooks").mkdir()
    for path in notebooks:
        nbformat.write(transform(nbformat.read(path, as_version=4)), src / "notebooks" / path.name)
    config = yaml.safe_load((root / "_config.yml").read_text())
    execute = config.setdefault("execute", {})
    execute["exclude_patterns"] = [*execute.get("exclude_patterns", []), "notebooks/*", *not_executed]
    (src / "_config.yml").write_text(
        "# Generated by cifar_mlp.teaching.class_edition from the repository's _config.yml:\n"
        "# the chapters keep the outputs they were staged with, they are not run again.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return src


def build(root: Path, out: Path, notebooks: Iterable[Path], transform: Callable = class_notebook,
          not_executed: Iterable[str] = (), quiet: bool = False) -> Path:
    """Stage the edition in ``out/src`` (:func:`stage`), build its HTML with jupyter-book and
    put it in ``out/html``; return that folder. ``quiet``: the build's log is kept (in
    ``out/build.log``) instead of shown, and its end is shown if it fails."""
    src = stage(root, out / "src", notebooks, transform, not_executed)
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", "--all", "--keep-going", str(src)]
    if quiet:
        run = subprocess.run(command, cwd=root, capture_output=True, text=True)
        (out / "build.log").write_text(run.stdout + run.stderr)
    else:
        run = subprocess.run(command, cwd=root)
    if run.returncode != 0:
        tail = (run.stdout + run.stderr)[-3000:] if quiet else ""
        raise SystemExit(f"{tail}\njupyter-book build {src} failed (exit status {run.returncode})")
    html = out / "html"
    shutil.rmtree(html, ignore_errors=True)
    (src / "_build" / "html").rename(html)
    return html


def main(argv=None) -> int:
    from ..profiles import active_profile, project_root

    parser = argparse.ArgumentParser(prog="python -m cifar_mlp.teaching.class_edition",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=None,
                        help=f"the folder to build into (default: {OUT}; the book is in its html/)")
    args = parser.parse_args(argv)
    root = project_root()
    out = (args.out or root / OUT).resolve()
    notebooks, which = executed_chapters(root)
    print(f"The class edition is made from {which}; the other pages run in the "
          f"{active_profile().name!r} profile (CIFAR_MLP_PROFILE).", flush=True)
    html = build(root, out, notebooks)
    print(f"The class edition is in {os.path.relpath(html / 'index.html')}: no solutions, "
          "no model answers; the full book stays in _build/html.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
