#!/usr/bin/env python3
"""Soak phase "kill the sender mid-send": no message lost, duplicates bounded
and logged.

On PostgreSQL (TRYTOND_DATABASE__URI, default postgresql:///) a fresh
database (default soak_messages, made by scripts/create_db.py, dropped at the
end unless --keep) gets N WeChat messages queued through the outbox's own
API (outbox.message.queue) for N members with subscription credits.  A slow
fake WeChat server (--delay seconds a message) counts every valid
subscribeMessage.send it receives by the message's dedup key.

The sender runs as separate OS processes, as in production
(docker-compose.yml / scripts/service):

- mode `worker` (default, the production topology, [queue] worker on): a
  scheduler process runs the cron task `outbox.message|send_queued` every
  --tick seconds (what trytond-cron does every minute: ir.cron run_once in
  a transaction) and `trytond-worker -d DB -n P` sends the tasks it queues;
  the worker is the process killed;
- mode `inline` ([queue] worker off): the scheduler process sends the
  messages itself after each run (as trytond-cron does) and is the process
  killed.

While it sends, the sender's process group is SIGKILLed --kills times at
random moments (once a random share of the messages was received and the
restarted sender received at least one more), and restarted after --down
seconds.  The sending timeout of member.configuration is --sending-timeout,
so the scheduler queues the interrupted messages again within the run.  The
run waits until every message is sent or --timeout seconds passed.

The last line on stdout is one JSON object:
  lost: messages never received by the fake server or not in state sent;
  received: all receptions; duplicates: receptions beyond the first;
  duplicates_bound: kills x messages in flight per kill (each sending
    process sends one message at a time and commits its outcome at once:
    P worker processes in mode worker, 1 in mode inline);
  duplicates_logged: duplicates matched by a log line "message ID
    interrupted while sending" of the scheduler;
  recovered: recoveries logged; crashes: processes that exited by
    themselves (restarted); send_seconds: the sending phase;
  seconds: the whole run (database creation and drop included);
  ok: lost == 0, duplicates <= duplicates_bound, every duplicate logged
    (and every kill done).
Logs go to stderr; the processes' logs are kept with --keep (path logged).

Harder variants: --kills 1 --down 20 (the worker stays down longer than the
sending timeout while the scheduler goes on claiming), --kills 0
--batch-limit 300 (tasks wait in the queue longer than the sending
timeout): the duplicates must stay within the bound there too.  A huge
--sending-timeout (no recovery) must fail with lost > 0.

  .venv/bin/python scripts/soak_messages.py [--messages 300] [--kills 3]
"""
import argparse
import collections
import datetime as dt
import json
import logging
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from trytond.modules.outbox.tests.tools import FakeWeChat  # noqa: E402

PHASE = "kill the sender mid-send"
METHOD = 'outbox.message|send_queued'
TEMPLATE = 'soak_wechat'
KEY_FIELD = 'character_string1'
RECOVERY = re.compile(r'message (\d+) interrupted while sending')
TIMESTAMP = re.compile(r'\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\]')

logger = logging.getLogger('soak_messages')


# Database and environment

def database_uri():
    return os.environ.get('TRYTOND_DATABASE__URI') or 'postgresql:///'


def admin_uri(uri):
    """The URI for scripts/create_db.py, which cannot derive its admin
    connection from a URI without host part (postgresql:/// gives
    'postgresql:/postgres'): name the current role on the local socket"""
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc:
        return uri
    import getpass
    return urllib.parse.urlunsplit(
        parts._replace(netloc='%s@' % getpass.getuser()))


def trytond_env(uri, fake_url, mode):
    "The environment of every trytond process of the soak"
    from scripts.create_db import server_env
    env = server_env(uri)
    env['TRYTOND_MINIPROGRAM__WECHAT_API'] = fake_url
    env['TRYTOND_MINIPROGRAM__APPID'] = 'SOAKAPPID'
    env['TRYTOND_MINIPROGRAM__SECRET'] = 'SOAKSECRET'
    # As scripts/service on PostgreSQL: caches checked on each transaction
    env.setdefault('TRYTOND_CACHE__CLEAN_TIMEOUT', '0')
    if mode == 'worker':
        env['TRYTOND_QUEUE__WORKER'] = 'True'
    else:
        env.pop('TRYTOND_QUEUE__WORKER', None)
    return env


