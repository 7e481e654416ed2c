#!/usr/bin/env python3
"""Validates recorded HTTP answers against the staff API's OpenAPI 3.1 document.

usage: validate.py OPENAPI.json ANSWERS.jsonl

Each line of ANSWERS is {"method", "path", "status", "ctype", "body"} (body: the text of a
JSON answer, else ""). For each answer: the path must match a documented path template, the
method an operation, the status a documented response, the content type one the response
documents, and a JSON body the response's schema (JSON Schema 2020-12, as OpenAPI 3.1
says; `$ref`s resolved inside the document). Prints every problem; exits 1 if any.
Used by crates/cityloop/tests/openapi.rs (needs `jsonschema`, which openapi-spec-validator
brings).
"""

import json
import re
import sys
import urllib.parse

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def pointer(*parts):
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def main():
    doc = json.load(open(sys.argv[1], encoding="utf-8"))
    answers = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8") if l.strip()]
    registry = Registry().with_resource(
        "urn:doc", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    templates = []
    for path in doc["paths"]:
        rx = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$"
        literal = len(re.sub(r"\{[^}]*\}", "", path))
        templates.append((literal, path, re.compile(rx)))
    templates.sort(reverse=True)
    problems = []
    for a in answers:
        method, path, status = a["method"].lower(), a["path"].split("?")[0], str(a["status"])
        where = f"{a['method']} {a['path']} → {status}"
        template = next((p for _, p, rx in templates if rx.match(path)), None)
        if template is None:
            problems.append(f"{where}: no documented path")
            continue
        op = doc["paths"][template].get(method)
        if op is None:
            problems.append(f"{where}: {method} is not documented on {template}")
            continue
        responses = op.get("responses", {})
        key = next((k for k in (status, status[0] + "XX", "default") if k in responses), None)
        if key is None:
            problems.append(f"{where}: status not documented (documented: {', '.join(responses)})")
            continue
        content = responses[key].get("content") or {}
        ctype = a["ctype"].split(";")[0].strip().lower()
        if not content:
            if a["body"]:
                problems.append(f"{where}: a body ({ctype}) where the document says none")
            continue
        ranges = {ctype, ctype.split("/")[0] + "/*", "*/*"}
        if not ranges & set(content):
            problems.append(f"{where}: content type {ctype!r} not documented ({', '.join(content)})")
            continue
        if ctype != "application/json" or "schema" not in content.get(ctype, {}):
            continue
        ref = "urn:doc#/" + urllib.parse.quote(
            pointer("paths", template, method, "responses", key, "content", ctype, "schema"),
            safe="/~",
        )
        try:
            body = json.loads(a["body"])
        except ValueError as e:
            problems.append(f"{where}: not JSON ({e})")
            continue
        validator = Draft202012Validator({"$ref": ref}, registry=registry)
        for err in validator.iter_errors(body):
            problems.append(f"{where}: at {err.json_path}: {err.message[:300]}")
    print(f"{len(answers)} answers checked, {len(problems)} problems")
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
