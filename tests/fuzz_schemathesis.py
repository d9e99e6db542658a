"""schemathesis (4.x) against the server's own openapi.json, for
tests/test_api_fuzz.py (test_2_schemathesis).

The document is the one the running server answers at
GET /<db>/mp/v1/openapi.json, its /{database} bound to the test database;
the requests go to that server on 127.0.0.1.  Bounded in count (EXAMPLES),
the first part also in time (TIME_LIMIT less the share kept for the
second, which is bounded in count only):

1. Each operation (schemathesis' APIOperation.as_strategy, Case.call,
   Case.validate_response): EXAMPLES valid requests ("positive"
   generation) and EXAMPLES invalid ones ("negative": wrong types, missing
   or unknown fields, out of range values, bodies that are not JSON), with
   the member's bearer token (the staff token on the organizer routes).
   The ids of the path are drawn from the real records (an event the staff
   user organizes, another event, the service, member B's booking) or
   generated.
2. Stateful (schema.as_state_machine): sequences of calls chained by the
   links schemathesis infers from the document (GET services -> POST
   bookings -> GET bookings/{id} -> POST bookings/{id}/cancel, GET events
   -> POST checkins, GET events -> GET events/{id}/stats, ...).
3. The methods a path does not declare: 405 method_not_allowed with the
   declared ones in Allow.

Checks on every answer: no server error (5xx; a 502 wechat_unavailable of
auth/wechat and auth/wechat-phone is right here: WeChat cannot be reached
from the test), the status, the content type, the headers and the JSON
body as documented (every error the Error object), an invalid request
refused with a 4xx, a valid one not refused by the request validator, no
stack trace in the body.

Deterministic by default (the same requests each run, but for the links
the stateful part follows, picked at random); FUZZ_RANDOM=1 draws new
ones.  The bounds: 10 examples and 40 s by default, 100 examples and 300 s
with LONG_TESTS=1; FUZZ_EXAMPLES and FUZZ_TIME change them (to hunt for
bugs: FUZZ_RANDOM=1 LONG_TESTS=1; `schemathesis run` with its coverage
phase and every check found the last two bugs below).

Found by this file (fixed):
- openapi.json published every query parameter as optional; `date` of GET
  services/{id}/slots is required (a 400 "query.date is required" for
  requests valid for the document): openapi.py publishes `required`.
- `resource_id` of GET services/{id}/slots was documented as any integer
  >= 1 and refused past 12 digits (400): documented with the maximum of an
  id, 2**31 - 1 (routes.py).
- A time valid for RFC 3339 that its offset moves out of years 1-9999
  ("0001-01-01T12:00:00+15:00") was refused as "must be a valid
  date-time": now "must be between the years 1900 and 2999" like the
  other times out of range (validation.validate).
- The kiosk routes (events/{id}/qr, stats, kiosk, dashboard) take the
  event's kiosk token as ?token= instead of the bearer, the document
  required the bearer: it declares the alternative, security scheme
  `kiosk` (openapi.py).
- A 405 answer had no Allow header (RFC 9110): api.PrefixMiddleware.
"""
import copy
import os
import re
import sys
import time

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from trytond.modules.suite.tests.tools import sized

# Keep Hypothesis' files (.hypothesis) out of the working tree
if not os.environ.get('HYPOTHESIS_STORAGE_DIRECTORY'):
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir
    set_hypothesis_home_dir(os.path.join(
            tempfile.gettempdir(), 'hypothesis-%s' % os.getuid()))

EXAMPLES = int(os.environ.get('FUZZ_EXAMPLES', sized(10, 100)))
# Failed logins are throttled (and delayed) per login and per network
FEW = {'auth/login': 1, 'auth/staff': 1, 'auth/register': 2}
STATEFUL_SCENARIOS = max(1, EXAMPLES * 3)
STATEFUL_STEPS = 6
TIME_LIMIT = float(os.environ.get('FUZZ_TIME', sized(40, 300)))  # s, in all
STATEFUL_SHARE = 0.3  # of TIME_LIMIT kept for the stateful part
RANDOM = bool(os.environ.get('FUZZ_RANDOM'))
STACK_MARKERS = ['Traceback (most recent call last)', 'File "/',
    'site-packages/', 'psycopg.', 'trytond/']
# Why a request valid for the document may be refused with a 400: the
# rules of the server's validator that JSON Schema's subset cannot express
# (dates of years 1900-2999, no NUL, no lone surrogate)
# The reasons (details.reason) of the refusals by the schema: the JSON Schema
# keyword broken; those the document cannot express (years, text: NUL and
# lone surrogates, finite numbers) are not among them
SCHEMA_REASONS = {'required', 'unknown field', 'type', 'null', 'minimum',
    'maximum', 'minLength', 'maxLength', 'minItems', 'maxItems',
    'minProperties', 'pattern', 'format', 'enum'}