def create_database(name, uri, modules, env):
    fd, passfile = tempfile.mkstemp(prefix='soak-pass-')
    with os.fdopen(fd, 'w') as fp:
        fp.write(secrets.token_urlsafe(16))
    env = dict(env, TRYTONPASSFILE=passfile, SUITE_MODULES=modules)
    try:
        subprocess.run([
                sys.executable, os.path.join(ROOT, 'scripts', 'create_db.py'),
                name, '--uri', admin_uri(uri), '--drop'],
            env=env, check=True, stdout=sys.stderr, stderr=sys.stderr,
            timeout=180)
    finally:
        os.unlink(passfile)


def drop_database(name, uri):
    import psycopg
    from psycopg import sql
    parts = urllib.parse.urlsplit(admin_uri(uri))
    with psycopg.connect(urllib.parse.urlunsplit(
                parts._replace(path='/postgres')), autocommit=True) as conn:
        conn.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)')
            .format(sql.Identifier(name)))


def transaction(database, func, readonly=False):
    from tests.tools import run_transaction
    if readonly:
        from trytond.transaction import Transaction
        with Transaction().start(database, 0, readonly=True):
            return func()
    return run_transaction(database, func)


def setup(database, args):
    """Configure the outbox, create the members and their credits, and
    queue the messages through outbox.message.queue; return
    {dedup key: message id}"""
    from trytond.pool import Pool

    def configure():
        pool = Pool()
        Configuration = pool.get('outbox.configuration')
        Template = pool.get('outbox.template')
        configuration = Configuration(1)
        configuration.sending_timeout = dt.timedelta(
            seconds=args.sending_timeout)
        configuration.batch_limit = args.batch_limit
        configuration.max_attempts = 10
        configuration.retry_delay = dt.timedelta(seconds=1)
        configuration.save()
        Template.create([{
                    'code': TEMPLATE,
                    'name': "Soak",
                    'wechat_template_id': 'TPL-SOAK',
                    'wechat_data': '%s: {key}\nthing2: {text}' % KEY_FIELD,
                    'subject': "Soak",
                    'body': "Soak message {key}",
                    }])
    transaction(database, configure)

    def members():
        pool = Pool()
        Member = pool.get('member.member')
        Template = pool.get('outbox.template')
        Subscription = pool.get('outbox.subscription')
        template = Template.get(TEMPLATE)
        created = Member.create([{
                    'name': "Soak %04d" % i,
                    'wechat_openid': 'SOAK-OPENID-%04d' % i,
                    } for i in range(args.members)])
        per_member = -(-args.messages // args.members)
        # One credit a message, and spare ones: a duplicate may take one
        Subscription.create([{
                    'party': m.party.id, 'template': template.id,
                    'credits': per_member + args.kills + 1,
                    } for m in created])
        return [m.party.id for m in created]
    party_ids = transaction(database, members)

    def queue():
        Message = Pool().get('outbox.message')
        messages = Message.queue([{
                    'template': TEMPLATE,
                    'party': party_ids[i % len(party_ids)],
                    'payload': {'key': 'soak-%05d' % i, 'text': "Soak"},
                    'dedup_key': 'soak-%05d' % i,
                    } for i in range(args.messages)])
        return {m.dedup_key: m.id for m in messages}
    keys = transaction(database, queue)
    if len(keys) != args.messages:
        raise RuntimeError("queued %d messages of %d" % (
                len(keys), args.messages))
    return keys


def states(database):
    from trytond.pool import Pool

    def read():
        Message = Pool().get('outbox.message')
        return collections.Counter(
            m.state for m in Message.search([]))
    return transaction(database, read, readonly=True)


def final_states(database):
    from trytond.pool import Pool

    def read():
        Message = Pool().get('outbox.message')
        return {m.dedup_key: (m.id, m.state, m.attempts, m.last_error or '')
            for m in Message.search([])}
    return transaction(database, read, readonly=True)


# The processes

class Process:
    "A child process in a process group of its own, logging to a file"

    def __init__(self, name, command, env, logdir):
        self.name = name
        self.command = command
        self.env = env
        self.logdir = logdir
        self.popen = None
        self.starts = 0
        self.logs = []

    def start(self):
        path = os.path.join(
            self.logdir, '%s-%d.log' % (self.name, self.starts))
        self.logs.append(path)
        self.starts += 1
        with open(path, 'wb') as log:
            self.popen = subprocess.Popen(
                self.command, env=self.env, cwd=ROOT,
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)
        logger.info("%s started (pid %d)", self.name, self.popen.pid)

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL):
        "Signal the whole process group (the worker forks its processes)"
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass
        self.popen.wait()

    def stop(self):
        if self.popen is None:
            return
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
        # What the group still runs (the worker's forked processes)
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()


