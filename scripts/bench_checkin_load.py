"""The load generator of scripts/bench_checkin: one burst of check-ins, one
per member, at a fixed concurrency, against the project's API or the
reference server of ../shared/bench (the same generator for both, so that
its own CPU cost is the same on both sides).

    bench_checkin_load.py project URL RUN_FILE -c C [--dup] --acked F
    bench_checkin_load.py project URL RUN_FILE -c C --sync [--dup] --acked F
    bench_checkin_load.py reference URL RUN_FILE -c C [--dup] --acked F
    bench_checkin_load.py TARGET URL RUN_FILE -c C --wrk [--dup] --acked F

Prints one JSON object: requests, wall, rate, p50/p95/p99/max in ms,
created, duplicates, errors (by kind).  --acked writes the [event, member]
pairs whose check-in was acknowledged (created), for the database
verification.

--sync: the offline-sync variant: each member sends one batch to
checkins/sync with one item per event of the run (the QR token of each
event's current window, a client UUID per member and event); created,
duplicates, errors and rate then count check-ins (items), not requests.

--wrk: the same burst (single check-ins) sent by Debian's wrk through
scripts/bench_checkin_wrk.lua, a generator in C that costs little CPU: the
bodies are written beforehand with the QR token of the current window
(the burst takes seconds, each side accepts the previous window too).  wrk
cannot say which request an answer belongs to: --acked then holds the
count of created check-ins ({"count": N}), and the latency percentiles
are wrk's, the tail pings included (their number is in the answer).
"""
import argparse
import asyncio
import base64
import collections
import hashlib
import hmac
import json
import math
import os
import random
import signal
import subprocess
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


def reference_qr(key, event_id, window):
    mac = hmac.new(key, f"{event_id}.{window}".encode(),
        hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    return f"{event_id}.{window}.{sig}"


def pct(values, p):
    if not values:
        return float('nan')
    k = max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))
    return values[k]


