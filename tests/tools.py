"""Helpers for the cross-module tests: run code in a Tryton transaction the
way the server does (restart on TransactionError to take locks first, retry
on serialization failures), from worker processes."""
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def stop_server(process, log):
    "Stop the process group of a server started by a test, close its log"
    import signal
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    log.close()


def run_transaction(database, func, user=0, context=None, retries=200):
    """Run func() in a transaction of database and commit it.

    Return func's result.  A TransactionError restarts the transaction with
    the requested locks taken first; a DatabaseOperationalError (lock not
    available, serialization failure) is retried after a random pause, at
    most `retries` times."""
    from trytond import backend
    from trytond.transaction import Transaction, TransactionError

    extras = {}
    attempt = 0
    while True:
        try:
            with Transaction().start(
                    database, user, context=context, **extras) as transaction:
                try:
                    result = func()
                except TransactionError as e:
                    transaction.rollback()
                    e.fix(extras)
                    continue
                transaction.commit()
                return result
        except backend.DatabaseOperationalError:
            attempt += 1
            if attempt > retries:
                raise
            time.sleep(random.uniform(0.001, 0.02))


def worker_command(script, *args):
    "The command that runs a worker script of tests/ in a new process"
    return [sys.executable, os.path.join(ROOT, 'tests', script)] + [
        str(a) for a in args]