def scheduler_command(args):
    return [sys.executable, os.path.abspath(__file__), '--child', 'scheduler',
        '--database', args.database, '--tick', str(args.tick)]


def worker_command(args):
    return [os.path.join(os.path.dirname(sys.executable), 'trytond-worker'),
        '-d', args.database, '-n', str(args.processes), '-vv']


def run_scheduler(args):
    """The cron process of the soak: run the cron task send_queued every
    tick as trytond-cron runs it (ir.cron run_once in a transaction of its
    own, then the tasks queued inline when there is no worker)"""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
        format='%(process)s [%(asctime)s] %(levelname)s %(name)s '
        '%(message)s')
    from tests.tools import run_transaction
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.worker import run_task

    database = args.database
    with Transaction().start(database, 0, readonly=True):
        Pool(database).init()

    def run():
        Cron = Pool().get('ir.cron')
        crons = Cron.search([('method', '=', METHOD)])
        with Transaction().set_context(_cron=METHOD):
            Cron.run_once(crons)
    parent = os.getppid()
    while os.getppid() == parent:
        started = time.monotonic()
        try:
            run_transaction(database, run, context={'_skip_warnings': True})
        except Exception:
            logger.exception("%s failed", METHOD)
        tasks = Transaction().tasks
        while tasks:
            run_task(database, tasks.pop())
        time.sleep(max(0.05, args.tick - (time.monotonic() - started)))


# The soak

def soak(args, database, fake, env, logdir):
    scheduler = Process('scheduler', scheduler_command(args), env, logdir)
    if args.mode == 'worker':
        sender = Process('worker', worker_command(args), env, logdir)
        processes = [scheduler, sender]
    else:
        sender = scheduler
        processes = [scheduler]
    rng = random.Random(args.seed)
    low = max(1, int(args.messages * 0.05))
    high = max(low + args.kills, int(args.messages * 0.85))
    thresholds = sorted(rng.sample(range(low, high), args.kills))
    logger.info("kills after %s messages received", thresholds)

    started = time.monotonic()
    deadline = started + args.timeout
    for process in processes:
        process.start()
    kills = []
    crashes = 0
    kill_at = restart_at = None
    restarted_total = 0
    next_poll = 0
    counts = collections.Counter()
    try:
        while True:
            current = time.monotonic()
            total, unique = fake.counts()
            if (len(kills) < args.kills and sender.alive()
                    and unique >= thresholds[len(kills)]
                    and total > restarted_total):
                if kill_at is None:
                    # A random moment of the sending of a message or two
                    kill_at = current + rng.uniform(0, 2 * args.delay)
                elif current >= kill_at:
                    sender.kill()
                    total, unique = fake.counts()
                    kills.append({'at': round(current - started, 2),
                            'received': total, 'unique': unique})
                    logger.info("kill %d: %s SIGKILLed after %.1f s, "
                        "%d receptions of %d messages", len(kills),
                        sender.name, current - started, total, unique)
                    kill_at = None
                    restart_at = current + args.down
            if not sender.alive():
                if restart_at is None:
                    crashes += 1
                    logger.warning("%s exited by itself (%s)", sender.name,
                        sender.popen.returncode)
                    restart_at = current + args.down
                elif current >= restart_at:
                    sender.start()
                    restarted_total = fake.counts()[0]
                    restart_at = None
            if args.mode == 'worker' and not scheduler.alive():
                crashes += 1
                logger.warning("scheduler exited by itself (%s)",
                    scheduler.popen.returncode)
                scheduler.start()
            if current >= next_poll:
                counts = states(database)
                next_poll = current + 0.5
                if counts['sent'] >= args.messages and (
                        len(kills) >= args.kills):
                    break
            if current >= deadline:
                logger.warning("timeout after %d s: %s", args.timeout,
                    dict(counts))
                break
            time.sleep(0.01)
    finally:
        for process in processes:
            process.stop()
    # Answers in flight when the processes stopped
    time.sleep(args.delay + 0.1)
    return {
        'kills': kills,
        'crashes': crashes,
        'starts': {p.name: p.starts for p in processes},
        'logs': [path for p in processes for path in p.logs],
        'seconds': time.monotonic() - started,
        }