async def burst(args, run):
    import aiohttp
    n = run['n']
    order = list(range(n))
    if args.dup:
        # Every request twice, the copies adjacent: they race on two workers
        order = [i for i in order for _ in range(2)]
    if args.shuffle:
        random.Random(2).shuffle(order)
    window_s = run.get('qr_window', 60)
    if args.target == 'project':
        path = args.path or ('/checkins/sync' if args.sync else '/checkins')

        def qr(window):
            # The kiosk's token of the window, made by the project's code
            return run['qr_tokens'][str(window)]
    else:
        path = args.path or '/checkin'
        key = bytes.fromhex(run['qr_secret'])

        def qr(window):
            return reference_qr(key, run['event_id'], window)
    url = args.url.rstrip('/') + path
    cache = {}

    events = run.get('events', [run['event_id']])
    events_qr = run.get('events_qr_tokens', {})

    def sync_body(i):
        now = time.time()
        window = str(int(now) // window_s)
        client_time = time.strftime(
            '%Y-%m-%dT%H:%M:%SZ', time.gmtime(now))
        lat, lon = run['positions'][i]
        member = run['members'][i]
        return json.dumps({'items': [{
                        'qr_token': events_qr[str(e)][window],
                        'lat': lat, 'lon': lon,
                        'client_uuid': str(uuid.uuid5(
                                uuid.NAMESPACE_OID, '%s.%s' % (e, member))),
                        'client_time': client_time,
                        } for e in events]}).encode()

    def body(i):
        if args.sync:
            return sync_body(i)
        window = int(time.time()) // window_s
        if window not in cache:
            cache.clear()
            cache[window] = qr(window)
        lat, lon = run['positions'][i]
        if args.target == 'project':
            data = {'qr_token': cache[window], 'lat': lat, 'lon': lon}
        else:
            data = {'token': cache[window], 'lat': lat, 'lon': lon}
        return json.dumps(data).encode()

    latencies = []
    outcomes = collections.Counter()
    acked = set()
    it = iter(order)
    connector = aiohttp.TCPConnector(limit=args.c, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
            skip_auto_headers=('User-Agent',)) as session:
        async def worker():
            for i in it:
                headers = {
                    'Authorization': 'Bearer ' + run['jwts'][i],
                    'Content-Type': 'application/json',
                    }
                t0 = time.perf_counter()
                try:
                    async with session.post(
                            url, data=body(i), headers=headers) as response:
                        data = await response.read()
                        status = response.status
                except Exception as e:  # every failure is counted
                    outcomes['error:' + type(e).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                try:
                    answer = json.loads(data)
                except ValueError:
                    answer = {}
                if args.sync:
                    by_uuid = {str(uuid.uuid5(uuid.NAMESPACE_OID,
                                '%s.%s' % (e, run['members'][i]))): e
                        for e in events}
                    if status != 200:
                        outcomes['error:%s %s' % (status, answer.get(
                                    'error', {}).get('code'))] += len(events)
                        continue
                    for item in answer.get('results', []):
                        st = item.get('status')
                        if st == 'created':
                            outcomes['created'] += 1
                            acked.add((by_uuid[item['client_uuid']],
                                    run['members'][i]))
                        elif st == 'duplicate':
                            outcomes['duplicate'] += 1
                        else:
                            outcomes['error:item %s' % item.get(
                                    'error', {}).get('code')] += 1
                    continue
                if args.target == 'project':
                    if status == 201:
                        kind = 'created'
                    elif (status == 409 and answer.get('error', {}).get(
                                'code') == 'already_checked_in'):
                        kind = 'duplicate'
                    else:
                        kind = 'error:%s %s' % (status, answer.get(
                                'error', {}).get('code'))
                else:
                    st = answer.get('status') if status == 200 else None
                    kind = {'ok': 'created', 'duplicate': 'duplicate'}.get(
                        st, 'error:%s' % status)
                outcomes[kind] += 1
                if kind == 'created':
                    acked.add((run['event_id'], run['members'][i]))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.c)))
        wall = time.perf_counter() - start
    latencies.sort()
    errors = {k[6:]: v for k, v in outcomes.items() if k.startswith('error:')}
    checkins = len(order) * (len(events) if args.sync else 1)
    result = {
        'target': args.target + (' sync' if args.sync else ''),
        'requests': len(order),
        'checkins': checkins,
        'concurrency': args.c,
        'wall_s': round(wall, 3),
        'requests_rate': round(len(order) / wall, 1),
        'rate': round(checkins / wall, 1),
        'p50_ms': round(pct(latencies, 50) * 1000, 1),
        'p95_ms': round(pct(latencies, 95) * 1000, 1),
        'p99_ms': round(pct(latencies, 99) * 1000, 1),
        'max_ms': round(latencies[-1] * 1000, 1) if latencies else None,
        'created': outcomes['created'],
        'duplicates': outcomes['duplicate'],
        'errors': sum(errors.values()),
        'error_kinds': errors,
        }
    if args.acked:
        with open(args.acked, 'w') as f:
            json.dump(sorted(list(a) for a in acked), f)
    return result


# The tail ping of wrk on the project: GET <api>/auth/login, a POST route,
# which the API's middleware answers 405 method_not_allowed before any
# database work, never the answer of a check-in.  (An unknown path such as
# <api>/ping is a 404, which the script took for the answer of a check-in
# when a ping overtook the last ones: one answer short, the check-in
# recorded.)  (path, status, Lua pattern of the body)
PROJECT_PING = ('/auth/login', '405', 'method_not_allowed')


