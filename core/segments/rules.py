"""Rule segments: an analyst's conditions over tags and features, compiled to SQL in the store.

A rule reads as people write it: ``industrial AND peak share > 40% AND no arrears``. Its parts:

- a comparison of a feature (or the archive's capacity or voltage) with a number:
  ``peak share > 40%``, ``annual_kwh >= 100000``, ``峰时电量占比 > 40%``; a share may be written in
  per cent (``40%``, or ``40`` since a share is never above one);
- a comparison of an archive field with quoted text: ``region = "黄石港区"``,
  ``tariff_code != "RES_TIER"``;
- a tag by its code or name (``peak_heavy``, ``Peak-heavy``, ``峰时用电型``);
- a customer class (``industrial``, ``工业``);
- ``no`` (or ``无``) and a feature: ``no arrears``, ``no complaints``, ``无欠费`` — none of it;
- ``AND`` / ``OR`` / ``NOT`` (also ``且`` / ``或`` / ``非``) and parentheses.

Features, tags and classes are known by their code and by their names in both languages. The rule
becomes one SQL condition over the ``features`` table joined with ``customers``, so counting it
or listing its customers runs in the store, and the count follows the data whenever it changes.
A rule that cannot be read is refused with the part that is wrong.
"""

import re
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from core import access, config, errors, features, i18n, tags
from core.store import frames, schema

