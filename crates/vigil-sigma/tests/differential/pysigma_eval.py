#!/usr/bin/env python3
"""Evaluate Sigma rules on JSON events with pySigma's parsed condition tree.

pySigma has no evaluator of its own. This script uses pySigma for everything it does
define (YAML reading, rule validation, value modifiers, the condition grammar and its
resolution of `1 of`/`all of`/`them` into an AND/OR/NOT tree over field=value leaves) and
evaluates that tree on events with the smallest set of matching rules that follows pySigma's
types:

- SigmaString (after contains/startswith/endswith/base64/wide/...): its own `to_regex()`,
  matched against the whole value, case-insensitive (SigmaCasedString: case-sensitive),
  `.` matching newlines; numbers and booleans in events compare by their JSON text.
- SigmaNumber: numeric equality when the event value is a number or numeric text, else text.
- SigmaBool: JSON boolean (or the text true/false).
- SigmaNull: field absent or JSON null.  SigmaExists: presence of the key.
- SigmaRegularExpression: Python `re.search` with the rule's i/m/s flags (unanchored).
- SigmaCIDRExpression: the value parses as an IP address inside the network.
- SigmaCompareExpression: numeric comparison; non-numeric values never match.
- SigmaFieldReference: the other field's value, equality (or prefix/suffix when combined with
  startswith/endswith), case-insensitive as plain strings are.
- SigmaExpansion (windash, base64offset): OR of its values.
- Keywords (ConditionValueExpression): the value matches, as a substring, the text of any
  top-level string or number value of the event.
- Fields are top-level keys; a dotted name falls back to the nested path.

Usage: pysigma_eval.py RULES_DIR EVENTS_NDJSON
Output (stdout, one JSON object per line):
  {"rule": <file stem>, "error": "<message>"}     rule rejected by pySigma (or unresolvable)
  {"rule": <file stem>, "event": <index>}          rule matched event number <index>
"""

import ipaddress
import json
import pathlib
import re
import sys

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.collection import SigmaCollection
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
)

MISSING = object()


class Unsupported(Exception):
    pass


def lookup(event, field):
    if field in event:
        return event[field]
    cur = event
    for part in field.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return MISSING
    return cur


def text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return json.dumps(v)
    if isinstance(v, str):
        return v
    return None


def as_number(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


_regex_cache = {}


def string_regex(s):
    key = (id(s), isinstance(s, SigmaCasedString))
    hit = _regex_cache.get(key)
    if hit is not None:
        return hit[1]
    for part in s.s:
        if isinstance(part, Placeholder):
            raise Unsupported(f"unresolved placeholder %{part.name}%")
    flags = re.DOTALL
    if not isinstance(s, SigmaCasedString):
        flags |= re.IGNORECASE
    rx = re.compile(str(s.to_regex().regexp), flags)
    _regex_cache[key] = (s, rx)
    return rx


def match_value(value, v, event):
    """Does event value `v` (MISSING when absent) satisfy Sigma value `value`?"""
    if isinstance(value, SigmaExists):
        return (v is not MISSING) == bool(value.exists)
    if isinstance(value, SigmaNull):
        return v is MISSING or v is None
    if v is MISSING or v is None:
        return False
    if isinstance(v, list):
        return any(match_value(value, x, event) for x in v)
    if isinstance(value, SigmaExpansion):
        return any(match_value(x, v, event) for x in value.values)
    if isinstance(value, SigmaString):
        t = text(v)
        return t is not None and string_regex(value).fullmatch(t) is not None
    if isinstance(value, SigmaBool):
        if isinstance(v, bool):
            return v == value.boolean
        return isinstance(v, str) and v.lower() == ("true" if value.boolean else "false")
    if isinstance(value, SigmaNumber):
        n = as_number(v)
        if n is not None:
            return n == float(value.number)
        t = text(v)
        return t is not None and t == str(value.number)
    if isinstance(value, SigmaRegularExpression):
        flags = 0
        for f in value.flags:
            flags |= SigmaRegularExpression.sigma_to_python_flags[f]
        t = text(v)
        return t is not None and re.search(str(value.regexp), t, flags) is not None
    if isinstance(value, SigmaCIDRExpression):
        if not isinstance(v, str):
            return False
        try:
            return ipaddress.ip_address(v.strip()) in value.network
        except ValueError:
            return False
    if isinstance(value, SigmaCompareExpression):
        n = as_number(v)
        if n is None:
            return False
        want = float(value.number.number)
        return {
            CompareOperators.LT: n < want,
            CompareOperators.LTE: n <= want,
            CompareOperators.GT: n > want,
            CompareOperators.GTE: n >= want,
            CompareOperators.NEQ: n != want,
        }[value.op]
    if isinstance(value, SigmaFieldReference):
        other = lookup(event, value.field)
        a, b = text(v), text(other) if other is not MISSING and other is not None else None
        if a is None or b is None:
            return False
        a, b = a.lower(), b.lower()
        if value.starts_with and value.ends_with:
            return b in a
        if value.starts_with:
            return a.startswith(b)
        if value.ends_with:
            return a.endswith(b)
        return a == b
    raise Unsupported(f"value type {type(value).__name__}")


def keyword(value, event):
    for v in event.values():
        t = text(v)
        if t is None:
            continue
        if isinstance(value, SigmaExpansion):
            vals = value.values
        else:
            vals = [value]
        for x in vals:
            if isinstance(x, SigmaString):
                rx = string_regex(x)
                if rx.search(t) is not None:
                    return True
            elif isinstance(x, SigmaNumber):
                if str(x.number) in t:
                    return True
            else:
                raise Unsupported(f"keyword of type {type(x).__name__}")
    return False


def evaluate(node, event):
    if node is None:
        return False
    if isinstance(node, ConditionAND):
        return all(evaluate(a, event) for a in node.args)
    if isinstance(node, ConditionOR):
        return any(evaluate(a, event) for a in node.args)
    if isinstance(node, ConditionNOT):
        return not evaluate(node.args[0], event)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return match_value(node.value, lookup(event, node.field), event)
    if isinstance(node, ConditionValueExpression):
        return keyword(node.value, event)
    raise Unsupported(f"condition node {type(node).__name__}")


def main():
    rules_dir, events_path = pathlib.Path(sys.argv[1]), sys.argv[2]
    events = [json.loads(line) for line in open(events_path, encoding="utf-8") if line.strip()]
    out = sys.stdout
    for path in sorted(rules_dir.glob("*.yml")):
        stem = path.stem
        try:
            coll = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"))
            if coll.errors:
                raise coll.errors[0]
            rule = coll.rules[0]
            if rule.errors:
                raise rule.errors[0]
            trees = [c.parsed for c in rule.detection.parsed_condition]
            hits = []
            for i, e in enumerate(events):
                if any(evaluate(t, e) for t in trees):
                    hits.append(i)
        except Exception as exc:  # every pySigma error, and Unsupported, is a verdict
            out.write(json.dumps({"rule": stem, "error": f"{type(exc).__name__}: {exc}"}) + "\n")
            continue
        for i in hits:
            out.write(json.dumps({"rule": stem, "event": i}) + "\n")


if __name__ == "__main__":
    main()
