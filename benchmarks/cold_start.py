"""Cold-start import cost of every handler, next to a minimal Powertools REST handler measured in the same run.

Each sample is a fresh interpreter that times loading one handler module (what Lambda does on a cold start,
before the first invocation). Samples of all modules are interleaved so machine noise hits them alike; the
median of N samples is reported, and each handler as a ratio of the baseline. Target: every ratio <= 1.3.

    .venv/bin/python benchmarks/cold_start.py [--samples 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BASELINE = """
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

logger = Logger()
app = APIGatewayRestResolver(enable_validation=True)


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": "world"}


def lambda_handler(event, context):
    return app.resolve(event, context)
"""

PROBE = """
import importlib.util, sys, time
path = sys.argv[1]
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.perf_counter() - start)
"""


def sample(path: Path) -> float:
    env = {"POWERTOOLS_SERVICE_NAME": "bench", "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True, env=env
    ).stdout
    return float(out.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline_app.py"
        baseline.write_text(BASELINE, encoding="utf-8")
        targets = {"baseline (minimal Powertools REST resolver)": baseline}
        targets.update({f"functions/{p.parent.name}": p for p in sorted((ROOT / "functions").glob("*/app.py"))})
        timings: dict[str, list[float]] = {name: [] for name in targets}
        for name, path in targets.items():  # warm the OS file cache and .pyc files once
            sample(path)
            del name
        for _ in range(args.samples):
            for name, path in targets.items():
                timings[name].append(sample(path))
    base = statistics.median(timings["baseline (minimal Powertools REST resolver)"])
    print(f"{'module':<48} {'median ms':>10} {'p90 ms':>8} {'ratio':>6}")
    worst = 0.0
    for name, values in timings.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        ratio = median / base
        worst = max(worst, ratio) if not name.startswith("baseline") else worst
        print(f"{name:<48} {median * 1000:>10.1f} {p90 * 1000:>8.1f} {ratio:>6.2f}")
    print(f"\nworst handler ratio: {worst:.2f} (target <= 1.30), {args.samples} samples each")


if __name__ == "__main__":
    main()
