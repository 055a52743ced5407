"""`make bench`: run benchmarks, print their tables, update docs/BENCHMARKS.md.

python -m bench              every benchmark
python -m bench install api  only those (other sections of the file stay)
"""

# A command-line tool: its tables go to stdout.
# pylint: disable=print-used
import datetime
import importlib
import os
import pkgutil
import re
import sys
import traceback

from .harness import BenchContext, machine_description

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(os.path.dirname(HERE), "docs", "BENCHMARKS.md")
SECTION = re.compile(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->\n", re.S)


def table(rows):
    if not rows:
        return "(no rows)\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(key, "")) for key in keys) + " |")
    return "\n".join(lines) + "\n"


def main(argv):
    conf = os.environ.get("CLINIC_PBX_CONF")
    if not conf:
        sys.exit("bench: run it through `make bench` (CLINIC_PBX_CONF is not set)")
    names = sorted(
        name[len("bench_") :]
        for _finder, name, _pkg in pkgutil.iter_modules([HERE])
        if name.startswith("bench_")
    )
    wanted = argv or names
    unknown = set(wanted) - set(names)
    if unknown:
        sys.exit(
            f"bench: unknown benchmark(s) {', '.join(sorted(unknown))}; known: {names}"
        )
    ctx = BenchContext(conf)
    machine = machine_description(ctx)
    today = datetime.date.today().isoformat()
    sections = {}
    if os.path.exists(DOC):
        with open(DOC) as doc:
            sections = {m.group(1): m.group(2) for m in SECTION.finditer(doc.read())}
    failed = False
    try:
        for name in wanted:
            module = importlib.import_module(f"bench.bench_{name}")
            print(f"\n== {module.TITLE}", flush=True)
            try:
                result = module.run(ctx)
            except Exception:  # a broken benchmark must not hide the others
                traceback.print_exc()
                failed = True
                continue
            rows, notes = result if isinstance(result, tuple) else (result, "")
            text = table(rows)
            print(text + (notes + "\n" if notes else ""), flush=True)
            sections[name] = (
                f"## {module.TITLE}\n\n_Measured {today} on {machine}._\n\n{text}"
                + (f"\n{notes}\n" if notes else "")
                + "\n"
            )
    finally:
        ctx.cleanup()
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    with open(DOC, "w") as doc:
        doc.write(
            "# Benchmarks\n\nWritten by `make bench` (`python -m bench [name ...]`); "
            "each section says when and on what machine it was measured.\n\n"
        )
        for name in sorted(sections):
            doc.write(
                f"<!-- bench:{name} -->\n{sections[name]}<!-- /bench:{name} -->\n"
            )
    print(f"bench: wrote {DOC}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