METHODS = {'GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'}
# The answers of a 5xx status that are right in the test environment
EXPECTED_SERVER_ERRORS = {
    ('POST', 'auth/wechat', 502, 'wechat_unavailable'),
    ('POST', 'auth/wechat-phone', 502, 'wechat_unavailable'),
    # Not ready (the test server runs no cron): its own documented body
    ('GET', 'health', 503, None),
    }


def _settings(max_examples, **kw):
    return settings(max_examples=max_examples, deadline=None, database=None,
        derandomize=not RANDOM, print_blob=False,
        # No shrinking: a failure is recorded (not raised) and the run
        # stays bounded in time
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck), **kw)


def route_of(operation):
    return operation.path.split('/mp/v1/', 1)[1]


def bind_database(document, base_url):
    """document with the database in its server's URL: its paths start
    with /{database}, a server variable rather than a parameter of each
    operation (schemathesis would generate names of databases, and take
    every operation for one on a single record)"""
    document = copy.deepcopy(document)
    paths = {}
    for path, item in document['paths'].items():
        assert path.startswith('/{database}/'), path
        for operation in item.values():
            operation['parameters'] = [p for p in operation.get(
                    'parameters', []) if p['name'] != 'database']
        paths[path[len('/{database}'):]] = item
    document['paths'] = paths
    document['servers'] = [{'url': base_url}]
    return document


def _checks():
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance, negative_data_rejection,
        response_headers_conformance, response_schema_conformance,
        status_code_conformance)

    def no_server_error(ctx, response, case):
        "not_a_server_error, but for EXPECTED_SERVER_ERRORS"
        if response.status_code >= 500:
            try:
                code = response.json()['error']['code']
            except Exception:
                code = None
            if (case.method.upper(), route_of(case.operation),
                    response.status_code, code) in EXPECTED_SERVER_ERRORS:
                return None
        return not_a_server_error(ctx, response, case)

    def no_stack_trace(ctx, response, case):
        "No trace of the server's code in the body"
        text = response.text or ''
        found = [m for m in STACK_MARKERS if m in text]
        if found:
            raise AssertionError(
                "Stack trace or internals in the body (%s): %s" % (
                    ', '.join(found), text[:300]))
        return None

    def valid_request_not_refused(ctx, response, case):
        """A request valid for the document is not refused as invalid
        for its shape: the server validates the requests against the
        schemas it publishes, so they must agree (the rules the document
        cannot express, not in SCHEMA_REASONS, are left out)"""
        meta = case.meta
        if (response.status_code != 400 or meta is None
                or not meta.generation.mode.is_positive):
            return None
        try:
            error = response.json()['error']
        except Exception:
            return None  # the other checks tell
        details = error.get('details') or {}
        field = str(details.get('field', ''))
        reason = str(details.get('reason', ''))
        # The errors of validation.validate and validation.parse_query
        # (the handlers' own rules answer other fields and reasons)
        by_validator = (field.startswith(('body', 'query'))
            and reason in SCHEMA_REASONS) or reason in {
            'unknown parameter', 'repeated', 'integer', 'boolean'}
        if by_validator:
            raise AssertionError("A request valid for openapi.json is "
                "refused: %s" % error.get('message'))
        return None

    return [no_server_error, status_code_conformance,
        content_type_conformance, response_headers_conformance,
        response_schema_conformance, negative_data_rejection,
        valid_request_not_refused, no_stack_trace]


class Failures:
    "The failures found, one per operation, check and status"

    def __init__(self):
        self.messages = {}

    def add(self, case, response, error, where):
        from schemathesis.errors import FailureGroup
        if isinstance(error, FailureGroup):
            names = tuple(sorted({type(f).__name__ for f in error.exceptions}))
        else:
            names = (type(error).__name__,)
        key = (case.operation.label, names, response.status_code)
        # (the message of a FailureGroup, without "(1 sub-exception)")
        text = getattr(error, 'message', None) or str(error)
        self.messages.setdefault(key, '%s (%s): %s' % (
                case.operation.label, where, text.strip()[:2500]))

    def __bool__(self):
        return bool(self.messages)

    def __str__(self):
        return '\n\n'.join(self.messages.values())


