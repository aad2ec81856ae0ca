"""Every IAM document of each planned configuration, rendered as `iam_lint.py` renders it, as JSON on stdout.

    python infra-gen/scripts/iam_documents.py .work/local/plan/configs/*/ .work/local/plan/configs/*/bootstrap/

prints {"<config>[/bootstrap]": {"partition", "region", "account", "names": {address: name},
"documents": {"<address>.<attribute>": document}}}. `iam_simulate.mjs` reads it: one renderer for the lint and the
simulator, so both judge the same documents.
"""

import json
import pathlib
import sys

from iam_lint import Plan


def export(plan_dir):
    plan = Plan(plan_dir)
    return {
        "partition": plan.partition,
        "region": plan.region,
        "account": plan.account,
        "names": {
            address: res["values"].get("name") or res["values"].get("bucket")
            for address, res in plan.planned.items()
            if isinstance(res.get("values", {}).get("name") or res.get("values", {}).get("bucket"), str)
        },
        "documents": {f"{address}.{attr}": doc for address, attr, _, _, doc in plan.documents()},
    }


def main(argv):
    out = {}
    for arg in argv:
        plan_dir = pathlib.Path(arg)
        name = f"{plan_dir.parent.name}/bootstrap" if plan_dir.name == "bootstrap" else plan_dir.name
        out[name] = export(plan_dir)
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
