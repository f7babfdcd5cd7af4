"""The answer-sync benchmark under the name the live-answer-sync issue gives it: runs bench/loadgen.py.

Usage (a running platform and seed_demo's credentials CSV):
    .venv/bin/python bench/answer_sync.py --base-url http://127.0.0.1:8000 \
        --credentials var/demo-credentials.csv -n 30 --duration 30 --check-db "$DATABASE_URL"
`make bench` runs every scenario (bench/run.py) and writes docs/benchmarks.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loadgen import main

if __name__ == "__main__":
    sys.exit(main())
