#!/usr/bin/env python3
"""Every traced step must be cited: for each TRACE_SPAN / TRACE_EVENT step in
the libraries, the same file must carry a `// Tornado: tornado/<module>.py[:N]
<step>` line, so that the trace and the code name the same Tornado method.

Usage: check_citations.py SOURCE_ROOT   (exit 1 and a list when one is missing)
"""
import pathlib
import re
import sys

LAYERS = ["ioloop", "iostream", "httpserver", "web"]
STEP = re.compile(r'TRACE_(?:SPAN|EVENT)(?:_AS)?\((?:\w+,\s*)?"([^"]+)"')
CITE = re.compile(r"// Tornado: tornado/[a-z0-9_/]+\.py(?::\d+)? (\S+)")


def main() -> int:
    root = pathlib.Path(sys.argv[1])
    missing = []
    steps = 0
    for layer in LAYERS:
        for path in sorted((root / layer / "src").glob("*.cc")):
            text = path.read_text()
            cited = set(CITE.findall(text))
            for step in STEP.findall(text):
                steps += 1
                if step not in cited:
                    missing.append(f"{path.relative_to(root)}: step {step} has no citation")
    for line in missing:
        print(line)
    print(f"{steps - len(missing)} passed, {len(missing)} failed")
    return 1 if missing or steps == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
