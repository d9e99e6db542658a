"""The load generator of scripts/rehearse-scale, run with the generator's
venv (aiohttp): one check-in per member through the balancer at a fixed
concurrency; a request that gets no answer (connection lost, timeout) or a
502/503/504 is sent again as a mini-program would, and a retry answered
409 already_checked_in counts as recorded.  When --kill-at of the members
have their answer, the process group --kill-pgid (one group of web workers)
is killed with SIGKILL.

    rehearse_scale_load.py URL RUN_FILE -c C --kill-pgid PGID
        [--kill-at 0.5] [--retries 30] --acked FILE

Prints one JSON object: members, answered, created, recorded on retry,
refused (by code), unanswered, retries, the kill time, the rates before and
after it, latencies.  --acked writes the [event, member] pairs recorded.
"""
import argparse
import asyncio
import collections
import json
import math
import os
import signal
import time

RETRY_STATUSES = {502, 503, 504}


def pct(values, p):
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, math.ceil(p / 100 * len(values)) - 1))
    return round(values[k] * 1000, 1)


async def burst(args, run):
    import aiohttp
    n = run['n']
    window_s = run.get('qr_window', 60)
    url = args.url.rstrip('/') + '/checkins'
    it = iter(range(n))
    outcomes = collections.Counter()
    refused = collections.Counter()
    retried = collections.Counter()
    acked = set()
    answered_at = []
    latencies = []
    state = {'killed_at': None, 'retries': 0}

    def body(i):
        window = str(int(time.time()) // window_s)
        lat, lon = run['positions'][i]
        return json.dumps({'qr_token': run['qr_tokens'][window],
                'lat': lat, 'lon': lon}).encode()

    def answered():
        answered_at.append(time.time())
        if (state['killed_at'] is None and args.kill_pgid
                and len(answered_at) >= n * args.kill_at):
            os.killpg(args.kill_pgid, signal.SIGKILL)
            state['killed_at'] = time.time()

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
                for attempt in range(args.retries + 1):
                    if attempt:
                        state['retries'] += 1
                        await asyncio.sleep(min(1.0, 0.05 * 2 ** attempt))
                    t0 = time.perf_counter()
                    try:
                        async with session.post(url, data=body(i),
                                headers=headers) as response:
                            data = await response.read()
                            status = response.status
                    except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                        retried[type(e).__name__] += 1
                        continue
                    if status in RETRY_STATUSES:
                        # The API's own 503 (database busy) or the
                        # balancer's (no group to send to)
                        retried['%s %s' % (status, 'api' if data.startswith(
                                    b'{') else 'balancer')] += 1
                        continue
                    latencies.append(time.perf_counter() - t0)
                    try:
                        code = json.loads(data).get('error', {}).get('code')
                    except (ValueError, AttributeError):
                        code = None
                    if status == 201:
                        outcomes['created'] += 1
                        acked.add((run['event_id'], run['members'][i]))
                    elif status == 409 and code == 'already_checked_in':
                        # Recorded by an attempt whose answer was lost
                        outcomes['recorded on retry' if attempt
                            else 'duplicate'] += 1
                        acked.add((run['event_id'], run['members'][i]))
                    else:
                        refused['%s %s' % (status, code)] += 1
                    answered()
                    break
                else:
                    outcomes['unanswered'] += 1

        start = time.time()
        await asyncio.gather(*(worker() for _ in range(args.c)))
        end = time.time()
    killed = state['killed_at']
    before = [t for t in answered_at if killed is None or t < killed]
    after = [t for t in answered_at if killed is not None and t >= killed]
    result = {
        'members': n,
        'answered': len(answered_at),
        'created': outcomes['created'],
        'recorded_on_retry': outcomes['recorded on retry'],
        'duplicates': outcomes['duplicate'],
        'refused': dict(refused),
        'unanswered': outcomes['unanswered'],
        'retries': state['retries'],
        'retried': dict(retried),
        'start': start,
        'end': end,
        'killed_at': killed,
        'rate_before': round(len(before) / ((killed or end) - start), 1),
        'rate_after': (round(len(after) / (end - killed), 1)
            if killed and end > killed else None),
        'p50_ms': pct(latencies, 50),
        'p99_ms': pct(latencies, 99),
        }
    with open(args.acked, 'w') as f:
        json.dump(sorted(list(a) for a in acked), f)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('url')
    parser.add_argument('run_file')
    parser.add_argument('-c', type=int, default=100)
    parser.add_argument('--kill-pgid', type=int)
    parser.add_argument('--kill-at', type=float, default=0.5)
    parser.add_argument('--retries', type=int, default=30)
    parser.add_argument('--timeout', type=float, default=30)
    parser.add_argument('--acked', required=True)
    args = parser.parse_args()
    with open(args.run_file) as f:
        run = json.load(f)
    print(json.dumps(asyncio.run(burst(args, run))))


if __name__ == '__main__':
    main()
