#!/usr/bin/env python3
"""The `tflock plan` step of the GitHub Action (action.yml), and its verdict.

    plan.py run      runs `tflock plan` on the action's inputs, writes the JSON and
                     the Markdown report (report.md, report.md.2.md, ...) into
                     TFLOCK_REPORT_DIR and sets the step outputs `changes`,
                     `blocked`, `errors`, `parts`, `report-path`, `json-path`.
    plan.py verdict  exits 1 (with an error annotation) when the plan found a
                     blocked state or a file it could not plan and
                     INPUT_FAIL_ON_BLOCKED is true; 0 otherwise.

`run` only fails when tflock wrote no plan at all (a usage error, AWS refusing
every call): a blocked state is a result to comment on, so the comment step runs
before `verdict` fails the job. Inputs come as INPUT_* variables, as Actions
passes them to a composite step; Python 3 standard library only.
"""

import json
import os
import shlex
import subprocess
import sys


def env(name, default=""):
    return os.environ.get(name, default).strip()


def truthy(value):
    return value.lower() in ("1", "true", "yes", "on")


def set_outputs(outputs):
    path = os.environ.get("GITHUB_OUTPUT")
    lines = "".join(f"{k}={v}\n" for k, v in outputs.items())
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(lines)
    else:
        sys.stdout.write(lines)


def report_dir():
    d = env("TFLOCK_REPORT_DIR") or os.path.join(env("RUNNER_TEMP", "."), "tflock")
    os.makedirs(d, exist_ok=True)
    return os.path.abspath(d)


def command(report_md):
    tflock = env("TFLOCK_BIN", "tflock")
    cmd = [tflock, "plan", "--format", "json", "--out-markdown", report_md]
    strategy = env("INPUT_STRATEGY", "replace")
    if strategy not in ("replace", "dual"):
        raise SystemExit(f"::error title=tflock::strategy must be replace or dual, not {strategy!r}")
    cmd += ["--strategy", strategy]
    if truthy(env("INPUT_OFFLINE", "false")):
        cmd.append("--offline")
    cmd += shlex.split(env("INPUT_ARGS"))
    # One path per line or separated by spaces, as a user writes them in YAML.
    paths = env("INPUT_PATHS", ".").split()
    return cmd + ["--"] + (paths or ["."])


def run():
    out = report_dir()
    report_md = os.path.join(out, "report.md")
    json_path = os.path.join(out, "plan.json")
    for name in os.listdir(out):
        # Parts of an earlier run in the same directory must not look current.
        if name == "report.md" or (name.startswith("report.md.") and name.endswith(".md")):
            os.remove(os.path.join(out, name))
    cmd = command(report_md)
    print("+ " + shlex.join(cmd), file=sys.stderr, flush=True)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, cwd=env("INPUT_WORKING_DIRECTORY") or None)
    with open(json_path, "wb") as f:
        f.write(proc.stdout)
    try:
        summary = json.loads(proc.stdout)["summary"]
    except (ValueError, KeyError, TypeError):
        print(f"::error title=tflock::tflock plan exited {proc.returncode} without a plan", flush=True)
        return proc.returncode or 1
    parts = 1
    while os.path.exists(f"{report_md}.{parts + 1}.md"):
        parts += 1
    set_outputs(
        {
            "changes": "true" if summary.get("files_changed", 0) > 0 else "false",
            "blocked": str(summary.get("blocked", 0)),
            "errors": str(summary.get("errors", 0)),
            "parts": str(parts),
            "report-path": report_md,
            "json-path": json_path,
        }
    )
    write_step_summary(report_md, parts)
    return 0


# GitHub shows at most 1 MiB of a step's summary.
STEP_SUMMARY_LIMIT = 1024 * 1024


def write_step_summary(report_md, parts):
    """Every part of the report in the job summary, as far as it holds them."""
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary_file or not os.path.exists(report_md):
        return
    written = 0
    with open(summary_file, "a", encoding="utf-8") as dst:
        for i in range(1, parts + 1):
            path = report_md if i == 1 else f"{report_md}.{i}.md"
            with open(path, encoding="utf-8") as src:
                text = src.read()
            if written + len(text.encode()) > STEP_SUMMARY_LIMIT - 1024:
                dst.write(f"\n*Parts {i} to {parts} of the report are in the artifact or the comments.*\n")
                return
            dst.write(text + "\n")
            written += len(text.encode()) + 1


def verdict():
    path = env("TFLOCK_PLAN_JSON") or os.path.join(report_dir(), "plan.json")
    try:
        with open(path, encoding="utf-8") as f:
            summary = json.load(f)["summary"]
    except (OSError, ValueError, KeyError) as e:
        print(f"::error title=tflock::no plan to judge ({path}: {e})", flush=True)
        return 1
    blocked, errors = summary.get("blocked", 0), summary.get("errors", 0)
    if truthy(env("INPUT_FAIL_ON_BLOCKED", "true")) and (blocked or errors):
        print(
            f"::error title=tflock::{blocked} blocked state(s), {errors} file(s) that could not "
            "be planned: see the report",
            flush=True,
        )
        return 1
    return 0


if __name__ == "__main__":
    steps = {"run": run, "verdict": verdict}
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        raise SystemExit("usage: plan.py run|verdict")
    sys.exit(steps[sys.argv[1]]())