def run_schemathesis(test, schemathesis):
    "Fuzz the server of test (an ApiFuzzTestCase); fail test on a failure"
    import requests
    from schemathesis.errors import FailureGroup
    from schemathesis.generation import GenerationMode

    from trytond.tests.test_tryton import DB_NAME

    started = time.monotonic()
    deadline = started + TIME_LIMIT
    base_url = 'http://127.0.0.1:%s/%s' % (test.port, DB_NAME)
    # (an explicit configuration: no schemathesis.toml is looked for)
    config = schemathesis.Config()
    document = bind_database(test.openapi, base_url)
    schema = schemathesis.openapi.from_dict(
        copy.deepcopy(document), config=config)
    schema.config.update(base_url=base_url)
    checks = _checks()
    failures = Failures()
    session = requests.Session()
    stats = {'operations': 0, 'requests': 0, 'stateful': 0, 'statuses': {},
        'unsatisfiable': []}

    def headers_of(operation):
        if not operation.definition.raw.get('security'):
            return {}
        organizer = 'organizer' in operation.definition.raw.get('tags', [])
        token = test.staff if organizer else test.member
        if (operation.method.upper(), route_of(operation)) == ('DELETE', 'me'):
            # It may end the account: not the one of the other requests
            token = test.member_deleted
        return {'Authorization': 'Bearer %s' % token}

    def call_and_check(case, where, **kwargs):
        response = case.call(session=session, **kwargs)
        stats['requests'] += 1
        stats['statuses'][response.status_code] = stats['statuses'].get(
            response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=checks,
                transport_kwargs=dict(kwargs, session=session))
        except (FailureGroup, AssertionError) as e:
            failures.add(case, response, e, where)
        return response

    # The ids of real records, besides generated ones
    known = {
        'event_id': [test.ids['event'], test.ids['other_event']],
        'service_id': [test.ids['service']],
        'booking_id': [test.booking_b['id']],
        }

    # 1. Each operation, valid and invalid requests
    operations = [r.ok() for r in schema.get_all_operations()]
    per_operation = deadline - TIME_LIMIT * STATEFUL_SHARE
    for operation in operations:
        if time.monotonic() > per_operation:
            break
        stats['operations'] += 1
        examples = FEW.get(route_of(operation), EXAMPLES)
        headers = headers_of(operation)
        names = [p['name'] for p in operation.definition.raw.get(
                'parameters', []) if p['in'] == 'path']
        choices = [{}] + [{name: value} for name in names
            for value in known.get(name, [])]
        for mode in [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]:
            strategy = st.one_of([operation.as_strategy(mode,
                        path_parameters=ids,
                        headers=headers) for ids in choices])

            @_settings(examples)
            @given(strategy)
            def fuzz(case):
                if time.monotonic() > per_operation:
                    return
                call_and_check(case, mode.value)
            try:
                fuzz()
            except hypothesis.errors.Unsatisfiable:
                # Nothing to make invalid (no parameter, no body)
                stats['unsatisfiable'].append('%s %s' % (
                        mode.value, operation.label))

    # 2. Stateful: the links inferred by schemathesis, bounded in count
    # only: a scenario rejected because time ran out (it was so) makes
    # hypothesis see the same data behave differently and fail the test
    # (FlakyStrategyDefinition after an UnsatisfiedAssumption, CI of stop
    # 18, on a loaded machine)
    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {'headers': headers_of(case.operation)}

        def call(self, case, **kwargs):
            stats['stateful'] += 1
            return call_and_check(case, 'stateful', **kwargs)

        def validate_response(self, response, case, **kwargs):
            pass  # done by call_and_check

    Workflow.run(settings=_settings(STATEFUL_SCENARIOS,
                stateful_step_count=STATEFUL_STEPS))

    def path_value(item, name):
        """A value of the path parameter name of the operations of item:
        1 for an id, a string of its length for a string (a receipt: 32
        hexadecimal digits)"""
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for param in operation.get('parameters', []):
                if param['in'] == 'path' and param['name'] == name:
                    schema = param.get('schema', {})
                    if schema.get('type') == 'string':
                        return 'a' * schema.get('minLength', 1)
        return '1'

    # 3. The methods a path does not declare: 405 with the methods it
    # declares in Allow (RFC 9110), whatever the path parameters
    for path, item in sorted(document['paths'].items()):
        declared = {m.upper() for m in item}
        if 'GET' in declared:
            declared.add('HEAD')
        url = base_url + re.sub(r'\{(\w+)\}',
            lambda m: path_value(item, m.group(1)), path)
        for method in sorted(METHODS - declared):
            response = session.request(method, url, headers={
                    'Authorization': 'Bearer %s' % test.member})
            stats['requests'] += 1
            allow = {m.strip() for m in response.headers.get(
                    'Allow', '').split(',') if m.strip()}
            try:
                error = response.json()['error']['code']
            except Exception:
                error = None
            if not (response.status_code == 405 and allow == declared
                    and response.headers.get('Content-Type', '').startswith(
                        'application/json')
                    # (HEAD: no body)
                    and (error == 'method_not_allowed' or method == 'HEAD')):
                failures.messages[method, path] = (
                    "%s %s (undeclared method): %s, Allow: %r, "
                    "expected 405 method_not_allowed, Allow: %s\n%s" % (
                        method, path, response.status_code,
                        response.headers.get('Allow'),
                        ', '.join(sorted(declared)), response.text[:300]))
    session.close()
    test.schemathesis_stats = stats = dict(stats,
        seconds=round(time.monotonic() - started, 1))
    sys.stderr.write("\nschemathesis %s: %s operations, %s requests (%s "
        "stateful), %.0f s " % (schemathesis.__version__,
            stats['operations'], stats['requests'], stats['stateful'],
            stats['seconds']))
    if failures:
        test.fail("schemathesis found answers that do not match "
            "openapi.json (%s):\n\n%s" % (stats, failures))
