# This file is part of the miniprogram module.  The COPYRIGHT file at the
# top level of this repository contains the full copyright notices and
# license terms.
"""The OpenAPI 3 document, built from the route registry: the schemas
published are the ones the requests are validated against."""
import copy
import re

from .api import PREFIX, ROUTES, STATUS_CODES
from .schemas import ERROR, id_, obj, string

GENERIC = {
    None: [(400, 'invalid_request'), (404, 'not_found'),
        (405, 'method_not_allowed'), (413, 'payload_too_large'),
        (414, 'uri_too_long'), (415, 'unsupported_media_type'),
        (431, 'header_too_large'), (500, 'internal_error'),
        (503, 'service_unavailable')],
    'member': [(401, 'unauthorized')],
    'organizer': [(401, 'unauthorized'), (403, 'forbidden')],
    }
# The errors of every route that writes: a record that exists, created by
# a concurrent request, where no more precise code applies
WRITE = [(409, 'conflict')]
DESCRIPTION = (
    "Check-in, membership and service booking for WeChat mini-programs, "
    "served by Tryton. Errors are {\"error\": {\"code\", \"message\", "
    "\"details\"}}; the codes are listed per response. Times in answers "
    "carry the offset of the time zone they belong to: the event's, the "
    "service's, else the members' (member configuration). Ids are 1 to "
    "2147483647. Generic codes: %s.")
SECURITY_SCHEMES = {
    'bearer': {
        'type': 'http', 'scheme': 'bearer',
        'bearerFormat': 'JWT'},
    'kiosk': {
        'type': 'apiKey', 'in': 'query', 'name': 'token',
        'description': "The kiosk token of the event "
        "(POST events/{event_id}/kiosk-token), on the kiosk "
        "routes of that event"},
    }


def document(request=None):
    paths = {}
    for route in ROUTES:
        path = PREFIX.rstrip('/') + '/' + route['path']
        item = paths.setdefault('/{database}' + path, {})
        item[route['method'].lower()] = operation(route)
    servers = []
    if request is not None:
        servers.append({'url': request.host_url.rstrip('/')})
    return {
        'openapi': '3.0.3',
        'info': {
            'title': "Mini-program API",
            'version': '1.0.0',
            'description': DESCRIPTION % ', '.join(
                sorted(set(STATUS_CODES.values()))),
            },
        'servers': servers,
        'paths': paths,
        'components': {
            'securitySchemes': SECURITY_SCHEMES,
            'schemas': {'Error': ERROR},
            },
        }


def operation(route):
    "The operation object of route"
    result = {
        'operationId': route['operation_id'],
        'summary': route['summary'],
        'tags': route['tags'],
        'parameters': parameters(route),
        'responses': {str(route['status']): success(route)},
        }
    if route['description']:
        result['description'] = route['description']
    if route['auth']:
        result['security'] = [{'bearer': []}]
        if route['kiosk']:
            # or the event's kiosk token as ?token=
            result['security'].append({'kiosk': []})
    if route['body']:
        result['requestBody'] = {
            'required': True,
            'content': {'application/json': {
                    'schema': copy.deepcopy(route['body'])}},
            }
    result['responses'].update(errors(route))
    return result


def parameters(route):
    "The path and query parameters of route"
    params = [{
            'name': 'database', 'in': 'path', 'required': True,
            'schema': {'type': 'string'},
            }]
    for name in re.findall(r'\{(\w+)\}', route['path']):
        params.append({
                'name': name, 'in': 'path', 'required': True,
                'schema': (string(32, 32, pattern='^[0-9a-f]{32}$')
                    if name in route.get('hex', ()) else id_()),
                })
    if route['query']:
        required = route['query'].get('required', [])
        for name, schema in route['query']['properties'].items():
            params.append({
                    'name': name, 'in': 'query',
                    'required': name in required,
                    'schema': copy.deepcopy(schema),
                    })
    return params


def success(route):
    "The response object of the success of route"
    if route['status'] == 204:
        return {'description': "Done"}
    if route['content_type'] != 'application/json':
        return {
            'description': "Done",
            'content': {route['content_type']: {
                    'schema': {'type': 'string'}}},
            }
    return {
        'description': "Done",
        'content': {'application/json': {
                'schema': copy.deepcopy(route['response'] or obj(
                            {}, additional=True))}},
        }


def errors(route):
    "The response objects of the errors of route, by status"
    codes = {}
    for code_status, code in (GENERIC[None]
            + GENERIC.get(route['auth'], []) + route['errors']
            + (WRITE if route['method'] not in {'GET', 'HEAD'} else [])):
        codes.setdefault(code_status, []).append(code)
    result = {}
    for code_status, schema in route['answers'].items():
        result[str(code_status)] = {
            'description': "Not the error object",
            'content': {'application/json': {
                    'schema': copy.deepcopy(schema)}},
            }
    for code_status, names in sorted(codes.items()):
        if code_status in route['answers']:
            continue
        response = {
            'description': "Error: %s" % ', '.join(sorted(set(names))),
            'content': {'application/json': {'schema': {
                        '$ref': '#/components/schemas/Error'}}},
            }
        if code_status == 429:
            response['headers'] = {'Retry-After': {
                    'schema': {'type': 'integer'},
                    'description': "seconds to wait"}}
        result[str(code_status)] = response
    return result