def count_recoveries(paths, sending_timeout):
    """Return {message id: times queued again} from the recovery warnings.

    send_queued logs the warning before it locks the messages it claims,
    and Tryton restarts the transaction to take the locks first: one
    recovery is logged twice a few milliseconds apart.  A message is
    recovered again only a sending timeout later, so lines of a message
    closer than half of it are one recovery."""
    times = collections.defaultdict(list)
    for path in paths:
        with open(path, errors='replace') as log:
            for line in log:
                match = RECOVERY.search(line)
                if not match:
                    continue
                stamp = TIMESTAMP.search(line)
                at = dt.datetime.strptime(
                    stamp.group(1), '%Y-%m-%d %H:%M:%S,%f').timestamp()
                times[int(match.group(1))].append(at)
    recoveries = collections.Counter()
    for message_id, stamps in times.items():
        last = None
        for at in sorted(stamps):
            if last is None or at - last > sending_timeout / 2:
                recoveries[message_id] += 1
                last = at
    return recoveries


def verify(args, database, fake, run):
    messages = final_states(database)
    receptions = fake.snapshot()
    recoveries = count_recoveries(run['logs'], args.sending_timeout)
    sent = sum(1 for _, state, _, _ in messages.values() if state == 'sent')
    lost = [key for key, (_, state, _, _) in messages.items()
        if state != 'sent' or not receptions.get(key)]
    unknown = sorted(set(receptions) - set(messages))
    received = sum(receptions.values())
    duplicates = duplicates_logged = 0
    duplicated = {}
    for key, count in receptions.items():
        if count > 1:
            message_id = messages[key][0] if key in messages else None
            duplicates += count - 1
            duplicates_logged += min(count - 1, recoveries[message_id])
            duplicated[key] = (message_id, count, recoveries[message_id])
    in_flight = args.processes if args.mode == 'worker' else 1
    bound = len(run['kills']) * in_flight
    for key in lost[:10]:
        logger.warning("lost %s: %s, received %d times", key, messages[key],
            receptions.get(key, 0))
    for key, (message_id, count, logged) in sorted(duplicated.items()):
        logger.info("duplicate %s (message %s): received %d times, "
            "%d recovery log lines", key, message_id, count, logged)
    if unknown:
        logger.warning("received unknown keys: %s", unknown[:10])
    result = {
        'phase': PHASE,
        'mode': args.mode,
        'messages': args.messages,
        'kills': len(run['kills']),
        'sent': sent,
        'lost': len(lost),
        'received': received,
        'duplicates': duplicates,
        'duplicates_bound': bound,
        'duplicates_logged': duplicates_logged,
        'recovered': sum(recoveries.values()),
        'crashes': run['crashes'],
        'send_seconds': round(run['seconds'], 1),
        'seconds': None,
        }
    result['ok'] = bool(
        result['lost'] == 0
        and not unknown
        and result['kills'] == args.kills
        and duplicates <= bound
        and duplicates_logged == duplicates)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--messages', type=int, default=300)
    parser.add_argument('--kills', type=int, default=3)
    parser.add_argument('--members', type=int,
        help="members the messages go to (default: one a message)")
    parser.add_argument('--mode', choices=['worker', 'inline'],
        default='worker',
        help="worker: cron + trytond-worker, the worker is killed "
        "(production); inline: the cron process sends and is killed")
    parser.add_argument('--processes', type=int, default=2,
        help="processes of trytond-worker (-n)")
    parser.add_argument('--delay', type=float, default=0.06,
        help="seconds the fake WeChat takes to answer a message")
    parser.add_argument('--tick', type=float, default=2.0,
        help="seconds between the runs of the cron task send_queued")
    parser.add_argument('--batch-limit', type=int,
        help="batch_limit: messages handed over per cron run "
        "(default: a task of [queue] batch_size 20 for each worker "
        "process)")
    parser.add_argument('--sending-timeout', type=float, default=8,
        help="sending_timeout in seconds (a huge value disables "
        "the recovery of interrupted messages)")
    parser.add_argument('--down', type=float, default=0.2,
        help="seconds the killed sender stays down")
    parser.add_argument('--timeout', type=float, default=80,
        help="seconds the sending may take in all (the database "
        "creation comes on top: about 20-30 s)")
    parser.add_argument('--seed', type=int,
        help="seed of the kill moments (default: random)")
    parser.add_argument('--database', default='soak_messages')
    parser.add_argument('--modules', default='member',
        help="modules to activate (comma separated; the outbox needs "
        "member only)")
    parser.add_argument('--keep', action='store_true',
        help="keep the database and the process logs")
    parser.add_argument('--child', choices=['scheduler'],
        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == 'scheduler':
        return run_scheduler(args)
    if args.members is None:
        args.members = args.messages
    args.members = max(1, min(args.members, args.messages))
    if args.batch_limit is None:
        args.batch_limit = 20 * args.processes
    if args.seed is None:
        args.seed = random.randrange(10 ** 6)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
        format='soak_messages [%(asctime)s] %(levelname)s %(message)s')
    logging.getLogger('trytond').setLevel(logging.WARNING)
    if args.messages < 1 or not 0 <= args.kills < args.messages:
        parser.error("--messages must be positive and --kills between 0 "
            "and --messages - 1")

    begin = time.monotonic()
    uri = database_uri()
    if not uri.startswith('postgresql'):
        parser.error("TRYTOND_DATABASE__URI must be a postgresql:// URI")
    logger.info("seed %d, mode %s, %d messages, %d kills", args.seed,
        args.mode, args.messages, args.kills)
    # Each message counted on reception by the key the template puts in
    # KEY_FIELD, answered after --delay seconds
    fake = FakeWeChat(send_delay=args.delay, key_field=KEY_FIELD)
    env = trytond_env(uri, fake.url, args.mode)
    logdir = tempfile.mkdtemp(prefix='soak-messages-')
    result = None
    created = False

    def terminate(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, terminate)
    try:
        created = True
        create_database(args.database, uri, args.modules, env)
        logger.info("database %s created in %.0f s", args.database,
            time.monotonic() - begin)
        # This process reads and queues through trytond too (without the
        # cache listener thread, which would crash on the drop)
        os.environ.update(env)
        os.environ.pop('TRYTOND_CACHE__CLEAN_TIMEOUT', None)
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        with Transaction().start(args.database, 0, readonly=True):
            Pool(args.database).init()
        setup(args.database, args)
        logger.info("%d messages queued for %d members", args.messages,
            args.members)
        run = soak(args, args.database, fake, env, logdir)
        result = verify(args, args.database, fake, run)
        logger.info("kills: %s; process starts: %s; token fetches: %d, "
            "refused sends: %d", run['kills'], run['starts'],
            fake.token_fetches, fake.refused)
    except (Exception, KeyboardInterrupt) as e:
        logger.exception("soak failed")
        result = {'phase': PHASE, 'mode': args.mode,
            'messages': args.messages, 'kills': args.kills, 'ok': False,
            'error': '%s: %s' % (type(e).__name__, e)}
    finally:
        fake.close()
        if args.keep:
            logger.info("kept database %s and logs in %s", args.database,
                logdir)
        else:
            shutil.rmtree(logdir, ignore_errors=True)
            if created:
                try:
                    from trytond import backend
                    backend.Database(args.database).close()
                except Exception:
                    pass
                try:
                    drop_database(args.database, uri)
                except Exception:
                    logger.exception("dropping %s failed", args.database)
    result['seconds'] = round(time.monotonic() - begin, 1)
    logger.info("done in %.0f s", time.monotonic() - begin)
    print(json.dumps(result, sort_keys=False), flush=True)
    return 0 if result.get('ok') else 1


if __name__ == '__main__':
    sys.exit(main())
