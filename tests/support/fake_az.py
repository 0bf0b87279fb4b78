"""A recording stand-in for the Azure CLI (``az``), for the deploy tests.

THE ONLY FAKE IN THE DEPLOY TESTS: the Azure control plane cannot be reached from the test machine, so this
script plays ``az``. It appends each call to ``$FAKE_AZ_LOG`` as one JSON line (argv, plus the content of any
file passed as ``--yaml``, ``--policy @file`` or ``--template-file``, and of secrets passed as ``@file``, which
the deployer deletes afterwards) and
answers with canned JSON. ``$FAKE_AZ_STATE`` remembers what was "created", so ``show`` succeeds on a second run
and the deployer's idempotence can be checked. ``FAKE_AZ_LOGGED_OUT=1`` makes ``az account show`` fail.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

SUB = "/subscriptions/00000000-0000-0000-0000-000000000000"
CONNECTION = ("DefaultEndpointsProtocol=https;AccountName=fakeacct;AccountKey=c2VjcmV0LWtleQ==;"
              "EndpointSuffix=core.windows.net")
WORKSPACE_KEY = "workspace-shared-key-secret"
INSIGHTS = "InstrumentationKey=11111111-1111-1111-1111-111111111111;IngestionEndpoint=https://uksouth.in.ai.azure.com/"


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv and argv.index(name) + 1 < len(argv) else None


def secret_files_of(argv: list[str]) -> dict[str, str]:
    """The content of every ``@file`` argument other than the files above: how the deployer hands secrets to az
    (the real az replaces ``@path`` by the file's content), read now because the deployer deletes them."""
    found = {}
    for index, arg in enumerate(argv):
        if arg.startswith("@") and argv[index - 1] != "--policy" and Path(arg[1:]).is_file():
            found[argv[index - 1]] = Path(arg[1:]).read_text()
    return found


def files_of(argv: list[str]) -> dict[str, str]:
    found = {}
    for flag in ("--yaml", "--policy", "--template-file"):
        value = option(argv, flag)
        if value:
            path = Path(value.lstrip("@"))
            if path.is_file():
                found[flag] = path.read_text()
    return found


QUERY_ANSWERS = {
    "connectionString": CONNECTION,
    "customerId": "22222222-2222-2222-2222-222222222222",
    "primarySharedKey": WORKSPACE_KEY,
    "primaryEndpoints.blob": "https://fakeacct.blob.core.windows.net/",
    "properties.defaultDomain": "happyfield-1234.uksouth.azurecontainerapps.io",
}


def answer_query(argv: list[str]) -> str:
    query = option(argv, "--query") or ""
    name = option(argv, "--name") or option(argv, "--workspace-name") or option(argv, "--app") or "x"
    if query == "connectionString" and argv[:2] == ["monitor", "app-insights"]:
        return INSIGHTS
    if query in QUERY_ANSWERS:
        return QUERY_ANSWERS[query]
    if query == "id":
        return f"{SUB}/resourceGroups/rg/providers/Fake/{'/'.join(argv[:2])}/{name}"
    if query == "loginServer":
        return f"{name}.azurecr.io"
    if query == "properties.configuration.ingress.fqdn":
        return f"{name}.happyfield-1234.uksouth.azurecontainerapps.io"
    return f"<{query}>"


def resource_key(argv: list[str]) -> str:
    verb_at = next(i for i, word in enumerate(argv) if word in ("show", "create", "update"))
    return " ".join(argv[:verb_at]) + ":" + (option(argv, "--name") or "")


def roles(argv: list[str], state: dict[str, list[str]]) -> object:
    if argv[2] == "list":
        key = f"{option(argv, '--assignee')}|{option(argv, '--role')}|{option(argv, '--scope')}"
        return [{"id": key}] if key in state["roles"] else []
    state["roles"].append(f"{option(argv, '--assignee-object-id')}|{option(argv, '--role')}|{option(argv, '--scope')}")
    return {"id": "assignment"}


def resources(argv: list[str], state: dict[str, list[str]]) -> tuple[int, object]:
    """(exit code, JSON answer) for show/create of registries, environments, apps, identities, storage."""
    if argv[:3] == ["containerapp", "logs", "show"]:
        print('{"msg": "job done", "job_id": "abc"}')
        return 0, None
    if "show" in argv and argv[0] in ("acr", "containerapp"):
        if resource_key(argv) not in state["created"]:
            print("ERROR: (ResourceNotFound) not found", file=sys.stderr)
            return 3, None
        return 0, {"name": option(argv, "--name")}
    if argv[:2] == ["identity", "create"]:
        name = option(argv, "--name")
        return 0, {"id": f"{SUB}/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
                   "principalId": "33333333-principal", "clientId": "44444444-client"}
    if "create" in argv and argv[0] in ("acr", "containerapp"):
        state["created"].append(resource_key(argv))
        return 0, {"name": option(argv, "--name"), "provisioningState": "Succeeded"}
    if argv[0] == "storage" and "create" in argv:
        return 0, {"created": True}
    return 0, None


def main(argv: list[str]) -> int:
    state_path = Path(os.environ["FAKE_AZ_STATE"])
    state = json.loads(state_path.read_text()) if state_path.exists() else {"created": [], "roles": []}
    with open(os.environ["FAKE_AZ_LOG"], "a") as log:
        log.write(json.dumps({"argv": argv, "files": files_of(argv), "secrets": secret_files_of(argv)}) + "\n")
    code, out = 0, None
    if argv[:2] == ["account", "show"]:
        if os.environ.get("FAKE_AZ_LOGGED_OUT"):
            print("ERROR: Please run 'az login' to setup account.", file=sys.stderr)
            return 1
        out = {"id": "00000000-0000-0000-0000-000000000000", "name": "Test subscription",
               "user": {"name": "ops@example.com"}}
    elif "--query" in argv:
        print(answer_query(argv))
        return 0
    elif argv[:2] == ["role", "assignment"]:
        out = roles(argv, state)
    else:
        code, out = resources(argv, state)
    state_path.write_text(json.dumps(state))
    if out is not None:
        print(json.dumps(out))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
