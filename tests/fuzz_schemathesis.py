"""schemathesis against the server's own openapi.json, for
tests/test_api_fuzz.py (only run when schemathesis is installed).

Bounded: a few examples per operation and a time limit.  Checks:
not_a_server_error and response_schema_conformance, with the member's
bearer token (the staff token on the organizer routes)."""
import time

from hypothesis import HealthCheck, given, settings

EXAMPLES = 10
TIME_LIMIT = 60  # seconds for all the operations


def _load(schemathesis, document, base_url):
    "The schema of document, whatever the version of schemathesis"
    if hasattr(schemathesis, 'openapi') and hasattr(
            schemathesis.openapi, 'from_dict'):
        schema = schemathesis.openapi.from_dict(document)  # 4.x
        if hasattr(schema, 'configure'):
            schema.configure(base_url=base_url)
        return schema
    return schemathesis.from_dict(document, base_url=base_url)  # 3.x


def _checks():
    try:
        from schemathesis.checks import not_a_server_error
    except ImportError:  # pragma: no cover
        from schemathesis.specs.openapi.checks import not_a_server_error
    try:
        from schemathesis.specs.openapi.checks import (
            response_schema_conformance)
    except ImportError:  # pragma: no cover
        from schemathesis.checks import response_schema_conformance
    return (not_a_server_error, response_schema_conformance)


def run_schemathesis(test, schemathesis):
    base_url = 'http://127.0.0.1:%s' % test.port
    from trytond.tests.test_tryton import DB_NAME
    schema = _load(schemathesis, test.openapi, base_url)
    checks = _checks()
    deadline = time.monotonic() + TIME_LIMIT
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok() if hasattr(result, 'ok') else result
        if time.monotonic() > deadline:
            break
        organizer = 'organizer' in (
            operation.definition.raw.get('tags', [])
            if hasattr(operation, 'definition') else [])
        token = test.staff if organizer else test.member

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
            suppress_health_check=list(HealthCheck))
        @given(operation.as_strategy())
        def check(case):
            if time.monotonic() > deadline:
                return
            case.path_parameters = dict(
                case.path_parameters or {}, database=DB_NAME)
            response = case.call(
                headers={'Authorization': 'Bearer %s' % token})
            try:
                case.validate_response(response, checks=checks)
            except AssertionError as e:
                failures.append('%s %s: %s' % (
                        operation.method.upper(), operation.path,
                        str(e)[:500]))
        check()
    test.assertFalse(failures, '\n'.join(failures))
