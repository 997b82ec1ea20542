"""The metric names a PromQL expression reads, found by a small tokenizer.

``promtool`` parses PromQL but cannot list the names an expression uses, so the deploy tests
take them out here: string literals (label values, Grafana ``$variables``), label matchers
``{...}``, ranges ``[...]`` and grouping lists (``by (...)``, ``on (...)``...) are dropped;
an identifier followed by ``(`` must be a PromQL function or aggregation; every other
identifier that is not a keyword is a metric name. Anything the tokenizer does not know is
an error, not a silent skip.
"""

from __future__ import annotations

import re

FUNCTIONS = frozenset(
    {
        "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
        "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
        "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
        "delta", "deriv", "end", "exp", "floor", "histogram_count", "histogram_fraction",
        "histogram_quantile", "histogram_sum", "holt_winters", "hour", "idelta", "increase",
        "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
        "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear",
        "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar",
        "sgn", "sin", "sinh", "sort", "sort_desc", "sqrt", "start", "stddev_over_time",
        "stdvar_over_time", "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year",
    }
)  # fmt: skip
AGGREGATIONS = frozenset(
    {"avg", "bottomk", "count", "count_values", "group", "max", "min", "quantile", "stddev",
     "stdvar", "sum", "topk"}
)  # fmt: skip
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "Inf", "NaN", "inf", "nan"})

_GRAFANA_VARIABLE = re.compile(r"\$\{\w+(?::\w+)?\}|\$\w+")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_TOKEN = re.compile(
    r"\s+"
    r"|(?P<number>(?:0[xX][0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?)(?:ms|[smhdwy])*)"
    r"|(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)"
    r"|(?P<op>==|!=|>=|<=|[-+*/%^<>(),@])"
)
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*\w+\s*\)\s*$", re.DOTALL)


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` (PromQL, Grafana variables allowed) reads."""
    text = _GRAFANA_VARIABLE.sub("5m", expr)
    text = _STRING.sub(" 0 ", text)  # a label value or argument: any literal
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"cannot read {text[position : position + 20]!r} in {expr!r}")
        position = match.end()
        if match.lastgroup:
            tokens.append((match.lastgroup, match.group()))
    names: set[str] = set()
    index = 0
    while index < len(tokens):
        kind, value = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        index += 1
        if kind != "name":
            continue
        if value in GROUPING:
            if following == "(":  # a list of label names: skip it
                index = next(i for i in range(index, len(tokens)) if tokens[i][1] == ")") + 1
            continue
        if following in {"by", "without"}:  # sum by (...) (...)
            if value not in AGGREGATIONS:
                raise ValueError(f"unknown PromQL aggregation {value!r} in {expr!r}")
            continue
        if following == "(":
            if value not in FUNCTIONS | AGGREGATIONS:
                raise ValueError(f"unknown PromQL function {value!r} in {expr!r}")
            continue
        if value not in KEYWORDS:
            names.add(value)
    return names


def variable_metric_names(query: str) -> set[str]:
    """The metric names of a Grafana Prometheus variable query (``label_values(selector,
    label)`` or a PromQL expression)."""
    found = _LABEL_VALUES.match(query)
    return metric_names(found["selector"] if found else query)


def exported_names(exposition: str) -> set[str]:
    """The series names a Prometheus text exposition can carry: every sample's name, and for
    each ``# TYPE`` line the names of its family (``_total`` counters, ``_bucket``/``_sum``/
    ``_count`` histograms, ``_sum``/``_count`` summaries), sample or not."""
    names: set[str] = set()
    suffixes = {
        "counter": ("_total",),
        "histogram": ("_bucket", "_sum", "_count"),
        "summary": ("", "_sum", "_count"),
    }
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            if kind == "counter":
                names.add(family if family.endswith("_total") else f"{family}_total")
            else:
                names.update(family + suffix for suffix in suffixes.get(kind, ("",)))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names
