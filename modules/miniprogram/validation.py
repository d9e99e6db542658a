# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The requests of the mini-program API: strict JSON (no duplicate key, no
NaN, a bounded nesting, no NUL or lone surrogate), then the schema of the
route, compiled once by fastjsonschema from the schema openapi.json
publishes.  Every refusal is a translated invalid_request naming the
field."""
import datetime as dt
import json
import math
import re
import uuid

import fastjsonschema

from trytond.i18n import gettext
from trytond.modules.suite.tools import parse_datetime

from .exceptions import ApiError

MAX_DEPTH = 20
# Dates outside of these years are refused as invalid input: nothing is
# booked or checked in there, and the time zone arithmetic would overflow
MIN_YEAR, MAX_YEAR = 1900, 2999


def _year_in_range(parse):
    def check(value):
        try:
            return MIN_YEAR <= parse(value).year <= MAX_YEAR
        except (ValueError, OverflowError):
            return False
    return check


def _date(value):
    if len(value) != 10:
        raise ValueError(value)
    return dt.date.fromisoformat(value)


def _uuid(value):
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


# The formats of the schemas, as the library's format checkers
FORMATS = {
    'date-time': _year_in_range(parse_datetime),
    'date': _year_in_range(_date),
    'uuid': _uuid,
    }
_PARSERS = {'date-time': parse_datetime, 'date': _date}


def json_schema(schema):
    """The JSON Schema (draft 4, as OpenAPI 3.0) of an OpenAPI schema
    object: `nullable` becomes the null type"""
    result = dict(schema)
    if 'properties' in schema:
        result['properties'] = {name: json_schema(s)
            for name, s in schema['properties'].items()}
    if 'items' in schema:
        result['items'] = json_schema(schema['items'])
    if result.pop('nullable', False) and 'type' in schema:
        result['type'] = [schema['type'], 'null']
        if 'enum' in schema:
            result['enum'] = schema['enum'] + [None]
    return result


# The compiled validators by id of the schema (kept alive with it)
_validators = {}


def validator(schema):
    "The validation function of schema, compiled on first use"
    compiled = _validators.get(id(schema))
    if compiled is None or compiled[0] is not schema:
        definition = dict(json_schema(schema),
            **{'$schema': 'http://json-schema.org/draft-04/schema#'})
        compiled = _validators[id(schema)] = (schema, fastjsonschema.compile(
                definition, formats=FORMATS, use_default=True))
    return compiled[1]


def validate(schema, value, path='body'):
    """Raise ApiError invalid_request when value does not match schema
    (the properties' defaults are filled in)"""
    try:
        validator(schema)(value, name_prefix=path)
    except fastjsonschema.JsonSchemaValueException as e:
        raise _error(e) from None


def invalid(message, field=None, reason=None, **variables):
    "An ApiError invalid_request of the message miniprogram.msg_<message>"
    details = {}
    if field is not None:
        details['field'] = field
        variables['field'] = field
    if reason is not None:
        details['reason'] = reason
    return ApiError('invalid_request',
        gettext('miniprogram.msg_' + message, **variables), details=details)


def _error(e):
    "The ApiError of a failed validation"
    rule, field, value = e.rule, e.name, e.value
    limit = e.rule_definition
    if rule == 'required':
        missing = next(n for n in limit if n not in value)
        return invalid('value_required', '%s.%s' % (field, missing),
            'required')
    if rule == 'additionalProperties':
        known = e.definition.get('properties', {})
        unknown = next(n for n in value if n not in known)
        return invalid('value_unknown', '%s.%s' % (field, unknown),
            'unknown field')
    if rule == 'type' and value is None:
        return invalid('value_null', field, 'null')
    if rule == 'type':
        kinds = limit if isinstance(limit, list) else [limit]
        return invalid('value_type', field, rule,
            type=' | '.join(k for k in kinds if k != 'null'))
    if rule == 'enum':
        return invalid('value_enum', field, rule,
            values=', '.join(str(v) for v in limit if v is not None))
    if rule == 'format':
        try:
            _PARSERS[limit](value)
        except (KeyError, ValueError):
            return invalid('value_format', field, rule, format=limit)
        except OverflowError:  # moved out of the years 1-9999 by its offset
            pass
        return invalid('value_years', field, 'years',
            first=MIN_YEAR, last=MAX_YEAR)
    message = {'minimum': 'value_minimum', 'maximum': 'value_maximum',
        'minLength': 'value_min_length', 'maxLength': 'value_max_length',
        'minItems': 'value_min_items', 'maxItems': 'value_max_items',
        'minProperties': 'value_min_properties',
        'pattern': 'value_pattern'}.get(rule, 'value_invalid')
    return invalid(message, field, rule, limit=limit)


# The strict pre-checks of a JSON body, before its schema

def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def _no_duplicates(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError("duplicate key %r" % key)
        result[key] = value
    return result


def _text_error(value):
    "The reason why no text column stores value: NUL, lone surrogates"
    if '\x00' in value:
        return 'value_nul'
    if not value.isascii():
        try:
            value.encode('utf-8')
        except UnicodeEncodeError:
            return 'value_surrogate'


def _path(node):
    parts = []
    while node:
        node, key = node
        parts.append('[%s]' % key if isinstance(key, int) else '.%s' % key)
    return 'body' + ''.join(reversed(parts))


def check_strict(value):
    """Refuse a JSON value nested deeper than MAX_DEPTH, with a text no
    text column stores (in a value or a key) or a number out of the finite
    floats (1e999)"""
    stack = [(value, 1, None)]
    while stack:
        item, depth, node = stack.pop()
        if depth > MAX_DEPTH:
            raise invalid('body_too_deep', reason='too deep')
        if isinstance(item, dict):
            for key, child in item.items():
                error = _text_error(key)
                if error:
                    raise invalid(error, _path((node, key)), 'text')
                stack.append((child, depth + 1, (node, key)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1, (node, i))
                for i, v in enumerate(item))
        elif isinstance(item, str):
            error = _text_error(item)
            if error:
                raise invalid(error, _path(node), 'text')
        elif isinstance(item, float) and not math.isfinite(item):
            raise invalid('value_finite', _path(node), 'finite')


def parse_json(request, schema):
    "Return the validated JSON body of request"
    return parse_body(request.headers.get('Content-Type', ''),
        request.get_data(cache=True), schema)


def parse_body(content_type, data, schema):
    "Return the validated JSON value of the body data of content_type"
    if not data:
        raise invalid('body_required', reason='empty body')
    if content_type.split(';')[0].strip().lower() != 'application/json':
        raise ApiError('unsupported_media_type',
            gettext('miniprogram.msg_body_media_type'),
            details={'content_type': content_type})
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        raise invalid('body_not_utf8', reason='invalid UTF-8')
    try:
        value = json.loads(text, parse_constant=_reject_constant,
            object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise invalid('body_too_deep', reason='too deep')
    except ValueError as e:
        error = invalid('body_not_json')
        error.details['reason'] = str(e)[:200]
        raise error
    check_strict(value)
    validate(schema, value)
    return value


def _query_value(kind, raw):
    "The value of a query parameter of type kind, from its text raw"
    if kind == 'integer':
        if not re.fullmatch(r'-?\d{1,12}', raw):
            raise ValueError(raw)
        return int(raw)
    if kind == 'boolean':
        if raw not in {'true', 'false'}:
            raise ValueError(raw)
        return raw == 'true'
    return raw


def parse_query(request, schema):
    """Return the query parameters of request converted along schema, with
    the defaults of those not given"""
    values = {}
    properties = schema['properties']
    for name in request.args:
        if name not in properties:
            raise invalid('query_unknown', name, 'unknown parameter')
        raw = request.args.getlist(name)
        if len(raw) > 1:
            raise invalid('query_repeated', name, 'repeated')
        kind = properties[name].get('type')
        error = _text_error(raw[0])
        if error:
            raise invalid(error, name, 'text')
        try:
            values[name] = _query_value(kind, raw[0])
        except ValueError:
            raise invalid('query_type', name, kind, type=kind)
    validate(schema, values, 'query')
    return values