# Longest rule text kept; a rule longer than this is a query, not a segment.
EXPRESSION_LENGTH = 2000
NAME_LENGTH = schema.segment_rules.c.name.type.length
# Customers of a rule segment listed or taken away at once.
MEMBERS_LIMIT = 1_000_000
# Features that are fractions: written in per cent by people.
FRACTION_FEATURES = (
    "critical_share",
    "peak_share",
    "flat_share",
    "valley_share",
    "load_factor",
    "volatility",
    "yoy_growth",
    "revenue_growth",
    "payment_punctuality",
    "online_share",
)
NUMBER_ATTRIBUTES = ("contract_capacity_kva", "voltage_kv")
TEXT_ATTRIBUTES = (
    "region",
    "transformer_area",
    "tariff_code",
    "industry",
    "customer_class",
    "manager_id",
    "status",
    "preferred_channel",
)
# Short names people use beside the catalog's labels.
EXTRA_ALIASES = {
    "arrears": "arrears_cny",
    "欠费": "arrears_cny",
    "投诉": "complaints",
    "逾期": "late_payments",
    "逾期缴费": "late_payments",
    "revenue": "annual_revenue_cny",
    "consumption": "annual_kwh",
    "capacity": "contract_capacity_kva",
    "voltage": "voltage_kv",
    "district": "region",
    "区县": "region",
    "台区": "transformer_area",
    "tariff": "tariff_code",
    "电价": "tariff_code",
    "行业": "industry",
    "class": "customer_class",
    "用户类别": "customer_class",
    "manager": "manager_id",
    "客户经理": "manager_id",
    "channel": "preferred_channel",
    "渠道": "preferred_channel",
}
KEYWORDS = {
    "and": "AND",
    "且": "AND",
    "并且": "AND",
    "or": "OR",
    "或": "OR",
    "或者": "OR",
    "not": "NOT",
    "非": "NOT",
}
NONE_WORDS = ("no", "无", "没有")
OPERATORS = {
    ">": ">",
    ">=": ">=",
    "≥": ">=",
    "<": "<",
    "<=": "<=",
    "≤": "<=",
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "≠": "!=",
}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<open>[(（])
      | (?P<close>[)）])
      | (?P<op>>=|<=|==|!=|<>|[><=≥≤≠])
      | (?P<text>"[^"]*"|'[^']*'|“[^”]*”)
      | (?P<number>-?\d+(?:\.\d+)?\s*%?)
      | (?P<word>[^\s()（）<>=!≥≤≠"'“”]+)
    )""",
    re.VERBOSE,
)


class RuleError(errors.UserError):
    """A rule segment that cannot be read or saved; the message names the part that is wrong."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def _tokens(expression: str) -> list[_Token]:
    tokens, position = [], 0
    text = expression.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise RuleError("segment_rules.unreadable", part=text[position:].strip()[:40])
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "word" and value.lower() in KEYWORDS:
            tokens.append(_Token(KEYWORDS[value.lower()], value))
        else:
            tokens.append(_Token(kind, value))
        position = match.end()
    return tokens


def _normal(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text).strip().lower()


def _short(text: str) -> str:
    # A label without its parenthesis: "Late payments (12 months)" is written "late payments".
    return _normal(re.sub(r"[（(][^)）]*[)）]", "", text))


def _aliases() -> tuple[dict[str, str], dict[str, tags.Rule], dict[str, str]]:
    """Names people may use → feature, tag rule, customer class."""
    # Codes first, then the labels, then the labels without their parentheses; a name already
    # taken keeps its first meaning ("complaints" is those of 12 months, not of 90 days).
    names = (*schema.FEATURE_COLUMNS, *NUMBER_ATTRIBUTES, *TEXT_ATTRIBUTES)
    labels = [
        (i18n.translate(f"tags.feature.{name}", language), name)
        for name in (*schema.FEATURE_COLUMNS, *NUMBER_ATTRIBUTES)
        for language in config.LANGUAGES
    ]
    feature_names: dict[str, str] = {}
    for alias, name in (
        *((name, name) for name in names),
        *((_normal(label), name) for label, name in labels),
        *EXTRA_ALIASES.items(),
        *((_short(label), name) for label, name in labels),
    ):
        feature_names.setdefault(_normal(alias), name)
    tag_names: dict[str, tags.Rule] = {}
    for rule in tags.load_rules():
        tag_names[_normal(rule.name)] = rule
        for language in config.LANGUAGES:
            tag_names[_normal(tags.tag_name(rule, language))] = rule
    classes: dict[str, str] = {}
    for name in schema.CUSTOMER_CLASSES:
        classes[_normal(name)] = name
        for language in config.LANGUAGES:
            classes[_normal(i18n.translate(f"domain.customer_class.{name}", language))] = name
    return feature_names, tag_names, classes


def _column(name: str) -> sa.ColumnElement:
    if name in NUMBER_ATTRIBUTES:
        return sa.cast(schema.customers.c[name], sa.Double)
    if name in TEXT_ATTRIBUTES and name != "preferred_channel":
        return schema.customers.c[name]
    if name == "preferred_channel":
        return schema.features.c[name]
    return sa.cast(schema.features.c[name], sa.Double)


class _Parser:
    """Recursive descent: or → and → not → atom, each atom a condition."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.position = 0
        self.feature_names, self.tag_names, self.classes = _aliases()

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def parse(self) -> sa.ColumnElement:
        if not self.tokens:
            raise RuleError("segment_rules.empty")
        condition = self.either()
        left = self.peek()
        if left is not None:
            raise RuleError("segment_rules.unexpected", part=left.text)
        return condition

    def either(self) -> sa.ColumnElement:
        parts = [self.both()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            parts.append(self.both())
        return parts[0] if len(parts) == 1 else sa.or_(*parts)

    def both(self) -> sa.ColumnElement:
        parts = [self.negated()]
        while (token := self.peek()) is not None and token.kind == "AND":
            self.take()
            parts.append(self.negated())
        return parts[0] if len(parts) == 1 else sa.and_(*parts)

    def negated(self) -> sa.ColumnElement:
        token = self.peek()
        if token is not None and token.kind == "NOT":
            self.take()
            # NOT of a condition on a missing feature is true: the customer does not meet it.
            return sa.not_(sa.func.coalesce(self.negated(), sa.false()))
        return self.atom()

    def atom(self) -> sa.ColumnElement:
        token = self.peek()
        if token is None:
            last = self.tokens[-1].text
            raise RuleError("segment_rules.dangling", part=last)
        if token.kind == "open":
            self.take()
            inner = self.either()
            closing = self.peek()
            if closing is None or closing.kind != "close":
                raise RuleError("segment_rules.unclosed", part=token.text)
            self.take()
            return inner
        if token.kind != "word":
            raise RuleError("segment_rules.expected_condition", part=token.text)
        words = []
        while (token := self.peek()) is not None and token.kind == "word":
            words.append(self.take().text)
        phrase = " ".join(words)
        following = self.peek()
        if following is not None and following.kind == "op":
            return self.comparison(phrase)
        return self.named(phrase)

    def comparison(self, phrase: str) -> sa.ColumnElement:
        operator = OPERATORS[self.take().text]
        name = self.feature_names.get(_normal(phrase))
        if name is None:
            raise RuleError("segment_rules.unknown_feature", part=phrase)
        value_token = self.peek()
        if value_token is None:
            raise RuleError("segment_rules.expected_value", part=f"{phrase} {operator}")
        column = _column(name)
        if name in TEXT_ATTRIBUTES:
            if value_token.kind != "text":
                raise RuleError(
                    "segment_rules.expected_text", part=f"{phrase} {operator} {value_token.text}"
                )
            if operator not in ("=", "!="):
                raise RuleError("segment_rules.text_operator", part=f"{phrase} {operator}")
            self.take()
            text = value_token.text[1:-1]
            return column == text if operator == "=" else column != text
        if value_token.kind != "number":
            raise RuleError(
                "segment_rules.expected_number", part=f"{phrase} {operator} {value_token.text}"
            )
        self.take()
        number_text = value_token.text.replace(" ", "")
        percent = number_text.endswith("%")
        value = float(number_text.rstrip("%"))
        if name in FRACTION_FEATURES and (percent or abs(value) > 1):
            value /= 100.0
        elif percent:
            raise RuleError("segment_rules.not_a_share", part=f"{phrase} {operator} {number_text}")
        compared = {
            ">": column > value,
            ">=": column >= value,
            "<": column < value,
            "<=": column <= value,
            "=": column == value,
            "!=": column != value,
        }[operator]
        return sa.and_(column.is_not(None), compared)

    def named(self, phrase: str) -> sa.ColumnElement:
        key = _normal(phrase)
        if key in self.classes:
            return schema.customers.c.customer_class == self.classes[key]
        if key in self.tag_names:
            return tags.condition(self.tag_names[key])
        first, _, rest = phrase.partition(" ")
        for word in NONE_WORDS:
            if first.lower() == word and rest:
                return self.none_of(rest, phrase)
            if word != "no" and phrase.startswith(word) and len(phrase) > len(word):
                return self.none_of(phrase[len(word) :], phrase)
        if key in self.feature_names:
            raise RuleError("segment_rules.feature_needs_comparison", part=phrase)
        raise RuleError("segment_rules.unknown_name", part=phrase)

    def none_of(self, feature_phrase: str, phrase: str) -> sa.ColumnElement:
        name = self.feature_names.get(_normal(feature_phrase))
        if name is None or name not in schema.FEATURE_COLUMNS:
            raise RuleError("segment_rules.unknown_feature", part=feature_phrase.strip() or phrase)
        # Unpaid remainders below a fen are rounding, not arrears (as the features count them).
        tolerance = features.ARREARS_TOLERANCE_CNY if name == "arrears_cny" else 0.0
        return sa.func.coalesce(sa.cast(schema.features.c[name], sa.Double), 0.0) <= tolerance


def compile_rule(expression: str) -> sa.ColumnElement:
    """The rule as one boolean SQL condition over ``features`` joined with ``customers``.

    Raises:
        RuleError: the rule is empty, too long, or a part of it cannot be read; the message
            names that part.
    """
    if len(expression) > EXPRESSION_LENGTH:
        raise RuleError("segment_rules.too_long", length=EXPRESSION_LENGTH)
    return _Parser(_tokens(expression)).parse()


def _source() -> sa.FromClause:
    return schema.features.join(
        schema.customers, schema.customers.c.customer_id == schema.features.c.customer_id
    )


def count(conn: sa.Connection, viewer: access.Viewer, expression: str) -> int:
    """How many customers in ``viewer``'s scope the rule holds, counted by the store."""
    condition = compile_rule(expression)
    query = (
        sa.select(sa.func.count())
        .select_from(_source())
        .where(access.customer_scope(viewer), condition)
    )
    return int(conn.execute(query).scalar_one())


def members(
    conn: sa.Connection, viewer: access.Viewer, expression: str, limit: int = MEMBERS_LIMIT
) -> pd.DataFrame:
    """The customers the rule holds in ``viewer``'s scope, contact fields masked.

    Returns:
        customer_id, name, phone, customer_class, region, transformer_area, tariff_code, lat,
        lon, in customer-id order.
    """
    condition = compile_rule(expression)
    customers = schema.customers
    query = (
        sa.select(
            customers.c.customer_id,
            customers.c.name,
            customers.c.phone,
            customers.c.customer_class,
            customers.c.region,
            customers.c.transformer_area,
            customers.c.tariff_code,
            customers.c.lat,
            customers.c.lon,
        )
        .select_from(_source())
        .where(access.customer_scope(viewer), condition)
        .order_by(customers.c.customer_id)
        .limit(limit)
    )
    return access.mask_frame(viewer, frames.read_frame(conn, query))


def save(conn: sa.Connection, viewer: access.Viewer, name: str, expression: str) -> int:
    """Saves a rule segment by name (replacing the rule of that name), audited.

    Args:
        conn: a connection inside ``engine.begin()``.
        viewer: who saves it.
        name: how people find it again.
        expression: the rule; it must compile.

    Returns:
        The rule's id.

    Raises:
        RuleError: no name, a name too long, or a rule that cannot be read.
    """
    title = (name or "").strip()
    if not title:
        raise RuleError("segment_rules.name_missing")
    if len(title) > NAME_LENGTH:
        raise RuleError("segment_rules.name_too_long", length=NAME_LENGTH)
    compile_rule(expression)
    table = schema.segment_rules
    now = access.now()
    existing = conn.execute(sa.select(table.c.id).where(table.c.name == title)).scalar()
    if existing is None:
        rule_id = conn.execute(
            table.insert().values(
                name=title,
                expression=expression.strip(),
                created_by=viewer.user_name,
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
    else:
        rule_id = existing
        conn.execute(
            table.update()
            .where(table.c.id == existing)
            .values(expression=expression.strip(), updated_at=now)
        )
    access.record(
        conn,
        viewer,
        "segment_rule_saved",
        f"segment_rule:{rule_id}",
        {"name": title, "expression": expression.strip()},
    )
    return int(rule_id)


def saved(conn: sa.Connection, viewer: access.Viewer) -> pd.DataFrame:
    """The saved rule segments, each counted now in ``viewer``'s scope (so counts follow data).

    Returns:
        id, name, expression, created_by, updated_at, customers; by name.
    """
    table = schema.segment_rules
    query = sa.select(
        table.c.id, table.c.name, table.c.expression, table.c.created_by, table.c.updated_at
    ).order_by(table.c.name)
    frame = frames.read_frame(conn, query)
    counts = []
    for expression in frame["expression"]:
        try:
            counts.append(count(conn, viewer, expression))
        except RuleError:
            # A rule saved before a tag it names was renamed: shown, counted as nobody.
            counts.append(0)
    return frame.assign(customers=pd.Series(counts, index=frame.index, dtype="int64"))