def wrk_burst(args, run):
    "The burst sent by wrk: the answer of burst() from wrk's figures"
    n = run['n']
    order = list(range(n))
    if args.dup:
        order = [i for i in order for _ in range(2)]
    window = int(time.time()) // run.get('qr_window', 60)
    if args.target == 'project':
        path, token_key = '/checkins', 'qr_token'
        qr = run['qr_tokens'][str(window)]
        ping_path, *ping = PROJECT_PING
        created, duplicate = ('201', ''), ('409', 'already_checked_in')
    else:
        path, token_key = '/checkin', 'token'
        qr = reference_qr(bytes.fromhex(run['qr_secret']), run['event_id'],
            window)
        ping_path, ping = '/ping', ('200', '^pong$')
        created, duplicate = ('200', '"ok"'), ('200', '"duplicate"')
    base = args.url.rstrip('/')
    prefix = base.split('/', 3)[3] if base.count('/') >= 3 else ''
    prefix = '/' + prefix if prefix else ''
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, 'requests.tsv')
        marker = os.path.join(tmp, 'done')
        with open(data, 'w') as f:
            for i in order:
                lat, lon = run['positions'][i]
                body = json.dumps({token_key: qr, 'lat': lat, 'lon': lon})
                f.write('\t'.join(['POST', prefix + path, body,
                            'Authorization: Bearer ' + run['jwts'][i],
                            'Content-Type: application/json']) + '\n')
        host = '/'.join(base.split('/', 3)[:3])
        command = [args.wrk_bin, '-t1', '-c%d' % args.c,
            '-d%ds' % args.max_seconds, '--timeout=%ds' % args.timeout,
            '-s', os.path.join(HERE, 'bench_checkin_wrk.lua'), host, '--',
            data, marker, prefix + ping_path, *ping, *created, *duplicate]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + args.max_seconds + 10
        while (not os.path.exists(marker) and proc.poll() is None
                and time.monotonic() < deadline):
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # wrk waits for -d otherwise
        out, _ = proc.communicate(timeout=60)
    answer = None
    for line in out.splitlines():
        if line.startswith('BENCH_JSON '):
            answer = json.loads(line[len('BENCH_JSON '):])
    if answer is None:
        raise SystemExit("wrk printed no BENCH_JSON line:\n" + out)
    wall = (answer['last_t'] - answer['first_t']
        if answer.get('first_t') and answer.get('last_t') else float('nan'))
    errors = {'status %s' % status: count
        for status, count in (answer.get('statuses') or {}).items()
        if status not in {created[0], duplicate[0]}}
    errors.update({kind: answer['err_' + kind]
            for kind in ['connect', 'read', 'write', 'timeout']
            if answer.get('err_' + kind)})
    unanswered = len(order) - (answer.get('answered') or 0)
    if unanswered:
        errors['unanswered'] = unanswered
    result = {
        'target': args.target + ' wrk',
        'requests': len(order),
        'checkins': len(order),
        'concurrency': args.c,
        'wall_s': round(wall, 3),
        'requests_rate': round(len(order) / wall, 1),
        'rate': round(len(order) / wall, 1),
        'p50_ms': round(answer['p50_us'] / 1000, 1),
        'p95_ms': round(answer['p95_us'] / 1000, 1),
        'p99_ms': round(answer['p99_us'] / 1000, 1),
        'max_ms': round(answer['max_us'] / 1000, 1),
        'created': answer['created'],
        'duplicates': answer['duplicates'],
        'errors': sum(errors.values()),
        'error_kinds': errors,
        'pings': answer.get('pings', 0),
        }
    if args.acked:
        with open(args.acked, 'w') as f:
            json.dump({'count': answer['created']}, f)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('target', choices=['project', 'reference'])
    parser.add_argument('url')
    parser.add_argument('run_file')
    parser.add_argument('-c', type=int, default=100)
    parser.add_argument('--dup', action='store_true')
    parser.add_argument('--shuffle', action='store_true')
    parser.add_argument('--sync', action='store_true',
        help="one checkins/sync batch per member, an item per event")
    parser.add_argument('--path')
    parser.add_argument('--timeout', type=float, default=60)
    parser.add_argument('--acked')
    parser.add_argument('--wrk', action='store_true',
        help="send the burst with wrk (single check-ins)")
    parser.add_argument('--wrk-bin', default='wrk')
    parser.add_argument('--max-seconds', type=int, default=300)
    args = parser.parse_args()
    with open(args.run_file) as f:
        run = json.load(f)
    if args.wrk:
        print(json.dumps(wrk_burst(args, run)))
    else:
        print(json.dumps(asyncio.run(burst(args, run))))


if __name__ == '__main__':
    main()
